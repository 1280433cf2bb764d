package pkce

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"weak"
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
//     than the lease, which lasts the refresh timeout plus 5 seconds. The
//     wait for the lease is bounded on its own; the refresh timeout starts
//     with the request that takes the lease, as the lease does, so the
//     refresh never outlives it and a slow server still gets nearly all
//     of it;
//   - within one process, at most one refresh of a subject runs at a time,
//     whatever the cache of sources does (eviction, Save, SignOut).
//
// A valid token is served from memory without touching the Store. Memory
// is bounded: sources of subjects not asked for are evicted when more than
// 10,000 subjects are held, and released after 5 to 10 minutes unasked. Tokens is safe for concurrent use; create one
// per Client and Store with Client.Tokens and share it (the zero value
// fails with ErrInvalidConfig).
//
// If a replica is killed after the server rotated the refresh token but
// before the new one was saved, the stored refresh token is dead: the next
// refresh fails with ErrSignInRequired, and the user must sign in again.
// The replica that got that answer replaces the stored token with a
// tombstone (compare-and-set: a newer token is never touched), so the dead
// refresh token is presented once in all and every replica then answers
// ErrSignInRequired without a request, until Save stores a new sign-in.
// A stored value that does not decode is ErrSignInRequired too.
// A store that refuses the save until the refresh times out is the same
// case for the other replicas; the replica that refreshed keeps the new
// token and hands it out rather than drop it.
type Tokens struct {
	client   *Client
	store    Store
	combined RefreshStore // store, when it has the two-call refresh steps
	// combinedOff is set once combined answered errors.ErrUnsupported.
	combinedOff atomic.Bool
	opts        []SourceOption
	owner       string // this Tokens' lease owner identity
	lease       time.Duration
	leaseWait   time.Duration // how long a refresh waits for another's lease
	timeout     time.Duration // the sources' refresh timeout
	margin      time.Duration // the sources' expiry margin

	// flights are the refreshes in flight in this process, by subject:
	// outside the cache, so that a second source of a subject (the cache
	// dropped the first) joins the refresh rather than redeem the same
	// refresh token again.
	flightMu sync.Mutex
	flights  map[string]*flight
	loads    map[string]*sourceLoad // cold starts in progress

	sources   sync.Map   // subject → *subjectSource; lock-free reads
	mu        sync.Mutex // serialises inserts, deletes and eviction
	count     int        // entries in sources, under mu
	idle      time.Duration
	idleTimer *time.Timer // under mu; nil when no round is due
}

// A subjectSource is one subject's shared source. used marks it as asked
// for since the last eviction round (the second-chance, or clock,
// algorithm), so that a read costs one atomic load.
type subjectSource struct {
	src  *TokenSource
	used atomic.Bool
}

// A flight is one refresh of a subject in this process; tok and err are
// set before done closes. done is made when someone first waits (most
// refreshes have nobody waiting); both happen under Tokens.flightMu.
type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// wait returns the channel closed when f ends; t.flightMu must be held.
func (f *flight) wait() <-chan struct{} {
	if f.done == nil {
		f.done = make(chan struct{})
	}
	return f.done
}

// maxSubjects bounds the sources a Tokens holds.
const maxSubjects = 10_000

// idleRound is the period of the eviction rounds that release sources
// not asked for: a source idle for two rounds is gone.
const idleRound = 5 * time.Minute

// maxTokensRefreshTimeout bounds WithRefreshTimeout for Tokens: a lease
// lasts the timeout, so a longer one only lengthens the wait after a
// crash.
const maxTokensRefreshTimeout = 24 * time.Hour

// leaseMargin is how much longer than the refresh timeout a lease lasts,
// for the load before the request and the save after it.
const leaseMargin = 5 * time.Second

