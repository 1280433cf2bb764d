//go:build unix

package pgstore_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/seal"
)

// benchStores are the stores the Tokens benchmarks compare, in one run:
// memory, PostgreSQL, and each with encryption at rest.
func benchStores(b *testing.B) []struct {
	name  string
	store func(b *testing.B) pkce.Store
} {
	key := seal.Key{ID: "k1", Secret: make([]byte, seal.KeySize)}
	rand.Read(key.Secret)
	keys, err := seal.NewKeys(key)
	require.NoError(b, err)
	sealed := func(s pkce.Store) pkce.Store {
		ss, err := seal.NewStore(s, keys)
		require.NoError(b, err)
		return ss
	}
	pool := newPool(b, pgDSN)
	return []struct {
		name  string
		store func(b *testing.B) pkce.Store
	}{
		{"memory", func(*testing.B) pkce.Store { return pkce.NewMemoryStore() }},
		{"memory+seal", func(*testing.B) pkce.Store { return sealed(pkce.NewMemoryStore()) }},
		{"postgres", func(b *testing.B) pkce.Store { return newStore(b, pool, uniqueSchema()) }},
		{"postgres+seal", func(b *testing.B) pkce.Store { return sealed(newStore(b, pool, uniqueSchema())) }},
	}
}

// BenchmarkTokens measures, through pkce.Tokens:
//
//   - read: a valid token asked for again (served from memory);
//   - cold-read: the first read of a subject in a process (the store is
//     read and the token decoded, and opened when sealed);
//   - refresh: a sign-in saved expired, then read, which refreshes it at a
//     loopback authorization server under the store's lease and saves it
//     with compare-and-set.
func BenchmarkTokens(b *testing.B) {
	needPostgres(b)
	ctx := context.Background()
	for _, bs := range benchStores(b) {
		srv := authServer(b)
		client := oauthClient(b, srv.Issuer())
		b.Run("read/"+bs.name, func(b *testing.B) {
			tokens, err := client.Tokens(bs.store(b))
			require.NoError(b, err)
			require.NoError(b, tokens.Save(ctx, subject, signIn(b, srv, client)))
			b.ReportAllocs()
			for b.Loop() {
				src, err := tokens.Source(ctx, subject)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := src.TokenContext(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("cold-read/"+bs.name, func(b *testing.B) {
			store := bs.store(b)
			tokens, err := client.Tokens(store)
			require.NoError(b, err)
			require.NoError(b, tokens.Save(ctx, subject, signIn(b, srv, client)))
			b.ReportAllocs()
			for b.Loop() {
				fresh, err := client.Tokens(store)
				if err != nil {
					b.Fatal(err)
				}
				src, err := fresh.Source(ctx, subject)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := src.TokenContext(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("refresh/"+bs.name, func(b *testing.B) {
			tokens, err := client.Tokens(bs.store(b))
			require.NoError(b, err)
			tok := signIn(b, srv, client)
			b.ReportAllocs()
			for b.Loop() {
				if err := tokens.Save(ctx, subject, expired(tok)); err != nil {
					b.Fatal(err)
				}
				src, err := tokens.Source(ctx, subject)
				if err != nil {
					b.Fatal(err)
				}
				next, err := src.TokenContext(ctx)
				if err != nil {
					b.Fatal(err)
				}
				tok = &pkce.Token{Token: next}
			}
		})
	}
}
