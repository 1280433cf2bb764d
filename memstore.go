package pkce

import (
	"bytes"
	"context"
	"errors"
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
	// sweepBatch is how many expired claims the timer removes per hold of
	// the lock, so that callers never wait behind a long sweep.
	sweepBatch = 4096
	// sweepPerCall is how many expired claims every call removes. More
	// than the one a Claim adds, so expired claims never pile up while
	// the store is in use.
	sweepPerCall = 2
	// shrinkMin is the size below which the claim map is never rebuilt:
	// small maps are not worth the copy.
	shrinkMin = 4096
)

// NewMemoryStore returns a Store that keeps everything in this process's
// memory: the package's default, right for a single process. Its claims
// and leases mean nothing to other processes, and its tokens are lost when
// the process ends.
//
// Claims are kept until they expire and then removed without waiting for
// new traffic: every call removes a few expired claims, and while the
// store holds claims it arms a timer for the earliest expiry. The timer
// refers to the store weakly, so a store nobody references is collected
// with its claims; no goroutine runs between sweeps. After a large sweep
// the store gives memory back by rebuilding its map. At most
// maxMemoryClaims claims are live at once; beyond that Claim fails with
// errTooManyClaims.
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
		claims:    make(map[string]int64),
		tokens:    make(map[string][]byte),
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
	claims map[string]int64 // claim key → expiry
	queue  []claimExpiry    // min-heap of claim expiries; see sweepLocked
	peak   int              // largest len(claims) since the map was built
	timer  interface{ Stop() bool }

	tokens map[string][]byte
	leases map[string]memoryLease
}

type claimExpiry struct {
	at  int64
	key string // the same string as the claims map key; not a second copy
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
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	s.sweepLocked(now, sweepPerCall)
	if until, ok := s.claims[key]; ok {
		if now < until {
			return false, nil
		}
		// Deleting first makes the map keep the new copy of the key,
		// the one the queue refers to, rather than the old one as well.
		delete(s.claims, key)
	}
	if len(s.claims) >= s.maxClaims {
		s.sweepLocked(now, len(s.queue))
		if len(s.claims) >= s.maxClaims {
			return false, errTooManyClaims
		}
	}
	// The key may be a slice of a larger string, such as a whole request;
	// a copy keeps the store from holding that alive.
	key = strings.Clone(key)
	until := now + int64(ttl)
	s.claims[key] = until
	s.push(claimExpiry{at: until, key: key})
	s.peak = max(s.peak, len(s.claims))
	s.armLocked(now)
	return true, nil
}

var errNonPositiveTTL = errors.New("pkce: store ttl must be positive")

// LoadToken implements Store.
func (s *memoryStore) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.clock(), sweepPerCall)
	tok, ok := s.tokens[subject]
	if !ok {
		return nil, nil
	}
	return bytes.Clone(tok), nil
}

// SaveToken implements Store.
func (s *memoryStore) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.clock(), sweepPerCall)
	if old != nil {
		cur, ok := s.tokens[subject]
		if !ok || !bytes.Equal(cur, old) {
			return false, nil
		}
	}
	// The copy is never nil, so a saved empty token still counts as saved.
	s.tokens[strings.Clone(subject)] = append([]byte{}, token...)
	return true, nil
}

// DeleteToken implements Store.
func (s *memoryStore) DeleteToken(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.clock(), sweepPerCall)
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
	now := s.clock()
	s.sweepLocked(now, sweepPerCall)
	if l, ok := s.leases[subject]; ok && l.owner != owner && now < l.until {
		return false, nil
	}
	s.leases[strings.Clone(subject)] = memoryLease{owner: strings.Clone(owner), until: now + int64(ttl)}
	return true, nil
}

// Release implements Store.
func (s *memoryStore) Release(ctx context.Context, subject, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.clock(), sweepPerCall)
	if l, ok := s.leases[subject]; ok && l.owner == owner {
		delete(s.leases, subject)
	}
	return nil
}

// sweepLocked removes up to n expired claims, earliest first, and reports
// how many queue entries it looked at. A queue entry whose key was claimed
// again after it expired is stale: the map holds the newer expiry, and
// only the queue entry goes.
func (s *memoryStore) sweepLocked(now int64, n int) int {
	i := 0
	for ; i < n && len(s.queue) > 0 && s.queue[0].at <= now; i++ {
		e := s.pop()
		if s.claims[e.key] == e.at {
			delete(s.claims, e.key)
		}
	}
	if i > 0 {
		s.shrinkLocked()
	}
	return i
}

// shrinkLocked gives memory back once the claims fall well below their
// peak: Go maps never shrink, and a burst of a million sign-ins would
// otherwise keep its map for the life of the process. Rebuilding costs
// one copy of the live claims, paid for by the three times as many
// removals since the peak.
func (s *memoryStore) shrinkLocked() {
	if s.peak >= shrinkMin && len(s.claims) <= s.peak/4 {
		claims := make(map[string]int64, len(s.claims))
		for k, v := range s.claims {
			claims[k] = v
		}
		s.claims = claims
		s.peak = len(claims)
	}
	if cap(s.queue) >= shrinkMin && len(s.queue) <= cap(s.queue)/4 {
		s.queue = append(make([]claimExpiry, 0, 2*len(s.queue)), s.queue...)
	}
}

// armLocked starts the sweep timer for the earliest expiry, unless it is
// running or there is nothing to sweep. The timer holds the store weakly:
// an armed timer must not keep an abandoned store (and its claims) alive.
func (s *memoryStore) armLocked(now int64) {
	if s.timer != nil || len(s.queue) == 0 {
		return
	}
	wait := max(time.Duration(s.queue[0].at-now), sweepInterval)
	store := weak.Make(s)
	s.timer = s.afterFunc(wait, func() {
		if s := store.Value(); s != nil {
			s.sweepTimer()
		}
	})
}

// sweepTimer runs when the sweep timer fires: it removes every expired
// claim, a batch per hold of the lock, and arms the timer again while
// claims remain.
func (s *memoryStore) sweepTimer() {
	for {
		s.mu.Lock()
		now := s.clock()
		if s.sweepLocked(now, sweepBatch) < sweepBatch {
			s.timer = nil
			s.armLocked(now)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// push and pop keep s.queue a min-heap on expiry, written out rather than
// through container/heap so that entries are not boxed into interfaces.
func (s *memoryStore) push(e claimExpiry) {
	s.queue = append(s.queue, e)
	q := s.queue
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if q[parent].at <= q[i].at {
			break
		}
		q[parent], q[i] = q[i], q[parent]
		i = parent
	}
}

func (s *memoryStore) pop() claimExpiry {
	q := s.queue
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q[last] = claimExpiry{} // drop the key reference
	q = q[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(q) && q[l].at < q[small].at {
			small = l
		}
		if r < len(q) && q[r].at < q[small].at {
			small = r
		}
		if small == i {
			break
		}
		q[i], q[small] = q[small], q[i]
		i = small
	}
	s.queue = q
	return top
}
