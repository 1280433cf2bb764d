package interop_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// The client as an OpenID Connect relying party against zitadel/oidc's
// OpenID Provider, with its real RS256 signatures: sign-in with a
// verified ID token, refresh with an ID token held to the sign-in's
// (Core §12.2), UserInfo (§5.3) and RP-Initiated Logout.
func TestZitadelOpenIDConnect(t *testing.T) {
	ctx := context.Background()
	z := startZitadel(t)
	p := zitadelProfiles[0] // confidential web client, openid offline_access
	client := p.client(t, z)
	require.NotEmpty(t, client.Metadata().JWKSURI)

	tok, err := p.signIn(t, z, client)
	require.NoError(t, err, "the ID token verifies: signature, iss, aud, exp, iat, nonce")
	claims := tok.Claims()
	require.NotNil(t, claims)
	assert.NotEmpty(t, claims.Subject)
	assert.Equal(t, z.issuer, claims.Issuer)
	assert.Contains(t, claims.Audience, zitadelWebID)

	t.Run("refresh with an ID token (Core §12.2)", func(t *testing.T) {
		cur := *tok.Token
		cur.Expiry = time.Now().Add(-time.Minute)
		src, err := client.TokenSource(&cur)
		require.NoError(t, err)
		next, err := src.TokenContext(ctx)
		require.NoError(t, err)
		got := pkce.Token{Token: next}.Claims()
		require.NotNil(t, got)
		assert.NotEqual(t, tok.IDToken(), pkce.Token{Token: next}.IDToken(), "a new ID token, verified")
		assert.Equal(t, claims.Subject, got.Subject)
		tok = &pkce.Token{Token: next}
	})
	t.Run("UserInfo (Core §5.3)", func(t *testing.T) {
		info, err := client.UserInfo(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, claims.Subject, info.Subject)
	})
	t.Run("RP-Initiated Logout", func(t *testing.T) {
		require.NotEmpty(t, client.Metadata().EndSessionEndpoint)
		u, err := client.LogoutURL(tok.IDToken(), "", "")
		require.NoError(t, err)
		hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := hc.Get(u)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Less(t, resp.StatusCode, 400, "the provider accepts the end-session request")
	})
}
