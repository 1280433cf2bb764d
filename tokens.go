package pkce

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Tokens keeps the tokens of many subjects (users, sessions: whatever key
// the application uses) in a Store, and makes the refresh guarantees of a
// TokenSource hold across every request, process and replica that shares
// the Store:
//
//   - Source returns the one TokenSource this process shares for a
//     subject, so concurrent requests share one refresh;
//   - a refresh takes the subject's lease in the Store, reloads the stored
//     token and refreshes only if the stored refresh token is still the
//     one it holds; otherwise another replica refreshed already, and its
//     token is used without a request;
//   - the new token is saved in the Store (compare-and-set) before the
//     lease is released and before any caller gets it;
//   - a replica that dies while refreshing blocks the others for no longer
//     than the lease, which lasts the refresh timeout plus 5 seconds.
//
// A valid token is served from memory without touching the Store. Memory
// is bounded: sources of subjects not asked for are evicted when more than
// 10,000 subjects are held. Tokens is safe for concurrent use; create one
// per Client and Store and share it.
//
// If a replica is killed after the server rotated the refresh token but
// before the new one was saved, the stored refresh token is dead: the next
// refresh fails with ErrSignInRequired (invalid_grant, or a 4xx without an
// error object), once, and the user must sign in again. No replica loops.
// A store that refuses the save until the refresh times out is the same
// case for the other replicas; the replica that refreshed keeps the new
// token and hands it out rather than drop it.
type Tokens struct {
	client *Client
	store  Store
	opts   []SourceOption
	owner  string // this Tokens' lease owner identity
	lease  time.Duration
	margin time.Duration // the sources' expiry margin

	sources sync.Map   // subject → *subjectSource; lock-free reads
	mu      sync.Mutex // serialises inserts, deletes and eviction
	count   int        // entries in sources, under mu
}

// A subjectSource is one subject's shared source. used marks it as asked
// for since the last eviction round (the second-chance, or clock,
// algorithm), so that a read costs one atomic load.
type subjectSource struct {
	src  *TokenSource
	used atomic.Bool
}

// maxSubjects bounds the sources a Tokens holds.
const maxSubjects = 10_000

// Tokens returns a Tokens over store whose sources refresh with this
// client and take opts (OnRefresh, WithExpiryMargin, WithRefreshTimeout).
// An OnRefresh hook runs after the new token is saved in the store.
func (c *Client) Tokens(store Store, opts ...SourceOption) (*Tokens, error) {
	if store == nil {
		return nil, configErrorf("Tokens was given a nil Store")
	}
	probe := c.newSource(nil)
	if err := probe.apply(opts); err != nil {
		return nil, err
	}
	var id [16]byte
	rand.Read(id[:])
	return &Tokens{client: c, store: store, opts: opts, owner: b64.EncodeToString(id[:]),
		lease: probe.timeout + 5*time.Second, margin: probe.margin}, nil
}

// Save stores tok as subject's token, after sign-in (unconditionally: a
// new sign-in replaces whatever was stored), and makes this process's
// source of subject start from it.
func (t *Tokens) Save(ctx context.Context, subject string, tok *Token) error {
	if tok == nil || tok.Token == nil {
		return errors.New("pkce: Tokens.Save was given no token")
	}
	b, err := encodeToken(tok)
	if err != nil {
		return err
	}
	if _, err := t.store.SaveToken(ctx, subject, nil, b); err != nil {
		return fmt.Errorf("pkce: saving the token: %w", err)
	}
	t.forget(subject)
	return nil
}

// Source returns the TokenSource this process shares for subject, loading
// the subject's token from the store the first time. When the store has
// no token for subject, it fails with an error matching
// ErrSignInRequired; when the store fails, with one matching ErrTryLater.
func (t *Tokens) Source(ctx context.Context, subject string) (*TokenSource, error) {
	if v, ok := t.sources.Load(subject); ok {
		ss := v.(*subjectSource)
		if !ss.used.Load() {
			ss.used.Store(true)
		}
		return ss.src, nil
	}
	stored, _, err := t.load(ctx, subject)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		return nil, &refreshError{class: ErrSignInRequired, err: errors.New("pkce: no token is stored for this subject")}
	}
	src := t.client.newSource(func(ctx context.Context, cur *Token) (*Token, error) {
		return t.refresh(ctx, subject, cur)
	})
	if err := src.apply(t.opts); err != nil {
		return nil, err
	}
	src.current.Store(src.state(stored, false))

	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.sources.Load(subject); ok { // another caller was first
		return v.(*subjectSource).src, nil
	}
	if t.count >= maxSubjects {
		t.evict()
	}
	ss := &subjectSource{src: src}
	ss.used.Store(true)
	t.sources.Store(subject, ss)
	t.count++
	return src, nil
}

