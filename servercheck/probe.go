package servercheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pkcekit/pkce/internal/jose"
	"github.com/pkcekit/pkce/internal/link"
)

// maxAnswer bounds the body read from an endpoint; maxShown is what the
// evidence keeps of it.
const (
	maxAnswer = 1 << 20
	maxShown  = 2000
)

// A prober makes the requests of the checks and remembers every secret
// they sent or received, so that the evidence can be redacted.
type prober struct {
	cfg    Config
	hc     *http.Client
	signIn SignIn
	ep     Endpoints
	md     map[string]any // the metadata document, nil without one

	mu      sync.Mutex
	secrets []string
}

// secret adds values to what the evidence must not show.
func (p *prober) secret(values ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range values {
		if v != "" {
			p.secrets = append(p.secrets, v)
		}
	}
}

// redact removes every secret known from text, with the root package's
// redaction, which also finds them percent-, JSON- and HTML-encoded.
func (p *prober) redact(text string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return link.Redact(text, p.secrets...)
}

// An answer is what an endpoint answered to one request.
type answer struct {
	ex     Exchange
	status int
	header http.Header
	body   []byte
	obj    map[string]any // the body, when it is a JSON object labelled application/json
	err    error
}

// json reports whether the answer is a JSON object labelled as one.
func (a *answer) json() bool { return a.obj != nil }

// str returns the string member name of a JSON answer.
func (a *answer) str(name string) string {
	s, _ := a.obj[name].(string)
	return s
}

// issued reports whether the token endpoint issued tokens: a 2xx answer
// with an access_token, in JSON or, breaking RFC 6749 §5.1, form-encoded.
func (a *answer) issued() bool {
	if a.err != nil || a.status/100 != 2 {
		return false
	}
	if a.json() {
		return a.str("access_token") != ""
	}
	form, _ := url.ParseQuery(string(a.body))
	return form.Get("access_token") != ""
}

// refused reports whether the token endpoint refused the request: it
// answered, and issued no tokens (whatever the status: some servers
// answer errors 200). A request that got no answer is not a refusal.
func (a *answer) refused() bool { return a.err == nil && !a.issued() }

// errorCode returns the error member of the answer, read from JSON or,
// breaking RFC 6749 §5.2, from a form-encoded body: the format has a
// check of its own.
func (a *answer) errorCode() string {
	if a.json() {
		return a.str("error")
	}
	form, _ := url.ParseQuery(string(a.body))
	return form.Get("error")
}

// describe says in a few words what the server answered.
func (a *answer) describe() string {
	switch {
	case a.err != nil:
		return "no answer (" + a.err.Error() + ")"
	case a.errorCode() != "":
		return fmt.Sprintf("%d with error %q", a.status, a.errorCode())
	}
	return fmt.Sprintf("%d (%s)", a.status, a.header.Get("Content-Type"))
}

// do sends req with body and records the exchange.
func (p *prober) do(req *http.Request, body string) *answer {
	a := &answer{ex: Exchange{Request: req.Method + " " + req.URL.String(), Body: body}}
	for _, h := range []string{"Authorization", "Content-Type", "Accept"} {
		if v := req.Header.Get(h); v != "" {
			if h == "Authorization" {
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " [redacted]"
			}
			a.ex.Request += "\n" + h + ": " + v
		}
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		a.err = err
		a.ex.Error = err.Error()
		return a
	}
	defer resp.Body.Close()
	a.status, a.header = resp.StatusCode, resp.Header
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		a.err = err
		a.ex.Error = err.Error()
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		var obj map[string]any
		if json.Unmarshal(a.body, &obj) == nil && obj != nil {
			a.obj = obj
			for _, name := range []string{"access_token", "refresh_token", "id_token"} {
				if s, ok := obj[name].(string); ok {
					p.secret(s)
				}
			}
		}
	}
	var r strings.Builder
	fmt.Fprintf(&r, "%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	for _, h := range []string{"Content-Type", "Cache-Control", "Pragma", "Location", "WWW-Authenticate"} {
		for _, v := range resp.Header.Values(h) {
			fmt.Fprintf(&r, "\n%s: %s", h, v)
		}
	}
	if len(a.body) > 0 {
		shown := a.body
		if len(shown) > maxShown {
			shown = shown[:maxShown]
		}
		fmt.Fprintf(&r, "\n\n%s", shown)
		if len(a.body) > maxShown {
			fmt.Fprintf(&r, "… (%d bytes in all)", len(a.body))
		}
	}
	a.ex.Response = r.String()
	return a
}

// get fetches u.
func (p *prober) get(ctx context.Context, u string) *answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return &answer{ex: Exchange{Request: "GET " + u, Error: err.Error()}, err: err}
	}
	req.Header.Set("Accept", "application/json")
	return p.do(req, "")
}

// post sends form to endpoint as reg, authenticated with reg's method
// (RFC 6749 §2.3).
func (p *prober) post(ctx context.Context, endpoint string, reg Registration, form url.Values) *answer {
	form = cloneValues(form)
	var basic string
	switch reg.Method {
	case AuthNone:
		form.Set("client_id", reg.ID)
	case AuthSecretPost:
		form.Set("client_id", reg.ID)
		form.Set("client_secret", reg.Secret)
	case AuthSecretBasic:
		basic = base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(reg.ID) + ":" + url.QueryEscape(reg.Secret)))
		p.secret(basic)
	case AuthPrivateKeyJWT:
		assertion, err := p.assertion(reg)
		if err != nil {
			return &answer{ex: Exchange{Request: "POST " + endpoint, Error: err.Error()}, err: err}
		}
		form.Set("client_id", reg.ID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	}
	p.secret(reg.Secret)
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return &answer{ex: Exchange{Request: "POST " + endpoint, Error: err.Error()}, err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+basic)
	}
	return p.do(req, body)
}

// assertion signs a client assertion for reg (RFC 7523 §3).
func (p *prober) assertion(reg Registration) (string, error) {
	alg, err := jose.DefaultAlg(reg.Key.Public())
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(reg.Key, alg)
	if err != nil {
		return "", err
	}
	aud := reg.AssertionAudience
	if aud == "" {
		aud = p.cfg.Issuer
	}
	var h, c jose.Object
	h.String("alg", signer.Alg())
	if reg.KeyID != "" {
		h.String("kid", reg.KeyID)
	}
	now := time.Now()
	c.String("iss", reg.ID)
	c.String("sub", reg.ID)
	c.String("aud", aud)
	c.String("jti", randomString())
	c.Int("iat", now.Unix())
	c.Int("exp", now.Add(time.Minute).Unix())
	jws, err := signer.Sign(h.Bytes(), c.Bytes())
	p.secret(jws)
	return jws, err
}

// impostor returns reg with credentials the server cannot know: another
// secret, or another key.
func impostor(reg Registration) Registration {
	switch reg.Method {
	case AuthSecretBasic, AuthSecretPost:
		reg.Secret = "not-" + reg.Secret
	case AuthPrivateKeyJWT:
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // cannot fail with crypto/rand
		reg.Key = key
	}
	return reg
}

// randomString returns 128 random bits, base64url encoded.
func randomString() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// keysOf lists the members of obj, for messages that must not show
// their values.
func keysOf(obj map[string]any) string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}
