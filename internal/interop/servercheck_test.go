package interop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/internal/interop"
	"github.com/pkcekit/pkce/internal/reporttest"
	"github.com/pkcekit/pkce/servercheck"
)

// update rewrites the committed servercheck reports from the servers:
//
//	go test -run TestServercheck -update
var update = flag.Bool("update", false, "rewrite testdata/servercheck-*.json from the servers")

// TestServercheckFosite runs servercheck's battery against fosite set up
// as the other interop tests use it: PKCE enforced with S256 only,
// refresh tokens rotated, revocation, OpenID Connect discovery, and a
// public, a Basic, a post and a private_key_jwt client. fosite signs in
// without asking, so following redirects is the sign-in.
func TestServercheckFosite(t *testing.T) {
	const redirect = "http://127.0.0.1:9/callback"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srv := start(t, interop.Config{
		OpenIDDiscovery: true,
		Clients: []interop.Client{
			{ID: "public-app", Method: interop.None, RedirectURIs: []string{redirect}},
			{ID: "basic-app", Secret: "basic-secret-1234", Method: interop.ClientSecretBasic, RedirectURIs: []string{redirect}},
			{ID: "post-app", Secret: "post-secret-5678", Method: interop.ClientSecretPost, RedirectURIs: []string{redirect}},
			{ID: "jwt-app", Key: key.Public(), KeyAlg: "ES256", Method: interop.PrivateKeyJWT, RedirectURIs: []string{redirect}},
		},
	})
	rep, err := servercheck.Check(context.Background(), servercheck.Config{
		Issuer: srv.Issuer(),
		Clients: []servercheck.Registration{
			{ID: "public-app", Method: servercheck.AuthNone, RedirectURI: redirect},
			{ID: "basic-app", Secret: "basic-secret-1234", Method: servercheck.AuthSecretBasic, RedirectURI: redirect},
			{ID: "post-app", Secret: "post-secret-5678", Method: servercheck.AuthSecretPost, RedirectURI: redirect},
			{ID: "jwt-app", Key: key, Method: servercheck.AuthPrivateKeyJWT, RedirectURI: redirect, AssertionAudience: srv.TokenURL()},
		},
		Endpoints:  servercheck.Endpoints{Revocation: srv.RevocationURL()},
		SignIn:     servercheck.FollowRedirects(srv.Client()),
		HTTPClient: srv.Client(),
	})
	require.NoError(t, err)
	reporttest.AssertReport(t, "fosite", rep, *update)
}

// TestServercheckZitadel runs the battery against the zitadel/oidc OP with
// the example storage's native (public) and web (Basic) clients. Its
// login is the scripted /login/username redirect, which following
// redirects passes through.
func TestServercheckZitadel(t *testing.T) {
	z := startZitadel(t)
	rep, err := servercheck.Check(context.Background(), servercheck.Config{
		Issuer: z.issuer,
		Clients: []servercheck.Registration{
			{ID: zitadelNativeID, Method: servercheck.AuthNone, RedirectURI: zitadelNatRedir},
			{ID: zitadelWebID, Secret: zitadelWebSecret, Method: servercheck.AuthSecretBasic, RedirectURI: zitadelWebRedir},
		},
		Scope:      "openid offline_access",
		HTTPClient: z.ts.Client(),
	})
	require.NoError(t, err)
	reporttest.AssertReport(t, "zitadel", rep, *update)
}
