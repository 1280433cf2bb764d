package pkce_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"
)

// Callers of one subject's refresh arrive while it starts, runs and ends:
// the source's own callers, the refresh of a token an API refused
// (package protected's Transport) and a second source of the subject. Each
// gets the one refreshed token, and a server that rotates refresh tokens
// and revokes the grant on reuse sees one refresh per round (THREATS.md,
// promise 1). Run it with -race: a flight's channel is made only when
// someone waits, and closed under the lock that joiners take.
func TestTokensFlightStormPresentsTheRefreshTokenOnce(t *testing.T) {
	s := newTokensStack(t)
	ctx := context.Background()
	for round := range 30 {
		stored, err := s.tokens.Source(ctx, "alice")
		require.NoError(t, err)
		cur, err := stored.TokenContext(ctx)
		require.NoError(t, err, "round %d", round)
		// Due again.
		due := *cur
		due.Expiry = time.Now().Add(-time.Minute)
		require.NoError(t, s.tokens.Save(ctx, "alice", &pkce.Token{Token: &due}))
		src, err := s.tokens.Source(ctx, "alice")
		require.NoError(t, err)
		second, err := s.client.Tokens(s.store) // a second source of alice
		require.NoError(t, err)
		src2, err := second.Source(ctx, "alice")
		require.NoError(t, err)

		before := s.srv.RefreshRequests()
		var wg sync.WaitGroup
		errs := make(chan error, 24)
		for i := range 24 {
			wg.Go(func() {
				switch i % 3 {
				case 0:
					_, err := src.TokenContext(ctx)
					errs <- err
				case 1:
					errs <- link.RefreshRefused(ctx, s.tokens, "alice", &due)
				default:
					_, err := src2.TokenContext(ctx)
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "round %d", round)
		}
		require.Equal(t, before+1, s.srv.RefreshRequests(), "round %d: one refresh", round)
		a, err := src.TokenContext(ctx)
		require.NoError(t, err)
		b, err := src2.TokenContext(ctx)
		require.NoError(t, err)
		assert.Equal(t, a.RefreshToken, b.RefreshToken, "round %d: one token for every source", round)
	}
}
