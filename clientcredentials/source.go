package clientcredentials

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pkcekit/pkce"
	"golang.org/x/oauth2"
)

// A Source hands out a client credentials token and requests a new one
// when it nears expiry. Concurrent callers share one request. With a
// Store, the token is kept there under Key, and the processes and
// replicas sharing the Store share it too: a renewal takes Key's lease in
// the Store, reads the stored token again, and requests a new one only
// when the stored one is also near expiry, so that one token request is
// made per expiry across all of them. A process that dies while holding
// the lease blocks the others no longer than the lease, Timeout plus 5
// seconds.
//
// When a renewal fails, its callers share the error, and so do the
// callers of the next second; the wait doubles with each failure in a row,
// up to 30 seconds, so that a failing server is not asked by every caller.
// Meanwhile a token that is within the margin but not yet expired is still
// handed out.
//
// A DPoP-bound token (pkce.WithDPoP) is usable only with its key: every
// process that shares a Key must then use the same DPoP key.
//
// Set the fields before the first call; a Source must not be copied after
// first use. It is safe for concurrent use.
type Source struct {
	// Client requests the tokens; required.
	Client *pkce.Client
	// Store keeps the token for every process that shares it; nil keeps
	// it in this Source only.
	Store pkce.Store
	// Key is the subject under which the token is stored; required with a
	// Store. Use one Key per client, scope and resource: processes that
	// share a Key share the token.
	Key string
	// ExpiryMargin is how long before its expiry a token is renewed; 0
	// means one minute. It never exceeds half the token's lifetime, so
	// that short-lived tokens are not requested on every call.
	ExpiryMargin time.Duration
	// Timeout bounds one token request, from the moment the lease is
	// held; 0 means 30 seconds. The lease lasts Timeout plus 5 seconds.
	Timeout time.Duration

	mu      sync.Mutex // guards the fields below
	current *pkce.Token
	flight  *flight // the renewal under way, which callers join
	joined  int     // callers that joined a flight, for tests
	owner   string

	// After a failed renewal, callers get its error until retryAt, and
	// the wait doubles with each failure in a row (backoff), so that a
	// failing server is not asked again by every caller.
	failure error
	retryAt time.Time
	backoff time.Duration
	now     func() time.Time // time.Now; tests set it
}

// A flight is one renewal that every caller asking meanwhile waits for,
// so that they share its token or its failure: a failing server gets one
// request per wave of callers, not one per caller.
type flight struct {
	done chan struct{}
	tok  *pkce.Token
	err  error
}

// Lease timing: a renewal is bounded by Timeout, 30 seconds by default,
// and its lease outlives it by leaseSlack.
const (
	defaultTimeout = 30 * time.Second
	leaseSlack     = 5 * time.Second
	pollFirst      = 10 * time.Millisecond
	minBackoff     = time.Second
	maxBackoff     = 30 * time.Second
	pollMax        = 200 * time.Millisecond
)

// Token returns a token valid for more than ExpiryMargin, requesting one
// when this Source (and, with a Store, the stored token) has none. Errors
// of the request are the pkce.Client's; errors of the Store say so.
func (s *Source) Token(ctx context.Context) (*pkce.Token, error) {
	if s.Client == nil {
		return nil, errors.New("pkce/clientcredentials: Source has no Client")
	}
	if s.Store != nil && s.Key == "" {
		return nil, errors.New("pkce/clientcredentials: Source has a Store but no Key")
	}
	s.mu.Lock()
	if s.usable(s.current) {
		tok := s.current
		s.mu.Unlock()
		return tok, nil
	}
	if s.failure != nil && s.clock().Before(s.retryAt) {
		tok, err := s.orUnexpired(s.failure)
		s.mu.Unlock()
		return tok, err
	}
	f := s.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.flight = f
		// The renewal runs on its own, so that a caller that gives up
		// does not end it for the others.
		go s.renew(context.WithoutCancel(ctx), f)
	} else {
		s.joined++
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.orUnexpired(f.err)
		}
		return f.tok, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("pkce/clientcredentials: waiting for the token: %w", ctx.Err())
	}
}

// renew obtains a token for f, within the request timeout and, with a
// Store, the wait for another process's lease.
func (s *Source) renew(ctx context.Context, f *flight) {
	defer close(f.done)
	defer func() {
		// The Store is the application's code: its panic fails this
		// renewal instead of the process.
		if v := recover(); v != nil {
			f.tok, f.err = nil, fmt.Errorf("pkce/clientcredentials: panic while renewing the token: %v", v)
			s.settle(f)
		}
	}()
	if s.Store == nil {
		ctx, cancel := context.WithTimeout(ctx, s.timeout())
		defer cancel()
		f.tok, f.err = Token(ctx, s.Client)
	} else {
		ctx, cancel := context.WithTimeout(ctx, 2*s.timeout()+leaseSlack)
		defer cancel()
		f.tok, f.err = s.shared(ctx)
	}
	s.settle(f)
}

// settle records the outcome of f and ends it.
func (s *Source) settle(f *flight) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flight = nil
	if f.err == nil {
		s.current, s.failure, s.backoff = f.tok, nil, 0
		return
	}
	s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
	s.failure, s.retryAt = f.err, s.clock().Add(s.backoff)
}

