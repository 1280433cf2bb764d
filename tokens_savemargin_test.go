package pkce_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// saveNeeds is a Store whose saves take a second: one that finds less
// than that before its context's deadline fails as a slow store would.
type saveNeeds struct{ pkce.Store }

const saveTakes = time.Second

func enoughTime(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < saveTakes {
		return context.DeadlineExceeded
	}
	return nil
}

func (s saveNeeds) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	if err := enoughTime(ctx); err != nil {
		return false, err
	}
	return s.Store.SaveToken(ctx, subject, old, token)
}

// saveNeedsCombined is saveNeeds over the two-call refresh steps.
type saveNeedsCombined struct{ pkce.RefreshStore }

func (s saveNeedsCombined) SaveTokenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error) {
	if err := enoughTime(ctx); err != nil {
		return false, err
	}
	return s.RefreshStore.SaveTokenRelease(ctx, subject, owner, old, token)
}

// A token the server issued just before the refresh's deadline still
// reaches the store, within the lease's margin: otherwise a rotated
// refresh token would be lost to every other replica, which would present
// the one it replaced (THREATS.md, promise 1).
func TestTokensSaveOfALateAnswerUsesTheLeaseMargin(t *testing.T) {
	four := func(s pkce.Store) pkce.Store { return saveNeeds{s} }
	two := func(s pkce.Store) pkce.Store { return saveNeedsCombined{s.(pkce.RefreshStore)} }
	tests := []struct {
		name  string
		store func(pkce.Store) pkce.Store
		// waited is how long a killed replica still holds the lease: a
		// refresh that waited for it has a deadline of its own, and the
		// save after a late answer has the lease's margin all the same.
		waited time.Duration
	}{
		{"four store calls", four, 0},
		{"two store calls (RefreshStore)", two, 0},
		{"four store calls, after a wait for the lease", four, 100 * time.Millisecond},
		{"two store calls (RefreshStore), after a wait for the lease", two, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTokensStack(t)
			ctx := context.Background()
			before, err := s.store.LoadToken(ctx, "alice")
			require.NoError(t, err)
			tokens, err := s.client.Tokens(tt.store(s.store), pkce.WithRefreshTimeout(2*time.Second))
			require.NoError(t, err)
			if tt.waited > 0 {
				held, err := s.store.Lease(ctx, "alice", "a killed replica", tt.waited)
				require.NoError(t, err)
				require.True(t, held)
			}
			// The answer comes half a second before the refresh's
			// deadline: less than the save takes.
			s.srv.SetFaults(pkcetest.Faults{Delay: 1500 * time.Millisecond})
			src, err := tokens.Source(ctx, "alice")
			require.NoError(t, err)
			tok, err := src.TokenContext(ctx)
			require.NoError(t, err)

			after, err := s.store.LoadToken(ctx, "alice")
			require.NoError(t, err)
			require.NotEqual(t, storedRefreshToken(t, before), tok.RefreshToken, "the server rotated the refresh token")
			assert.Equal(t, tok.RefreshToken, storedRefreshToken(t, after), "the rotated refresh token is stored")
		})
	}
}
