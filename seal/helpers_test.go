package seal_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/seal"
)

const (
	clientID    = "sealed"
	redirectURL = "http://127.0.0.1/cb"
)

// newKey returns a key with a random secret.
func newKey(id string) seal.Key {
	k := seal.Key{ID: id, Secret: make([]byte, seal.KeySize)}
	rand.Read(k.Secret)
	return k
}

// newKeys returns Keys of current and older, failing the test on error.
func newKeys(t testing.TB, current seal.Key, older ...seal.Key) *seal.Keys {
	t.Helper()
	k, err := seal.NewKeys(current, older...)
	require.NoError(t, err)
	return k
}

// authServer starts a server with one public client that rotates refresh
// tokens.
func authServer(t testing.TB) *pkcetest.Server {
	srv := pkcetest.NewServer(pkcetest.Config{
		Rotate: true, SendIssuer: true,
		Clients: []pkcetest.Client{{ID: clientID, Method: pkcetest.MethodNone, RedirectURIs: []string{redirectURL}}},
	})
	t.Cleanup(srv.Close)
	return srv
}

func oauthClient(t testing.TB, srv *pkcetest.Server, opts ...pkce.Option) *pkce.Client {
	t.Helper()
	c, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(),
		&oauth2.Config{ClientID: clientID, RedirectURL: redirectURL}, opts...)
	require.NoError(t, err)
	return c
}

// signIn runs a whole flow against srv and returns the token.
func signIn(t testing.TB, srv *pkcetest.Server, c *pkce.Client) *pkce.Token {
	t.Helper()
	ctx := context.Background()
	flow, err := c.Start(ctx)
	require.NoError(t, err)
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	tok, err := c.Finish(req, flow)
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)
	return tok
}

// expired returns a copy of tok whose access token expired a minute ago.
func expired(tok *pkce.Token) *pkce.Token {
	cp := *tok.Token
	cp.Expiry = time.Now().Add(-time.Minute)
	return &pkce.Token{Token: &cp}
}
