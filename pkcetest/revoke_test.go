package pkcetest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

// revoke sends an RFC 7009 request for token with c's credentials.
func (h *harness) revoke(c pkcetest.Client, token, hint string) tokenResult {
	h.t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return h.authenticatedTo(h.srv.RevocationURL(), c, form)
}

func TestRevokeRefreshTokenRevokesTheGrant(t *testing.T) {
	for _, c := range []pkcetest.Client{basicClient, postClient, publicClient} {
		for _, hint := range []string{"refresh_token", "", "access_token"} {
			t.Run(string(c.Method)+" hint "+hint, func(t *testing.T) {
				h := start(t, testConfig())
				tok := h.tokens(c, "openid profile")

				res := h.revoke(c, tok.str("refresh_token"), hint)

				assert.Equal(t, http.StatusOK, res.status, res.raw)
				assert.Empty(t, res.raw)
				assert.Equal(t, 1, h.srv.RevocationRequests())
				refresh := h.authenticated(c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}})
				assertTokenError(t, refresh, http.StatusBadRequest, "invalid_grant")
				assert.Equal(t, http.StatusUnauthorized, h.userinfo(tok.str("access_token")).status,
					"RFC 7009 §2.1: the grant's access tokens go with it")
			})
		}
	}
}

func TestRevokeAccessToken(t *testing.T) {
	h := start(t, testConfig())
	tok := h.tokens(postClient, "profile")

	res := h.revoke(postClient, tok.str("access_token"), "access_token")

	assert.Equal(t, http.StatusOK, res.status, res.raw)
	assert.Equal(t, http.StatusUnauthorized, h.userinfo(tok.str("access_token")).status)
	refresh := h.authenticated(postClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}})
	assert.Equal(t, http.StatusOK, refresh.status, "the refresh token outlives its access token")
}

func TestRevokeRejections(t *testing.T) {
	tests := []struct {
		name       string
		send       func(h *harness, tok tokenResult) tokenResult
		wantStatus int
		wantCode   string // "" for success
	}{
		{"RFC 7009 §2.2: an unknown token is success", func(h *harness, _ tokenResult) tokenResult {
			return h.revoke(postClient, "no-such-token", "refresh_token")
		}, http.StatusOK, ""},
		{"token missing", func(h *harness, _ tokenResult) tokenResult {
			return h.authenticatedTo(h.srv.RevocationURL(), postClient, url.Values{})
		}, http.StatusBadRequest, "invalid_request"},
		{"RFC 7009 §2.1: a token of another client", func(h *harness, tok tokenResult) tokenResult {
			return h.revoke(publicClient, tok.str("refresh_token"), "")
		}, http.StatusBadRequest, "unauthorized_client"},
		{"the client's registered method is enforced", func(h *harness, tok tokenResult) tokenResult {
			return h.postTo(h.srv.RevocationURL(), url.Values{"token": {tok.str("refresh_token")}}, basicAuth(postClient.ID, postClient.Secret))
		}, http.StatusUnauthorized, "invalid_client"},
		{"no client authentication", func(h *harness, tok tokenResult) tokenResult {
			return h.postTo(h.srv.RevocationURL(), url.Values{"token": {tok.str("refresh_token")}}, nil)
		}, http.StatusUnauthorized, "invalid_client"},
		{"wrong secret", func(h *harness, tok tokenResult) tokenResult {
			return h.postTo(h.srv.RevocationURL(), url.Values{"token": {tok.str("refresh_token")},
				"client_id": {postClient.ID}, "client_secret": {"wrong"}}, nil)
		}, http.StatusUnauthorized, "invalid_client"},
		{"parameters in the query", func(h *harness, tok tokenResult) tokenResult {
			return h.authenticatedTo(h.srv.RevocationURL()+"?token=x", postClient, url.Values{"token": {tok.str("refresh_token")}})
		}, http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			tok := h.tokens(postClient, "profile")

			res := tt.send(h, tok)

			if tt.wantCode == "" {
				assert.Equal(t, tt.wantStatus, res.status, res.raw)
				return
			}
			assertTokenError(t, res, tt.wantStatus, tt.wantCode)
			assert.Equal(t, http.StatusOK, h.userinfo(tok.str("access_token")).status, "nothing was revoked")
		})
	}
	t.Run("POST only", func(t *testing.T) {
		h := start(t, testConfig())
		res := h.get(h.srv.RevocationURL())
		assert.Equal(t, http.StatusMethodNotAllowed, res.status)
		assert.Equal(t, "POST", res.header.Get("Allow"))
	})
}

func TestRevocationRawFault(t *testing.T) {
	h := start(t, testConfig())
	tok := h.tokens(postClient, "profile")
	h.srv.SetFaults(pkcetest.Faults{RevocationRaw: &pkcetest.RawResponse{Status: 503, ContentType: "application/json", Body: `{"error":"temporarily_unavailable"}`}})

	res := h.revoke(postClient, tok.str("refresh_token"), "refresh_token")

	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Equal(t, "temporarily_unavailable", res.str("error"))
	req := h.srv.LastRevocationRequest()
	require.NotNil(t, req.Form)
	assert.Equal(t, tok.str("refresh_token"), req.Form.Get("token"), "recorded before the fault answers")
	assert.Equal(t, http.StatusOK, h.userinfo(tok.str("access_token")).status, "nothing was revoked")
}
