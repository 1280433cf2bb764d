package clientcredentials

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// gatedServer answers token requests once gate is closed: with a token,
// or with a 503 when fail is set. requests counts them as they arrive.
func gatedServer(t *testing.T, fail bool) (*pkce.Client, chan struct{}, *atomic.Int64) {
	t.Helper()
	gate := make(chan struct{})
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		<-gate
		w.Header().Set("Content-Type", "application/json")
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(srv.Close)
	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "svc", ClientSecret: "s",
		Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}})
	require.NoError(t, err)
	return c, gate, &requests
}

// waitJoined waits until n callers joined s's renewal under way.
func waitJoined(t *testing.T, s *Source, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		j := s.joined
		s.mu.Unlock()
		if j == n {
			return
		}
		require.False(t, time.Now().After(deadline), "callers joined: %d of %d", j, n)
	}
}

func TestCallersShareAFailure(t *testing.T) {
	c, gate, requests := gatedServer(t, true)
	src := &Source{Client: c}
	const callers = 50
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			_, err := src.Token(context.Background())
			errs <- err
		})
	}
	waitJoined(t, src, callers-1)
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		var oe *pkce.OAuthError
		assert.ErrorAs(t, err, &oe)
	}
	assert.Equal(t, int64(1), requests.Load(), "one request for the whole wave of callers")
}

func TestACallerGivingUpDoesNotEndTheRenewalForOthers(t *testing.T) {
	c, gate, requests := gatedServer(t, false)
	src := &Source{Client: c}
	impatient, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := src.Token(impatient)
		first <- err
	}()
	for requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan *pkce.Token, 1)
	go func() {
		tok, err := src.Token(context.Background())
		assert.NoError(t, err)
		second <- tok
	}()
	waitJoined(t, src, 1)
	cancel()
	assert.ErrorIs(t, <-first, context.Canceled)
	close(gate)
	tok := <-second
	require.NotNil(t, tok)
	assert.Equal(t, "tok", tok.AccessToken)
	assert.Equal(t, int64(1), requests.Load())
}

// panicStore is a Store whose LoadToken panics.
type panicStore struct{ pkce.Store }

func (panicStore) LoadToken(context.Context, string) ([]byte, error) { panic("store bug") }

func TestAPanickingStoreFailsTheCall(t *testing.T) {
	c, gate, _ := gatedServer(t, false)
	close(gate)
	src := &Source{Client: c, Store: panicStore{pkce.NewMemoryStore()}, Key: "k"}
	_, err := src.Token(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "panic")
	// The next call gets the failure rather than waiting on a dead renewal.
	_, err = src.Token(context.Background())
	assert.Error(t, err)
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
}

// switchServer answers token requests with a token valid for an hour, or
// with a 503 while fail is set.
func switchServer(t *testing.T) (*pkce.Client, *atomic.Bool, *atomic.Int64) {
	t.Helper()
	var fail atomic.Bool
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"tok` + string(rune('0'+n)) + `","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(srv.Close)
	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "svc", ClientSecret: "s",
		Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}})
	require.NoError(t, err)
	return c, &fail, &requests
}

// fakeClock is a settable clock for Source.now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestAFailureIsReusedUntilTheRetryTime(t *testing.T) {
	c, fail, requests := switchServer(t)
	fail.Store(true)
	clock := &fakeClock{t: time.Now()}
	src := &Source{Client: c, now: clock.now}
	steps := []struct {
		advance  time.Duration
		requests int64
	}{
		{0, 1},                       // the first call asks
		{0, 1},                       // at once: the same failure
		{time.Second, 2},             // after the first backoff, 1 s
		{1500 * time.Millisecond, 2}, // the backoff doubled, to 2 s
		{500 * time.Millisecond, 3},  // ... and is over
		{3 * time.Second, 3},         // now 4 s
		{time.Hour, 4},               // at most 30 s, whatever the count
	}
	for i, st := range steps {
		clock.advance(st.advance)
		_, err := src.Token(context.Background())
		var oe *pkce.OAuthError
		require.ErrorAs(t, err, &oe, "step %d", i)
		assert.Equal(t, st.requests, requests.Load(), "requests after step %d", i)
	}
	fail.Store(false)
	clock.advance(time.Minute)
	tok, err := src.Token(context.Background())
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
}

func TestAnUnexpiredTokenIsServedWhileRenewalFails(t *testing.T) {
	c, fail, requests := switchServer(t)
	clock := &fakeClock{t: time.Now()}
	src := &Source{Client: c, now: clock.now}
	held, err := src.Token(context.Background())
	require.NoError(t, err)

	fail.Store(true)
	clock.advance(59*time.Minute + 30*time.Second) // within the margin, not expired
	tok, err := src.Token(context.Background())
	require.NoError(t, err, "the token still works")
	assert.Equal(t, held.AccessToken, tok.AccessToken)
	assert.Equal(t, int64(2), requests.Load(), "the renewal was tried")

	clock.advance(time.Minute) // expired
	_, err = src.Token(context.Background())
	assert.Error(t, err, "an expired token is not handed out")
}

// A server that issues tokens living less than the expiry margin must not
// get a token request on every call: the margin is at most half the
// token's lifetime, as for the refresh of package pkce.
func TestShortLivedTokensAreNotRequestedOnEveryCall(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":30}`))
	}))
	t.Cleanup(srv.Close)
	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "svc", ClientSecret: "s",
		Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}})
	require.NoError(t, err)
	src := &Source{Client: c} // the default margin, one minute, exceeds the lifetime
	for range 5 {
		tok, err := src.Token(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "tok", tok.AccessToken)
	}
	assert.Equal(t, int64(1), requests.Load(), "one request for a token that lives 30 seconds")

	later := time.Now().Add(20 * time.Second) // within half the lifetime of its expiry
	src.now = func() time.Time { return later }
	_, err = src.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(2), requests.Load(), "renewed at half its lifetime")
}
