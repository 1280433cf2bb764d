package pkce

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Defaults of a TokenSource.
const (
	defaultExpiryMargin   = 10 * time.Second
	defaultRefreshTimeout = 30 * time.Second
	minBackoff            = time.Second
	maxBackoff            = 30 * time.Second
)

// A SourceOption configures a TokenSource. TokenSource checks every option
// and fails with ErrInvalidConfig on a bad one.
type SourceOption func(*TokenSource) error

// OnRefresh sets a hook that runs whenever the source obtains a new token,
// before any caller receives it; save the token there (a rotated refresh
// token exists nowhere else). If the hook fails or panics, callers get an
// ErrTryLater error and the token is not handed out; the next call runs
// the hook again with the same token, without another refresh. The hook
// gets the refresh's context, bounded by the refresh timeout: honour it.
func OnRefresh(save func(context.Context, *Token) error) SourceOption {
	return func(s *TokenSource) error {
		if save == nil {
			return configErrorf("OnRefresh was given a nil function")
		}
		s.onRefresh = save
		return nil
	}
}

// WithExpiryMargin sets how long before its expiry a token is refreshed;
// the default is 10 seconds. The margin never exceeds half the token's
// lifetime, so short-lived tokens are not refreshed on every call.
func WithExpiryMargin(d time.Duration) SourceOption {
	return func(s *TokenSource) error {
		if d < 0 {
			return configErrorf("expiry margin %v is negative; it would hand out expired tokens", d)
		}
		s.margin = d
		return nil
	}
}

// WithRefreshTimeout bounds each refresh, the OnRefresh hook included,
// whoever waits for it; the default is 30 seconds.
func WithRefreshTimeout(d time.Duration) SourceOption {
	return func(s *TokenSource) error {
		if d <= 0 {
			return configErrorf("refresh timeout %v is not positive", d)
		}
		s.timeout = d
		return nil
	}
}

// A TokenSource hands out a valid access token and refreshes it when it
// nears expiry. It implements oauth2.TokenSource and is safe for
// concurrent use:
//
//   - a valid token is returned without I/O, allocation or locking;
//   - many callers that find the token expired share one refresh request,
//     which runs with its own timeout; each caller can stop waiting through
//     its own context without cancelling the refresh for the others;
//   - a new token reaches the OnRefresh hook before any caller;
//   - every error matches exactly one of ErrSignInRequired, ErrTryLater
//     and ErrClientRejected. After ErrSignInRequired, and after SignOut,
//     the source keeps returning it without contacting the server; after
//     the others it waits a short, growing back-off before trying again.
//
// Keep one TokenSource per user and share it between requests: two
// sources holding the same refresh token each redeem it, and a server
// that rotates refresh tokens then refuses one of them or revokes the
// grant. Across processes and replicas, share a Store and take sources
// from a Tokens.
//
// Token returns an *oauth2.Token, which prints its secrets with %v and
// slog; log a pkce.Token{Token: tok} instead, which prints without them.
//
// Make a TokenSource with Client.TokenSource or Tokens.Source; the zero
// value and a nil pointer fail with ErrInvalidConfig, never a panic.
type TokenSource struct {
	dpop      *dpopProver // the client's, for DPoP tokens; nil without WithDPoP
	refresh   func(ctx context.Context, current *Token) (*Token, error)
	revoke    func(ctx context.Context, tok *oauth2.Token) error
	onRefresh func(context.Context, *Token) error
	margin    time.Duration
	timeout   time.Duration
	// stepBound is how long a refresh step that bounds itself may take
	// before the hook's timeout starts: all of a Tokens source's refresh
	// (Tokens.flightBound), which may wait for another replica's lease.
	// Zero for a plain source, whose step has the timeout.
	stepBound time.Duration
	now       func() time.Time
	// clientSecret is the client secret in the forms it travels in, kept
	// out of what a panic during a refresh says.
	clientSecret []string

	current atomic.Pointer[sourceState]

	mu       sync.Mutex // guards the fields below; never held during I/O
	inflight *refreshCall
	failure  error
	retryAt  time.Time // zero with a terminal failure
	backoff  time.Duration
	// signedOut is set by SignOut; orphan is what a refresh in flight at
	// that moment obtained, for SignOut to revoke.
	signedOut bool
	orphan    *oauth2.Token
}

// sourceState is an immutable snapshot of the current token.
type sourceState struct {
	token     *oauth2.Token
	full      *Token
	refreshAt time.Time // zero: the token does not expire
	unsaved   bool      // the OnRefresh hook has not accepted it yet
}

// A refreshCall is one refresh and its waiters. overdue closes when the
// refresh should have finished: one timer for all the waiters.
type refreshCall struct {
	done    chan struct{}
	overdue chan struct{}
	token   *oauth2.Token
	err     error
}