// Tokens returns a Tokens over store whose sources refresh with this
// client and take opts (OnRefresh, WithExpiryMargin, WithRefreshTimeout).
// An OnRefresh hook runs after the new token is saved in the store. A
// refresh timeout over 24 hours fails with ErrInvalidConfig: the lease
// lasts as long.
func (c *Client) Tokens(store Store, opts ...SourceOption) (*Tokens, error) {
	if err := c.made(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, configErrorf("Tokens was given a nil Store")
	}
	probe := c.newSource(nil)
	if err := probe.apply(opts); err != nil {
		return nil, err
	}
	if probe.timeout > maxTokensRefreshTimeout {
		// The lease and the waits are sums of it, which would overflow
		// into a negative ttl every store refuses: try-later for ever.
		return nil, configErrorf("refresh timeout %v is longer than Tokens allows (%v): a replica that dies holding the lease would block the subject that long", probe.timeout, maxTokensRefreshTimeout)
	}
	var id [16]byte
	rand.Read(id[:])
	lease := probe.timeout + leaseMargin
	// A holder that dies right after taking the lease keeps it for its
	// whole ttl, and the replica that takes it next may need all of its
	// own: a waiter outlasts both, so that it finds the token that the
	// second one saved rather than give up while it is on its way.
	combined, _ := store.(RefreshStore)
	return &Tokens{client: c, store: store, combined: combined, opts: opts, owner: b64.EncodeToString(id[:]),
		lease: lease, leaseWait: 2*lease + leasePollMax, timeout: probe.timeout,
		margin: probe.margin, flights: make(map[string]*flight), loads: make(map[string]*sourceLoad),
		idle: idleRound}, nil
}

// ready reports whether t was made by Client.Tokens.
func (t *Tokens) ready() error {
	if t == nil || t.client == nil || t.store == nil || t.flights == nil {
		return errZeroTokens
	}
	return nil
}

// Save stores tok as subject's token, after sign-in (unconditionally: a
// new sign-in replaces whatever was stored), and makes this process's
// source of subject start from it.
func (t *Tokens) Save(ctx context.Context, subject string, tok *Token) (err error) {
	if err := t.ready(); err != nil {
		return err
	}
	defer recoverStore(&err, "saving the token")
	if tok == nil || tok.Token == nil {
		return errors.New("pkce: Tokens.Save was given no token")
	}
	b, err := encodeToken(tok)
	if err != nil {
		return err
	}
	if _, err := t.store.SaveToken(withRefreshLifetime(ctx, tok), subject, nil, b); err != nil {
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
	if err := t.ready(); err != nil {
		return nil, err
	}
	if v, ok := t.sources.Load(subject); ok {
		ss := v.(*subjectSource)
		if !ss.used.Load() {
			ss.used.Store(true)
		}
		return ss.src, nil
	}
	return t.coldSource(ctx, subject)
}

// A sourceLoad is one load of a subject's token for a new source; the
// callers that arrive meanwhile share it.
type sourceLoad struct {
	done chan struct{}
	src  *TokenSource
	err  error
}

// coldSource makes subject's source, loading the store once however many
// callers ask at once.
func (t *Tokens) coldSource(ctx context.Context, subject string) (*TokenSource, error) {
	for {
		t.flightMu.Lock()
		l := t.loads[subject]
		if l == nil {
			l = &sourceLoad{done: make(chan struct{}), err: errFlightPanicked}
			t.loads[subject] = l
			t.flightMu.Unlock()
			defer func() { // even when the Store panics
				t.flightMu.Lock()
				delete(t.loads, subject)
				t.flightMu.Unlock()
				close(l.done)
			}()
			l.src, l.err = t.newSource(ctx, subject)
			return l.src, l.err
		}
		t.flightMu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: waiting for the token to load: %w", ctx.Err())}
		}
		// The loader's own context ending says nothing to this caller.
		if l.err == nil || !errors.Is(l.err, context.Canceled) && !errors.Is(l.err, context.DeadlineExceeded) {
			return l.src, l.err
		}
	}
}

// newSource loads subject's token and makes its shared source.
func (t *Tokens) newSource(ctx context.Context, subject string) (*TokenSource, error) {
	stored, b, err := t.load(ctx, subject)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		return nil, &refreshError{class: ErrSignInRequired, err: errors.New("pkce: no token is stored for this subject")}
	}
	known := new(atomic.Pointer[storedForm])
	known.Store(&storedForm{b: b, tok: stored})
	src := t.client.newSource(func(ctx context.Context, cur *Token) (*Token, error) {
		return t.refresh(ctx, subject, cur, known, true) // from TokenSource.run
	})
	if err := src.apply(t.opts); err != nil {
		return nil, err
	}
	src.stepBound = t.flightBound() // the hook's own timeout comes after
	src.current.Store(src.state(stored, false))

	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.sources.Load(subject); ok { // another caller was first
		return v.(*subjectSource).src, nil
	}
	if t.count >= maxSubjects {
		for t.evictRound() == 0 {
		}
	}
	ss := &subjectSource{src: src}
	ss.used.Store(true)
	t.sources.Store(subject, ss)
	t.count++
	if t.idleTimer == nil {
		t.armIdle()
	}
	return src, nil
}

