package authserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// Registered clients of the test server, one per authentication method.
// The Basic client's identifier and secret hold characters that must be
// form-urlencoded before Basic encoding (RFC 6749 §2.3.1).
var (
	basicClient = Client{
		ID:           "basic:client",
		Secret:       "s3cret:with/+%&=",
		Method:       MethodBasic,
		RedirectURIs: []string{"https://app.example/callback?tenant=acme"},
	}
	postClient = Client{
		ID:           "post-client",
		Secret:       "post-secret",
		Method:       MethodPost,
		RedirectURIs: []string{"https://app.example/callback"},
	}
	publicClient = Client{
		ID:           "public-client",
		Method:       MethodNone,
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]:8080/callback"},
	}
)

func testConfig() Config {
	return Config{Clients: []Client{basicClient, postClient, publicClient}}
}

// harness drives a server started with Start over real HTTP.
type harness struct {
	t    *testing.T
	srv  *Server
	http *http.Client
}

func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	srv := Start(cfg)
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
func authParams(c Client, v pkce.Verifier) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {c.ID},
		"redirect_uri":          {c.RedirectURIs[0]},
		"code_challenge":        {v.Challenge()},
		"code_challenge_method": {pkce.MethodS256},
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
func (h *harness) authenticated(c Client, form url.Values) tokenResult {
	h.t.Helper()
	return h.authenticatedTo(h.srv.TokenURL(), c, form)
}

// authenticatedTo sends form to endpoint with c's credentials the way c is
// registered to send them.
func (h *harness) authenticatedTo(endpoint string, c Client, form url.Values) tokenResult {
	h.t.Helper()
	form = cloneValues(form)
	var edit func(*http.Request)
	switch c.Method {
	case MethodBasic:
		edit = basicAuth(c.ID, c.Secret)
	case MethodPost:
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
	case MethodNone:
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

func codeForm(code string, redirectURI string, v pkce.Verifier) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {v.Reveal()},
	}
}

// tokens runs the whole code flow for c with scope and returns the
// successful token response.
func (h *harness) tokens(c Client, scope string) tokenResult {
	h.t.Helper()
	v := pkce.NewVerifier()
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

func TestEndpointURLs(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		want   string
	}{
		{"no prefix", "", ""},
		{"tenant prefix", "/acme/oauth2/v1", "/acme/oauth2/v1"},
		{"prefix slashes normalised", "acme/oauth2/v1/", "/acme/oauth2/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.PathPrefix = tt.prefix
			srv := Start(cfg)
			defer srv.Close()

			assert.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"), srv.URL())
			assert.Equal(t, srv.URL()+tt.want, srv.Issuer())
			assert.Equal(t, srv.Issuer()+"/authorize", srv.AuthURL())
			assert.Equal(t, srv.Issuer()+"/token", srv.TokenURL())
			assert.Equal(t, srv.Issuer()+"/userinfo", srv.ResourceURL())
		})
	}
}

func TestPathPrefixServesEndpointsUnderIt(t *testing.T) {
	cfg := testConfig()
	cfg.PathPrefix = "/acme/oauth2/v1"
	cfg.SendIssuer = true
	h := start(t, cfg)

	v := pkce.NewVerifier()
	resp, _ := h.authorize(authParams(publicClient, v).Encode())
	q := h.redirected(resp).Query()
	assert.Equal(t, h.srv.URL()+"/acme/oauth2/v1", q.Get("iss"), "issuer includes the prefix")

	res := h.authenticated(publicClient, codeForm(q.Get("code"), publicClient.RedirectURIs[0], v))
	require.Equal(t, http.StatusOK, res.status, res.raw)

	for _, path := range []string{"/authorize", "/token", "/userinfo"} {
		r, err := http.Get(h.srv.URL() + path)
		require.NoError(t, err)
		r.Body.Close()
		assert.Equal(t, http.StatusNotFound, r.StatusCode, "%s outside the prefix", path)
	}
}

func TestNewServesOnAnyListener(t *testing.T) {
	srv := New(testConfig())
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer srv.Close()
	srv.SetBaseURL(ts.URL + "/")

	assert.Equal(t, ts.URL, srv.URL(), "trailing slash dropped")
	h := &harness{t: t, srv: srv, http: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	h.tokens(publicClient, "profile")
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name    string
		clients []Client
	}{
		{"client without ID", []Client{{Method: MethodNone}}},
		{"unknown auth method", []Client{{ID: "a", Secret: "s", Method: "private_key_jwt"}}},
		{"public client with secret", []Client{{ID: "a", Secret: "s", Method: MethodNone}}},
		{"confidential client without secret", []Client{{ID: "a", Method: MethodPost}}},
		{"client registered twice", []Client{publicClient, publicClient}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Panics(t, func() { New(Config{Clients: tt.clients}) })
		})
	}
}
