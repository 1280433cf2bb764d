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
	// The next call renews again rather than waiting on a dead renewal.
	_, err = src.Token(context.Background())
	assert.Error(t, err)
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
}
