package interop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/pkcekit/pkce/tolerate"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/interop"
)

// TestPrivateKeyJWTAgainstFosite signs in, refreshes and revokes with
// private_key_jwt at fosite, whose clients hold a JWKS. fosite takes only
// its token endpoint URL as the assertion's aud (at the revocation
// endpoint too), so the client needs tolerate.TokenEndpointAudience there.
func TestPrivateKeyJWTAgainstFosite(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  string
	}{
		{"ES256, r||s signatures that go-jose verifies", ecKey, "ES256"},
		{"PS256", rsaKey, "PS256"},
		{"RS256 for older servers", rsaKey, "RS256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := interop.Client{ID: "jwt-app", Method: interop.PrivateKeyJWT, Key: tc.key.Public(), KeyAlg: tc.alg,
				RedirectURIs: []string{"http://127.0.0.1/callback"}, Scopes: []string{"openid", "offline"}}
			srv := start(t, interop.Config{Clients: []interop.Client{reg}, SendIssuer: true})
			client := newClient(t, srv, reg, pkce.WithAuthMethod(pkce.AuthPrivateKeyJWT), pkce.WithIssuer(srv.Issuer()),
				pkce.WithClientKey(tc.key, reg.ID+"-key", tc.alg), tolerate.TokenEndpointAudience(), pkce.WithRevocationURL(srv.RevocationURL()))
			ctx := context.Background()

			tok := signedIn(t, srv, client)
			refreshed, err := client.Refresh(ctx, tok.RefreshToken)
			require.NoError(t, err)
			require.NoError(t, client.Revoke(ctx, refreshed.Token))
			_, err = client.Refresh(ctx, refreshed.RefreshToken)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired, "revoked with private_key_jwt at the revocation endpoint")
		})
	}

	t.Run("the issuer as aud, as RFC 7523bis wants, is refused by fosite", func(t *testing.T) {
		reg := interop.Client{ID: "jwt-app", Method: interop.PrivateKeyJWT, Key: ecKey.Public(), KeyAlg: "ES256",
			RedirectURIs: []string{"http://127.0.0.1/callback"}, Scopes: []string{"openid", "offline"}}
		srv := start(t, interop.Config{Clients: []interop.Client{reg}, SendIssuer: true})
		client := newClient(t, srv, reg, pkce.WithAuthMethod(pkce.AuthPrivateKeyJWT), pkce.WithIssuer(srv.Issuer()),
			pkce.WithClientKey(ecKey, reg.ID+"-key", ""))
		f, loc := signIn(t, srv, client)
		_, err := client.Finish(callback(context.Background(), loc), f)
		assert.ErrorIs(t, err, pkce.ErrorCode("invalid_client"))
		assert.ErrorContains(t, err, "token endpoint")
	})

	t.Run("EdDSA is refused by fosite v0.49", func(t *testing.T) {
		reg := interop.Client{ID: "jwt-app", Method: interop.PrivateKeyJWT, Key: edKey.Public(), KeyAlg: "EdDSA",
			RedirectURIs: []string{"http://127.0.0.1/callback"}, Scopes: []string{"openid", "offline"}}
		srv := start(t, interop.Config{Clients: []interop.Client{reg}})
		client := newClient(t, srv, reg, pkce.WithAuthMethod(pkce.AuthPrivateKeyJWT),
			pkce.WithClientKey(edKey, reg.ID+"-key", ""))
		f, loc := signIn(t, srv, client)
		_, err := client.Finish(callback(context.Background(), loc), f)
		assert.ErrorIs(t, err, pkce.ErrorCode("invalid_client"))
		assert.ErrorContains(t, err, "unsupported signing algorithm")
	})
}
