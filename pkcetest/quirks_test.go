package pkcetest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

// TestTokenEndpointQuirks checks the faults that imitate providers which
// bend RFC 6749 §5 in the wild.
func TestTokenEndpointQuirks(t *testing.T) {
	tests := []struct {
		name   string
		faults pkcetest.Faults
		check  func(t *testing.T, code, refresh, refreshError tokenResult)
	}{
		{"RefreshRaw answers refresh requests only", pkcetest.Faults{RefreshRaw: &pkcetest.RawResponse{Status: http.StatusBadRequest}},
			func(t *testing.T, code, refresh, refreshError tokenResult) {
				assert.Equal(t, http.StatusOK, code.status, "the code exchange is served: %s", code.raw)
				assert.Equal(t, http.StatusBadRequest, refresh.status)
				assert.Empty(t, refresh.raw, "a 400 with an empty body")
				assert.Empty(t, refresh.header.Values("Content-Type"))
			}},
		{"TokenSuccessStatus 201", pkcetest.Faults{TokenSuccessStatus: http.StatusCreated},
			func(t *testing.T, code, refresh, refreshError tokenResult) {
				assert.Equal(t, http.StatusCreated, code.status)
				assert.NotEmpty(t, code.str("access_token"))
				assert.Equal(t, http.StatusCreated, refresh.status)
				assert.Equal(t, http.StatusBadRequest, refreshError.status, "errors keep their status")
			}},
		{"FormEncodedBody as GitHub sends", pkcetest.Faults{FormEncodedBody: true},
			func(t *testing.T, code, refresh, refreshError tokenResult) {
				for _, res := range []tokenResult{code, refresh, refreshError} {
					assert.Equal(t, "application/x-www-form-urlencoded; charset=utf-8", res.header.Get("Content-Type"))
					assert.Nil(t, res.body, "not JSON")
				}
				form, err := url.ParseQuery(code.raw)
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, code.status)
				assert.Len(t, form.Get("access_token"), 43)
				assert.Equal(t, "Bearer", form.Get("token_type"))
				assert.Equal(t, "3600", form.Get("expires_in"))
				errForm, err := url.ParseQuery(refreshError.raw)
				require.NoError(t, err)
				assert.Equal(t, http.StatusBadRequest, refreshError.status)
				assert.Equal(t, "invalid_grant", errForm.Get("error"))
			}},
		{"ErrorsAs200 as GitHub sends", pkcetest.Faults{ErrorsAs200: true},
			func(t *testing.T, code, refresh, refreshError tokenResult) {
				assert.Equal(t, http.StatusOK, refreshError.status)
				assert.Equal(t, "invalid_grant", refreshError.str("error"))
				assert.Equal(t, http.StatusOK, code.status)
				assert.NotEmpty(t, code.str("access_token"))
			}},
		{"OversizeBody pads errors too", pkcetest.Faults{OversizeBody: 1 << 16},
			func(t *testing.T, code, refresh, refreshError tokenResult) {
				assert.GreaterOrEqual(t, len(refreshError.raw), 1<<16)
				assert.Equal(t, "invalid_grant", refreshError.str("error"))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			h.srv.SetFaults(tt.faults)
			v := newVerifier()
			code := h.authenticated(publicClient, codeForm(h.code(authParams(publicClient, v)), publicClient.RedirectURIs[0], v))
			rt := code.str("refresh_token")
			if rt == "" { // the body is not JSON, or the fault answered
				form, _ := url.ParseQuery(code.raw)
				rt = form.Get("refresh_token")
			}

			refresh := h.authenticated(publicClient, refreshForm(rt))
			refreshError := h.authenticated(publicClient, refreshForm("unknown"))

			tt.check(t, code, refresh, refreshError)
		})
	}
}

// TestDiscoveryQuirks checks the faults that imitate metadata documents
// served badly.
func TestDiscoveryQuirks(t *testing.T) {
	tests := []struct {
		name      string
		faults    pkcetest.Faults
		wantOAuth int
		wantOIDC  int
		check     func(t *testing.T, h *harness, oauth, oidc tokenResult)
	}{
		{name: "OAuthMetadataRaw 401 at the RFC 8414 path only",
			faults:    pkcetest.Faults{OAuthMetadataRaw: &pkcetest.RawResponse{Status: 401, Header: http.Header{"Www-Authenticate": {`Bearer realm="gw"`}}}},
			wantOAuth: http.StatusUnauthorized, wantOIDC: http.StatusOK,
			check: func(t *testing.T, _ *harness, oauth, _ tokenResult) {
				assert.Equal(t, `Bearer realm="gw"`, oauth.header.Get("WWW-Authenticate"))
			}},
		{name: "OAuthMetadataRaw HTML at the RFC 8414 path only",
			faults:    pkcetest.Faults{OAuthMetadataRaw: &pkcetest.RawResponse{ContentType: "text/html", Body: "<html></html>"}},
			wantOAuth: http.StatusOK, wantOIDC: http.StatusOK,
			check: func(t *testing.T, h *harness, oauth, oidc tokenResult) {
				assert.Equal(t, "<html></html>", oauth.raw)
				assert.Equal(t, h.srv.Issuer(), oidc.str("issuer"))
			}},
		{name: "MetadataOmitAuthMethods means client_secret_basic only (RFC 8414 §2)",
			faults:    pkcetest.Faults{MetadataOmitAuthMethods: true},
			wantOAuth: http.StatusOK, wantOIDC: http.StatusOK,
			check: func(t *testing.T, _ *harness, oauth, oidc tokenResult) {
				for _, doc := range []tokenResult{oauth, oidc} {
					assert.NotContains(t, doc.body, "token_endpoint_auth_methods_supported")
					assert.NotContains(t, doc.body, "revocation_endpoint_auth_methods_supported")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.PathPrefix = "/tenant"
			h := start(t, cfg)
			h.srv.SetFaults(tt.faults)

			oauth := h.get(h.srv.MetadataURL())
			oidc := h.get(h.srv.OpenIDConfigurationURL())

			assert.Equal(t, tt.wantOAuth, oauth.status)
			assert.Equal(t, tt.wantOIDC, oidc.status)
			tt.check(t, h, oauth, oidc)
		})
	}
}

func TestMetadataRedirectToSlash(t *testing.T) {
	cfg := testConfig()
	cfg.PathPrefix = "/tenant"
	h := start(t, cfg)
	for _, u := range []string{h.srv.MetadataURL(), h.srv.OpenIDConfigurationURL()} {
		assert.Equal(t, http.StatusNotFound, h.get(u+"/").status, "no trailing-slash twin without the fault: %s", u)
	}
	h.srv.SetFaults(pkcetest.Faults{MetadataRedirectToSlash: true})

	for _, u := range []string{h.srv.MetadataURL(), h.srv.OpenIDConfigurationURL()} {
		moved := h.get(u)
		assert.Equal(t, http.StatusMovedPermanently, moved.status, u)
		want, err := url.Parse(u + "/")
		require.NoError(t, err)
		assert.Equal(t, want.Path, moved.header.Get("Location"), "a relative redirect, as frameworks send")

		resp, err := h.srv.Client().Get(u) // follows the redirect
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, u+"/", resp.Request.URL.String())
	}
}
