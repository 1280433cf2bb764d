package pkce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Refresh runs the refresh grant (RFC 6749 §6) with the client's
// authentication. scopes, when given, ask for a narrower scope than the
// original grant (RFC 6749 §6); servers may ignore the request and grant
// the original scope again, so check the returned token's Scope.
//
// If the response carries a new refresh token, the returned token has it
// and the old one must not be used again; if it omits refresh_token, the
// returned token keeps refreshToken. The response gets the same checks as
// in Exchange. Errors are classified for retry decisions: see
// ErrSignInRequired and ErrTryLater.
func (c *Client) Refresh(ctx context.Context, refreshToken string, scopes ...string) (*Token, error) {
	if refreshToken == "" {
		return nil, &RefreshError{Err: errNoRefreshToken, Terminal: true}
	}
	// clientcredentials lets grant_type be overridden, which gives a clean
	// refresh request with an optional scope through x/oauth2's transport.
	cc := clientcredentials.Config{
		ClientID:     c.config.ClientID,
		ClientSecret: c.config.ClientSecret,
		TokenURL:     c.config.Endpoint.TokenURL,
		Scopes:       scopes,
		AuthStyle:    c.config.Endpoint.AuthStyle,
		EndpointParams: url.Values{
			"grant_type":    {"refresh_token"},
			"refresh_token": {refreshToken},
		},
	}
	secrets := c.redactor(refreshToken)
	tok, err := c.retrieve(ctx, "refresh_token", secrets, cc.Token)
	if err != nil {
		return nil, classify(err)
	}
	if rt, _ := tok.Extra("refresh_token").(string); rt == "" {
		tok.RefreshToken = refreshToken
	}
	return tok, nil
}

var errNoRefreshToken = errors.New("pkce: the token has no refresh token")

// ErrSignInRequired matches refresh errors that retrying cannot fix: the
// refresh token was refused (invalid_grant: expired, revoked, or rotated
// away), the client was refused (invalid_client, unauthorized_client), or
// there is no refresh token. The user must sign in again.
var ErrSignInRequired = errors.New("pkce: sign-in required")

// ErrTryLater matches refresh errors that may pass: network errors,
// timeouts, 5xx and 429 answers, and malformed responses. The refresh
// token is kept.
var ErrTryLater = errors.New("pkce: refresh failed for now; try later")

// A RefreshError is a failed refresh. errors.Is matches it against
// ErrSignInRequired or ErrTryLater, and against whatever it wraps
// (a *TokenError, a *ResponseError, context.DeadlineExceeded, ...).
type RefreshError struct {
	Err      error
	Terminal bool
}

func (e *RefreshError) Error() string {
	if e.Terminal {
		return e.Err.Error() + " (sign-in required)"
	}
	return e.Err.Error() + " (try later)"
}

func (e *RefreshError) Unwrap() error { return e.Err }

func (e *RefreshError) Is(target error) bool {
	return target == ErrSignInRequired && e.Terminal || target == ErrTryLater && !e.Terminal
}

// classify wraps a refresh failure in a *RefreshError.
func classify(err error) error {
	var tokErr *TokenError
	if errors.As(err, &tokErr) {
		transient := tokErr.StatusCode >= 500 || tokErr.StatusCode == http.StatusTooManyRequests ||
			tokErr.Code == string(ErrServerError) || tokErr.Code == string(ErrTemporarilyUnavailable)
		return &RefreshError{Err: err, Terminal: !transient}
	}
	return &RefreshError{Err: err}
}

// A RefreshFunc performs one refresh. Client.Refresh is the default; a
// wrapper can add a cross-process lock so that replicas sharing one
// refresh token do not both redeem it (with rotation, the second would be
// refused or revoke the grant): take the lock, reload the stored token,
// and call the wrapped RefreshFunc only if the stored refresh token is
// still refreshToken.
type RefreshFunc func(ctx context.Context, refreshToken string) (*Token, error)

// Defaults of a TokenSource.
const (
	DefaultExpiryMargin   = 10 * time.Second
	DefaultRefreshTimeout = 30 * time.Second
	minBackoff            = time.Second
	maxBackoff            = 30 * time.Second
)

// A SourceOption configures a TokenSource.
type SourceOption func(*TokenSource)

// OnRefresh sets a hook that runs whenever the source obtains a new token,
// before any caller receives it; save the token there (a rotated refresh
// token exists nowhere else). If the hook fails, callers get its error and
// the token is not handed out; the next call runs the hook again with the
// same token, without another refresh.
func OnRefresh(save func(context.Context, *Token) error) SourceOption {
	return func(s *TokenSource) { s.onRefresh = save }
}

// WithExpiryMargin sets how long before its expiry a token is refreshed
// (DefaultExpiryMargin if not set). The margin never exceeds half the
// token's lifetime, so short-lived tokens are not refreshed on every call.
func WithExpiryMargin(d time.Duration) SourceOption { return func(s *TokenSource) { s.margin = d } }

// WithRefreshTimeout bounds each refresh, whoever waits for it
// (DefaultRefreshTimeout if not set).
func WithRefreshTimeout(d time.Duration) SourceOption { return func(s *TokenSource) { s.timeout = d } }