// orUnexpired returns the token held if it has not expired yet, though
// it is within the margin, rather than err: it still works (s.mu held).
func (s *Source) orUnexpired(err error) (*pkce.Token, error) {
	if tok := s.current; tok != nil && tok.Token != nil && tok.AccessToken != "" &&
		(tok.Expiry.IsZero() || s.clock().Before(tok.Expiry)) {
		return tok, nil
	}
	return nil, err
}

func (s *Source) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// TokenSource returns an oauth2.TokenSource over s whose requests use
// ctx, for oauth2.NewClient and oauth2.Transport.
func (s *Source) TokenSource(ctx context.Context) oauth2.TokenSource {
	return tokenSource{ctx: ctx, s: s}
}

type tokenSource struct {
	ctx context.Context
	s   *Source
}

func (ts tokenSource) Token() (*oauth2.Token, error) {
	tok, err := ts.s.Token(ts.ctx)
	if err != nil {
		return nil, err
	}
	return tok.Token, nil
}

func (s *Source) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return defaultTimeout
}

func (s *Source) margin() time.Duration {
	if s.ExpiryMargin > 0 {
		return s.ExpiryMargin
	}
	return time.Minute
}

// usable reports whether tok can be handed out: a token without expiry is
// good until the server refuses it.
func (s *Source) usable(tok *pkce.Token) bool {
	if tok == nil || tok.Token == nil || tok.AccessToken == "" {
		return false
	}
	margin := s.margin()
	if tok.ExpiresIn > 0 {
		// A token that lives less than twice the margin is renewed at
		// half its lifetime, not on every call.
		margin = min(margin, time.Duration(tok.ExpiresIn)*time.Second/2)
	}
	return tok.Expiry.IsZero() || tok.Expiry.Sub(s.clock()) > margin
}

// shared renews the token under Key's lease in the Store.
func (s *Source) shared(ctx context.Context) (*pkce.Token, error) {
	if s.owner == "" {
		var id [16]byte
		rand.Read(id[:])
		s.owner = base64.RawURLEncoding.EncodeToString(id[:])
	}
	poll := pollFirst
	for {
		stored, _, err := s.load(ctx)
		if err != nil {
			return nil, err
		}
		if s.usable(stored) {
			return stored, nil
		}
		ok, err := s.Store.Lease(ctx, s.Key, s.owner, s.timeout()+leaseSlack)
		if err != nil {
			return nil, fmt.Errorf("pkce/clientcredentials: store failed taking the lease: %w", err)
		}
		if ok {
			break
		}
		// Another process is renewing; its token will be stored.
		timer := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("pkce/clientcredentials: waiting for another process's token request: %w", ctx.Err())
		case <-timer.C:
		}
		poll = min(2*poll, pollMax)
	}
	defer func() {
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		s.Store.Release(release, s.Key, s.owner) // an unreleased lease ends with its ttl
	}()
	// Under the lease: the token may have been stored between the look
	// and the lease.
	stored, storedBytes, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	if s.usable(stored) {
		return stored, nil
	}
	reqCtx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	tok, err := Token(reqCtx, s.Client)
	if err != nil {
		return nil, err
	}
	b, err := encode(tok)
	if err != nil {
		return nil, err
	}
	// Compare-and-set, so that a token stored by a process whose lease
	// ran out is not overwritten blindly; either token is valid. A store
	// that fails here costs the other processes one more request, not
	// this one its token.
	s.Store.SaveToken(ctx, s.Key, storedBytes, b)
	return tok, nil
}

// load reads the stored token; none is nil.
func (s *Source) load(ctx context.Context) (*pkce.Token, []byte, error) {
	b, err := s.Store.LoadToken(ctx, s.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("pkce/clientcredentials: store failed loading the token: %w", err)
	}
	if b == nil {
		return nil, nil, nil
	}
	tok, err := decode(b)
	if err != nil {
		// A token this package cannot read is replaced, not fatal.
		return nil, b, nil
	}
	return tok, b, nil
}

// stored is a token's stored form.
type stored struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type,omitempty"`
	Expiry      time.Time `json:"expiry,omitzero"`
	ExpiresIn   int64     `json:"expires_in,omitempty"` // the lifetime, which bounds the margin
	Scope       *string   `json:"scope,omitempty"`
}

func encode(tok *pkce.Token) ([]byte, error) {
	st := stored{AccessToken: tok.AccessToken, TokenType: tok.TokenType, Expiry: tok.Expiry, ExpiresIn: tok.ExpiresIn}
	if sc, ok := tok.Extra("scope").(string); ok {
		st.Scope = &sc
	}
	return json.Marshal(st)
}

func decode(b []byte) (*pkce.Token, error) {
	var st stored
	if err := json.Unmarshal(b, &st); err != nil || st.AccessToken == "" {
		return nil, errors.New("pkce/clientcredentials: the stored token does not decode")
	}
	extra := map[string]any{"access_token": st.AccessToken, "token_type": st.TokenType}
	if st.Scope != nil {
		extra["scope"] = *st.Scope
	}
	t := &oauth2.Token{AccessToken: st.AccessToken, TokenType: st.TokenType, Expiry: st.Expiry, ExpiresIn: st.ExpiresIn}
	return &pkce.Token{Token: t.WithExtra(extra)}, nil
}
