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
	"github.com/pkcekit/pkce/internal/authserver"
)

// fakeClock is a goroutine-safe clock the tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// signedIn runs a sign-in against s and returns the token.
func (s *stack) signedIn(t *testing.T) *pkce.Token {
	t.Helper()
	f, q := s.signIn(t)
	tok, err := s.client.Finish(context.Background(), f, q)
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)
	return tok
}

// expired returns a copy of tok that expired a second ago by clock.
func expired(tok *pkce.Token, clock *fakeClock) *oauth2.Token {
	cp := *tok.Token
	cp.Expiry = clock.Now().Add(-time.Second)
	return &cp
}

func TestRefresh(t *testing.T) {
	tests := []struct {
		name   string
		method authserver.AuthMethod
		rotate bool
		scopes []string
	}{
		{"Basic with rotation", authserver.MethodBasic, true, nil},
		{"post without rotation keeps the old refresh token", authserver.MethodPost, false, nil},
		{"public client", authserver.MethodNone, true, nil},
		{"narrower scope", authserver.MethodBasic, true, []string{"openid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, tt.method, authserver.Config{Rotate: tt.rotate})
			tok := s.signedIn(t)
			next, err := s.client.Refresh(context.Background(), tok.RefreshToken, tt.scopes...)
			require.NoError(t, err)
			assert.NotEqual(t, tok.AccessToken, next.AccessToken)
			if tt.rotate {
				assert.NotEqual(t, tok.RefreshToken, next.RefreshToken, "rotated")
			} else {
				assert.Equal(t, tok.RefreshToken, next.RefreshToken, "kept when the response omits it")
			}
			req := s.srv.LastTokenRequest()
			assert.Equal(t, []string{"refresh_token"}, req.Form["grant_type"])
			assert.Equal(t, []string{tok.RefreshToken}, req.Form["refresh_token"])
			assert.NotContains(t, req.Form, "code", "nothing of the code grant is sent")
			assert.NotContains(t, req.Form, "redirect_uri")
			if tt.scopes != nil {
				assert.Equal(t, []string{"openid"}, req.Form["scope"])
				assert.Equal(t, "openid", next.Scope())
			} else {
				assert.NotContains(t, req.Form, "scope")
			}
			if tt.method == authserver.MethodBasic {
				assert.NotEmpty(t, req.Authorization)
			} else {
				assert.Empty(t, req.Authorization)
			}
		})
	}
}

func TestRefreshErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(s *stack, rt string)
		terminal bool
		code     pkce.ErrorCode
	}{
		{"revoked refresh token is terminal", func(s *stack, rt string) { s.srv.RevokeRefreshToken(rt) }, true, pkce.ErrInvalidGrant},
		{"503 is transient", func(s *stack, _ string) { s.srv.SetFaults(authserver.Faults{TokenStatus: 503}) }, false, pkce.ErrTemporarilyUnavailable},
		{"500 is transient", func(s *stack, _ string) { s.srv.SetFaults(authserver.Faults{TokenStatus: 500}) }, false, pkce.ErrServerError},
		{"429 is transient", func(s *stack, _ string) {
			s.srv.SetFaults(authserver.Faults{Raw: &authserver.RawResponse{Status: 429, ContentType: "application/json", Body: `{"error":"slow_down"}`}})
		}, false, "slow_down"},
		{"HTML from a proxy is transient", func(s *stack, _ string) { s.srv.SetFaults(authserver.Faults{HTMLBody: true}) }, false, ""},
		{"invalid_client is terminal", func(s *stack, _ string) {
			s.srv.SetFaults(authserver.Faults{Raw: &authserver.RawResponse{Status: 401, ContentType: "application/json", Body: `{"error":"invalid_client"}`}})
		}, true, pkce.ErrInvalidClient},
		{"unauthorized_client is terminal", func(s *stack, _ string) {
			s.srv.SetFaults(authserver.Faults{Raw: &authserver.RawResponse{Status: 400, ContentType: "application/json", Body: `{"error":"unauthorized_client"}`}})
		}, true, pkce.ErrUnauthorizedClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: true})
			tok := s.signedIn(t)
			tt.setup(s, tok.RefreshToken)
			_, err := s.client.Refresh(context.Background(), tok.RefreshToken)
			require.Error(t, err)
			assert.Equal(t, tt.terminal, errors.Is(err, pkce.ErrSignInRequired), "ErrSignInRequired")
			assert.Equal(t, !tt.terminal, errors.Is(err, pkce.ErrTryLater), "ErrTryLater")
			if tt.code != "" {
				assert.ErrorIs(t, err, tt.code)
			}
			var re *pkce.RefreshError
			assert.ErrorAs(t, err, &re)
			assert.NotContains(t, err.Error(), tok.RefreshToken)
		})
	}
	t.Run("a network error is transient", func(t *testing.T) {
		s := newStack(t, authserver.MethodBasic, authserver.Config{})
		tok := s.signedIn(t)
		s.srv.Close()
		_, err := s.client.Refresh(context.Background(), tok.RefreshToken)
		assert.ErrorIs(t, err, pkce.ErrTryLater)
	})
	t.Run("no refresh token is terminal", func(t *testing.T) {
		s := newStack(t, authserver.MethodBasic, authserver.Config{})
		_, err := s.client.Refresh(context.Background(), "")
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
	})
	t.Run("a rotated-away refresh token is refused", func(t *testing.T) {
		s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: true})
		tok := s.signedIn(t)
		_, err := s.client.Refresh(context.Background(), tok.RefreshToken)
		require.NoError(t, err)
		_, err = s.client.Refresh(context.Background(), tok.RefreshToken)
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
		assert.ErrorIs(t, err, pkce.ErrInvalidGrant)
	})
}