// TokenSource returns a source that starts from tok (which may come from
// Finish or from storage) and refreshes it with this client. It fails
// with ErrInvalidConfig when an option is bad.
func (c *Client) TokenSource(tok *oauth2.Token, opts ...SourceOption) (*TokenSource, error) {
	if err := c.made(); err != nil {
		return nil, err
	}
	s := c.newSource(func(ctx context.Context, cur *Token) (*Token, error) {
		return c.refreshFrom(ctx, cur) // openid.go
	})
	if err := s.apply(opts); err != nil {
		return nil, err
	}
	if tok != nil {
		s.current.Store(s.state(&Token{Token: tok}, false))
	}
	return s, nil
}

func (c *Client) newSource(refresh func(context.Context, *Token) (*Token, error)) *TokenSource {
	return &TokenSource{dpop: c.dpop, refresh: refresh, revoke: c.Revoke, margin: defaultExpiryMargin,
		timeout: defaultRefreshTimeout, now: c.now, clientSecret: c.secretForms}
}

func (s *TokenSource) apply(opts []SourceOption) error {
	for i, opt := range opts {
		if opt == nil {
			return configErrorf("source option %d is nil", i)
		}
		if err := opt(s); err != nil {
			return err
		}
	}
	return nil
}

// state computes when tok is due for refresh: margin before expiry, but
// never more than half its lifetime, which is expires_in when known and
// what is left of it otherwise.
func (s *TokenSource) state(tok *Token, unsaved bool) *sourceState {
	st := &sourceState{token: tok.Token, full: tok, unsaved: unsaved}
	if !tok.Expiry.IsZero() {
		lifetime := tok.Expiry.Sub(s.now())
		if tok.ExpiresIn > 0 {
			lifetime = time.Duration(tok.ExpiresIn) * time.Second
		}
		st.refreshAt = tok.Expiry.Add(-min(s.margin, lifetime/2))
	}
	return st
}

// usable reports whether st can be handed out at now.
func (st *sourceState) usable(now time.Time) bool {
	return st != nil && !st.unsaved && st.token.AccessToken != "" &&
		(st.refreshAt.IsZero() || now.Before(st.refreshAt))
}

// Token returns a valid token, refreshing it if needed. It implements
// oauth2.TokenSource; prefer TokenContext where a context is at hand.
func (s *TokenSource) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

// TokenContext returns a valid token, refreshing it if needed. ctx bounds
// only this caller's wait, and its values (such as an oauth2.HTTPClient)
// are used by a refresh it starts. A caller whose ctx ends first gets an
// ErrTryLater error that also matches ctx.Err().
func (s *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if s == nil || s.now == nil {
		return nil, errZeroSource
	}
	if st := s.current.Load(); st.usable(s.now()) {
		return st.token, nil
	}
	return s.wait(ctx)
}

// bound is how long a refresh may take, waiting for its turn included.
func (s *TokenSource) bound() time.Duration { return s.stepBound + s.timeout }

func (s *TokenSource) wait(ctx context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	st := s.current.Load()
	now := s.now()
	if st.usable(now) {
		s.mu.Unlock()
		return st.token, nil
	}
	if s.failure != nil && (s.retryAt.IsZero() || now.Before(s.retryAt)) {
		err := s.failure
		s.mu.Unlock()
		return nil, err
	}
	call := s.inflight
	if call == nil {
		call = &refreshCall{done: make(chan struct{}), overdue: make(chan struct{})}
		s.inflight = call
		go s.run(context.WithoutCancel(ctx), call, st)
	}
	s.mu.Unlock()

	// The refresh is bounded; a hook or store that ignores its context
	// must not hold callers longer than that. The caller's own context
	// speaks first.
	if err := ctx.Err(); err != nil {
		return nil, &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: gave up waiting for the token refresh: %w", err)}
	}
	select {
	case <-call.done:
		return call.token, call.err
	case <-ctx.Done():
		return nil, &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: gave up waiting for the token refresh: %w", ctx.Err())}
	case <-call.overdue:
		return nil, &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: the token refresh did not finish within %v; an OnRefresh hook or store may be ignoring its context", s.bound())}
	}
}

// run performs one refresh (or, for a token the hook has not accepted,
// only the hook) and publishes the outcome to every waiter.
func (s *TokenSource) run(ctx context.Context, call *refreshCall, st *sourceState) {
	overdue := time.AfterFunc(s.bound()+time.Second, func() { close(call.overdue) })
	defer overdue.Stop()
	// The refresh gets the timeout; a source of Tokens whose refresh
	// must first wait for another replica's lease bounds that wait, and
	// the refresh after it, itself (Tokens.refreshLeased). Only this
	// deadline ends ctx: the refresh step may rely on it.
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	next, saved, err := s.obtain(ctx, st)

	s.mu.Lock()
	switch {
	case s.signedOut:
		// Nobody gets what the refresh obtained; SignOut revokes it.
		if next != nil {
			s.orphan = next.Token
		}
		err = s.failure
	case next != nil:
		// The refresh itself succeeded; if only the hook failed, the next
		// call runs the hook again right away.
		s.current.Store(s.state(next, !saved))
		s.failure, s.backoff = nil, 0
	case errors.Is(err, ErrSignInRequired):
		s.failure, s.retryAt = err, time.Time{}
	default:
		s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
		if errors.Is(err, ErrClientRejected) {
			s.backoff = maxBackoff
		}
		s.failure, s.retryAt = err, s.now().Add(s.backoff)
	}
	s.inflight = nil
	s.mu.Unlock()

	if err == nil {
		call.token = next.Token
	}
	call.err = err
	close(call.done)
}

