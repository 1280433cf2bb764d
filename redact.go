package pkce

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// A redactor removes the secrets of one request (client secret, code,
// verifier, refresh token) from text a server sent back, before that text
// reaches an error message.
type redactor []string

// minSecret is the shortest value worth searching for: shorter ones would
// mangle ordinary words and are not secrets anyone should use.
const minSecret = 4

// redactor returns the redactor for one token request of c: the request's
// own secrets and the client secret in every form it travels in, including
// the Basic credentials a server might echo.
func (c *Client) redactor(secrets ...string) redactor {
	return redactor(append(secrets, c.secretForms...))
}

// secretForms returns the client secret as sent in a body and in the two
// Basic headers a server might echo: form-encoded (RFC 6749 §2.3.1) and raw.
func secretForms(id, secret string) []string {
	if secret == "" {
		return nil
	}
	return []string{secret,
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret))),
		base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))}
}

func (r redactor) clean(s string) string {
	for _, secret := range r {
		if len(secret) < minSecret {
			continue
		}
		s = strings.ReplaceAll(s, secret, "[redacted]")
		if escaped := url.QueryEscape(secret); escaped != secret {
			s = strings.ReplaceAll(s, escaped, "[redacted]")
		}
	}
	return s
}

// excerpt describes a body that could not be read as a token response: its
// first bytes, with known secrets and anything shaped like a token masked.
func (r redactor) excerpt(body []byte, contentType string) string {
	const max = 160
	text := string(body)
	if len(text) > max {
		text = text[:max] + "…"
	}
	text = maskTokenLike(r.clean(text))
	text = strings.Join(strings.Fields(text), " ")
	return fmt.Sprintf("%d bytes starting %q", len(body), text)
}

// maskTokenLike replaces runs of 24 or more characters from the alphabets
// of tokens (base64, base64url, hex) with "[…]": no readable error page
// needs them and any token needs them.
func maskTokenLike(s string) string {
	var b strings.Builder
	run := 0
	flush := func(end int) {
		if run >= 24 {
			b.WriteString("[…]")
		} else {
			b.WriteString(s[end-run : end])
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || c == '+' || c == '/' || c == '=' {
			run++
			continue
		}
		flush(i)
		b.WriteByte(c)
	}
	flush(len(s))
	return b.String()
}

// retrieveError returns a copy of re that is safe to hand out: its
// response no longer leads to the request's Authorization header or body,
// and secrets are removed from the response body it quotes.
func (r redactor) retrieveError(re *oauth2.RetrieveError) *oauth2.RetrieveError {
	cp := *re
	cp.Body = []byte(r.clean(string(re.Body)))
	cp.ErrorCode = r.clean(re.ErrorCode)
	cp.ErrorDescription = r.clean(re.ErrorDescription)
	cp.ErrorURI = r.clean(re.ErrorURI)
	if re.Response != nil {
		resp := *re.Response
		resp.Body = http.NoBody
		if req := resp.Request; req != nil {
			safe := req.Clone(req.Context())
			safe.Header.Del("Authorization")
			safe.Body, safe.GetBody = http.NoBody, nil
			safe.Form, safe.PostForm = nil, nil
			resp.Request = safe
		}
		cp.Response = &resp
	}
	return &cp
}
