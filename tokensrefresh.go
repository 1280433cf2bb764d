package pkce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// The refresh of a subject's source through Tokens: one per process (a
// flight), one across replicas (the Store's lease), with the stored token
// as the truth.

// leasePoll bounds how often a replica waiting for another's refresh looks
// at the store.
const (
	leasePollMin = 10 * time.Millisecond
	leasePollMax = 200 * time.Millisecond
)

// releaseTimeout bounds the release of a lease that the save did not
// release.
const releaseTimeout = 5 * time.Second

// flightBound is how long a refresh through t may last when its Store and
// server honour their contexts: the first request for the lease (within
// the refresh timeout), the wait for another replica's, the refresh
// timeout and the lease's margin after it (the save), and the release.
func (t *Tokens) flightBound() time.Duration {
	return t.timeout + t.leaseWait + t.lease + releaseTimeout
}

// refresh is the refresh step of a subject's source. Within the process
// it joins a refresh of subject already in flight; otherwise it runs one
// under the subject's lease, with the stored token as the truth.
// detached says that only a deadline ends ctx, as in TokenSource.run.
// Any other caller only waits for the refresh, which runs without its
// cancellation: once the server has read the refresh token it rotates it
// whether or not anyone reads the answer, so an abandoned answer would
// leave a dead refresh token in the store, to be presented again.
func (t *Tokens) refresh(ctx context.Context, subject string, cur *Token, known *atomic.Pointer[storedForm], detached bool) (*Token, error) {
	t.flightMu.Lock()
	f := t.flights[subject]
	if f == nil {
		f = &flight{err: errFlightPanicked}
		t.flights[subject] = f
		if detached {
			t.flightMu.Unlock()
			t.fly(ctx, subject, f, cur, known, true)
			return f.tok, f.err
		}
		// The lease wait and the refresh get their bounds of their own
		// (refreshLeased).
		go t.fly(context.WithoutCancel(ctx), subject, f, cur, known, false)
	}
	done := f.wait()
	t.flightMu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: waiting for this process's refresh: %w", ctx.Err())}
	}
	if f.err != nil {
		// That refresh may have been of an older token (a sign-in saved
		// meanwhile): a newer stored token wins over its failure.
		if stored, _, err := t.load(ctx, subject); err == nil && t.newer(stored, cur) {
			return stored, nil
		}
	}
	return f.tok, f.err
}

// fly runs flight f of subject, which callers that arrive meanwhile join.
func (t *Tokens) fly(ctx context.Context, subject string, f *flight, cur *Token, known *atomic.Pointer[storedForm], detached bool) {
	defer func() {
		t.flightMu.Lock()
		delete(t.flights, subject)
		if f.done != nil {
			close(f.done)
		}
		t.flightMu.Unlock()
	}()
	f.tok, f.err = t.leadRefresh(ctx, subject, cur, known, detached)
}

// leadRefresh is refreshLeased, with a panic in the application's code
// that it calls (the Store) turned into errFlightPanicked, for this
// caller as for those that joined its flight. The panic's value is not
// quoted: it may hold the stored token or the one just issued, which the
// source's redaction does not know yet (THREATS.md, promise 2).
func (t *Tokens) leadRefresh(ctx context.Context, subject string, cur *Token, known *atomic.Pointer[storedForm], detached bool) (tok *Token, err error) {
	defer func() {
		if v := recover(); v != nil {
			tok, err = nil, errFlightPanicked
		}
	}()
	return t.refreshLeased(ctx, subject, cur, known, detached)
}

// refreshRefused is link.RefreshRefused: the refresh of subject's token
// cur, which a resource refused before it was due (package protected's
// Transport). It is the source's refresh step, so that the refresh token
// is presented once across the process and the replicas however many
// callers were refused, and a token stored meanwhile wins. This process's
// source of subject then starts from the result.
func (t *Tokens) refreshRefused(ctx context.Context, subject string, cur *oauth2.Token) error {
	if err := t.ready(); err != nil {
		return err
	}
	if cur == nil {
		return errors.New("pkce: no refused token to refresh")
	}
	// The source's own record of its stored bytes is not at hand here;
	// an empty one only means that the stored token is decoded again.
	next, err := t.refresh(ctx, subject, &Token{Token: cur}, new(atomic.Pointer[storedForm]), false)
	if err != nil {
		return err
	}
	if v, ok := t.sources.Load(subject); ok {
		src := v.(*subjectSource).src
		src.mu.Lock()
		if !src.signedOut {
			src.current.Store(src.state(next, false))
			src.failure, src.backoff = nil, 0
		}
		src.mu.Unlock()
	}
	return nil
}