// obtain returns the token to publish, a refreshed one or the unsaved one
// that the hook must see again, and whether the hook accepted it. A panic
// in the application's code (the hook, a Store) becomes an ErrTryLater
// error: it happens on the source's own goroutine, where nothing else
// could recover it.
func (s *TokenSource) obtain(ctx context.Context, st *sourceState) (next *Token, saved bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			saved = false
			err = &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: panic during the token refresh: %s", s.panicText(v, st, next))}
		}
	}()
	switch {
	case st != nil && st.unsaved:
		next = st.full
	case st == nil || st.token.RefreshToken == "":
		return nil, false, &refreshError{class: ErrSignInRequired, err: errNoRefreshToken}
	default:
		next, err = s.refresh(ctx, st.full)
		if err != nil {
			var re *refreshError
			if !errors.As(err, &re) {
				err = &refreshError{class: ErrTryLater, err: err}
			}
			return nil, false, err
		}
		if next == nil || next.Token == nil {
			return nil, false, &refreshError{class: ErrTryLater, err: errors.New("pkce: the refresh returned no token and no error")}
		}
	}
	if s.onRefresh != nil {
		if ctx.Err() != nil && s.stepBound > 0 {
			// The refresh waited for the lease past the first deadline;
			// the hook gets a bound of its own.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
			defer cancel()
		}
		if hookErr := s.onRefresh(ctx, next); hookErr != nil {
			return next, false, &refreshError{class: ErrTryLater,
				err: fmt.Errorf("pkce: the OnRefresh hook failed; the new token was not handed out: %w", hookErr)}
		}
	}
	return next, true, nil
}

// panicText describes a recovered panic without the tokens involved or
// the client secret.
func (s *TokenSource) panicText(v any, st *sourceState, next *Token) string {
	secrets := redactor{client: s.clientSecret}
	if st != nil {
		secrets.request[0], secrets.request[1] = st.token.AccessToken, st.token.RefreshToken
	}
	if next != nil && next.Token != nil {
		secrets.request[2], secrets.request[3] = next.AccessToken, next.RefreshToken
	}
	return clip(secrets.clean(fmt.Sprint(v)), 300)
}

// SignOut ends the session of the source: it forgets the token and revokes
// it at the authorization server (RFC 7009) with Client.Revoke. From the
// moment SignOut is called, Token and TokenContext fail with
// ErrSignInRequired without contacting the server. A refresh in flight is
// waited for (at most its timeout) and what it obtained is revoked in
// place of the older token.
//
// The token is forgotten even when revocation fails; the error then says
// why, and the token may still be valid at the server until it expires.
// SignOut does not touch storage: delete the saved token as well.
func (s *TokenSource) SignOut(ctx context.Context) error {
	if s == nil || s.now == nil {
		return errZeroSource
	}
	s.mu.Lock()
	s.signedOut = true
	s.failure, s.retryAt = &refreshError{class: ErrSignInRequired, err: errSignedOut}, time.Time{}
	var tok *oauth2.Token
	if st := s.current.Swap(nil); st != nil {
		tok = st.token
	}
	call := s.inflight
	s.mu.Unlock()

	if call != nil {
		select {
		case <-call.done:
		case <-call.overdue: // revoke what we have; the grant may end with it
		case <-ctx.Done():
			return fmt.Errorf("pkce: signed out, but gave up waiting for the refresh in flight, so nothing was revoked: %w", ctx.Err())
		}
		s.mu.Lock()
		if s.orphan != nil {
			tok, s.orphan = s.orphan, nil
		}
		s.mu.Unlock()
	}
	if tok == nil {
		return nil
	}
	return s.revoke(ctx, tok)
}

var errSignedOut = errors.New("pkce: signed out; the token source has no token")

// describe prints the source without its tokens.
func (s *TokenSource) describe() string {
	if s == nil {
		return "pkce.TokenSource(nil)"
	}
	st := s.current.Load()
	if st == nil {
		return "pkce.TokenSource{token: none}"
	}
	return fmt.Sprintf("pkce.TokenSource{token: %v, refresh_at: %s}", st.full, expiryString(st.refreshAt))
}

// Format prints the source without its tokens for every verb, %#v
// included.
func (s *TokenSource) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.describe()) }
