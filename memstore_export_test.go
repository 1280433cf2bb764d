package pkce

import (
	"reflect"
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
// not yet swept, and how many slots its claim table has.
func MemoryStoreSize(s Store) (claims, slots int) {
	m := s.(*memoryStore)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.claims.count, len(m.claims.slots)
}

// MinClaimSlots is the size of an empty claim table.
const MinClaimSlots = minClaimSlots

// MemoryStoreTimerArmed reports whether s has armed its sweep timer.
func MemoryStoreTimerArmed(s Store) bool {
	m := s.(*memoryStore)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.timer != nil
}

// MemoryStoreKeys returns the strings s keeps as token subjects and lease
// subjects and owners, so that tests can check that they are copies.
// Claims keep no string: the table holds digests.
func MemoryStoreKeys(s Store) []string {
	m := s.(*memoryStore)
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
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

// ClaimSlotHasPointers reports whether a slot of the claim table holds a
// pointer, which would make the collector scan the table.
func ClaimSlotHasPointers() bool { return hasPointers(reflect.TypeFor[claimSlot]()) }

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	}
	return true
}

// ClaimKeyNamesFlowDigest reports whether the claim key of state, given
// to a memory store, names the digest the callback claims directly.
func ClaimKeyNamesFlowDigest(state string) bool {
	return digestOf(claimKey(state)) == flowDigest(state)
}
