package pkce

import (
	"time"
	"weak"
)

// NewMemoryStoreWithClock returns a memory store that reads the time from
// now, arms its sweep timer through after and holds at most maxClaims live
// claims, so that tests can move time by hand.
func NewMemoryStoreWithClock(now func() time.Time, after func(time.Duration, func()) interface{ Stop() bool }, maxClaims int) Store {
	return newMemoryStore(now, after, maxClaims)
}

// MemoryStoreSize returns how many claims s remembers, live or expired but
// not yet swept, and how many entries its expiry queue holds.
func MemoryStoreSize(s Store) (claims, queued int) {
	m := s.(*memoryStore)
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.claims), len(m.queue)
}

// MemoryStoreTimerArmed reports whether s has armed its sweep timer.
func MemoryStoreTimerArmed(s Store) bool {
	m := s.(*memoryStore)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.timer != nil
}

// MemoryStoreKeys returns the strings s keeps as claim keys, token
// subjects and lease subjects and owners, so that tests can check that
// they are copies.
func MemoryStoreKeys(s Store) []string {
	m := s.(*memoryStore)
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.claims {
		keys = append(keys, k)
	}
	for k := range m.tokens {
		keys = append(keys, k)
	}
	for k, l := range m.leases {
		keys = append(keys, k, l.owner)
	}
	return keys
}

// MemoryStoreCollected returns a function that reports whether s has been
// garbage-collected; the caller must drop its own references to s.
func MemoryStoreCollected(s Store) func() bool {
	p := weak.Make(s.(*memoryStore))
	return func() bool { return p.Value() == nil }
}

// The memory store's bound and its error, for tests.
const MaxMemoryClaims = maxMemoryClaims

var ErrTooManyClaims = errTooManyClaims
