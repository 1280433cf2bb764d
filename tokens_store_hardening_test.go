package pkce_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// Issue 24: on a cold start, many callers asking for one subject at once
// load it from the store once.
func TestTokensColdStartLoadsOncePerSubject(t *testing.T) {
	s := newTokensStack(t)
	gate := &gatedLoads{Store: s.store, open: make(chan struct{})}
	tokens, err := s.client.Tokens(gate)
	require.NoError(t, err)
	var wg sync.WaitGroup
	sources := make([]*pkce.TokenSource, 50)
	for i := range sources {
		wg.Go(func() {
			src, err := tokens.Source(context.Background(), "alice")
			assert.NoError(t, err)
			sources[i] = src
		})
	}
	// Give the callers time to pile up behind the first load; the loads
	// counted decide, not the time.
	waitUntil(t, func() bool { return gate.count() >= 1 })
	time.Sleep(100 * time.Millisecond)
	close(gate.open)
	wg.Wait()
	assert.Equal(t, 1, gate.count(), "store loads for one subject")
	for _, src := range sources {
		assert.Same(t, sources[0], src, "one shared source")
	}
}

// gatedLoads holds every LoadToken until open is closed, and counts them.
type gatedLoads struct {
	pkce.Store
	open  chan struct{}
	mu    sync.Mutex
	loads int
}

func (g *gatedLoads) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	g.mu.Lock()
	g.loads++
	g.mu.Unlock()
	<-g.open
	return g.Store.LoadToken(ctx, subject)
}

func (g *gatedLoads) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.loads
}

// A Store that panics once during a refresh costs that refresh, not the
// subject: the next one, after the back-off, goes through.
func TestTokensStorePanicDoesNotWedgeTheSubject(t *testing.T) {
	s := newTokensStack(t)
	store := &panickyLeases{Store: s.store}
	store.panicking.Store(true)
	tokens, err := s.client.Tokens(store)
	require.NoError(t, err)
	ctx := context.Background()
	src, err := tokens.Source(ctx, "alice")
	require.NoError(t, err)
	_, err = src.TokenContext(ctx)
	assertOneClass(t, err, pkce.ErrTryLater)
	store.panicking.Store(false)
	waitUntil(t, func() bool { _, err := src.TokenContext(ctx); return err == nil })
	assert.Equal(t, 1, s.srv.RefreshRequests())
}

// panickyLeases panics in Lease while panicking is set.
type panickyLeases struct {
	pkce.Store
	panicking atomic.Bool
}

func (p *panickyLeases) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if p.panicking.Load() {
		panic("store bug")
	}
	return p.Store.Lease(ctx, subject, owner, ttl)
}

// A 4xx page without an error object (a proxy's or a firewall's) says
// nothing certain about the refresh token: this process answers
// sign-in-required, but no tombstone ends the grant on every replica.
func TestTokensProxyPageDuringRefreshLeavesNoTombstone(t *testing.T) {
	s := newTokensStack(t)
	ctx := context.Background()
	before, err := s.store.LoadToken(ctx, "alice")
	require.NoError(t, err)
	s.srv.SetFaults(pkcetest.Faults{RefreshRaw: &pkcetest.RawResponse{Status: 403, ContentType: "text/html",
		Body: "<html><body>Request blocked by the gateway</body></html>"}})
	src, err := s.tokens.Source(ctx, "alice")
	require.NoError(t, err)
	_, err = src.TokenContext(ctx)
	require.Error(t, err)

	after, err := s.store.LoadToken(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, before, after, "the stored token is kept for the other replicas")

	// Once the gateway lets the request through, another replica refreshes.
	s.srv.SetFaults(pkcetest.Faults{})
	other, err := s.client.Tokens(s.store)
	require.NoError(t, err)
	src, err = other.Source(ctx, "alice")
	require.NoError(t, err)
	_, err = src.TokenContext(ctx)
	assert.NoError(t, err)
}
