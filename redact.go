package pkce

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
)

// A redactor removes the secrets of one request (client secret, Basic
// credentials, code, verifier, state, tokens) from text a server sent
// back, before that text reaches an error, in every encoding a server may
// echo it in. It is a value, so that a request that succeeds allocates
// nothing for it.
type redactor struct {
	request [4]string // the request's own secrets
	extra   []string  // more of them, when four are not enough
	client  []string  // the client secret's forms, shared
}

// with returns r with more secrets of the request, such as a client
// assertion or a DPoP proof made for it.
func (r redactor) with(secrets ...string) redactor {
	for _, s := range secrets {
		if i := slices.Index(r.request[:], ""); i >= 0 {
			r.request[i] = s
			continue
		}
		r.extra = append(slices.Clip(r.extra), s)
	}
	return r
}

// minSecret is the shortest value worth searching for: shorter ones would
// mangle ordinary words and are not secrets anyone should use.
const minSecret = 4

// redactor returns the redactor for one request of c: the request's own
// secrets and the client secret in every form it travels in.
func (c *Client) redactor(secrets ...string) redactor {
	r := redactor{client: c.secretForms}
	copy(r.request[:], secrets)
	return r
}

// secretForms returns the client secret as sent in a body and in the two
// Basic headers a server might echo: form-encoded (RFC 6749 §2.3.1) and
// raw.
func secretForms(id, secret string) []string {
	if secret == "" {
		return nil
	}
	return []string{secret, basicCredentials(id, secret),
		base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))}
}

// encodings returns secret as it may appear in a server's answer: raw,
// percent-encoded as a query, a path or a URI component (with upper- or
// lower-case hex),
// escaped in a JSON string (with or without \/ and \u00XX escapes), and
// escaped in HTML.
func encodings(secret string) []string {
	out := []string{secret}
	add := func(s string) {
		for _, have := range out {
			if have == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, s := range []string{url.QueryEscape(secret), url.PathEscape(secret), escapeURIComponent(secret)} {
		add(s)
		add(lowerHex(s))
	}
	quoted, _ := json.Marshal(secret) // escapes <, > and & as \u003c...
	js := string(quoted[1 : len(quoted)-1])
	add(js)
	add(strings.ReplaceAll(js, "/", `\/`))
	plain := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(js)
	add(plain)
	add(strings.ReplaceAll(plain, "/", `\/`))
	add(html.EscapeString(secret))
	return out
}

// escapeURIComponent percent-encodes s as JavaScript's encodeURIComponent
// does: every byte but the unreserved characters of RFC 3986 §2.3 and
// !*'() is escaped, space as %20. Servers written in JavaScript echo
// values in this form; Go has no function for it.
func escapeURIComponent(s string) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || strings.IndexByte("!*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&15])
	}
	return b.String()
}

// lowerHex lower-cases the hex digits of the percent escapes in s.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

func (r redactor) clean(s string) string {
	if s == "" {
		return s
	}
	for _, list := range [3][]string{r.request[:], r.extra, r.client} {
		for _, secret := range list {
			if len(secret) < minSecret {
				continue
			}
			for _, form := range encodings(secret) {
				s = strings.ReplaceAll(s, form, "[redacted]")
			}
		}
	}
	return s
}

// excerpt describes a body that could not be read as the answer expected:
// its first bytes, with known secrets removed before it is cut (so that no
// part of a secret survives at the cut) and anything shaped like a token
// masked.
func (r redactor) excerpt(body []byte) string {
	const max = 160
	text := maskTokenLike(r.clean(string(body)))
	text = strings.Join(strings.Fields(text), " ")
	return fmt.Sprintf("%d bytes starting %q", len(body), clip(text, max))
}

// maskTokenLike replaces runs of 24 or more characters from the alphabets
// of tokens (base64, base64url, hex, with JSON's \/ escapes) with "[…]":
// no readable error page needs them and any token needs them.
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
		if isUnreserved(c) || c == '+' || c == '/' || c == '=' || c == '\\' && i+1 < len(s) && s[i+1] == '/' {
			run++
			continue
		}
		flush(i)
		b.WriteByte(c)
	}
	flush(len(s))
	return b.String()
}
