//go:build unix

package redisstore_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/redisstore"
	"github.com/pkcekit/pkce/seal"
)

// With encryption on, the bytes Redis keeps hold neither the access token
// nor the refresh token, after a sign-in and after a refresh.
func TestSealedTokensAtRest(t *testing.T) {
	needRedis(t)
	ctx := context.Background()
	client := newClient(t, redisAddr)
	prefix := uniquePrefix()
	key := seal.Key{ID: "k1", Secret: make([]byte, seal.KeySize)}
	rand.Read(key.Secret)
	keys, err := seal.NewKeys(key)
	require.NoError(t, err)
	store, err := seal.NewStore(redisstore.New(client, redisstore.WithPrefix(prefix)), keys)
	require.NoError(t, err)
	srv := authServer(t)
	c := oauthClient(t, srv.Issuer())
	tokens, err := c.Tokens(store)
	require.NoError(t, err)
	raw := func(t *testing.T) []byte {
		b, err := client.Get(ctx, prefix+"token:"+subject).Bytes()
		require.NoError(t, err)
		return b
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
}

// Token keys expire: with the refresh token's lifetime when the server
// says it and it is shorter than the store's maximum, with the maximum
// otherwise; every save sets the expiry anew, a compare-and-set too.
func TestTokenExpiry(t *testing.T) {
	needRedis(t)
	ctx := context.Background()
	client := newClient(t, redisAddr)
	c, err := pkce.New(&oauth2.Config{ClientID: "c", RedirectURL: "http://127.0.0.1/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"}})
	require.NoError(t, err)
	token := func(extra map[string]any) *pkce.Token {
		return &pkce.Token{Token: (&oauth2.Token{AccessToken: "at", RefreshToken: "rt"}).WithExtra(extra)}
	}
	tests := []struct {
		name string
		opts []redisstore.Option
		tok  *pkce.Token
		want time.Duration
	}{
		{"the default maximum when the server says nothing", nil, token(nil), redisstore.DefaultTokenTTL},
		{"the refresh token's lifetime", nil, token(map[string]any{"refresh_expires_in": float64(1800)}), 30 * time.Minute},
		{"the other member's name", nil, token(map[string]any{"refresh_token_expires_in": float64(600)}), 10 * time.Minute},
		{"a configured maximum", []redisstore.Option{redisstore.WithTokenTTL(time.Hour)}, token(nil), time.Hour},
		{"the maximum caps a longer lifetime", []redisstore.Option{redisstore.WithTokenTTL(time.Hour)},
			token(map[string]any{"refresh_token_expires_in": float64(365 * 24 * 3600)}), time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := uniquePrefix()
			store := redisstore.New(client, append(tt.opts, redisstore.WithPrefix(prefix))...)
			tokens, err := c.Tokens(store)
			require.NoError(t, err)
			require.NoError(t, tokens.Save(ctx, subject, tt.tok))
			ttl, err := client.PTTL(ctx, prefix+"token:"+subject).Result()
			require.NoError(t, err)
			assert.LessOrEqual(t, ttl, tt.want)
			assert.Greater(t, ttl, tt.want-time.Minute, "the expiry was set by this save")
		})
	}
	t.Run("a compare-and-set sets the expiry anew", func(t *testing.T) {
		prefix := uniquePrefix()
		store := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithTokenTTL(time.Hour))
		k := prefix + "token:" + subject
		_, err := store.SaveToken(ctx, subject, nil, []byte("one"))
		require.NoError(t, err)
		require.NoError(t, client.PExpire(ctx, k, time.Minute).Err())
		ok, err := store.SaveToken(ctx, subject, []byte("one"), []byte("two"))
		require.NoError(t, err)
		require.True(t, ok)
		ttl, err := client.PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.Greater(t, ttl, 59*time.Minute)
	})
}
