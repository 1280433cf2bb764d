package pkce

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"time"
	"weak"
)

// maxMemoryClaims bounds the live claims of a store from NewMemoryStore.
// At the default flow lifetime of 10 minutes that allows about 1,700 sign-ins a second, far
// more than one process serves; applications that need more share a
// Redis store (github.com/pkcekit/pkce/redisstore) between replicas.
const maxMemoryClaims = 1 << 20

// errTooManyClaims is returned by the Claim method of a memory store that
// already holds maxMemoryClaims live claims. The store never forgets a
// live claim to make room: that would let a finished flow be finished
// again (RFC 6749 §10.12). Like every store error, it reads as try-later.
var errTooManyClaims = errors.New("pkce: memory store is full: too many live claims")

const (
	// sweepInterval is the shortest time between two runs of the sweep
	// timer, so that claims expiring one after another cost one wake-up
	// a second rather than one each.
	sweepInterval = time.Second
	// sweepBatch is how many slots of the claim table the timer looks at
	// per hold of the lock, so that callers never wait behind a long
	// sweep.
	sweepBatch = 1 << 14
)

// NewMemoryStore returns a Store that keeps everything in this process's
// memory: the package's default, right for a single process. Its claims
// and leases mean nothing to other processes, and its tokens are lost when
// the process ends.
//
// A claim is remembered as a 128-bit digest of its key with its expiry, in
// a table without pointers (see claimTable), 32 to 48 bytes per claim.
// Claims are kept until they expire and then removed without waiting for
// new traffic: while the store holds claims it arms a timer for the
// earliest expiry, which sweeps the table. The timer refers to the store
// weakly, so a store nobody references is collected with its claims; no
// goroutine runs between sweeps. After a large sweep the store gives
// memory back by rebuilding its table. At most maxMemoryClaims claims are
// remembered at once; beyond that Claim fails with errTooManyClaims.
//
// Leases end when their ttl runs out or on Release. Tokens stay until
// deleted; the store keeps its own copies of keys, subjects and tokens.
func NewMemoryStore() Store {
	return newMemoryStore(time.Now, afterFunc, maxMemoryClaims)
}

// afterFunc is time.AfterFunc with a return type that test clocks can
// provide too.
func afterFunc(d time.Duration, f func()) interface{ Stop() bool } { return time.AfterFunc(d, f) }

func newMemoryStore(now func() time.Time, after func(time.Duration, func()) interface{ Stop() bool }, maxClaims int) *memoryStore {
	return &memoryStore{
		now:       now,
		afterFunc: after,
		maxClaims: maxClaims,
		base:      now(),
		claims:    newClaimTable(),
		tokens:    make(map[string]*memoryToken),
		leases:    make(map[string]memoryLease),
	}
}

type memoryStore struct {
	// now and afterFunc are the clock; tests replace them.
	now       func() time.Time
	afterFunc func(time.Duration, func()) interface{ Stop() bool }
	maxClaims int
	// base is the store's epoch. Expiries are kept as nanoseconds since
	// base, measured with the monotonic clock, so that a wall-clock step
	// neither ends claims early (replay) nor keeps them for ever.
	base time.Time

	mu     sync.Mutex
	claims claimTable
	timer  interface{ Stop() bool }

	tokens map[string]*memoryToken
	leases map[string]memoryLease
	owner  string // the last lease owner, kept so that its copy is made once
}

// A memoryToken is a stored token and its subject, whose copy the leases
// map uses as its key too. Its bytes are never handed out (readers get a
// copy), so a save writes over them in place.
type memoryToken struct {
	subject string
	b       []byte
}

type memoryLease struct {
	owner string
	until int64
}

// clock returns the current time as nanoseconds since s.base.
func (s *memoryStore) clock() int64 { return int64(s.now().Sub(s.base)) }

// Claim implements Store.
func (s *memoryStore) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, errNonPositiveTTL
	}
	return s.claimDigest(digestOf(key), ttl)
}

// claimDigest is Claim for a key already reduced to its digest. The
// table holds no part of the caller's key.
func (s *memoryStore) claimDigest(d claimDigest, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	until := now + int64(ttl)
	ok, full := s.claims.claim(d, now, until, s.maxClaims)
	if full {
		// Expired claims make room; a live one is never forgotten.
		s.claims.sweepAll(now)
		if ok, full = s.claims.claim(d, now, until, s.maxClaims); full {
			return false, errTooManyClaims
		}
	}
	s.armLocked(now)
	return ok, nil
}

