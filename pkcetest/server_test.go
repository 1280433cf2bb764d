package pkcetest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

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
			srv := pkcetest.NewServer(cfg)
			defer srv.Close()

			assert.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), srv.URL)
			assert.Equal(t, srv.URL+tt.want, srv.Issuer())
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

	v := newVerifier()
	resp, _ := h.authorize(authParams(publicClient, v).Encode())
	q := h.redirected(resp).Query()
	assert.Equal(t, h.srv.URL+"/acme/oauth2/v1", q.Get("iss"), "issuer includes the prefix")

	res := h.authenticated(publicClient, codeForm(q.Get("code"), publicClient.RedirectURIs[0], v))
	require.Equal(t, http.StatusOK, res.status, res.raw)

	for _, path := range []string{"/authorize", "/token", "/userinfo"} {
		r, err := http.Get(h.srv.URL + path)
		require.NoError(t, err)
		r.Body.Close()
		assert.Equal(t, http.StatusNotFound, r.StatusCode, "%s outside the prefix", path)
	}
}

func TestNewServerRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name    string
		clients []pkcetest.Client
	}{
		{"client without ID", []pkcetest.Client{{Method: pkcetest.MethodNone}}},
		{"unknown auth method", []pkcetest.Client{{ID: "a", Secret: "s", Method: "private_key_jwt"}}},
		{"public client with secret", []pkcetest.Client{{ID: "a", Secret: "s", Method: pkcetest.MethodNone}}},
		{"confidential client without secret", []pkcetest.Client{{ID: "a", Method: pkcetest.MethodPost}}},
		{"client registered twice", []pkcetest.Client{publicClient, publicClient}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Panics(t, func() { pkcetest.NewServer(pkcetest.Config{Clients: tt.clients}).Close() })
		})
	}
}

func TestNewTLSServer(t *testing.T) {
	cfg := testConfig()
	cfg.SendIssuer = true
	srv := pkcetest.NewTLSServer(cfg)
	defer srv.Close()
	h := &harness{t: t, srv: srv, http: srv.Client()}
	require.True(t, strings.HasPrefix(srv.URL, "https://127.0.0.1:"), srv.URL)

	_, err := http.Get(srv.MetadataURL())
	require.Error(t, err, "the default client does not trust the test certificate")
	doc := h.get(srv.MetadataURL())
	require.Equal(t, http.StatusOK, doc.status)
	assert.Equal(t, srv.URL, doc.str("issuer"))

	v := newVerifier()
	cb, err := srv.Authorize(context.Background(), srv.AuthURL()+"?"+authParams(postClient, v).Encode())
	require.NoError(t, err)
	assert.Equal(t, srv.Issuer(), cb.Params.Get("iss"))
	res := h.authenticated(postClient, codeForm(cb.Params.Get("code"), postClient.RedirectURIs[0], v))
	require.Equal(t, http.StatusOK, res.status, res.raw)
	assert.Equal(t, http.StatusOK, h.userinfo(res.str("access_token")).status)
}

func TestCloseStopsServing(t *testing.T) {
	srv := pkcetest.NewServer(testConfig())
	srv.Close()

	_, err := http.Get(srv.MetadataURL())

	assert.Error(t, err)
	assert.NotPanics(t, srv.Close, "Close may be called twice")
}

func TestLastAuthorizationRequest(t *testing.T) {
	h := start(t, testConfig())
	assert.Nil(t, h.srv.LastAuthorizationRequest())
	params := authParams(postClient, newVerifier())
	params.Set("prompt", "login")

	h.code(params)

	last := h.srv.LastAuthorizationRequest()
	assert.Equal(t, params, last)
	last.Set("prompt", "changed")
	assert.Equal(t, "login", h.srv.LastAuthorizationRequest().Get("prompt"), "a copy is returned")
}
