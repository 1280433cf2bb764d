package pkce_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// grantedLease is a Store that calls granted, on the caller's goroutine,
// before it answers a request for a lease that it granted: an answer that
// arrives late, as over a slow network.
type grantedLease struct {
	pkce.Store
	granted func(ctx context.Context) error
}

func (s grantedLease) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	held, err := s.Store.Lease(ctx, subject, owner, ttl)
	if err == nil && held {
		err = s.granted(ctx)
	}
	return held, err
}

// grantedLeaseCombined is grantedLease over the two-call refresh steps.
type grantedLeaseCombined struct {
	grantedLease
	rs pkce.RefreshStore
}

func (s grantedLeaseCombined) LeaseToken(ctx context.Context, subject, owner string, ttl time.Duration) (bool, []byte, error) {
	held, b, err := s.rs.LeaseToken(ctx, subject, owner, ttl)
	if err == nil && held {
		err = s.granted(ctx)
	}
	return held, b, err
}

func (s grantedLeaseCombined) SaveTokenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error) {
	return s.rs.SaveTokenRelease(ctx, subject, owner, old, token)
}

// A lease lasts the refresh timeout plus a margin from the moment it was
// asked for. A replica that learns late that it got the lease after
// waiting for another's (a slow store) must not present the refresh token
// once the lease may have passed to another replica: with a server that
// rotates, the second presentation revokes the grant (THREATS.md, promise
// 1).
func TestTokensRefreshAfterALateLeaseAnswerStaysWithinTheLease(t *testing.T) {
	tests := []struct {
		name string
		wrap func(pkce.Store, func(context.Context) error) pkce.Store
	}{
		{"four store calls", func(s pkce.Store, granted func(context.Context) error) pkce.Store {
			return grantedLease{Store: s, granted: granted}
		}},
		{"two store calls (RefreshStore)", func(s pkce.Store, granted func(context.Context) error) pkce.Store {
			return grantedLeaseCombined{grantedLease{Store: s, granted: granted}, s.(pkce.RefreshStore)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each waits for a lease to run out
			s := newTokensStack(t, pkce.WithRefreshTimeout(time.Second))
			ctx := context.Background()
			aTook, bTook := make(chan struct{}), make(chan struct{})
			var aOnce, bOnce sync.Once
			// Replica a hears that it got the lease only once replica b
			// has it too, its own having run out meanwhile.
			a, err := s.client.Tokens(tt.wrap(s.store, func(ctx context.Context) error {
				aOnce.Do(func() { close(aTook) })
				select {
				case <-bTook:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}), pkce.WithRefreshTimeout(time.Second))
			require.NoError(t, err)
			b, err := s.client.Tokens(tt.wrap(s.store, func(context.Context) error {
				bOnce.Do(func() { close(bTook) })
				return nil
			}), pkce.WithRefreshTimeout(time.Second))
			require.NoError(t, err)

			// A killed replica's lease sends a into the wait for it.
			held, err := s.store.Lease(ctx, "alice", "a killed replica", 100*time.Millisecond)
			require.NoError(t, err)
			require.True(t, held)
			srcA, err := a.Source(ctx, "alice")
			require.NoError(t, err)
			srcB, err := b.Source(ctx, "alice")
			require.NoError(t, err)
			aDone := make(chan error, 1)
			go func() { _, err := srcA.TokenContext(ctx); aDone <- err }()
			<-aTook
			tokB, errB := srcB.TokenContext(ctx)
			<-aDone

			assert.Equal(t, 1, s.srv.RefreshRequests(), "the stored refresh token is presented once")
			require.NoError(t, errB)
			assert.NotEmpty(t, tokB.AccessToken)
		})
	}
}
