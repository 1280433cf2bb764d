package pkcetest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	apiA = "https://api-a.example/"
	apiB = "https://api-b.example/v1"
)

// TestResourceIndicators checks RFC 8707: the resources of the
// authorization request bound the ones a token request may ask for, and
// the access token is issued for those asked.
func TestResourceIndicators(t *testing.T) {
	tests := []struct {
		name         string
		authorized   []string
		requested    []string
		wantAudience []any // nil: no aud member
		wantError    string
	}{
		{name: "no resource anywhere", wantAudience: nil},
		{name: "RFC 8707 §2: several resources may be authorized", authorized: []string{apiA, apiB},
			wantAudience: []any{apiA, apiB}},
		{name: "RFC 8707 §2.2: a token for one of the authorized resources", authorized: []string{apiA, apiB},
			requested: []string{apiB}, wantAudience: []any{apiB}},
		{name: "RFC 8707 §2.2: a resource that was not authorized", authorized: []string{apiA},
			requested: []string{apiB}, wantError: "invalid_target"},
		{name: "a resource asked at the token endpoint only", requested: []string{apiA},
			wantAudience: []any{apiA}},
		{name: "RFC 8707 §2: a relative resource", requested: []string{"/api"}, wantError: "invalid_target"},
		{name: "RFC 8707 §2: a resource with a fragment", requested: []string{apiA + "#x"}, wantError: "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			v := newVerifier()
			params := authParams(publicClient, v)
			params["resource"] = tt.authorized
			form := codeForm(h.code(params), publicClient.RedirectURIs[0], v)
			form["resource"] = tt.requested

			res := h.authenticated(publicClient, form)

			if tt.wantError != "" {
				assertTokenError(t, res, http.StatusBadRequest, tt.wantError)
				return
			}
			require.Equal(t, http.StatusOK, res.status, res.raw)
			assert.Equal(t, tt.requested, h.srv.LastTokenRequest().Form["resource"], "recorded")
			info := h.userinfo(res.str("access_token"))
			if tt.wantAudience == nil {
				assert.NotContains(t, info.body, "aud", info.raw)
				return
			}
			assert.Equal(t, tt.wantAudience, info.body["aud"], info.raw)
		})
	}
}

func TestResourceIndicatorsOnRefresh(t *testing.T) {
	h := start(t, testConfig())
	v := newVerifier()
	params := authParams(postClient, v)
	params["resource"] = []string{apiA, apiB}
	tok := h.authenticated(postClient, codeForm(h.code(params), postClient.RedirectURIs[0], v))
	require.Equal(t, http.StatusOK, tok.status, tok.raw)

	form := refreshForm(tok.str("refresh_token"))
	form.Set("resource", apiA)
	res := h.authenticated(postClient, form)
	require.Equal(t, http.StatusOK, res.status, res.raw)
	assert.Equal(t, []any{apiA}, h.userinfo(res.str("access_token")).body["aud"])

	form.Set("resource", "https://other.example/")
	assertTokenError(t, h.authenticated(postClient, form), http.StatusBadRequest, "invalid_target")
}

func TestAuthorizeRejectsBadResource(t *testing.T) {
	h := start(t, testConfig())
	params := authParams(postClient, newVerifier())
	params.Set("resource", "api-a")

	resp, _ := h.authorize(params.Encode())
	q := h.redirected(resp).Query()

	assert.Equal(t, "invalid_target", q.Get("error"), "RFC 8707 §2: resource must be an absolute URI")
	assert.Equal(t, []string{"api-a"}, h.srv.LastAuthorizationRequest()["resource"], "recorded as sent")
}