// evict drops the sources not asked for since the previous round, and
// marks the others unasked; it drops at least one. A caller still holding
// an evicted source can go on using it; it only stops being shared. t.mu
// is held.
func (t *Tokens) evict() {
	dropped := 0
	for dropped == 0 {
		t.sources.Range(func(k, v any) bool {
			if ss := v.(*subjectSource); !ss.used.Swap(false) {
				t.sources.Delete(k)
				dropped++
			}
			return true
		})
	}
	t.count -= dropped
}

// forget drops this process's source of subject.
func (t *Tokens) forget(subject string) *subjectSource {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.sources.LoadAndDelete(subject)
	if !ok {
		return nil
	}
	t.count--
	return v.(*subjectSource)
}

// SignOut deletes subject's token from the store, forgets this process's
// source and revokes the token at the authorization server (RFC 7009).
// The token is deleted even when revocation fails; the error says why.
// Other replicas' sources serve the access token they hold until it nears
// expiry; their next refresh finds no stored token and fails with
// ErrSignInRequired.
func (t *Tokens) SignOut(ctx context.Context, subject string) error {
	stored, _, err := t.load(ctx, subject)
	if err != nil {
		return err
	}
	if err := t.store.DeleteToken(ctx, subject); err != nil {
		return fmt.Errorf("pkce: deleting the token: %w", err)
	}
	if ss := t.forget(subject); ss != nil {
		ss.src.mu.Lock()
		ss.src.signedOut = true
		ss.src.failure, ss.src.retryAt = &refreshError{class: ErrSignInRequired, err: errSignedOut}, time.Time{}
		ss.src.current.Store(nil)
		ss.src.mu.Unlock()
	}
	if stored == nil {
		return nil
	}
	return t.client.Revoke(ctx, stored.Token)
}

// load reads subject's token from the store; a missing token is nil.
func (t *Tokens) load(ctx context.Context, subject string) (*Token, []byte, error) {
	b, err := t.store.LoadToken(ctx, subject)
	if err != nil {
		return nil, nil, storeError("loading the token", err)
	}
	if b == nil {
		return nil, nil, nil
	}
	tok, err := decodeToken(b)
	if err != nil {
		return nil, nil, &refreshError{class: ErrTryLater, err: err}
	}
	return tok, b, nil
}

func storeError(what string, err error) error {
	return &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: store failed %s: %w", what, err)}
}

// leasePoll bounds how often a replica waiting for another's refresh looks
// at the store.
const (
	leasePollMin = 10 * time.Millisecond
	leasePollMax = 200 * time.Millisecond
)

