package pkce_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

func TestTokenSourceHook(t *testing.T) {
	t.Run("the hook sees a rotated token before any caller", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		var returned atomic.Int32
		hookIn := make(chan *pkce.Token, 1)
		release := make(chan struct{})
		src := source(t, s.client, expired(tok, clock), pkce.OnRefresh(func(_ context.Context, next *pkce.Token) error {
			hookIn <- next
			<-release
			return nil
		}))
		done := make(chan *oauth2.Token, 3)
		for range 3 {
			go func() {
				got, err := src.Token()
				if err == nil {
					returned.Add(1)
				}
				done <- got
			}()
		}
		seen := <-hookIn
		assert.Equal(t, int32(0), returned.Load(), "no caller has the token while the hook runs")
		assert.NotEqual(t, tok.RefreshToken, seen.RefreshToken, "the hook gets the rotated refresh token")
		close(release)
		for range 3 {
			got := <-done
			require.NotNil(t, got)
			assert.Equal(t, seen.AccessToken, got.AccessToken)
		}
	})

	t.Run("a failing hook fails every waiter and the token is not handed out", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		diskFull := errors.New("disk full")
		var fail atomic.Bool
		fail.Store(true)
		var seen []string
		var mu sync.Mutex
		src := source(t, s.client, expired(tok, clock), pkce.OnRefresh(func(_ context.Context, next *pkce.Token) error {
			mu.Lock()
			seen = append(seen, next.RefreshToken)
			mu.Unlock()
			if fail.Load() {
				return diskFull
			}
			return nil
		}))
		var wg sync.WaitGroup
		errs := make([]error, 50)
		start := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = src.Token()
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			assert.ErrorIs(t, err, diskFull)
			assertOneClass(t, err, pkce.ErrTryLater)
		}
		assert.Equal(t, 1, s.srv.RefreshRequests())

		fail.Store(false)
		got, err := src.Token()
		require.NoError(t, err)
		assert.Equal(t, 1, s.srv.RefreshRequests(), "the hook is retried with the same token, without another refresh")
		mu.Lock()
		defer mu.Unlock()
		// Callers that came after the first failure may have run the hook
		// again; every run saw the one refreshed token.
		require.GreaterOrEqual(t, len(seen), 2)
		for _, rt := range seen {
			assert.Equal(t, got.RefreshToken, rt)
		}
		assert.NotEqual(t, tok.RefreshToken, got.RefreshToken)
	})

	t.Run("a response without refresh_token keeps the old one", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: false}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		src := source(t, s.client, expired(tok, clock))
		got, err := src.Token()
		require.NoError(t, err)
		assert.Equal(t, tok.RefreshToken, got.RefreshToken)
		assert.NotEqual(t, tok.AccessToken, got.AccessToken)
	})
}

// TestOnRefreshPanic: a panic in the application's hook happens on the
// source's own goroutine; it must not crash the process, every waiter gets
// an ErrTryLater error, and the next call runs the hook again without
// another refresh.
func TestOnRefreshPanic(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	var panicking atomic.Bool
	panicking.Store(true)
	src := source(t, clientFor(t, te, testSecret), expiredToken(), pkce.OnRefresh(func(_ context.Context, next *pkce.Token) error {
		if panicking.Load() {
			panic("hook bug while saving " + next.AccessToken + " " + next.RefreshToken)
		}
		return nil
	}))

	errs := make([]error, 20)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = src.Token()
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		assertOneClass(t, err, pkce.ErrTryLater)
		assert.ErrorContains(t, err, "panic")
		assert.NotContains(t, err.Error(), "AT-1", "the panic value is cleaned of the tokens")
		assert.NotContains(t, err.Error(), "RT-1")
	}
	assert.Equal(t, 1, te.count(), "one refresh")

	panicking.Store(false)
	tok, err := src.Token()
	require.NoError(t, err)
	assert.Equal(t, "AT-1", tok.AccessToken)
	assert.Equal(t, 1, te.count(), "the hook ran again on the same token, without another refresh")
}

// TestHookIgnoringItsContext: an OnRefresh hook that never returns must
// not hold Token, nor SignOut, beyond the refresh timeout (plus a second).
func TestHookIgnoringItsContext(t *testing.T) {
	var revoked atomic.Value
	te := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/revoke" {
			revoked.Store(true)
			w.WriteHeader(http.StatusOK)
			return
		}
		jsonResponse(200, goodBody)(w, r)
	})
	c := clientFor(t, te, testSecret, pkce.WithRevocationURL(te.URL+"/revoke"))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	entered := make(chan struct{}, 1)
	src := source(t, c, expiredToken(), pkce.WithRefreshTimeout(300*time.Millisecond), pkce.OnRefresh(func(context.Context, *pkce.Token) error {
		entered <- struct{}{}
		<-release // ignores its context
		return nil
	}))

	_, err := src.Token()
	assertOneClass(t, err, pkce.ErrTryLater)
	assert.ErrorContains(t, err, "did not finish")
	select {
	case <-entered:
	case <-time.After(10 * time.Second): // a guard against a hang, not a measurement
		t.Fatal("the hook never ran")
	}

	// A caller with a context of its own still decides its own wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = src.TokenContext(ctx)
	assertOneClass(t, err, pkce.ErrTryLater)
	assert.ErrorIs(t, err, context.Canceled)

	// SignOut waits for the stuck refresh at most as long, then revokes
	// what it has: the old refresh token.
	require.NoError(t, src.SignOut(context.Background()))
	assert.Equal(t, true, revoked.Load())
	assert.Equal(t, "old-refresh", te.last(t).form.Get("token"))
	_, err = src.Token()
	assertOneClass(t, err, pkce.ErrSignInRequired)
}
