package pkce_test

import (
	"context"
	"crypto"
	"net/http"
	"testing"

	"github.com/pkcekit/pkce/tolerate"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

func TestFAPI2Refuses(t *testing.T) {
	md := &pkce.Metadata{Issuer: "https://as.example", AuthorizationEndpoint: "https://as.example/a", TokenEndpoint: "https://as.example/t",
		PushedAuthorizationRequestEndpoint: "https://as.example/par", TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"}}
	cfg := func(secret string) *oauth2.Config {
		return &oauth2.Config{ClientID: "app", ClientSecret: secret, RedirectURL: "https://app.example/cb"}
	}
	key := func(k crypto.Signer, alg string) pkce.Option { return pkce.WithClientKey(k, "", alg) }
	for _, tc := range []struct {
		name   string
		cfg    *oauth2.Config
		opts   []pkce.Option
		clause string
		detail string
	}{
		{"a client secret", cfg("s3cret"), []pkce.Option{pkce.WithMetadata(md), pkce.WithDPoP(ecKey)}, "§5.3.2.1", "client secret is not allowed"},
		{"no client key", cfg(""), []pkce.Option{pkce.WithMetadata(md), pkce.WithDPoP(ecKey)}, "§5.3.2.1", "private_key_jwt"},
		{"another auth method", cfg(""), []pkce.Option{pkce.WithMetadata(md), key(ecKey, ""), pkce.WithDPoP(ecKey), pkce.WithAuthMethod(pkce.AuthNone)}, "§5.3.2.1", "not allowed"},
		{"the token endpoint as aud", cfg(""), []pkce.Option{pkce.WithMetadata(md), key(ecKey, ""), tolerate.TokenEndpointAudience(), pkce.WithDPoP(ecKey)}, "§5.3.2.1", "issuer identifier alone"},
		{"no sender constraint", cfg(""), []pkce.Option{pkce.WithMetadata(md), key(ecKey, "")}, "§5.3.2.1", "WithDPoP"},
		{"no metadata, so no PAR", cfg(""), []pkce.Option{key(ecKey, ""), pkce.WithDPoP(ecKey)}, "§5.3.2.2", "pushed"},
		{"an RS256 client key", cfg(""), []pkce.Option{pkce.WithMetadata(md), key(rsaKey, "RS256"), pkce.WithDPoP(ecKey)}, "§5.4.1", "RS256"},
		{"an ES384 DPoP key", cfg(""), []pkce.Option{pkce.WithMetadata(md), key(ecKey, ""), pkce.WithDPoP(p384)}, "§5.4.1", "ES384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pkce.New(tc.cfg, append(tc.opts, pkce.WithFAPI2())...)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.ErrorContains(t, err, "FAPI 2.0 Security Profile "+tc.clause)
			assert.ErrorContains(t, err, tc.detail)
		})
	}
}

func TestFAPI2EndToEnd(t *testing.T) {
	ctx := context.Background()
	start := func(t *testing.T, sendIssuer bool) (*pkcetest.Server, *pkce.Client) {
		// The server requires neither PAR nor DPoP: the profile makes the
		// client push, bind and require iss by itself.
		srv, cfg := keyStack(t, rsaKey.Public(), pkcetest.Config{DPoP: true, DPoPNonce: true, SendIssuer: sendIssuer})
		client, err := pkce.NewFromIssuer(ctx, srv.Issuer(), cfg,
			pkce.WithFAPI2(), pkce.WithClientKey(rsaKey, "rsa-1", ""), pkce.WithDPoP(edKey))
		require.NoError(t, err)
		return srv, client
	}

	t.Run("PAR, private_key_jwt with PS256, DPoP with EdDSA, iss", func(t *testing.T) {
		srv, client := start(t, true)
		f, err := client.Start(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, srv.PushedRequests(), "pushed (§5.3.2.2), again with the nonce")
		tok, err := finish(ctx, client, f, authorize(t, f.URL))
		require.NoError(t, err)
		assert.Equal(t, "DPoP", tok.TokenType)
		header, claims := claimsOf(t, srv.LastTokenRequest().Form.Get("client_assertion"))
		assert.Equal(t, "PS256", header["alg"])
		assert.Equal(t, srv.Issuer(), claims["aud"], "the issuer as the sole audience (§5.3.2.1)")
		src, err := client.TokenSource(tok.Token)
		require.NoError(t, err)
		status, body := get(t, src.Client(ctx), srv.ResourceURL())
		assert.Equal(t, http.StatusOK, status, body)
	})

	t.Run("iss is required though the server's metadata does not promise it", func(t *testing.T) {
		srv, client := start(t, false)
		f, err := client.Start(ctx)
		require.NoError(t, err)
		_, err = finish(ctx, client, f, authorize(t, f.URL))
		assert.ErrorIs(t, err, pkce.ErrIssuerMismatch)
		assert.Equal(t, 0, srv.TokenRequests())
	})
}