// refresh is the refresh step of a subject's source: it runs under the
// subject's lease, with the stored token as the truth.
func (t *Tokens) refresh(ctx context.Context, subject string, cur *Token) (*Token, error) {
	poll := leasePollMin
	for {
		ok, err := t.store.Lease(ctx, subject, t.owner, t.lease)
		if err != nil {
			return nil, storeError("taking the refresh lease", err)
		}
		if ok {
			break
		}
		// Another replica is refreshing: its token may be stored already.
		stored, _, err := t.load(ctx, subject)
		if err != nil {
			return nil, err
		}
		if t.newer(stored, cur) {
			return stored, nil
		}
		timer := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: waiting for another replica's refresh: %w", ctx.Err())}
		case <-timer.C:
		}
		poll = min(2*poll, leasePollMax)
	}
	defer func() {
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		t.store.Release(release, subject, t.owner) // an unreleased lease ends with its ttl
	}()

	stored, storedBytes, err := t.load(ctx, subject)
	switch {
	case err != nil:
		return nil, err
	case stored == nil:
		return nil, &refreshError{class: ErrSignInRequired, err: errors.New("pkce: no token is stored for this subject (signed out elsewhere?)")}
	case t.newer(stored, cur):
		return stored, nil
	}
	next, err := t.client.refreshFrom(ctx, stored) // openid.go
	if err != nil {
		return nil, err
	}
	b, err := encodeToken(next)
	if err != nil {
		return nil, &refreshError{class: ErrTryLater, err: err}
	}
	saved, err := t.save(ctx, subject, storedBytes, b)
	switch {
	case err != nil:
		// The server has issued the new token and may have rotated the
		// refresh token: dropping it would leave only a dead one. This
		// process hands it out (and to the OnRefresh hook); the store
		// keeps the old one, and another replica's refresh will end in
		// ErrSignInRequired.
		return next, nil
	case !saved:
		// Someone replaced the stored token while this lease was held
		// (a new sign-in, or a lease that ran out): theirs wins.
		if stored, _, err := t.load(ctx, subject); err == nil && stored != nil {
			return stored, nil
		}
	}
	return next, nil
}

// save stores a refreshed token, trying again while the store fails and
// ctx (the refresh's, bounded by its timeout) allows: the new token exists
// nowhere else.
func (t *Tokens) save(ctx context.Context, subject string, old, token []byte) (bool, error) {
	wait := leasePollMin
	for {
		saved, err := t.store.SaveToken(ctx, subject, old, token)
		if err == nil {
			return saved, nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false, err
		case <-timer.C:
		}
		wait = min(2*wait, leasePollMax)
	}
}

// newer reports whether stored differs from what the source holds and
// can be handed out, so that no refresh is needed.
func (t *Tokens) newer(stored, cur *Token) bool {
	if stored == nil || stored.Token == nil {
		return false
	}
	if cur != nil && cur.Token != nil && stored.AccessToken == cur.AccessToken && stored.RefreshToken == cur.RefreshToken {
		return false
	}
	// The sources' own rule, so that a token handed back here is not due
	// for refresh again at once.
	probe := TokenSource{margin: t.margin, now: t.client.now}
	return probe.state(stored, false).usable(t.client.now())
}

// storedToken is a Token's stored form.
type storedToken struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	ExpiresIn    int64     `json:"expires_in,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Scope        *string   `json:"scope,omitempty"`
	Verified     bool      `json:"id_token_verified,omitempty"` // Claims came from a verified ID token (openid.go)
}

func encodeToken(tok *Token) ([]byte, error) {
	st := storedToken{AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken,
		Expiry: tok.Expiry, ExpiresIn: tok.ExpiresIn, IDToken: tok.IDToken(), Verified: tok.Claims() != nil}
	if s, ok := tok.Extra("scope").(string); ok {
		st.Scope = &s
	}
	return json.Marshal(st)
}

func decodeToken(b []byte) (*Token, error) {
	var st storedToken
	if err := json.Unmarshal(b, &st); err != nil || st.AccessToken == "" {
		return nil, errors.New("pkce: the stored token does not decode")
	}
	extra := map[string]any{"access_token": st.AccessToken, "token_type": st.TokenType}
	if st.RefreshToken != "" {
		extra["refresh_token"] = st.RefreshToken
	}
	if st.IDToken != "" {
		extra["id_token"] = st.IDToken
	}
	if st.Scope != nil {
		extra["scope"] = *st.Scope
	}
	extra[claimsKey] = storedSlot(st.IDToken, st.Verified) // openid.go
	tok := &oauth2.Token{AccessToken: st.AccessToken, TokenType: st.TokenType, RefreshToken: st.RefreshToken,
		Expiry: st.Expiry, ExpiresIn: st.ExpiresIn}
	return &Token{Token: tok.WithExtra(extra)}, nil
}