// WrapRefresh wraps the refresh step, for example in a cross-process lock
// (see RefreshFunc).
func WrapRefresh(wrap func(RefreshFunc) RefreshFunc) SourceOption {
	return func(s *TokenSource) { s.refresh = wrap(s.refresh) }
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
//   - after a terminal failure (ErrSignInRequired), and after SignOut,
//     the source keeps returning that error without contacting the
//     server; after a transient one (ErrTryLater) it waits a short,
//     growing back-off before trying again.
type TokenSource struct {
	refresh   RefreshFunc
	revoke    func(ctx context.Context, token string, hint TokenTypeHint) error
	onRefresh func(context.Context, *Token) error
	margin    time.Duration
	timeout   time.Duration
	now       func() time.Time

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

type refreshCall struct {
	done  chan struct{}
	token *oauth2.Token
	err   error
}

// TokenSource returns a source that starts from tok (which may come from
// Exchange or from storage) and refreshes it with this client.
func (c *Client) TokenSource(tok *oauth2.Token, opts ...SourceOption) *TokenSource {
	s := &TokenSource{
		refresh: func(ctx context.Context, rt string) (*Token, error) { return c.Refresh(ctx, rt) },
		revoke:  c.Revoke,
		margin:  DefaultExpiryMargin,
		timeout: DefaultRefreshTimeout,
		now:     c.now,
	}
	for _, opt := range opts {
		opt(s)
	}
	if tok != nil {
		s.current.Store(s.state(&Token{Token: tok}, false))
	}
	return s
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
// only this caller's wait; its values (such as an oauth2.HTTPClient) are
// used by a refresh it starts.
func (s *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if st := s.current.Load(); st.usable(s.now()) {
		return st.token, nil
	}
	return s.wait(ctx)
}

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
		call = &refreshCall{done: make(chan struct{})}
		s.inflight = call
		go s.run(context.WithoutCancel(ctx), call, st)
	}
	s.mu.Unlock()

	select {
	case <-call.done:
		return call.token, call.err
	case <-ctx.Done():
		return nil, fmt.Errorf("pkce: gave up waiting for the token refresh: %w", ctx.Err())
	}
}

// run performs one refresh (or, for a token the hook has not accepted,
// only the hook) and publishes the outcome to every waiter.
func (s *TokenSource) run(ctx context.Context, call *refreshCall, st *sourceState) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	next, err := s.obtain(ctx, st)
	saved := err == nil
	if err == nil && s.onRefresh != nil {
		if hookErr := s.onRefresh(ctx, next); hookErr != nil {
			err = fmt.Errorf("pkce: the OnRefresh hook failed; the new token was not handed out: %w", hookErr)
			saved = false
		}
	}

	s.mu.Lock()
	switch {
	case s.signedOut:
		// Nobody gets what the refresh obtained; SignOut revokes it.
		if next != nil {
			s.orphan = next.Token
		}
		if err == nil {
			err = s.failure
		}
	case next != nil:
		// The refresh itself succeeded; if only the hook failed, the next
		// call runs the hook again right away.
		s.current.Store(s.state(next, !saved))
		s.failure, s.backoff = nil, 0
	case errors.Is(err, ErrSignInRequired):
		s.failure, s.retryAt = err, time.Time{}
	default:
		s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
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

// obtain returns the token to publish: a refreshed one, or the unsaved one
// that the hook must see again.
func (s *TokenSource) obtain(ctx context.Context, st *sourceState) (*Token, error) {
	if st != nil && st.unsaved {
		return st.full, nil
	}
	if st == nil || st.token.RefreshToken == "" {
		return nil, &RefreshError{Err: errNoRefreshToken, Terminal: true}
	}
	tok, err := s.refresh(ctx, st.token.RefreshToken)
	if err != nil {
		var re *RefreshError
		if !errors.As(err, &re) {
			err = classify(err)
		}
		return nil, err
	}
	return tok, nil
}

// Client returns an HTTP client that sends the source's access token as a
// bearer token (RFC 6750 §2.1) and refreshes it as needed, using each
// request's context for the wait. Its transport is ctx's oauth2.HTTPClient's,
// or http.DefaultTransport.
func (s *TokenSource) Client(ctx context.Context) *http.Client {
	base := userHTTPClient(ctx, nil).Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Transport: &bearerTransport{source: s, base: base}}
}

type bearerTransport struct {
	source *TokenSource
	base   http.RoundTripper
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.source.TokenContext(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	return t.base.RoundTrip(r)
}

// String describes the source without its tokens.
func (s *TokenSource) String() string {
	st := s.current.Load()
	if st == nil {
		return "pkce.TokenSource{token: none}"
	}
	return fmt.Sprintf("pkce.TokenSource{token: %v, refresh_at: %s}", st.full, expiryString(st.refreshAt))
}

// Format prints the String form for every verb, %#v included.
func (s *TokenSource) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue implements slog.LogValuer without the tokens.
func (s *TokenSource) LogValue() slog.Value { return slog.StringValue(s.String()) }
