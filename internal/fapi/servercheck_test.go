package fapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"flag"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/internal/reporttest"
	"github.com/pkcekit/pkce/servercheck"
)

// update rewrites the committed servercheck report from the server:
//
//	go test -run TestServercheck -update
var update = flag.Bool("update", false, "rewrite testdata/servercheck-*.json from the servers")

// TestServercheckOIDCProvider runs servercheck's battery against
// oidc-provider as a plain OAuth 2.0 server (provider.mjs with profile
// oauth: no FAPI profile, no DPoP, PAR offered), with a public, a Basic, a
// post and a private_key_jwt client. The FAPI 2.0 profile the other tests
// use would refuse every request the battery makes without DPoP and PAR;
// the checks are about what any client meets. Its interaction URL signs
// in at once, so following redirects is the sign-in.
func TestServercheckOIDCProvider(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	client := func(id, method, secret string) map[string]any {
		c := map[string]any{
			"client_id":                    id,
			"token_endpoint_auth_method":   method,
			"redirect_uris":                []string{redirectURL},
			"grant_types":                  []string{"authorization_code", "refresh_token"},
			"response_types":               []string{"code"},
			"id_token_signed_response_alg": "ES256",
		}
		if secret != "" {
			c["client_secret"] = secret
		}
		return c
	}
	jwtApp := registration(t, "jwt-app", key)
	delete(jwtApp, "dpop_bound_access_tokens")
	op := startProviderConfig(t, map[string]any{"profile": "oauth", "clients": []map[string]any{
		client("public-app", "none", ""),
		client("basic-app", "client_secret_basic", "basic-secret-1234-basic-secret-1234"),
		client("post-app", "client_secret_post", "post-secret-5678-post-secret-5678"),
		jwtApp,
	}})
	rep, err := servercheck.Check(context.Background(), servercheck.Config{
		Issuer: op.issuer,
		Clients: []servercheck.Registration{
			{ID: "public-app", Method: servercheck.AuthNone, RedirectURI: redirectURL},
			{ID: "basic-app", Secret: "basic-secret-1234-basic-secret-1234", Method: servercheck.AuthSecretBasic, RedirectURI: redirectURL},
			{ID: "post-app", Secret: "post-secret-5678-post-secret-5678", Method: servercheck.AuthSecretPost, RedirectURI: redirectURL},
			{ID: "jwt-app", Key: key, KeyID: "jwt-app-key", Method: servercheck.AuthPrivateKeyJWT, RedirectURI: redirectURL},
		},
		Scope:      "openid",
		HTTPClient: &http.Client{},
	})
	require.NoError(t, err)
	reporttest.AssertReport(t, "oidc-provider", rep, *update)
}