var errNonPositiveTTL = errors.New("pkce: store ttl must be positive")

// LoadToken implements Store.
func (s *memoryStore) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[subject]
	if !ok {
		return nil, nil
	}
	return bytes.Clone(tok.b), nil
}

// SaveToken implements Store.
func (s *memoryStore) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.tokens[subject]; old != nil && (!ok || !bytes.Equal(cur.b, old)) {
		return false, nil
	}
	s.saveLocked(subject, token)
	return true, nil
}

func (s *memoryStore) saveLocked(subject string, token []byte) {
	if cur, ok := s.tokens[subject]; ok {
		cur.b = append(cur.b[:0], token...)
		return
	}
	// The copy is never nil, so a saved empty token still counts as saved.
	subject = strings.Clone(subject)
	s.tokens[subject] = &memoryToken{subject: subject, b: append([]byte{}, token...)}
}

// DeleteToken implements Store.
func (s *memoryStore) DeleteToken(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, subject)
	return nil
}

// Lease implements Store. There is one lease per subject at most, so the
// leases map is as large as the number of subjects refreshed at once.
func (s *memoryStore) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, errNonPositiveTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leaseLocked(subject, owner, ttl), nil
}

func (s *memoryStore) leaseLocked(subject, owner string, ttl time.Duration) bool {
	now := s.clock()
	if l, ok := s.leases[subject]; ok && l.owner != owner && now < l.until {
		return false
	}
	if tok, ok := s.tokens[subject]; ok {
		subject = tok.subject
	} else {
		subject = strings.Clone(subject)
	}
	if owner != s.owner {
		s.owner = strings.Clone(owner)
	}
	s.leases[subject] = memoryLease{owner: s.owner, until: now + int64(ttl)}
	return true
}

// LeaseToken implements RefreshStore: Lease and LoadToken under one hold
// of the lock.
func (s *memoryStore) LeaseToken(ctx context.Context, subject, owner string, ttl time.Duration) (bool, []byte, error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	if ttl <= 0 {
		return false, nil, errNonPositiveTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.leaseLocked(subject, owner, ttl)
	tok, ok := s.tokens[subject]
	if !ok {
		return held, nil, nil
	}
	return held, bytes.Clone(tok.b), nil
}

// SaveTokenRelease implements RefreshStore: SaveToken and Release under
// one hold of the lock.
func (s *memoryStore) SaveTokenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[subject]; ok && l.owner == owner {
		delete(s.leases, subject)
	}
	if cur, ok := s.tokens[subject]; old != nil && (!ok || !bytes.Equal(cur.b, old)) {
		return false, nil
	}
	s.saveLocked(subject, token)
	return true, nil
}

// Release implements Store.
func (s *memoryStore) Release(ctx context.Context, subject, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[subject]; ok && l.owner == owner {
		delete(s.leases, subject)
	}
	return nil
}

// armLocked starts the sweep timer for the earliest expiry, unless it is
// running or there is nothing to sweep. The timer holds the store weakly:
// an armed timer must not keep an abandoned store (and its claims) alive.
func (s *memoryStore) armLocked(now int64) {
	if s.timer != nil || s.claims.count == 0 {
		return
	}
	wait := max(time.Duration(s.claims.earliest-now), sweepInterval)
	store := weak.Make(s)
	s.timer = s.afterFunc(wait, func() {
		if s := store.Value(); s != nil {
			s.sweepTimer()
		}
	})
}

// sweepTimer runs when the sweep timer fires: it removes every expired
// claim, a batch of slots per hold of the lock, and arms the timer again
// while claims remain. A table rebuilt meanwhile was swept by the rebuild.
func (s *memoryStore) sweepTimer() {
	s.mu.Lock()
	gen := s.claims.generation
	s.claims.addedMin = math.MaxInt64
	kept := int64(math.MaxInt64)
	for i := 0; ; {
		now := s.clock()
		var k int64
		i, k = s.claims.sweep(now, i, sweepBatch)
		kept = min(kept, k)
		if i >= len(s.claims.slots) {
			s.claims.finishSweep(now, kept)
			break
		}
		s.mu.Unlock()
		s.mu.Lock()
		if s.claims.generation != gen {
			break
		}
	}
	s.timer = nil
	s.armLocked(s.clock())
	s.mu.Unlock()
}

var _ RefreshStore = (*memoryStore)(nil)
