package pkcetest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// userinfo calls the resource endpoint with accessToken as a bearer token;
// an empty accessToken sends no Authorization header.
func (h *harness) userinfo(accessToken string) tokenResult {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.srv.ResourceURL(), nil)
	require.NoError(h.t, err)
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	return h.do(req)
}

func TestResource(t *testing.T) {
	const invalidToken = `Bearer realm="pkcetest", error="invalid_token", error_description="the access token is unknown, expired or revoked"`
	tests := []struct {
		name          string
		token         func(valid string) string
		elapsed       time.Duration
		wantStatus    int
		wantChallenge string
	}{
		{name: "valid token", token: func(v string) string { return v }, wantStatus: http.StatusOK},
		{name: "valid token just before expiry", token: func(v string) string { return v },
			elapsed: time.Hour - time.Second, wantStatus: http.StatusOK},
		{name: "expired token", token: func(v string) string { return v },
			elapsed: time.Hour, wantStatus: http.StatusUnauthorized, wantChallenge: invalidToken},
		{name: "unknown token", token: func(string) string { return "unknown" },
			wantStatus: http.StatusUnauthorized, wantChallenge: invalidToken},
		// RFC 6750 §3.1: no error code when the request has no credentials.
		{name: "no token", token: func(string) string { return "" },
			wantStatus: http.StatusUnauthorized, wantChallenge: `Bearer realm="pkcetest"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			clk := newClock()
			h.srv.SetNow(clk.now)
			tok := h.tokens(publicClient, "openid profile")
			clk.advance(tt.elapsed)

			res := h.userinfo(tt.token(tok.str("access_token")))

			assert.Equal(t, tt.wantStatus, res.status, res.raw)
			assert.Equal(t, tt.wantChallenge, res.header.Get("WWW-Authenticate"))
			if tt.wantStatus == http.StatusOK {
				assert.Equal(t, "application/json", res.header.Get("Content-Type"))
				assert.Equal(t, map[string]any{"sub": "test-user", "scope": "openid profile", "name": "Test User"}, res.body,
					"OpenID Connect Core §5.4: the profile scope brings name")
			}
		})
	}
}

func TestResourceAcceptsGetOnly(t *testing.T) {
	h := start(t, testConfig())
	tok := h.tokens(publicClient, "profile")
	req, err := http.NewRequest(http.MethodPost, h.srv.ResourceURL(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.str("access_token"))

	res := h.do(req)

	assert.Equal(t, http.StatusMethodNotAllowed, res.status)
}
