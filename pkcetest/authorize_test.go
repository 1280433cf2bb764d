package pkcetest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

func TestAuthorizeIssuesCode(t *testing.T) {
	tests := []struct {
		name       string
		client     pkcetest.Client
		sendIssuer bool
		edit       func(url.Values)
		wantQuery  url.Values // members of the redirect URI's own query
		wantState  bool
	}{
		{name: "code and state", client: postClient, wantState: true},
		{name: "iss added when SendIssuer", client: postClient, sendIssuer: true, wantState: true},
		{name: "state omitted when not sent", client: postClient, edit: func(q url.Values) { q.Del("state") }},
		{name: "empty state counts as omitted", client: postClient, edit: func(q url.Values) { q.Set("state", "") }},
		{name: "redirect URI query kept", client: basicClient, wantState: true,
			wantQuery: url.Values{"tenant": {"acme"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.SendIssuer = tt.sendIssuer
			h := start(t, cfg)
			params := authParams(tt.client, newVerifier())
			if tt.edit != nil {
				tt.edit(params)
			}

			resp, _ := h.authorize(params.Encode())
			loc := h.redirected(resp)
			q := loc.Query()

			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.True(t, strings.HasPrefix(loc.String(), tt.client.RedirectURIs[0]), "redirect URI kept as registered: %s", loc)
			assert.Len(t, q.Get("code"), 43, "256-bit base64url code")
			assert.Equal(t, tt.wantState, q.Has("state"))
			if tt.wantState {
				assert.Equal(t, "xyz-state", q.Get("state"))
			}
			assert.Equal(t, tt.sendIssuer, q.Has("iss"))
			if tt.sendIssuer {
				assert.Equal(t, h.srv.Issuer(), q.Get("iss"))
			}
			for k, v := range tt.wantQuery {
				assert.Equal(t, v, q[k], k)
			}
		})
	}
}

func TestAuthorizeRejectsWithoutRedirect(t *testing.T) {
	tests := []struct {
		name string
		edit func(url.Values)
	}{
		{"unknown client_id", func(q url.Values) { q.Set("client_id", "nobody") }},
		{"client_id missing", func(q url.Values) { q.Del("client_id") }},
		{"redirect_uri not registered", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/callback") }},
		{"redirect_uri registered for another client", func(q url.Values) { q.Set("redirect_uri", basicClient.RedirectURIs[0]) }},
		{"redirect_uri differs in path", func(q url.Values) { q.Set("redirect_uri", "https://app.example/callback/") }},
		{"redirect_uri differs in query", func(q url.Values) { q.Set("redirect_uri", "https://app.example/callback?x=1") }},
		{"redirect_uri missing", func(q url.Values) { q.Del("redirect_uri") }},
		{"client_id repeated", func(q url.Values) { q.Add("client_id", postClient.ID) }},
		{"redirect_uri repeated", func(q url.Values) { q.Add("redirect_uri", postClient.RedirectURIs[0]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			params := authParams(postClient, newVerifier())
			tt.edit(params)

			resp, body := h.authorize(params.Encode())

			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
			assert.NotEmpty(t, body)
		})
	}
}

func TestAuthorizeRedirectsErrors(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(url.Values)
		rawQuery string // appended to the query as is
		want     string
	}{
		{name: "response_type is not code", edit: func(q url.Values) { q.Set("response_type", "token") }, want: "unsupported_response_type"},
		{name: "response_type missing", edit: func(q url.Values) { q.Del("response_type") }, want: "invalid_request"},
		{name: "code_challenge missing", edit: func(q url.Values) { q.Del("code_challenge") }, want: "invalid_request"},
		{name: "code_challenge_method missing means plain", edit: func(q url.Values) { q.Del("code_challenge_method") }, want: "invalid_request"},
		{name: "code_challenge_method plain", edit: func(q url.Values) { q.Set("code_challenge_method", "plain") }, want: "invalid_request"},
		{name: "code_challenge_method in wrong case", edit: func(q url.Values) { q.Set("code_challenge_method", "s256") }, want: "invalid_request"},
		{name: "code_challenge too short", edit: func(q url.Values) { q.Set("code_challenge", strings.Repeat("a", 42)) }, want: "invalid_request"},
		{name: "code_challenge too long", edit: func(q url.Values) { q.Set("code_challenge", strings.Repeat("a", 44)) }, want: "invalid_request"},
		{name: "code_challenge not base64url", edit: func(q url.Values) { q.Set("code_challenge", strings.Repeat("a", 42)+"+") }, want: "invalid_request"},
		{name: "state repeated", rawQuery: "state=other", want: "invalid_request"},
		{name: "scope repeated", rawQuery: "scope=openid", want: "invalid_request"},
		{name: "code_challenge repeated", rawQuery: "code_challenge=" + newVerifier().challenge(), want: "invalid_request"},
	}
	for _, tt := range tests {
		for _, sendIssuer := range []bool{false, true} {
			name := tt.name
			if sendIssuer {
				name += " with iss"
			}
			t.Run(name, func(t *testing.T) {
				cfg := testConfig()
				cfg.SendIssuer = sendIssuer
				h := start(t, cfg)
				params := authParams(postClient, newVerifier())
				if tt.edit != nil {
					tt.edit(params)
				}
				query := params.Encode()
				if tt.rawQuery != "" {
					query += "&" + tt.rawQuery
				}

				resp, _ := h.authorize(query)
				loc := h.redirected(resp)
				q := loc.Query()

				assert.Equal(t, "https://app.example/callback", loc.Scheme+"://"+loc.Host+loc.Path)
				assert.Equal(t, tt.want, q.Get("error"))
				assert.NotEmpty(t, q.Get("error_description"))
				assert.False(t, q.Has("code"))
				if !strings.HasPrefix(tt.rawQuery, "state=") {
					assert.Equal(t, "xyz-state", q.Get("state"))
				}
				assert.Equal(t, sendIssuer, q.Has("iss"))
				if sendIssuer {
					assert.Equal(t, h.srv.Issuer(), q.Get("iss"))
				}
			})
		}
	}
}

func TestAuthorizeLoopbackRedirectAnyPort(t *testing.T) {
	tests := []struct {
		name        string
		registered  string
		redirectURI string
		allowed     bool
	}{
		{"IPv4 loopback with ephemeral port", "http://127.0.0.1/callback", "http://127.0.0.1:53124/callback", true},
		{"IPv4 loopback registered with another port", "http://127.0.0.1:8080/callback", "http://127.0.0.1:53124/callback", true},
		{"IPv6 loopback with ephemeral port", "http://[::1]:8080/callback", "http://[::1]:53124/callback", true},
		{"loopback query must match", "http://127.0.0.1/callback?a=1", "http://127.0.0.1:53124/callback?a=1", true},
		{"loopback path must match", "http://127.0.0.1/callback", "http://127.0.0.1:53124/other", false},
		{"loopback query differs", "http://127.0.0.1/callback?a=1", "http://127.0.0.1:53124/callback?a=2", false},
		{"IPv4 and IPv6 loopback differ", "http://127.0.0.1/callback", "http://[::1]:53124/callback", false},
		{"localhost matched exactly only", "http://localhost/callback", "http://localhost:53124/callback", false},
		{"https loopback matched exactly only", "https://127.0.0.1/callback", "https://127.0.0.1:53124/callback", false},
		{"non-loopback port must match", "https://app.example:8443/callback", "https://app.example:9443/callback", false},
		{"loopback with userinfo", "http://127.0.0.1/callback", "http://user@127.0.0.1:53124/callback", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pkcetest.Client{ID: "native", Method: pkcetest.MethodNone, RedirectURIs: []string{tt.registered}}
			h := start(t, pkcetest.Config{Clients: []pkcetest.Client{c}})
			v := newVerifier()
			params := authParams(c, v)
			params.Set("redirect_uri", tt.redirectURI)

			resp, _ := h.authorize(params.Encode())

			if !tt.allowed {
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
				return
			}
			loc := h.redirected(resp)
			assert.True(t, strings.HasPrefix(loc.String(), tt.redirectURI), "redirected to the port asked for: %s", loc)
			code := loc.Query().Get("code")
			require.NotEmpty(t, code)
			res := h.authenticated(c, codeForm(code, tt.redirectURI, v))
			assert.Equal(t, http.StatusOK, res.status, "code bound to the redirect URI with its port: %s", res.raw)
		})
	}
}

func TestAuthorizeAcceptsGetOnly(t *testing.T) {
	h := start(t, testConfig())
	resp, err := h.http.PostForm(h.srv.AuthURL(), authParams(postClient, newVerifier()))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, http.MethodGet, resp.Header.Get("Allow"))
}
