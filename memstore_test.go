package pkce_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/storetest"
)

// timerClock is a clock with timers that the tests move by hand; Advance
// runs due timers on the caller's goroutine, in order of their time.
type timerClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*clockTimer
}

type clockTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newTimerClock() *timerClock { return &timerClock{now: time.Unix(1_700_000_000, 0)} }

func (c *timerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *timerClock) AfterFunc(d time.Duration, f func()) interface{ Stop() bool } {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &clockTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return tm
}

func (tm *clockTimer) Stop() bool {
	was := !tm.stopped
	tm.stopped = true
	return was
}

// Armed returns how many timers wait to fire.
func (c *timerClock) Armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (c *timerClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		slices.SortStableFunc(c.timers, func(a, b *clockTimer) int { return a.at.Compare(b.at) })
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			c.now = end
			c.mu.Unlock()
			return
		}
		tm := c.timers[0]
		c.timers = c.timers[1:]
		c.now = tm.at
		c.mu.Unlock()
		if !tm.stopped {
			tm.f()
		}
	}
}

// claimKey returns the i-th claim key, a digest like the package's.
func claimKey(i int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(b[:])
	return string(sum[:])
}

func TestMemoryStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) pkce.Store { return pkce.NewMemoryStore() })
}

func TestMemoryStoreExpiry(t *testing.T) {
	ctx := context.Background()
	const ttl = time.Minute
	tests := []struct {
		name  string
		after time.Duration
		owner string
		want  bool
	}{
		{"a claim holds until the last nanosecond of its ttl", ttl - 1, "", false},
		{"a claim ends when its ttl has passed", ttl, "", true},
		{"a lease holds until the last nanosecond of its ttl", ttl - 1, "b", false},
		{"a lease ends when its ttl has passed", ttl, "b", true},
		{"the holder's own lease is extended, not refused", ttl - 1, "a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTimerClock()
			s := pkce.NewMemoryStoreWithClock(clock.Now, clock.AfterFunc, 10)
			var ok bool
			var err error
			if tt.owner == "" {
				ok, err = s.Claim(ctx, claimKey(1), ttl)
			} else {
				ok, err = s.Lease(ctx, "subject", "a", ttl)
			}
			require.NoError(t, err)
			require.True(t, ok)
			clock.Advance(tt.after)
			if tt.owner == "" {
				ok, err = s.Claim(ctx, claimKey(1), ttl)
			} else {
				ok, err = s.Lease(ctx, "subject", tt.owner, ttl)
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, ok)
		})
	}
}

