package pkce_test

import (
	"context"
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
	tok, err := finish(context.Background(), s.client, f, q)
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)
	return tok
}

// source returns c.TokenSource(tok, opts...), which must accept the options.
func source(t *testing.T, c *pkce.Client, tok *oauth2.Token, opts ...pkce.SourceOption) *pkce.TokenSource {
	t.Helper()
	src, err := c.TokenSource(tok, opts...)
	require.NoError(t, err)
	return src
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
		method pkcetest.AuthMethod
		rotate bool
		scopes []string
	}{
		{"Basic with rotation", pkcetest.MethodBasic, true, nil},
		{"post without rotation keeps the old refresh token", pkcetest.MethodPost, false, nil},
		{"public client", pkcetest.MethodNone, true, nil},
		{"narrower scope", pkcetest.MethodBasic, true, []string{"openid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, tt.method, pkcetest.Config{Rotate: tt.rotate})
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
			if tt.method == pkcetest.MethodBasic {
				assert.NotEmpty(t, req.Authorization)
			} else {
				assert.Empty(t, req.Authorization)
			}
		})
	}
}

// TestOneRefreshForManyCallers is the measurement of the issue: 1,000
// goroutines ask an expired source at once and the server sees one refresh
// request, whether the new tokens live an hour or less than the expiry
// margin.
func TestOneRefreshForManyCallers(t *testing.T) {
	for _, lifetime := range []time.Duration{time.Hour, 5 * time.Second} {
		t.Run(lifetime.String(), func(t *testing.T) {
			clock := newFakeClock()
			s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true, AccessTokenLifetime: lifetime}, pkce.WithClock(clock.Now))
			tok := s.signedIn(t)
			var saved atomic.Int32
			src := source(t, s.client, expired(tok, clock), pkce.OnRefresh(func(context.Context, *pkce.Token) error {
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

func TestTokenSourceFailures(t *testing.T) {
	t.Run("a terminal failure is not retried", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		s.srv.RevokeRefreshToken(tok.RefreshToken)
		src := source(t, s.client, expired(tok, clock))
		for range 5 {
			_, err := src.Token()
			assert.ErrorIs(t, err, pkce.ErrSignInRequired)
			assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))
			clock.Advance(time.Hour)
		}
		assert.Equal(t, 1, s.srv.RefreshRequests(), "the server is not hammered")
	})

	t.Run("a transient failure is retried after a back-off", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		s.srv.SetFaults(pkcetest.Faults{TokenStatus: 503, TokenStatusTimes: 1})
		src := source(t, s.client, expired(tok, clock))
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
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		s.srv.SetFaults(pkcetest.Faults{Hang: true})
		src := source(t, s.client, expired(tok, clock), pkce.WithRefreshTimeout(100*time.Millisecond))
		_, err := src.Token()
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assertOneClass(t, err, pkce.ErrTryLater)
	})

	t.Run("a waiter whose context ends returns at once; the refresh goes on for others", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		s.srv.SetFaults(pkcetest.Faults{Delay: 300 * time.Millisecond})
		src := source(t, s.client, expired(tok, clock))

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
		err := <-impatient
		assert.ErrorIs(t, err, context.Canceled)
		assertOneClass(t, err, pkce.ErrTryLater)
		assert.NoError(t, <-patient, "the cancelled caller did not cancel the shared refresh")
		assert.Equal(t, 1, s.srv.RefreshRequests())
	})

	t.Run("no refresh token", func(t *testing.T) {
		clock := newFakeClock()
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		cp := expired(tok, clock)
		cp.RefreshToken = ""
		_, err := source(t, s.client, cp).Token()
		assertOneClass(t, err, pkce.ErrSignInRequired)
		assert.Equal(t, 0, s.srv.RefreshRequests())
	})
}

func TestTokenSourceClient(t *testing.T) {
	clock := newFakeClock()
	s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true}, pkce.WithClock(clock.Now))
	tok := s.signedIn(t)
	hc := source(t, s.client, expired(tok, clock)).Client(context.Background())
	resp, err := hc.Get(s.srv.ResourceURL())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 1, s.srv.RefreshRequests(), "the expired token was refreshed first")
}

// expiredToken is a token that needs a refresh, by the real clock.
func expiredToken() *oauth2.Token {
	return &oauth2.Token{AccessToken: "old-access", TokenType: "Bearer", RefreshToken: "old-refresh", Expiry: time.Now().Add(-time.Minute)}
}

func TestTokenSourceOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []pkce.SourceOption
		wantErr string // "" means accepted
	}{
		{"defaults", nil, ""},
		{"zero expiry margin", []pkce.SourceOption{pkce.WithExpiryMargin(0)}, ""},
		{"positive refresh timeout", []pkce.SourceOption{pkce.WithRefreshTimeout(time.Second)}, ""},
		{"WithExpiryMargin(-time.Hour)", []pkce.SourceOption{pkce.WithExpiryMargin(-time.Hour)}, "expiry margin"},
		{"WithExpiryMargin(-1ns)", []pkce.SourceOption{pkce.WithExpiryMargin(-1)}, "expiry margin"},
		{"WithRefreshTimeout(0)", []pkce.SourceOption{pkce.WithRefreshTimeout(0)}, "refresh timeout"},
		{"WithRefreshTimeout(-time.Second)", []pkce.SourceOption{pkce.WithRefreshTimeout(-time.Second)}, "refresh timeout"},
		{"OnRefresh(nil)", []pkce.SourceOption{pkce.OnRefresh(nil)}, "OnRefresh"},
		{"nil option", []pkce.SourceOption{nil}, "option 0 is nil"},
		{"nil option after a good one", []pkce.SourceOption{pkce.WithExpiryMargin(time.Second), nil}, "option 1 is nil"},
	}
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	c := clientFor(t, te, testSecret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := c.TokenSource(validToken(), tt.opts...)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, src)
				_, err := src.Token()
				assert.NoError(t, err)
				return
			}
			assert.Nil(t, src)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}