// refreshLeased takes the subject's lease, waiting at most t.leaseWait for
// another replica's, and refreshes the stored token if it is still the
// one cur holds. The refresh timeout starts with the request that took
// the lease, as the lease's ttl does (earlier, when the lease is free).
// known is the stored form of the source's token, if its bytes are
// still stored.
func (t *Tokens) refreshLeased(ctx context.Context, subject string, cur *Token, known *atomic.Pointer[storedForm], detached bool) (*Token, error) {
	// Usually the lease is free, and the refresh runs under the deadline
	// ctx brings, set when the lease was asked for: a refresh through
	// Tokens sets no timer of its own. When another replica holds the
	// lease, the wait for it and then the refresh each get a bound of
	// their own.
	refreshCtx, cancelRefresh := t.refreshContext(ctx, detached)
	l, err := t.tryLease(refreshCtx, subject, known)
	if err == nil && !l.held {
		cancelRefresh()
		waitCtx, cancel := t.bounded(ctx, detached, time.Now().Add(t.leaseWait))
		l, err = t.takeLease(waitCtx, subject, cur, known, l)
		cancel()
		// The lease's ttl runs from the request that took it, however
		// late its answer came: so does the refresh timeout, or the
		// refresh could outlive the lease and another replica present
		// the same refresh token.
		refreshCtx, cancelRefresh = t.bounded(ctx, detached, l.asked.Add(t.timeout))
	}
	defer cancelRefresh()
	if !l.held {
		if err != nil {
			return nil, err
		}
		return l.tok, nil // another replica's refresh
	}
	released := false
	defer func() {
		if released {
			return
		}
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		// A panic here would lose the token just refreshed: an
		// unreleased lease ends with its ttl.
		defer func() { _ = recover() }()
		t.store.Release(release, subject, t.owner)
	}()
	if err != nil {
		return nil, err
	}
	// The lease outlives this by leaseMargin.
	ctx = refreshCtx

	stored, storedBytes, err := l.tok, l.b, l.err
	if !l.loaded {
		stored, storedBytes, err = known.Load().decode(t.store.LoadToken(ctx, subject))
	}
	switch {
	case err != nil:
		return nil, err
	case stored == nil:
		return nil, &refreshError{class: ErrSignInRequired, err: errors.New("pkce: no token is stored for this subject (signed out elsewhere?)")}
	case t.newer(stored, cur):
		return stored, nil
	}
	next, err := t.client.refreshFrom(ctx, stored) // openid.go
	if errors.Is(err, ErrSignInRequired) && refusedWithCode(err) {
		// The server refused the token with an error object: tell every
		// replica, so that none presents it again; a token saved
		// meanwhile is left alone. Best effort: a replica that does not
		// see the tombstone gets the same answer. A 4xx without an error
		// object (a gateway's page) ends this process's source only: it
		// says too little to end the grant everywhere.
		_, released, _ = t.saveStep(ctx, subject, storedBytes, deadToken)
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	b, err := encodeToken(next)
	if err != nil {
		return nil, &refreshError{class: ErrTryLater, err: err}
	}
	saveCtx, cancelSave := saveContext(ctx)
	defer cancelSave()
	saved, released, err := t.save(withRefreshLifetime(saveCtx, next), subject, storedBytes, b)
	if err == nil && saved {
		known.Store(&storedForm{b: b, tok: next})
	}
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

// A storedForm is a token and the bytes it was loaded from or saved as,
// so that a refresh that finds those bytes in the store need not decode
// them again: the token it holds is what they decode to.
type storedForm struct {
	b   []byte
	tok *Token
}

// decode is loaded, with the token of f when b is f's bytes.
func (f *storedForm) decode(b []byte, err error) (*Token, []byte, error) {
	if err == nil && f != nil && b != nil && bytes.Equal(b, f.b) {
		return f.tok, b, nil
	}
	return loaded(b, err)
}

// leased is what taking a subject's lease found. With a RefreshStore the
// stored token comes with the lease (loaded); otherwise it is read only
// while another replica holds the lease.
type leased struct {
	held   bool
	asked  time.Time // when the request that answered was sent
	loaded bool
	tok    *Token
	b      []byte
	err    error // from reading the stored token
}

// tryLease asks once for subject's lease for t.owner. With a RefreshStore
// the stored token comes with the answer; otherwise it is read only when
// another replica holds the lease.
func (t *Tokens) tryLease(ctx context.Context, subject string, known *atomic.Pointer[storedForm]) (leased, error) {
	asked := time.Now()
	if rs := t.refreshStore(); rs != nil {
		held, b, err := rs.LeaseToken(ctx, subject, t.owner, t.lease)
		if !t.unsupported(err) {
			if err != nil && !errors.Is(err, ErrSignInRequired) {
				return leased{held: held}, storeError("taking the refresh lease", err)
			}
			l := leased{held: held, asked: asked, loaded: true}
			l.tok, l.b, l.err = known.Load().decode(b, err)
			return l, nil
		}
	}
	held, err := t.store.Lease(ctx, subject, t.owner, t.lease)
	if err != nil {
		return leased{}, storeError("taking the refresh lease", err)
	}
	l := leased{held: held, asked: asked}
	if !held {
		l.tok, l.b, l.err = t.load(ctx, subject)
	}
	return l, nil
}

// takeLease goes on from l, the answer of a first tryLease: it polls while
// another replica holds the lease, until ctx ends or that replica's token
// is stored (returned in l.tok, with l.held false).
func (t *Tokens) takeLease(ctx context.Context, subject string, cur *Token, known *atomic.Pointer[storedForm], l leased) (leased, error) {
	poll := leasePollMin
	for {
		if l.held {
			return l, nil
		}
		// Another replica is refreshing: its token may be stored already.
		if l.err != nil {
			return l, l.err
		}
		if t.newer(l.tok, cur) {
			return l, nil
		}
		timer := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return leased{}, &refreshError{class: ErrTryLater, err: fmt.Errorf("pkce: waiting for another replica's refresh: %w", ctx.Err())}
		case <-timer.C:
		}
		poll = min(2*poll, leasePollMax)
		var err error
		if l, err = t.tryLease(ctx, subject, known); err != nil {
			return l, err
		}
	}
}

// save stores a refreshed token, trying again while the store fails and
// ctx (the refresh's, bounded by its timeout) allows: the new token exists
// nowhere else.
func (t *Tokens) save(ctx context.Context, subject string, old, token []byte) (saved, released bool, err error) {
	wait := leasePollMin
	for {
		saved, released, err = t.saveStep(ctx, subject, old, token)
		if err == nil {
			return saved, released, nil
		}
		if err == errSavePanicked {
			return false, false, err // a bug, not an outage: no use trying again
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false, false, err
		case <-timer.C:
		}
		wait = min(2*wait, leasePollMax)
	}
}

// saveStep replaces old with token (compare-and-set) and, with a
// RefreshStore, releases the lease in the same call; released reports
// that it did.
func (t *Tokens) saveStep(ctx context.Context, subject string, old, token []byte) (saved, released bool, err error) {
	// A panicking Store is a failed save, so that the token the server
	// has just issued is still handed out (see refreshLeased).
	defer func() {
		if v := recover(); v != nil {
			saved, released, err = false, false, errSavePanicked
		}
	}()
	if rs := t.refreshStore(); rs != nil {
		saved, err = rs.SaveTokenRelease(ctx, subject, t.owner, old, token)
		if !t.unsupported(err) {
			return saved, err == nil, err
		}
	}
	saved, err = t.store.SaveToken(ctx, subject, old, token)
	return saved, false, err
}

// refreshStore returns t's store as a RefreshStore, unless it is none or
// said that it cannot be one (a wrapping store over a store that is not).
func (t *Tokens) refreshStore() RefreshStore {
	if t.combined == nil || t.combinedOff.Load() {
		return nil
	}
	return t.combined
}

// unsupported reports whether err is a RefreshStore's refusal, which it
// remembers: from then on t uses the Store methods.
func (t *Tokens) unsupported(err error) bool {
	if err == nil || !errors.Is(err, errors.ErrUnsupported) {
		return false
	}
	t.combinedOff.Store(true)
	return true
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

// saveReserve is how much of the refresh's time a save of the refreshed
// token is sure to have; below it, the save may use the lease's margin.
const saveReserve = 2 * time.Second

// saveContext is the context of the save of a refreshed token. The server
// has issued the token, and may have rotated the refresh token away: the
// token must reach the store while the lease still holds, or another
// replica would present the refresh token it replaced (THREATS.md, promise
// 1). An answer that came just before the refresh's deadline, or a caller
// that gave up meanwhile, would leave the save no time, so then the save
// runs until the lease's margin is all but spent. (In the usual case the
// refresh's own context has time enough, and no timer is set.)
func saveContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok || ctx.Err() == nil && time.Until(dl) >= saveReserve {
		return ctx, func() {}
	}
	// The lease ends leaseMargin after the refresh's deadline; leave a
	// second of it for the store's clock and the release.
	return context.WithDeadline(context.WithoutCancel(ctx), dl.Add(leaseMargin-time.Second))
}

// refreshContext returns the context of a refresh whose lease is free:
// ctx itself when it is detached (only its deadline ends it) and that
// deadline is within the refresh timeout, as TokenSource.run sets it;
// else ctx with the timeout.
func (t *Tokens) refreshContext(ctx context.Context, detached bool) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); detached && ok && time.Until(dl) <= t.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, t.timeout)
}

// bounded returns ctx with deadline dl. A detached ctx's deadline, set
// for a refresh whose lease was free, does not bound what comes after a
// wait for the lease, so the context is not linked to it.
func (t *Tokens) bounded(ctx context.Context, detached bool, dl time.Time) (context.Context, context.CancelFunc) {
	if detached {
		ctx = context.WithoutCancel(ctx)
	}
	return context.WithDeadline(ctx, dl)
}
