package pkcetest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

// push sends params to the PAR endpoint with c's credentials. client_id
// stays in the body whatever the method, as RFC 9126 §2.1 requires.
func (h *harness) push(c pkcetest.Client, params url.Values) tokenResult {
	h.t.Helper()
	return h.authenticatedTo(h.srv.PARURL(), c, params)
}

// pushed requires a successful push and returns its request_uri.
func (h *harness) pushed(c pkcetest.Client, params url.Values) string {
	h.t.Helper()
	res := h.push(c, params)
	require.Equal(h.t, http.StatusCreated, res.status, res.raw)
	return res.str("request_uri")
}

func byReference(c pkcetest.Client, requestURI string) string {
	return url.Values{"client_id": {c.ID}, "request_uri": {requestURI}}.Encode()
}

func TestPushedAuthorizationRequest(t *testing.T) {
	for _, c := range []pkcetest.Client{basicClient, postClient, publicClient} {
		t.Run(string(c.Method), func(t *testing.T) {
			cfg := testConfig()
			cfg.SendIssuer = true
			h := start(t, cfg)
			v := newVerifier()

			res := h.push(c, authParams(c, v))

			require.Equal(t, http.StatusCreated, res.status, res.raw)
			assert.Equal(t, "application/json;charset=UTF-8", res.header.Get("Content-Type"))
			assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
			assert.True(t, strings.HasPrefix(res.str("request_uri"), "urn:ietf:params:oauth:request_uri:"), res.raw)
			assert.Equal(t, float64(60), res.body["expires_in"])
			assert.Equal(t, 1, h.srv.PushedRequests())

			resp, _ := h.authorize(byReference(c, res.str("request_uri")))
			q := h.redirected(resp).Query()
			require.Empty(t, q.Get("error"), q.Get("error_description"))
			assert.Equal(t, "xyz-state", q.Get("state"), "the pushed state")
			assert.Equal(t, h.srv.Issuer(), q.Get("iss"))

			tok := h.authenticated(c, codeForm(q.Get("code"), c.RedirectURIs[0], v))
			require.Equal(t, http.StatusOK, tok.status, tok.raw)
			assert.Equal(t, "openid profile offline_access", tok.str("scope"), "the pushed scope")
		})
	}
}

func TestPushedRequestURIUse(t *testing.T) {
	tests := []struct {
		name string
		use  func(h *harness, clk *clock, uri string) string // returns the query to send
	}{
		{"RFC 9126 §4: a request_uri is single-use", func(h *harness, _ *clock, uri string) string {
			h.code(mustQuery(byReference(postClient, uri)))
			return byReference(postClient, uri)
		}},
		{"RFC 9126 §2.2: an expired request_uri", func(_ *harness, clk *clock, uri string) string {
			clk.advance(pkcetest.DefaultRequestURILifetime)
			return byReference(postClient, uri)
		}},
		{"RFC 9126 §4: client_id differs from the pusher", func(_ *harness, _ *clock, uri string) string {
			return byReference(publicClient, uri)
		}},
		{"an unknown request_uri", func(*harness, *clock, string) string {
			return byReference(postClient, "urn:ietf:params:oauth:request_uri:"+"forged")
		}},
		{"request_uri repeated", func(_ *harness, _ *clock, uri string) string {
			return byReference(postClient, uri) + "&request_uri=" + url.QueryEscape(uri)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			clk := newClock()
			h.srv.SetNow(clk.now)
			uri := h.pushed(postClient, authParams(postClient, newVerifier()))

			resp, body := h.authorize(tt.use(h, clk, uri))

			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "shown to the user, not redirected")
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Contains(t, body, "request_uri")
		})
	}
}

func mustQuery(raw string) url.Values {
	q, err := url.ParseQuery(raw)
	if err != nil {
		panic(err)
	}
	return q
}

func TestPushedRequestRejections(t *testing.T) {
	tests := []struct {
		name       string
		send       func(h *harness, params url.Values) tokenResult
		wantStatus int
		wantCode   string
	}{
		{"RFC 9126 §2.1: request_uri must not be pushed", func(h *harness, p url.Values) tokenResult {
			p.Set("request_uri", "urn:ietf:params:oauth:request_uri:"+"x")
			return h.push(postClient, p)
		}, http.StatusBadRequest, "invalid_request"},
		{"RFC 9126 §2.1: client_id must be pushed with Basic too", func(h *harness, p url.Values) tokenResult {
			p.Del("client_id")
			return h.postTo(h.srv.PARURL(), p, basicAuth(basicClient.ID, basicClient.Secret))
		}, http.StatusBadRequest, "invalid_request"},
		{"client_id of another client", func(h *harness, p url.Values) tokenResult {
			p.Set("client_id", publicClient.ID)
			return h.postTo(h.srv.PARURL(), p, basicAuth(basicClient.ID, basicClient.Secret))
		}, http.StatusUnauthorized, "invalid_client"},
		{"redirect_uri not registered", func(h *harness, p url.Values) tokenResult {
			p.Set("redirect_uri", "https://evil.example/cb")
			return h.push(postClient, p)
		}, http.StatusBadRequest, "invalid_request"},
		{"RFC 7636 §4.4.1: code_challenge missing", func(h *harness, p url.Values) tokenResult {
			p.Del("code_challenge")
			return h.push(postClient, p)
		}, http.StatusBadRequest, "invalid_request"},
		{"response_type token", func(h *harness, p url.Values) tokenResult {
			p.Set("response_type", "token")
			return h.push(postClient, p)
		}, http.StatusBadRequest, "unsupported_response_type"},
		{"the client's registered method is enforced", func(h *harness, p url.Values) tokenResult {
			return h.postTo(h.srv.PARURL(), p, basicAuth(postClient.ID, postClient.Secret))
		}, http.StatusUnauthorized, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			params := authParams(postClient, newVerifier())
			res := tt.send(h, params)
			assertTokenError(t, res, tt.wantStatus, tt.wantCode)
		})
	}
}

func TestRequirePAR(t *testing.T) {
	cfg := testConfig()
	cfg.RequirePAR = true
	cfg.RequestURILifetime = 90 * time.Second
	h := start(t, cfg)

	resp, _ := h.authorize(authParams(postClient, newVerifier()).Encode())
	q := h.redirected(resp).Query()
	assert.Equal(t, "invalid_request", q.Get("error"), "RFC 9126 §5: a request that was not pushed")
	assert.Contains(t, q.Get("error_description"), "RFC 9126")
	assert.False(t, q.Has("code"))

	res := h.push(postClient, authParams(postClient, newVerifier()))
	require.Equal(t, http.StatusCreated, res.status, res.raw)
	assert.Equal(t, float64(90), res.body["expires_in"])
	h.code(mustQuery(byReference(postClient, res.str("request_uri"))))
}

func TestPARRawFault(t *testing.T) {
	h := start(t, testConfig())
	h.srv.SetFaults(pkcetest.Faults{PARRaw: &pkcetest.RawResponse{Status: 200, ContentType: "text/html", Body: "<html>"}})
	params := authParams(postClient, newVerifier())

	res := h.push(postClient, params)

	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "<html>", res.raw)
	assert.Equal(t, 1, h.srv.PushedRequests())
	assert.Equal(t, params.Get("code_challenge"), h.srv.LastPushedRequest().Form.Get("code_challenge"))
}