// TestOneRefreshForManyCallers is the measurement of the issue: 1,000
// goroutines ask an expired source at once and the server sees one refresh
// request, whether the new tokens live an hour or less than the expiry
// margin.
func TestOneRefreshForManyCallers(t *testing.T) {
	for _, lifetime := range []time.Duration{time.Hour, 5 * time.Second} {
		t.Run(lifetime.String(), func(t *testing.T) {
			clock := newFakeClock()
			s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: true, AccessTokenLifetime: lifetime}, pkce.WithClock(clock.Now))
			tok := s.signedIn(t)
			var saved atomic.Int32
			src := s.client.TokenSource(expired(tok, clock), pkce.OnRefresh(func(context.Context, *pkce.Token) error {
				saved.Add(1)
				return nil
			}))

			const callers = 1000
			var wg sync.WaitGroup
			start := make(chan struct{})
			tokens := make([]*oauth2.Token, callers)
			errs := make([]error, callers)
			for i := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					tokens[i], errs[i] = src.Token()
				}()
			}
			close(start)
			wg.Wait()

			assert.Equal(t, 1, s.srv.RefreshRequests(), "one refresh request for every caller")
			assert.Equal(t, int32(1), saved.Load(), "the hook ran once")
			for i := range callers {
				require.NoError(t, errs[i])
				assert.Same(t, tokens[0], tokens[i])
			}
			assert.NotEqual(t, tok.AccessToken, tokens[0].AccessToken)

			// The short-lived token is fresh for half its life.
			for range 100 {
				_, err := src.Token()
				require.NoError(t, err)
			}
			assert.Equal(t, 1, s.srv.RefreshRequests(), "a fresh short-lived token is not refreshed again")
		})
	}
}

