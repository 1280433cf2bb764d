package pkce

import (
	"crypto/sha256"
	"hash/maphash"
	"math"
	"math/bits"
)

// The claims of a memory store live in an open-addressing table of fixed-size
// slots: a 128-bit digest of the claim key and its expiry, 24 bytes and no
// pointer, so the garbage collector never scans the table however many flows
// it remembers. The table is kept between half and three quarters full, which
// is 32 to 48 bytes per remembered claim; a claim is one probe sequence.

// claimDigest is what the store remembers of a claim key.
type claimDigest [16]byte

// claimSlot is one place of the table; until is 0 in an empty one (an
// expiry is always after the store's epoch, so never 0).
type claimSlot struct {
	digest claimDigest
	until  int64
}

const (
	// minClaimSlots is the smallest table.
	minClaimSlots = 64
	// flowKeyPrefix starts the claim key of a flow (see claimKey).
	flowKeyPrefix = "flow:"
)

// digestOf returns the digest under which key is remembered. A flow's
// claim key is already a digest in hex (claimKey), which is decoded
// rather than hashed again; any other key is hashed. A lower-case hex form
// only is decoded, so that two spellings of one digest stay two keys.
func digestOf(key string) claimDigest {
	var d claimDigest
	if len(key) == len(flowKeyPrefix)+2*len(d) && key[:len(flowKeyPrefix)] == flowKeyPrefix {
		hexKey := key[len(flowKeyPrefix):]
		ok := true
		for i := range d {
			hi, lo := hexDigit(hexKey[2*i]), hexDigit(hexKey[2*i+1])
			if hi < 0 || lo < 0 {
				ok = false
				break
			}
			d[i] = byte(hi<<4 | lo)
		}
		if ok {
			return d
		}
	}
	sum := sha256.Sum256([]byte(key))
	copy(d[:], sum[:])
	// The decoded and the hashed digests share one space; a hashed key
	// that equals a flow's digest would need a SHA-256 preimage.
	return d
}

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

// claimTable is the set of remembered claims. Its methods need the
// store's lock.
type claimTable struct {
	seed  maphash.Seed
	slots []claimSlot
	count int // occupied slots, expired or not
	// earliest is no later than the earliest expiry in the table, or
	// math.MaxInt64 when it is empty; the sweep timer is armed for it.
	earliest int64
	// addedMin is the earliest expiry added since the sweep in progress
	// began, which that sweep did not necessarily see.
	addedMin int64
	// generation changes whenever the table is rebuilt, so that a sweep
	// done in batches knows to stop.
	generation uint64
}

func newClaimTable() claimTable {
	return claimTable{seed: maphash.MakeSeed(), slots: make([]claimSlot, minClaimSlots),
		earliest: math.MaxInt64, addedMin: math.MaxInt64}
}

// home is the slot where d's probe sequence starts.
func (t *claimTable) home(d claimDigest) int {
	hi, _ := bits.Mul64(maphash.Comparable(t.seed, d), uint64(len(t.slots)))
	return int(hi)
}

// claim records d until until unless a live claim of d exists at now, and
// reports whether it did. full tells whether the table may take no new
// digest; claim then reports errTooManyClaims through ok == false and
// full == true.
func (t *claimTable) claim(d claimDigest, now, until int64, limit int) (ok bool, full bool) {
	i := t.home(d)
	for {
		s := &t.slots[i]
		switch {
		case s.until == 0:
			if t.count >= limit {
				return false, true
			}
			if (t.count+1)*4 > len(t.slots)*3 {
				t.rebuild(now, len(t.slots)*3/2)
				return t.claim(d, now, until, limit)
			}
			*s = claimSlot{digest: d, until: until}
			t.count++
			t.added(until)
			return true, false
		case s.digest == d:
			if now < s.until {
				return false, false
			}
			s.until = until
			t.added(until)
			return true, false
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

func (t *claimTable) added(until int64) {
	t.earliest = min(t.earliest, until)
	t.addedMin = min(t.addedMin, until)
}

// rebuild moves the live claims at now into a table of about n slots,
// dropping the expired ones, and recomputes earliest exactly.
func (t *claimTable) rebuild(now int64, n int) {
	old := t.slots
	live := 0
	for i := range old {
		if old[i].until > now {
			live++
		}
	}
	// At most half full after a rebuild, so that a table grows by half
	// again before it needs the next one.
	n = max(n, 2*live, minClaimSlots)
	t.slots = make([]claimSlot, n)
	t.count = 0
	t.earliest = math.MaxInt64
	t.generation++
	for _, s := range old {
		if s.until <= now {
			continue
		}
		i := t.home(s.digest)
		for t.slots[i].until != 0 {
			if i++; i == n {
				i = 0
			}
		}
		t.slots[i] = s
		t.count++
		t.earliest = min(t.earliest, s.until)
	}
}

// remove empties slot i and shifts back the entries after it that probed
// past it (backward-shift deletion), so that lookups need no tombstones.
// The entry that lands in slot i, if any, has not been looked at by a
// sweep that is at i.
func (t *claimTable) remove(i int) {
	n := len(t.slots)
	t.count--
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		s := t.slots[j]
		if s.until == 0 {
			break
		}
		k := t.home(s.digest)
		// s may move to i when its home is not in the cyclic range (i, j].
		if i <= j && (k <= i || k > j) || i > j && k <= i && k > j {
			t.slots[i] = s
			i = j
		}
	}
	t.slots[i] = claimSlot{}
}

// sweep removes the expired claims at now from slot from on, looking at
// no more than n slots, and returns where it stopped (len(slots) when it
// reached the end) and the earliest expiry it kept.
func (t *claimTable) sweep(now int64, from, n int) (next int, kept int64) {
	kept = math.MaxInt64
	end := min(from+n, len(t.slots))
	i := from
	for i < end {
		s := &t.slots[i]
		switch {
		case s.until == 0:
			i++
		case s.until <= now:
			t.remove(i) // slot i now holds an entry not yet looked at, or nothing
		default:
			kept = min(kept, s.until)
			i++
		}
	}
	return i, kept
}

// sweepAll removes every expired claim at once and shrinks the table when
// it has become mostly empty.
func (t *claimTable) sweepAll(now int64) {
	t.addedMin = math.MaxInt64
	_, kept := t.sweep(now, 0, len(t.slots))
	t.finishSweep(now, kept)
}

// finishSweep records the earliest expiry a complete sweep kept and gives
// memory back once the table is at most an eighth full: Go never shrinks
// a slice, and a burst of a million sign-ins would otherwise keep its
// table for the life of the process.
func (t *claimTable) finishSweep(now, kept int64) {
	t.earliest = min(kept, t.addedMin)
	if len(t.slots) > minClaimSlots && t.count*8 <= len(t.slots) {
		t.rebuild(now, 0)
	}
}
