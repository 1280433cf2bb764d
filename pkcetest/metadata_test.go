package pkcetest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

// get fetches u with the harness client.
func (h *harness) get(u string) tokenResult {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(h.t, err)
	return h.do(req)
}

func TestMetadataPaths(t *testing.T) {
	tests := []struct {
		name      string
		prefix    string
		oauthPath string // RFC 8414 §3.1: suffix inserted before the issuer's path
		oidcPath  string // OpenID Connect Discovery 1.0 §4: appended to the issuer
		notThere  []string
	}{
		{name: "issuer without a path", oauthPath: "/.well-known/oauth-authorization-server",
			oidcPath: "/.well-known/openid-configuration"},
		{name: "RFC 8414 §3.1 path insertion for a tenant issuer", prefix: "/acme/oauth2/v1",
			oauthPath: "/.well-known/oauth-authorization-server/acme/oauth2/v1",
			oidcPath:  "/acme/oauth2/v1/.well-known/openid-configuration",
			notThere: []string{"/acme/oauth2/v1/.well-known/oauth-authorization-server",
				"/.well-known/openid-configuration/acme/oauth2/v1", "/.well-known/oauth-authorization-server"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.PathPrefix = tt.prefix
			h := start(t, cfg)
			assert.Equal(t, h.srv.URL+tt.oauthPath, h.srv.MetadataURL())
			assert.Equal(t, h.srv.URL+tt.oidcPath, h.srv.OpenIDConfigurationURL())

			for _, path := range []string{tt.oauthPath, tt.oidcPath} {
				res := h.get(h.srv.URL + path)
				require.Equal(t, http.StatusOK, res.status, path)
				assert.Equal(t, "application/json", res.header.Get("Content-Type"))
				assert.Equal(t, h.srv.Issuer(), res.str("issuer"))
				assert.Equal(t, h.srv.AuthURL(), res.str("authorization_endpoint"))
				assert.Equal(t, h.srv.TokenURL(), res.str("token_endpoint"))
				assert.Equal(t, h.srv.RevocationURL(), res.str("revocation_endpoint"))
				assert.Equal(t, h.srv.PARURL(), res.str("pushed_authorization_request_endpoint"))
				assert.Equal(t, []any{"S256"}, res.body["code_challenge_methods_supported"])
				assert.Equal(t, []any{"code"}, res.body["response_types_supported"])
			}
			for _, path := range tt.notThere {
				assert.Equal(t, http.StatusNotFound, h.get(h.srv.URL+path).status, path)
			}
			assert.Equal(t, []string{tt.oauthPath, tt.oidcPath}, h.srv.MetadataRequests()[:2])
		})
	}
}

func TestMetadataFollowsConfig(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*pkcetest.Config)
		check func(t *testing.T, doc tokenResult)
	}{
		{"auth methods of the registered clients by default", func(*pkcetest.Config) {},
			func(t *testing.T, doc tokenResult) {
				want := []any{"client_secret_basic", "client_secret_post", "none"}
				assert.Equal(t, want, doc.body["token_endpoint_auth_methods_supported"])
				assert.Equal(t, want, doc.body["revocation_endpoint_auth_methods_supported"])
			}},
		{"auth methods of the registered clients listed once each", func(c *pkcetest.Config) {
			c.Clients = []pkcetest.Client{publicClient, {ID: "other-public", Method: pkcetest.MethodNone}}
		}, func(t *testing.T, doc tokenResult) {
			assert.Equal(t, []any{"none"}, doc.body["token_endpoint_auth_methods_supported"])
		}},
		{"auth methods advertised as configured", func(c *pkcetest.Config) {
			c.AuthMethodsSupported = []pkcetest.AuthMethod{pkcetest.MethodPost, pkcetest.MethodNone}
		},
			func(t *testing.T, doc tokenResult) {
				assert.Equal(t, []any{"client_secret_post", "none"}, doc.body["token_endpoint_auth_methods_supported"])
				assert.Equal(t, []any{"client_secret_post", "none"}, doc.body["revocation_endpoint_auth_methods_supported"])
			}},
		{"RFC 9207 §3: iss support advertised with SendIssuer", func(c *pkcetest.Config) { c.SendIssuer = true },
			func(t *testing.T, doc tokenResult) {
				assert.Equal(t, true, doc.body["authorization_response_iss_parameter_supported"])
			}},
		{"iss support not advertised without SendIssuer", func(*pkcetest.Config) {},
			func(t *testing.T, doc tokenResult) {
				assert.Equal(t, false, doc.body["authorization_response_iss_parameter_supported"])
			}},
		{"RFC 9126 §5: RequirePAR advertised", func(c *pkcetest.Config) { c.RequirePAR = true },
			func(t *testing.T, doc tokenResult) {
				assert.Equal(t, true, doc.body["require_pushed_authorization_requests"])
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.edit(&cfg)
			h := start(t, cfg)
			doc := h.get(h.srv.MetadataURL())
			require.Equal(t, http.StatusOK, doc.status)
			tt.check(t, doc)
		})
	}
}

func TestMetadataFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     pkcetest.Faults
		wantOAuth  int
		wantOIDC   int
		wantIssuer string // "" when the body is not JSON
		wantS256   bool
	}{
		{name: "MetadataIssuer replaces the issuer member", faults: pkcetest.Faults{MetadataIssuer: "https://evil.example"},
			wantOAuth: 200, wantOIDC: 200, wantIssuer: "https://evil.example", wantS256: true},
		{name: "MetadataWithoutS256 advertises plain only", faults: pkcetest.Faults{MetadataWithoutS256: true},
			wantOAuth: 200, wantOIDC: 200, wantIssuer: "issuer"},
		{name: "MetadataHTML serves a page", faults: pkcetest.Faults{MetadataHTML: true}, wantOAuth: 200, wantOIDC: 200},
		{name: "MetadataRaw answers verbatim", faults: pkcetest.Faults{MetadataRaw: &pkcetest.RawResponse{Status: 500, Body: "oops"}},
			wantOAuth: 500, wantOIDC: 500},
		{name: "HideOAuthMetadata leaves the OpenID path", faults: pkcetest.Faults{HideOAuthMetadata: true},
			wantOAuth: 404, wantOIDC: 200, wantIssuer: "issuer", wantS256: true},
		{name: "HideOpenIDConfiguration leaves the RFC 8414 path", faults: pkcetest.Faults{HideOpenIDConfiguration: true},
			wantOAuth: 200, wantOIDC: 404, wantIssuer: "issuer", wantS256: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.PathPrefix = "/tenant"
			h := start(t, cfg)
			h.srv.SetFaults(tt.faults)
			wantIssuer := tt.wantIssuer
			if wantIssuer == "issuer" {
				wantIssuer = h.srv.Issuer()
			}

			oauth := h.get(h.srv.MetadataURL())
			oidc := h.get(h.srv.OpenIDConfigurationURL())

			assert.Equal(t, tt.wantOAuth, oauth.status)
			assert.Equal(t, tt.wantOIDC, oidc.status)
			for _, doc := range []tokenResult{oauth, oidc} {
				if doc.status != http.StatusOK {
					continue
				}
				assert.Equal(t, wantIssuer, doc.str("issuer"))
				if wantIssuer != "" {
					assert.Equal(t, tt.wantS256, doc.body["code_challenge_methods_supported"] != nil &&
						doc.body["code_challenge_methods_supported"].([]any)[0] == "S256")
				}
			}
		})
	}
}
