package pkcetest_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

// Registered clients of the test server, one per authentication method.
// The Basic client's identifier and secret hold characters that must be
// form-urlencoded before Basic encoding (RFC 6749 §2.3.1).
var (
	basicClient = pkcetest.Client{
		ID:           "basic:client",
		Secret:       "s3cret:with/+%&=",
		Method:       pkcetest.MethodBasic,
		RedirectURIs: []string{"https://app.example/callback?tenant=acme"},
	}
	postClient = pkcetest.Client{
		ID:           "post-client",
		Secret:       "post-secret",
		Method:       pkcetest.MethodPost,
		RedirectURIs: []string{"https://app.example/callback"},
	}
	publicClient = pkcetest.Client{
		ID:           "public-client",
		Method:       pkcetest.MethodNone,
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]:8080/callback"},
	}
)

func testConfig() pkcetest.Config {
	return pkcetest.Config{Clients: []pkcetest.Client{basicClient, postClient, publicClient}}
}

// verifier is a PKCE code verifier, made here rather than with the client
// package so that the server is checked against RFC 7636 itself.
type verifier string

// newVerifier returns 256 random bits, base64url encoded: 43 characters,
// as RFC 7636 §4.1 recommends.
func newVerifier() verifier {
	var b [32]byte
	rand.Read(b[:])
	return verifier(base64.RawURLEncoding.EncodeToString(b[:]))
}

// challenge is BASE64URL-ENCODE(SHA256(ASCII(v))) (RFC 7636 §4.2).
func (v verifier) challenge() string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func cloneForm(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// harness drives a server started with NewServer over real HTTP.
type harness struct {
	t    *testing.T
	srv  *pkcetest.Server
	http *http.Client
}

func start(t *testing.T, cfg pkcetest.Config) *harness {
	t.Helper()
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return &harness{
		t:   t,
		srv: srv,
		http: &http.Client{
			// The tests read the authorization response from Location.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// authParams returns a valid authorization request for c with v's challenge.
func authParams(c pkcetest.Client, v verifier) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {c.ID},
		"redirect_uri":          {c.RedirectURIs[0]},
		"code_challenge":        {v.challenge()},
		"code_challenge_method": {"S256"},
		"state":                 {"xyz-state"},
		"scope":                 {"openid profile offline_access"},
	}
}

// authorize sends an authorization request with the query rawQuery and
// returns the response with its body read.
func (h *harness) authorize(rawQuery string) (*http.Response, string) {
	h.t.Helper()
	resp, err := h.http.Get(h.srv.AuthURL() + "?" + rawQuery)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return resp, string(body)
}

// redirected requires a 302 and returns the redirect URL.
func (h *harness) redirected(resp *http.Response) *url.URL {
	h.t.Helper()
	require.Equal(h.t, http.StatusFound, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(h.t, err)
	return loc
}

// code runs a successful authorization request for params and returns the
// code.
func (h *harness) code(params url.Values) string {
	h.t.Helper()
	resp, _ := h.authorize(params.Encode())
	q := h.redirected(resp).Query()
	require.Empty(h.t, q.Get("error"), q.Get("error_description"))
	require.NotEmpty(h.t, q.Get("code"))
	return q.Get("code")
}

// tokenResult is a token endpoint response.
type tokenResult struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r tokenResult) str(name string) string {
	s, _ := r.body[name].(string)
	return s
}

// post sends form to the token endpoint, letting edit change the request.
func (h *harness) post(form url.Values, edit func(*http.Request)) tokenResult {
	h.t.Helper()
	return h.postTo(h.srv.TokenURL(), form, edit)
}

// postTo sends form to endpoint, letting edit change the request.
func (h *harness) postTo(endpoint string, form url.Values, edit func(*http.Request)) tokenResult {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	require.NoError(h.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return h.do(req)
}

func (h *harness) do(req *http.Request) tokenResult {
	h.t.Helper()
	resp, err := h.http.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	res := tokenResult{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &res.body) // left nil for non-JSON bodies
	return res
}

// authenticated sends form to the token endpoint with c's credentials the
// way c is registered to send them.
func (h *harness) authenticated(c pkcetest.Client, form url.Values) tokenResult {
	h.t.Helper()
	return h.authenticatedTo(h.srv.TokenURL(), c, form)
}

// authenticatedTo sends form to endpoint with c's credentials the way c is
// registered to send them.
func (h *harness) authenticatedTo(endpoint string, c pkcetest.Client, form url.Values) tokenResult {
	h.t.Helper()
	form = cloneForm(form)
	var edit func(*http.Request)
	switch c.Method {
	case pkcetest.MethodBasic:
		edit = basicAuth(c.ID, c.Secret)
	case pkcetest.MethodPost:
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
	case pkcetest.MethodNone:
		form.Set("client_id", c.ID)
	}
	return h.postTo(endpoint, form, edit)
}

// basicAuth sets RFC 6749 §2.3.1 Basic credentials.
func basicAuth(id, secret string) func(*http.Request) {
	return func(r *http.Request) {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
}

func codeForm(code string, redirectURI string, v verifier) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {string(v)},
	}
}

// tokens runs the whole code flow for c with scope and returns the
// successful token response.
func (h *harness) tokens(c pkcetest.Client, scope string) tokenResult {
	h.t.Helper()
	v := newVerifier()
	params := authParams(c, v)
	params.Set("scope", scope)
	res := h.authenticated(c, codeForm(h.code(params), c.RedirectURIs[0], v))
	require.Equal(h.t, http.StatusOK, res.status, res.raw)
	return res
}

// assertTokenError checks an RFC 6749 §5.2 error response.
func assertTokenError(t *testing.T, res tokenResult, status int, code string) {
	t.Helper()
	assert.Equal(t, status, res.status, res.raw)
	assert.Equal(t, code, res.str("error"), res.raw)
	assert.NotEmpty(t, res.str("error_description"))
	assert.Equal(t, "application/json;charset=UTF-8", res.header.Get("Content-Type"))
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	assert.Equal(t, "no-cache", res.header.Get("Pragma"))
}

// clock is a settable time source for SetNow.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