// evictRound drops the sources not asked for since the previous round,
// marks the others unasked and returns how many it dropped. A caller
// still holding an evicted source can go on using it; it only stops being
// shared. t.mu is held.
func (t *Tokens) evictRound() int {
	dropped := 0
	t.sources.Range(func(k, v any) bool {
		if ss := v.(*subjectSource); !ss.used.Swap(false) {
			t.sources.Delete(k)
			dropped++
		}
		return true
	})
	t.count -= dropped
	return dropped
}

// armIdle runs an eviction round every t.idle while sources are held, so
// that a source not asked for during a whole round is released without
// waiting for the cap. The timer holds t weakly: a Tokens nobody uses is
// collected with its sources. t.mu is held.
func (t *Tokens) armIdle() {
	wt := weak.Make(t)
	t.idleTimer = time.AfterFunc(t.idle, func() {
		t := wt.Value()
		if t == nil {
			return
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		t.evictRound()
		t.idleTimer = nil
		if t.count > 0 {
			t.armIdle()
		}
	})
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
// A refresh of subject in flight in this process is waited for (at most
// its bound, or until ctx ends) and what it obtained is revoked too. The
// token is deleted even when revocation fails, and even when the stored
// value does not decode (then nothing can be revoked); the error says
// why. Other replicas' sources serve the access token they hold until it
// nears expiry; their next refresh finds no stored token and fails with
// ErrSignInRequired.
func (t *Tokens) SignOut(ctx context.Context, subject string) (err error) {
	if err := t.ready(); err != nil {
		return err
	}
	defer recoverStore(&err, "during sign-out")
	// A stored value that can never be read (ErrSignInRequired from the
	// store, see Store.LoadToken) is deleted all the same.
	b, err := t.store.LoadToken(ctx, subject)
	if err != nil && !errors.Is(err, ErrSignInRequired) {
		return storeError("loading the token", err)
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
	var revoke []*Token
	if b != nil {
		if stored, err := decodeToken(b); err == nil {
			revoke = append(revoke, stored)
		}
	}
	// The refresh in flight may obtain a new refresh token after the old
	// one is revoked; it must not stay valid.
	t.flightMu.Lock()
	f := t.flights[subject]
	var done <-chan struct{}
	if f != nil {
		done = f.wait()
	}
	t.flightMu.Unlock()
	if f != nil {
		overdue := time.NewTimer(t.flightBound() + time.Second)
		defer overdue.Stop()
		select {
		case <-done:
			if f.tok != nil {
				revoke = append(revoke, f.tok)
			}
		case <-overdue.C:
		case <-ctx.Done():
			return fmt.Errorf("pkce: signed out, but gave up waiting for the refresh in flight, so nothing was revoked: %w", ctx.Err())
		}
	}
	var errs []error
	for _, tok := range revoke {
		errs = append(errs, t.client.Revoke(ctx, tok.Token))
	}
	return errors.Join(errs...)
}

// load reads subject's token from the store; a missing token is nil.
func (t *Tokens) load(ctx context.Context, subject string) (tok *Token, b []byte, err error) {
	defer recoverStore(&err, "loading the token")
	return loaded(t.store.LoadToken(ctx, subject))
}

// recoverStore, deferred around calls of the application's Store made on
// the caller's goroutine, turns a panic into an ErrTryLater error instead
// of ending the program (the refresh's own calls are recovered by the
// source, see TokenSource.obtain). The panic's value is not quoted: it may
// hold what the store keeps.
func recoverStore(err *error, what string) {
	if v := recover(); v != nil {
		*err = &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: the Store panicked %s", what)}
	}
}

// loaded decodes what a store's LoadToken (or LeaseToken) returned.
func loaded(b []byte, err error) (*Token, []byte, error) {
	if errors.Is(err, ErrSignInRequired) {
		// A token is stored but can never be read (see Store.LoadToken):
		// answering try-later would wedge the subject for ever.
		return nil, nil, &refreshError{class: ErrSignInRequired, err: fmt.Errorf("pkce: the stored token cannot be read: %w", err)}
	}
	if err != nil {
		return nil, nil, storeError("loading the token", err)
	}
	if b == nil {
		return nil, nil, nil
	}
	tok, err := decodeToken(b)
	if err != nil {
		return nil, b, err
	}
	return tok, b, nil
}

func storeError(what string, err error) error {
	return &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: store failed %s: %w", what, err)}
}
