package pkce_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// lifetimeStore records what RefreshLifetime says in each SaveToken.
type lifetimeStore struct {
	pkce.Store
	lifetime time.Duration
	said     bool
}

func (s *lifetimeStore) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	s.lifetime, s.said = pkce.RefreshLifetime(ctx)
	return s.Store.SaveToken(ctx, subject, old, token)
}

func TestRefreshLifetime(t *testing.T) {
	tests := []struct {
		name     string
		refresh  string
		extra    map[string]any
		lifetime time.Duration
		said     bool
	}{
		{"refresh_expires_in as Keycloak sends it", "rt-0123456789", map[string]any{"refresh_expires_in": float64(1800)}, 30 * time.Minute, true},
		{"refresh_token_expires_in as GitHub Apps send it", "rt-0123456789", map[string]any{"refresh_token_expires_in": float64(15897600)}, 15897600 * time.Second, true},
		{"a numeric string", "rt-0123456789", map[string]any{"refresh_token_expires_in": "600"}, 10 * time.Minute, true},
		{"zero, Keycloak's offline tokens, is not a lifetime", "rt-0123456789", map[string]any{"refresh_expires_in": float64(0)}, 0, false},
		{"a negative number is not a lifetime", "rt-0123456789", map[string]any{"refresh_expires_in": float64(-5)}, 0, false},
		{"a fraction is not a lifetime", "rt-0123456789", map[string]any{"refresh_expires_in": 1.5}, 0, false},
		{"no member", "rt-0123456789", nil, 0, false},
		{"no refresh token", "", map[string]any{"refresh_expires_in": float64(1800)}, 0, false},
	}
	c, err := pkce.New(&oauth2.Config{ClientID: "c", RedirectURL: "http://127.0.0.1/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"}})
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &lifetimeStore{Store: pkce.NewMemoryStore()}
			tokens, err := c.Tokens(store)
			require.NoError(t, err)
			tok := (&oauth2.Token{AccessToken: "at", RefreshToken: tt.refresh}).WithExtra(tt.extra)
			require.NoError(t, tokens.Save(context.Background(), "alice", &pkce.Token{Token: tok}))
			assert.Equal(t, tt.said, store.said)
			assert.Equal(t, tt.lifetime, store.lifetime)
		})
	}
	t.Run("a context from elsewhere says nothing", func(t *testing.T) {
		_, ok := pkce.RefreshLifetime(context.Background())
		assert.False(t, ok)
	})
}