func TestTokenSourceHook(t *testing.T) {
	t.Run("the hook sees a rotated token before any caller", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: true}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		var returned atomic.Int32
		hookIn := make(chan *pkce.Token, 1)
		release := make(chan struct{})
		src := s.client.TokenSource(expired(tok, clock), pkce.OnRefresh(func(_ context.Context, next *pkce.Token) error {
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
		s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: true}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		diskFull := errors.New("disk full")
		var fail atomic.Bool
		fail.Store(true)
		var seen []string
		var mu sync.Mutex
		src := s.client.TokenSource(expired(tok, clock), pkce.OnRefresh(func(_ context.Context, next *pkce.Token) error {
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
		s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: false}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		src := s.client.TokenSource(expired(tok, clock))
		got, err := src.Token()
		require.NoError(t, err)
		assert.Equal(t, tok.RefreshToken, got.RefreshToken)
		assert.NotEqual(t, tok.AccessToken, got.AccessToken)
	})
}

func TestTokenSourceFailures(t *testing.T) {
	t.Run("a terminal failure is not retried", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: true}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		s.srv.RevokeRefreshToken(tok.RefreshToken)
		src := s.client.TokenSource(expired(tok, clock))
		for range 5 {
			_, err := src.Token()
			assert.ErrorIs(t, err, pkce.ErrSignInRequired)
			assert.ErrorIs(t, err, pkce.ErrInvalidGrant)
			clock.Advance(time.Hour)
		}
		assert.Equal(t, 1, s.srv.RefreshRequests(), "the server is not hammered")
	})

	t.Run("a transient failure is retried after a back-off", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: true}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		s.srv.SetFaults(authserver.Faults{TokenStatus: 503, TokenStatusTimes: 1})
		src := s.client.TokenSource(expired(tok, clock))
		_, err := src.Token()
		assert.ErrorIs(t, err, pkce.ErrTryLater)
		_, err = src.Token()
		assert.ErrorIs(t, err, pkce.ErrTryLater, "within the back-off the failure is returned as is")
		assert.Equal(t, 1, s.srv.RefreshRequests())

		clock.Advance(2 * time.Second)
		got, err := src.Token()
		require.NoError(t, err)
		assert.NotEmpty(t, got.AccessToken)
		assert.Equal(t, 2, s.srv.RefreshRequests())
	})

	t.Run("a hanging server hits the refresh timeout", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, authserver.MethodBasic, authserver.Config{}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		s.srv.SetFaults(authserver.Faults{Hang: true})
		src := s.client.TokenSource(expired(tok, clock), pkce.WithRefreshTimeout(100*time.Millisecond))
		_, err := src.Token()
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, pkce.ErrTryLater)
	})

	t.Run("a waiter whose context ends returns at once; the refresh goes on for others", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, authserver.MethodBasic, authserver.Config{}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		s.srv.SetFaults(authserver.Faults{Delay: 300 * time.Millisecond})
		src := s.client.TokenSource(expired(tok, clock))

		patient := make(chan error, 1)
		go func() {
			_, err := src.Token()
			patient <- err
		}()
		ctx, cancel := context.WithCancel(context.Background())
		impatient := make(chan error, 1)
		go func() {
			_, err := src.TokenContext(ctx)
			impatient <- err
		}()
		cancel()
		assert.ErrorIs(t, <-impatient, context.Canceled)
		assert.NoError(t, <-patient, "the cancelled caller did not cancel the shared refresh")
		assert.Equal(t, 1, s.srv.RefreshRequests())
	})

	t.Run("no refresh token", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, authserver.MethodBasic, authserver.Config{}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		cp := expired(tok, clock)
		cp.RefreshToken = ""
		_, err := s.client.TokenSource(cp).Token()
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
		assert.Equal(t, 0, s.srv.RefreshRequests())
	})
}

func TestTokenSourceWrapRefresh(t *testing.T) {
	clock := newFakeClock()
	s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: true}, pkce.WithClock(clock.Now))
	tok := s.signedIn(t)
	var locked atomic.Int32
	src := s.client.TokenSource(expired(tok, clock), pkce.WrapRefresh(func(next pkce.RefreshFunc) pkce.RefreshFunc {
		return func(ctx context.Context, rt string) (*pkce.Token, error) {
			locked.Add(1) // a cross-process lock would be taken here
			return next(ctx, rt)
		}
	}))
	_, err := src.Token()
	require.NoError(t, err)
	assert.Equal(t, int32(1), locked.Load())
	assert.Equal(t, 1, s.srv.RefreshRequests())
}

func TestTokenSourceClient(t *testing.T) {
	clock := newFakeClock()
	s := newStack(t, authserver.MethodBasic, authserver.Config{Rotate: true}, pkce.WithClock(clock.Now))
	tok := s.signedIn(t)
	hc := s.client.TokenSource(expired(tok, clock)).Client(context.Background())
	resp, err := hc.Get(s.srv.ResourceURL())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 1, s.srv.RefreshRequests(), "the expired token was refreshed first")
}
