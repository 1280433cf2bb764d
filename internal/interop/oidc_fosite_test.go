package interop_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/interop"
)

// The client as an OpenID Connect relying party against fosite's OpenID
// Connect handlers (explicit flow and refresh), whose ES256 ID tokens
// carry no kid: sign-in with a verified ID token, a refresh with an ID
// token held to the sign-in's (Core §12.2), and UserInfo (§5.3) at the
// server's resource. fosite has no end-session endpoint and no key
// rotation of its own.
func TestFositeOpenIDConnect(t *testing.T) {
	ctx := context.Background()
	reg := interop.Client{ID: "rp", Secret: "rp-secret", Method: interop.ClientSecretBasic,
		RedirectURIs: []string{"https://app.example/callback"}, Scopes: []string{"openid", "offline"}}
	srv := start(t, interop.Config{Clients: []interop.Client{reg}, OpenIDDiscovery: true})
	client, err := pkce.NewFromIssuer(context.WithValue(ctx, oauth2.HTTPClient, srv.Client()), srv.Issuer(), &oauth2.Config{
		ClientID: reg.ID, ClientSecret: reg.Secret, RedirectURL: reg.RedirectURIs[0], Scopes: reg.Scopes,
	}, pkce.WithHTTPClient(srv.Client()))
	require.NoError(t, err)

	f, loc := signIn(t, srv, client)
	tok, err := client.Finish(callback(ctx, loc), f)
	require.NoError(t, err, "fosite's ID token verifies: signature, iss, aud, exp, iat, nonce")
	claims := tok.Claims()
	require.NotNil(t, claims)
	assert.Equal(t, interop.Subject, claims.Subject)
	assert.Equal(t, srv.Issuer(), claims.Issuer)

	due := *tok.Token
	due.Expiry = time.Now().Add(-time.Minute)
	src, err := client.TokenSource(&due)
	require.NoError(t, err)
	next, err := src.TokenContext(ctx)
	require.NoError(t, err)
	refreshed := pkce.Token{Token: next}
	assert.NotEqual(t, tok.IDToken(), refreshed.IDToken(), "fosite sends a new ID token on refresh")
	require.NotNil(t, refreshed.Claims())
	assert.Equal(t, interop.Subject, refreshed.Claims().Subject)

	info, err := client.UserInfo(ctx, &refreshed)
	require.NoError(t, err)
	assert.Equal(t, interop.Subject, info.Subject)
}
