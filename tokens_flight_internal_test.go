package pkce

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// leasePanics is a store whose lease requests wait for gate and panic.
type leasePanics struct {
	RefreshStore
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (s *leasePanics) LeaseToken(ctx context.Context, subject, owner string, ttl time.Duration) (bool, []byte, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.gate
	panic("store bug")
}

// The callers that joined a refresh whose leader's store panicked get
// errFlightPanicked as the leader does, none waits for ever, and the
// flight is gone once it ended (run with -race: a flight's channel is
// made by its first joiner).
func TestTokensFlightJoinersOfAPanickingLeader(t *testing.T) {
	c, err := New(&oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "http://127.0.0.1/authorize", TokenURL: "http://127.0.0.1/token"}})
	require.NoError(t, err)
	store := &leasePanics{RefreshStore: NewMemoryStore().(RefreshStore), entered: make(chan struct{}), gate: make(chan struct{})}
	tokens, err := c.Tokens(store)
	require.NoError(t, err)
	ctx := context.Background()
	cur := &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", Expiry: time.Now().Add(-time.Minute)}
	require.NoError(t, tokens.Save(ctx, "alice", &Token{Token: cur}))
	src, err := tokens.Source(ctx, "alice")
	require.NoError(t, err)

	errs := make(chan error, 9)
	go func() { errs <- tokens.refreshRefused(ctx, "alice", cur) }()
	<-store.entered
	for i := range 8 {
		go func() {
			if i%2 == 0 {
				errs <- tokens.refreshRefused(ctx, "alice", cur)
				return
			}
			_, err := src.TokenContext(ctx)
			errs <- err
		}()
	}
	waitFor(t, func() bool {
		tokens.flightMu.Lock()
		defer tokens.flightMu.Unlock()
		f := tokens.flights["alice"]
		return f != nil && f.done != nil
	})
	close(store.gate)
	for range 9 {
		err := <-errs
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrTryLater)
		assert.NotContains(t, err.Error(), "store bug")
	}
	tokens.flightMu.Lock()
	defer tokens.flightMu.Unlock()
	assert.Empty(t, tokens.flights, "the flight ended")
}

// waitFor polls cond; it fails the test after 20 s, a guard against a
// hang rather than a measurement.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		require.False(t, time.Now().After(deadline), "timed out waiting")
	}
}

// leaseHangs is a store whose lease requests ignore their context and
// hang until the test ends.
type leaseHangs struct {
	RefreshStore
	gate chan struct{}
}

func (s leaseHangs) LeaseToken(context.Context, string, string, time.Duration) (bool, []byte, error) {
	<-s.gate
	return false, nil, nil
}

// A Store that ignores its context holds neither the source's callers nor
// SignOut beyond the refresh's bound: they are told that the refresh is
// overdue. The bounds are shortened here; their values are checked by
// TestTokensWaitersOutwaitARefreshThatTookTheLeaseLate.
func TestTokensStoreIgnoringItsContextHoldsNobodyPastTheBound(t *testing.T) {
	c, err := New(&oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "http://127.0.0.1/authorize", TokenURL: "http://127.0.0.1/token"}})
	require.NoError(t, err)
	store := leaseHangs{RefreshStore: NewMemoryStore().(RefreshStore), gate: make(chan struct{})}
	t.Cleanup(func() { close(store.gate) })
	tokens, err := c.Tokens(store, WithRefreshTimeout(100*time.Millisecond))
	require.NoError(t, err)
	tokens.leaseWait, tokens.lease = 0, 100*time.Millisecond
	ctx := context.Background()
	cur := &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", Expiry: time.Now().Add(-time.Minute)}
	require.NoError(t, tokens.Save(ctx, "alice", &Token{Token: cur}))
	src, err := tokens.Source(ctx, "alice")
	require.NoError(t, err)

	_, err = src.TokenContext(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrTryLater)
	assert.ErrorContains(t, err, "did not finish")
	// SignOut goes on to revoke the stored token once the refresh is
	// overdue: this client has no revocation endpoint to do it with.
	assert.ErrorContains(t, tokens.SignOut(ctx, "alice"), "no revocation endpoint")
	stored, err := store.LoadToken(ctx, "alice")
	require.NoError(t, err)
	assert.Nil(t, stored, "signed out")
}
