package pkce_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"
)

// refusedLeases is a Store that counts the lease requests it refused.
type refusedLeases struct {
	pkce.Store
	refused atomic.Int32
}

func (s *refusedLeases) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	held, err := s.Store.Lease(ctx, subject, owner, ttl)
	if err == nil && !held {
		s.refused.Add(1)
	}
	return held, err
}

// The refresh of a token an API refused (package protected's Transport)
// runs on the caller's request: when that caller goes away, the refresh
// stops, wherever it is (THREATS.md, promise 5: never a hang). The
// refresh timeout is a minute, so only the cancellation can end it.
func TestTokensRefusedTokenRefreshStopsWithItsCaller(t *testing.T) {
	tests := []struct {
		name string
		// start begins the situation; started reports when the refresh
		// of the refused token is in it.
		start   func(t *testing.T, store *refusedLeases, tokens *pkce.Tokens, te *tokenEndpoint) (started func() bool)
		answers int // token requests the server saw, all abandoned
	}{
		{"cancelled while another replica holds the lease", func(t *testing.T, store *refusedLeases, _ *pkce.Tokens, _ *tokenEndpoint) func() bool {
			held, err := store.Lease(context.Background(), "alice", "another replica", time.Minute)
			require.NoError(t, err)
			require.True(t, held)
			store.refused.Store(0)
			return func() bool { return store.refused.Load() >= 2 }
		}, 0},
		{"cancelled while the server answers", func(*testing.T, *refusedLeases, *pkce.Tokens, *tokenEndpoint) func() bool {
			return nil // the server's request count says it
		}, 1},
		{"cancelled while joining the source's refresh", func(t *testing.T, _ *refusedLeases, tokens *pkce.Tokens, te *tokenEndpoint) func() bool {
			src, err := tokens.Source(context.Background(), "alice")
			require.NoError(t, err)
			go src.TokenContext(context.Background())
			waitUntil(t, func() bool { return te.count() == 1 })
			return func() bool { return true }
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			te := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
					jsonResponse(200, `{"access_token":"AT-2","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-2"}`)(w, r)
				case <-r.Context().Done():
				}
			})
			t.Cleanup(func() { close(release) })
			store := &refusedLeases{Store: pkce.NewMemoryStore()}
			tokens, err := clientFor(t, te, testSecret).Tokens(store, pkce.WithRefreshTimeout(time.Minute))
			require.NoError(t, err)
			require.NoError(t, tokens.Save(context.Background(), "alice", &pkce.Token{Token: expiredToken()}))
			started := tt.start(t, store, tokens, te)
			if started == nil {
				started = func() bool { return te.count() == 1 }
			}

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- link.RefreshRefused(ctx, tokens, "alice", expiredToken()) }()
			waitUntil(t, started)
			cancel()
			err = <-done

			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, err, pkce.ErrTryLater)
			assert.False(t, errors.Is(err, context.DeadlineExceeded), "stopped by the cancellation, not a deadline")
			assert.Equal(t, tt.answers, te.count(), "token requests")
		})
	}
}

// rotatingEndpoint is a token endpoint that rotates refresh tokens as
// most servers do: it finishes a refresh it has read even when the client
// no longer waits for the answer, and a refresh token presented again
// ends the grant (RFC 9700 §4.14.2).
type rotatingEndpoint struct {
	*tokenEndpoint
	release   chan struct{} // the answers wait for it
	mu        sync.Mutex
	presented map[string]int
}

func newRotatingEndpoint(t *testing.T) *rotatingEndpoint {
	e := &rotatingEndpoint{release: make(chan struct{}), presented: make(map[string]int)}
	var n atomic.Int32
	e.tokenEndpoint = newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		rt := e.last(t).form.Get("refresh_token")
		e.mu.Lock()
		e.presented[rt]++
		again := e.presented[rt] > 1
		e.mu.Unlock()
		if again {
			jsonResponse(400, `{"error":"invalid_grant","error_description":"refresh token reused; grant revoked"}`)(w, r)
			return
		}
		i := n.Add(1)
		<-e.release
		jsonResponse(200, fmt.Sprintf(`{"access_token":"AT-%d","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-%d"}`, i, i))(w, r)
	})
	return e
}

func (e *rotatingEndpoint) presentedTwice() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var twice []string
	for rt, n := range e.presented {
		if n > 1 {
			twice = append(twice, rt)
		}
	}
	return twice
}

// A caller of the refused-token refresh that goes away once the request
// is sent ends its own wait, not the refresh: the server has read the
// refresh token and rotates it whether or not anyone reads its answer, so
// an abandoned answer would leave only a dead refresh token in the store,
// and the next refresh would present it again (THREATS.md, promise 1).
// Nor does its going away fail the callers that joined its refresh.
func TestTokensRefusedTokenRefreshOutlivesItsCaller(t *testing.T) {
	tests := []struct {
		name string
		// joined starts a source's refresh that joins the refused one.
		joined bool
	}{
		{"the rotated refresh token reaches the store", false},
		{"a source that joined the refresh gets its token", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRotatingEndpoint(t)
			store := pkce.NewMemoryStore()
			tokens, err := clientFor(t, e.tokenEndpoint, testSecret).Tokens(store, pkce.WithRefreshTimeout(time.Minute))
			require.NoError(t, err)
			ctx := context.Background()
			require.NoError(t, tokens.Save(ctx, "alice", &pkce.Token{Token: expiredToken()}))
			src, err := tokens.Source(ctx, "alice")
			require.NoError(t, err)

			callerCtx, cancel := context.WithCancel(ctx)
			refused := make(chan error, 1)
			go func() { refused <- link.RefreshRefused(callerCtx, tokens, "alice", expiredToken()) }()
			waitUntil(t, func() bool { return e.count() == 1 })
			joined := make(chan error, 1)
			if tt.joined {
				go func() { _, err := src.TokenContext(ctx); joined <- err }()
			}
			cancel()
			assert.ErrorIs(t, <-refused, context.Canceled)
			close(e.release)
			if tt.joined {
				assert.NoError(t, <-joined, "the joined caller's context is live")
			}

			tok, err := src.TokenContext(ctx)
			require.NoError(t, err)
			assert.Equal(t, "RT-1", tok.RefreshToken)
			stored, err := store.LoadToken(ctx, "alice")
			require.NoError(t, err)
			assert.Equal(t, "RT-1", storedRefreshToken(t, stored))
			assert.Empty(t, e.presentedTwice(), "no refresh token presented twice")
		})
	}
}
