package pkcetest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

func TestRefreshWithRotation(t *testing.T) {
	cfg := testConfig()
	cfg.Rotate = true
	h := start(t, cfg)
	first := h.tokens(postClient, "openid profile")
	old := first.str("refresh_token")

	res := h.authenticated(postClient, refreshForm(old))

	require.Equal(t, http.StatusOK, res.status, res.raw)
	assert.NotEmpty(t, res.str("access_token"))
	assert.NotEqual(t, first.str("access_token"), res.str("access_token"))
	assert.NotEmpty(t, res.str("refresh_token"), "a new refresh token")
	assert.NotEqual(t, old, res.str("refresh_token"))
	assert.Equal(t, "openid profile", res.str("scope"))
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))

	again := h.authenticated(postClient, refreshForm(res.str("refresh_token")))
	assert.Equal(t, http.StatusOK, again.status, "the new refresh token works: %s", again.raw)
}

// TestRefreshTokenReuseRevokesTheGrant checks RFC 9700 §4.14.2: once a
// rotated refresh token comes back, the server cannot tell the client from
// a thief, so every token of the grant stops working.
func TestRefreshTokenReuseRevokesTheGrant(t *testing.T) {
	cfg := testConfig()
	cfg.Rotate = true
	h := start(t, cfg)
	first := h.tokens(postClient, "openid profile")
	rotated := h.authenticated(postClient, refreshForm(first.str("refresh_token")))
	require.Equal(t, http.StatusOK, rotated.status, rotated.raw)

	reused := h.authenticated(postClient, refreshForm(first.str("refresh_token")))

	assertTokenError(t, reused, http.StatusBadRequest, "invalid_grant")
	assert.Contains(t, reused.str("error_description"), "RFC 9700")
	next := h.authenticated(postClient, refreshForm(rotated.str("refresh_token")))
	assertTokenError(t, next, http.StatusBadRequest, "invalid_grant")
	assert.Equal(t, http.StatusUnauthorized, h.userinfo(rotated.str("access_token")).status, "the latest access token is revoked")
	assert.Equal(t, http.StatusUnauthorized, h.userinfo(first.str("access_token")).status, "the first access token is revoked")
}

func TestRefreshTokenReuseByAnotherClientKeepsTheGrant(t *testing.T) {
	cfg := testConfig()
	cfg.Rotate = true
	h := start(t, cfg)
	first := h.tokens(postClient, "profile")
	rotated := h.authenticated(postClient, refreshForm(first.str("refresh_token")))
	require.Equal(t, http.StatusOK, rotated.status, rotated.raw)

	other := h.authenticated(publicClient, refreshForm(first.str("refresh_token")))

	assertTokenError(t, other, http.StatusBadRequest, "invalid_grant")
	next := h.authenticated(postClient, refreshForm(rotated.str("refresh_token")))
	assert.Equal(t, http.StatusOK, next.status, "another client cannot end the grant: %s", next.raw)
}

func TestRefreshWithoutRotation(t *testing.T) {
	h := start(t, testConfig())
	first := h.tokens(basicClient, "profile")
	rt := first.str("refresh_token")

	for i := range 2 {
		res := h.authenticated(basicClient, refreshForm(rt))

		require.Equal(t, http.StatusOK, res.status, "refresh %d: %s", i+1, res.raw)
		assert.NotEmpty(t, res.str("access_token"))
		assert.NotContains(t, res.body, "refresh_token", "the client keeps its refresh token")
		assert.Equal(t, "profile", res.str("scope"))
	}
}

func TestRefreshScope(t *testing.T) {
	tests := []struct {
		name      string
		scope     string
		wantError string
		wantScope string
	}{
		{name: "omitted keeps the original scope", scope: "", wantScope: "openid profile email"},
		{name: "narrowed to a subset", scope: "profile", wantScope: "profile"},
		{name: "same scope in another order", scope: "email openid profile", wantScope: "email openid profile"},
		{name: "widened beyond the grant", scope: "profile admin", wantError: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Rotate = true
			h := start(t, cfg)
			first := h.tokens(publicClient, "openid profile email")
			form := refreshForm(first.str("refresh_token"))
			if tt.scope != "" {
				form.Set("scope", tt.scope)
			}

			res := h.authenticated(publicClient, form)

			if tt.wantError != "" {
				assertTokenError(t, res, http.StatusBadRequest, tt.wantError)
				return
			}
			require.Equal(t, http.StatusOK, res.status, res.raw)
			assert.Equal(t, tt.wantScope, res.str("scope"))
			assert.Equal(t, tt.wantScope, h.userinfo(res.str("access_token")).str("scope"))

			// The refresh token keeps the original grant's scope (RFC 6749 §6).
			wide := refreshForm(res.str("refresh_token"))
			wide.Set("scope", "openid profile email")
			next := h.authenticated(publicClient, wide)
			assert.Equal(t, http.StatusOK, next.status, next.raw)
		})
	}
}

func TestRefreshRejections(t *testing.T) {
	tests := []struct {
		name   string
		client pkcetest.Client // who sends the refresh request
		edit   func(h *harness, form url.Values)
		want   string
	}{
		{name: "refresh_token missing", client: postClient,
			edit: func(_ *harness, f url.Values) { f.Del("refresh_token") }, want: "invalid_request"},
		{name: "refresh_token unknown", client: postClient,
			edit: func(_ *harness, f url.Values) { f.Set("refresh_token", "unknown") }, want: "invalid_grant"},
		{name: "refresh_token issued to another client", client: publicClient, want: "invalid_grant"},
		{name: "refresh_token revoked", client: postClient,
			edit: func(h *harness, f url.Values) { h.srv.RevokeRefreshToken(f.Get("refresh_token")) }, want: "invalid_grant"},
		{name: "parameter repeated", client: postClient,
			edit: func(_ *harness, f url.Values) { f.Add("refresh_token", f.Get("refresh_token")) }, want: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			form := refreshForm(h.tokens(postClient, "openid").str("refresh_token"))
			if tt.edit != nil {
				tt.edit(h, form)
			}

			res := h.authenticated(tt.client, form)

			assertTokenError(t, res, http.StatusBadRequest, tt.want)
		})
	}
}