func TestMemoryStoreBound(t *testing.T) {
	ctx := context.Background()
	clock := newTimerClock()
	s := pkce.NewMemoryStoreWithClock(clock.Now, clock.AfterFunc, 3)
	for i := range 3 {
		ok, err := s.Claim(ctx, claimKey(i), time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
	}

	ok, err := s.Claim(ctx, claimKey(3), time.Minute)
	assert.ErrorIs(t, err, pkce.ErrTooManyClaims, "a full store refuses a new claim")
	assert.False(t, ok)

	ok, err = s.Claim(ctx, claimKey(0), time.Minute)
	assert.NoError(t, err, "a full store still answers for a live claim")
	assert.False(t, ok, "and still remembers it")

	clock.Advance(time.Minute)
	ok, err = s.Claim(ctx, claimKey(3), time.Minute)
	assert.NoError(t, err, "expired claims make room")
	assert.True(t, ok)
}

// The issue: after 1,000,000 flows expire the set is empty within one flow
// lifetime, without new traffic. Sweeping needs no traffic because the
// store arms a timer for its earliest expiry while it holds claims.
func TestMemoryStoreEmptiesWithoutTraffic(t *testing.T) {
	ctx := context.Background()
	const (
		flows    = 1_000_000
		batches  = 1_000
		lifetime = 10 * time.Minute
		// The traffic lasts two lifetimes, so half of it has expired by
		// the time it stops.
		step = 2 * lifetime / batches
	)
	clock := newTimerClock()
	s := pkce.NewMemoryStoreWithClock(clock.Now, clock.AfterFunc, pkce.MaxMemoryClaims)
	for b := range batches {
		for i := range flows / batches {
			ok, err := s.Claim(ctx, claimKey(b*flows/batches+i), lifetime)
			require.NoError(t, err)
			require.True(t, ok)
		}
		clock.Advance(step)
	}
	lastExpiry := clock.Now().Add(lifetime - step)

	claims, _ := pkce.MemoryStoreSize(s)
	live := int(lifetime / step * flows / batches)
	assert.LessOrEqual(t, claims, live+2*flows/batches, "expired claims are swept while traffic goes on")
	require.True(t, pkce.MemoryStoreTimerArmed(s), "a store holding claims has armed its timer")

	for clock.Now().Before(lastExpiry.Add(lifetime)) {
		if claims, _ = pkce.MemoryStoreSize(s); claims == 0 {
			break
		}
		clock.Advance(time.Second)
	}
	claims, slots := pkce.MemoryStoreSize(s)
	assert.Zero(t, claims, "claims a lifetime after the last one expired")
	assert.Equal(t, pkce.MinClaimSlots, slots, "the emptied table gave its memory back")
	assert.False(t, pkce.MemoryStoreTimerArmed(s), "an empty store keeps no timer")
	assert.Zero(t, clock.Armed(), "an empty store keeps no timer")
}

func TestMemoryStoreGivesMemoryBack(t *testing.T) {
	ctx := context.Background()
	const n = 200_000
	clock := newTimerClock()
	s := pkce.NewMemoryStoreWithClock(clock.Now, clock.AfterFunc, pkce.MaxMemoryClaims)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = claimKey(i)
	}
	before := heapAlloc()
	for _, k := range keys {
		_, err := s.Claim(ctx, k, time.Minute)
		require.NoError(t, err)
	}
	full := heapAlloc()
	require.Greater(t, full, before+n*32, "the claims take memory")

	clock.Advance(2 * time.Minute)
	claims, _ := pkce.MemoryStoreSize(s)
	require.Zero(t, claims)
	after := heapAlloc()
	assert.Less(t, after, before+(full-before)/10, "memory after all claims expired (before %d, full %d)", before, full)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(s)
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestMemoryStoreKeepsCopies(t *testing.T) {
	ctx := context.Background()
	// Each name is a slice of a larger string, as a key parsed out of a
	// request would be; the store must not keep the request alive.
	request := strings.Repeat("x", 4096) + claimKey(1) + "subject" + "owner"
	key := request[4096 : 4096+32]
	subject := request[4096+32 : 4096+32+7]
	owner := request[4096+32+7:]
	s := pkce.NewMemoryStore()
	_, err := s.Claim(ctx, key, time.Minute)
	require.NoError(t, err)
	_, err = s.SaveToken(ctx, subject, nil, []byte("token"))
	require.NoError(t, err)
	_, err = s.Lease(ctx, subject, owner, time.Minute)
	require.NoError(t, err)

	start := uintptr(unsafe.Pointer(unsafe.StringData(request)))
	end := start + uintptr(len(request))
	kept := pkce.MemoryStoreKeys(s)
	require.Len(t, kept, 3, "a subject, a lease's subject and owner; a claim keeps a digest, not its key")
	for _, k := range kept {
		p := uintptr(unsafe.Pointer(unsafe.StringData(k)))
		assert.False(t, p >= start && p < end, "the store keeps %q inside the caller's string", k)
	}
}

func TestMemoryStoreIsCollectedWithArmedTimer(t *testing.T) {
	collected := abandonArmedStore(t)
	runtime.GC()
	runtime.GC()
	assert.True(t, collected(), "an unreferenced store with live claims is collected")
}

// abandonArmedStore makes a store whose sweep timer is armed for an hour
// and returns without keeping a reference to it.
func abandonArmedStore(t *testing.T) func() bool {
	s := pkce.NewMemoryStore()
	ok, err := s.Claim(context.Background(), claimKey(1), time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, pkce.MemoryStoreTimerArmed(s))
	return pkce.MemoryStoreCollected(s)
}

// BenchmarkMemoryStoreClaim reports the heap each remembered claim takes,
// keys included, as B/claim.
func BenchmarkMemoryStoreClaim(b *testing.B) {
	ctx := context.Background()
	const n = 100_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = claimKey(i)
	}
	var perClaim float64
	for b.Loop() {
		b.StopTimer()
		before := heapAlloc()
		b.StartTimer()
		s := pkce.NewMemoryStore()
		for _, k := range keys {
			if _, err := s.Claim(ctx, k, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		perClaim = float64(int64(heapAlloc())-int64(before)) / n
		runtime.KeepAlive(s)
		b.StartTimer()
	}
	b.ReportMetric(perClaim, "B/claim")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/claim")
}
