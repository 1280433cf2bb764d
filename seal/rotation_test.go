package seal_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/seal"
)

// keyID reads the key ID from a sealed value's header (format byte,
// length byte, ID).
func keyID(t *testing.T, raw []byte) string {
	t.Helper()
	require.GreaterOrEqual(t, len(raw), 2)
	require.GreaterOrEqual(t, len(raw), 2+int(raw[1]))
	return string(raw[2 : 2+raw[1]])
}

// A token saved under the old key is read after the new key becomes
// current, and its refresh rewrites it under the new key; once the old
// key is retired, a value still under it is sign-in-required.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := newKey("2026-06"), newKey("2026-12")
	srv := authServer(t)
	client := oauthClient(t, srv)
	mem := pkce.NewMemoryStore()
	tokensWith := func(t *testing.T, keys *seal.Keys) *pkce.Tokens {
		t.Helper()
		s, err := seal.NewStore(mem, keys)
		require.NoError(t, err)
		tokens, err := client.Tokens(s)
		require.NoError(t, err)
		return tokens
	}
	raw := func(t *testing.T, subject string) []byte {
		t.Helper()
		b, err := mem.LoadToken(ctx, subject)
		require.NoError(t, err)
		return b
	}

	before := tokensWith(t, newKeys(t, oldKey))
	alice, bob := signIn(t, srv, client), signIn(t, srv, client)
	require.NoError(t, before.Save(ctx, "alice", expired(alice)))
	require.NoError(t, before.Save(ctx, "bob", bob))
	require.Equal(t, "2026-06", keyID(t, raw(t, "alice")))

	rotated := tokensWith(t, newKeys(t, newKey, oldKey))
	t.Run("a value under the old key is read", func(t *testing.T) {
		src, err := rotated.Source(ctx, "bob")
		require.NoError(t, err)
		tok, err := src.TokenContext(ctx)
		require.NoError(t, err)
		assert.Equal(t, bob.AccessToken, tok.AccessToken)
		assert.Equal(t, "2026-06", keyID(t, raw(t, "bob")), "reading does not rewrite")
	})
	t.Run("a refresh seals the new token with the new key", func(t *testing.T) {
		src, err := rotated.Source(ctx, "alice")
		require.NoError(t, err)
		_, err = src.TokenContext(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, srv.RefreshRequests(), "the compare-and-set against the old key's value succeeded once")
		assert.Equal(t, "2026-12", keyID(t, raw(t, "alice")))
	})
	t.Run("a new sign-in is sealed with the new key", func(t *testing.T) {
		require.NoError(t, rotated.Save(ctx, "carol", signIn(t, srv, client)))
		assert.Equal(t, "2026-12", keyID(t, raw(t, "carol")))
	})

	retired := tokensWith(t, newKeys(t, newKey))
	t.Run("a value under a retired key is sign-in-required", func(t *testing.T) {
		_, err := retired.Source(ctx, "bob")
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
		assert.NotErrorIs(t, err, pkce.ErrTryLater)
		assert.ErrorIs(t, err, seal.ErrUnknownKey)
	})
	t.Run("values under the current key are still read", func(t *testing.T) {
		src, err := retired.Source(ctx, "alice")
		require.NoError(t, err)
		_, err = src.TokenContext(ctx)
		assert.NoError(t, err)
	})
}

// A stored value that does not open is "sign in again": never a crash,
// never try-later for ever. Signing out and signing in again work.
func TestUnreadableToken(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// spoil changes what mem holds for "alice", given what it holds
		// for "alice" and for "bob".
		spoil func(alice, bob []byte) []byte
		want  error
	}{
		{"a flipped ciphertext byte", func(a, _ []byte) []byte { a[len(a)-20] ^= 1; return a }, seal.ErrTampered},
		{"a flipped tag byte", func(a, _ []byte) []byte { a[len(a)-1] ^= 1; return a }, seal.ErrTampered},
		{"a flipped nonce byte", func(a, _ []byte) []byte { a[2+int(a[1])] ^= 1; return a }, seal.ErrTampered},
		{"a truncated value", func(a, _ []byte) []byte { return a[:len(a)/2] }, seal.ErrTampered},
		{"an empty value", func([]byte, []byte) []byte { return []byte{} }, seal.ErrTampered},
		{"a value in clear", func([]byte, []byte) []byte { return []byte(`{"access_token":"x"}`) }, seal.ErrTampered},
		{"another subject's value copied over", func(_, b []byte) []byte { return b }, seal.ErrTampered},
		{"a key ID changed to an unknown one", func(a, _ []byte) []byte { a[2] ^= 1; return a }, seal.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := authServer(t)
			client := oauthClient(t, srv)
			mem := pkce.NewMemoryStore()
			s, err := seal.NewStore(mem, newKeys(t, newKey("k1")))
			require.NoError(t, err)
			tokens, err := client.Tokens(s)
			require.NoError(t, err)
			require.NoError(t, tokens.Save(ctx, "alice", signIn(t, srv, client)))
			require.NoError(t, tokens.Save(ctx, "bob", signIn(t, srv, client)))
			a, _ := mem.LoadToken(ctx, "alice")
			b, _ := mem.LoadToken(ctx, "bob")
			_, err = mem.SaveToken(ctx, "alice", nil, tt.spoil(a, b))
			require.NoError(t, err)

			fresh, err := client.Tokens(s) // a replica that has not loaded alice yet
			require.NoError(t, err)
			_, err = fresh.Source(ctx, "alice")
			require.Error(t, err)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired)
			assert.NotErrorIs(t, err, pkce.ErrTryLater)
			assert.ErrorIs(t, err, tt.want)
			assert.True(t, errors.Is(err, seal.ErrTampered) != errors.Is(err, seal.ErrUnknownKey), "one reason")

			assert.NoError(t, fresh.SignOut(ctx, "alice"), "signing out a subject whose token is unreadable")
			require.NoError(t, fresh.Save(ctx, "alice", signIn(t, srv, client)), "a new sign-in")
			src, err := fresh.Source(ctx, "alice")
			require.NoError(t, err)
			_, err = src.TokenContext(ctx)
			assert.NoError(t, err)
		})
	}
}
