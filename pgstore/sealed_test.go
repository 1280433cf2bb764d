//go:build unix

package pgstore_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/seal"
)

// With encryption on, the bytes PostgreSQL keeps hold neither the access
// token nor the refresh token, after a sign-in and after a refresh.
func TestSealedTokensAtRest(t *testing.T) {
	needPostgres(t)
	ctx := context.Background()
	pool := newPool(t, pgDSN)
	schema := uniqueSchema()
	key := seal.Key{ID: "k1", Secret: make([]byte, seal.KeySize)}
	rand.Read(key.Secret)
	keys, err := seal.NewKeys(key)
	require.NoError(t, err)
	store, err := seal.NewStore(newStore(t, pool, schema), keys)
	require.NoError(t, err)
	srv := authServer(t)
	c := oauthClient(t, srv.Issuer())
	tokens, err := c.Tokens(store)
	require.NoError(t, err)
	raw := func(t *testing.T) []byte {
		// Every row of every table of the schema, as text.
		var dump string
		require.NoError(t, pool.QueryRow(ctx, `SELECT string_agg(t::text, ',') FROM (
			SELECT subject::text || token::text AS t FROM `+schema+`.tokens
			UNION ALL SELECT encode(token, 'escape') FROM `+schema+`.tokens) AS rows`).Scan(&dump))
		return []byte(dump)
	}

	tok := signIn(t, srv, c)
	require.NoError(t, tokens.Save(ctx, subject, expired(tok)))
	storetest.AssertNoSecrets(t, raw(t), tok.AccessToken, tok.RefreshToken)

	src, err := tokens.Source(ctx, subject)
	require.NoError(t, err)
	refreshed, err := src.TokenContext(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, srv.RefreshRequests())
	storetest.AssertNoSecrets(t, raw(t), refreshed.AccessToken, refreshed.RefreshToken)

	plain, err := c.Tokens(newStore(t, pool, schema))
	require.NoError(t, err)
	require.NoError(t, plain.Save(ctx, subject, tok))
	require.Contains(t, string(raw(t)), tok.RefreshToken, "without encryption the row holds the token in clear")
}
