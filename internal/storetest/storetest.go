// Package storetest checks that a pkce.Store keeps the contract documented
// on pkce.Store, and starts real OS processes for tests of stores shared
// between processes (see StartProcesses).
//
// Tests of expiry use real time with short ttls. Waits only ever move the
// store further past a ttl, so a slow machine cannot fail a correct store;
// where a check needs a ttl not to have run out yet, it is made only when
// the clock, read after the call, shows that it cannot have.
package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

const (
	// shortTTL is long enough for a store round trip and short enough to
	// wait out in a test.
	shortTTL = 150 * time.Millisecond
	// slack covers stores that keep expiries in whole milliseconds.
	slack = 5 * time.Millisecond
	// concurrentClaims is how many goroutines race for one claim key.
	concurrentClaims = 10_000
)

// Key returns a claim key shaped like the package's: a fixed-size digest.
func Key(name string) string {
	sum := sha256.Sum256([]byte(name))
	return string(sum[:])
}

// waitPast returns once d has passed since start.
func waitPast(start time.Time, d time.Duration) { time.Sleep(time.Until(start.Add(d + slack))) }

// Run checks the store contract against stores from newStore, which must
// return a fresh, empty store for every subtest (for a shared server, one
// with its own key prefix). It covers single-use claims, including one
// winner among 10,000 goroutines, their expiry, token loads, saves and
// compare-and-set, leases between owners, their extension, expiry and
// release, context cancellation, and subjects that file names or key
// schemes could confuse; and, for a pkce.RefreshStore, its combined steps.
func Run(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	t.Run("claims", func(t *testing.T) { testClaims(t, newStore) })
	t.Run("tokens", func(t *testing.T) { testTokens(t, newStore) })
	t.Run("leases", func(t *testing.T) { testLeases(t, newStore) })
	t.Run("context", func(t *testing.T) { testContext(t, newStore) })
	t.Run("odd subjects", func(t *testing.T) { testOddSubjects(t, newStore) })
	if _, ok := newStore(t).(pkce.RefreshStore); ok {
		t.Run("refresh store", func(t *testing.T) { testRefreshStore(t, newStore) })
	}
}

func testClaims(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	ctx := context.Background()

	t.Run("a key is claimed once", func(t *testing.T) {
		s := newStore(t)
		ok, err := s.Claim(ctx, Key("a"), time.Minute)
		require.NoError(t, err)
		assert.True(t, ok, "first claim")
		ok, err = s.Claim(ctx, Key("a"), time.Minute)
		require.NoError(t, err)
		assert.False(t, ok, "second claim of a live key")
		ok, err = s.Claim(ctx, Key("b"), time.Minute)
		require.NoError(t, err)
		assert.True(t, ok, "another key is independent")
	})

	t.Run("exactly one winner among concurrent claims", func(t *testing.T) {
		s := newStore(t)
		var wins, failures atomic.Int64
		var firstErr atomic.Value
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range concurrentClaims {
			wg.Go(func() {
				<-start
				ok, err := s.Claim(ctx, Key("contended"), time.Minute)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		require.Zero(t, failures.Load(), "claims failed; first error: %v", firstErr.Load())
		assert.Equal(t, int64(1), wins.Load(), "winners among %d claims", concurrentClaims)
	})

	t.Run("a claim ends after its ttl", func(t *testing.T) {
		s := newStore(t)
		begun := time.Now()
		ok, err := s.Claim(ctx, Key("a"), shortTTL)
		require.NoError(t, err)
		require.True(t, ok)
		taken := time.Now()
		ok, err = s.Claim(ctx, Key("a"), shortTTL)
		require.NoError(t, err)
		if time.Since(begun) < shortTTL {
			assert.False(t, ok, "claimed again before the ttl ran out")
		}
		waitPast(taken, shortTTL)
		ok, err = s.Claim(ctx, Key("a"), shortTTL)
		require.NoError(t, err)
		assert.True(t, ok, "an expired claim can be claimed again")
	})

	t.Run("a non-positive ttl is an error", func(t *testing.T) {
		s := newStore(t)
		for _, ttl := range []time.Duration{0, -time.Second} {
			ok, err := s.Claim(ctx, Key("a"), ttl)
			assert.Error(t, err, "ttl %v", ttl)
			assert.False(t, ok, "ttl %v", ttl)
		}
	})
}

func testTokens(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	ctx := context.Background()

	t.Run("an absent token loads as nil without error", func(t *testing.T) {
		tok, err := newStore(t).LoadToken(ctx, "nobody")
		assert.NoError(t, err)
		assert.Nil(t, tok)
	})

	saves := []struct {
		name    string
		stored  []byte // saved unconditionally first; nil: nothing stored
		old     []byte
		saved   bool
		content []byte // what loads afterwards; nil: absent
	}{
		{"unconditional save creates", nil, nil, true, []byte("new")},
		{"unconditional save overwrites", []byte("stored"), nil, true, []byte("new")},
		{"compare-and-set succeeds when the bytes are equal", []byte("stored"), []byte("stored"), true, []byte("new")},
		{"compare-and-set fails when the bytes differ", []byte("stored"), []byte("store"), false, []byte("stored")},
		{"compare-and-set fails when there is no token", nil, []byte("stored"), false, nil},
		{"compare-and-set fails against an empty old when there is no token", nil, []byte{}, false, nil},
		{"compare-and-set compares every byte", []byte("stored\x00a"), []byte("stored\x00b"), false, []byte("stored\x00a")},
	}
	for _, tt := range saves {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if tt.stored != nil {
				ok, err := s.SaveToken(ctx, "subject", nil, tt.stored)
				require.NoError(t, err)
				require.True(t, ok)
			}
			ok, err := s.SaveToken(ctx, "subject", tt.old, []byte("new"))
			require.NoError(t, err)
			assert.Equal(t, tt.saved, ok)
			tok, err := s.LoadToken(ctx, "subject")
			require.NoError(t, err)
			assert.Equal(t, tt.content, tok)
		})
	}

	t.Run("the store keeps its own copy", func(t *testing.T) {
		s := newStore(t)
		buf := []byte("token")
		_, err := s.SaveToken(ctx, "subject", nil, buf)
		require.NoError(t, err)
		buf[0] = 'X'
		tok, err := s.LoadToken(ctx, "subject")
		require.NoError(t, err)
		require.Equal(t, []byte("token"), tok)
		tok[0] = 'Y'
		tok, err = s.LoadToken(ctx, "subject")
		require.NoError(t, err)
		assert.Equal(t, []byte("token"), tok)
	})

	t.Run("delete removes the token and tolerates absence", func(t *testing.T) {
		s := newStore(t)
		_, err := s.SaveToken(ctx, "subject", nil, []byte("token"))
		require.NoError(t, err)
		require.NoError(t, s.DeleteToken(ctx, "subject"))
		tok, err := s.LoadToken(ctx, "subject")
		require.NoError(t, err)
		assert.Nil(t, tok)
		assert.NoError(t, s.DeleteToken(ctx, "subject"), "deleting an absent token")
	})
}

func testLeases(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	ctx := context.Background()
	lease := func(t *testing.T, s pkce.Store, owner string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.Lease(ctx, "subject", owner, ttl)
		require.NoError(t, err)
		return ok
	}
	release := func(t *testing.T, s pkce.Store, owner string) {
		t.Helper()
		require.NoError(t, s.Release(ctx, "subject", owner))
	}

	t.Run("a lease is exclusive between owners", func(t *testing.T) {
		s := newStore(t)
		assert.True(t, lease(t, s, "a", time.Minute))
		assert.False(t, lease(t, s, "b", time.Minute), "b while a holds the lease")
		release(t, s, "a")
		assert.True(t, lease(t, s, "b", time.Minute), "b after a released")
	})

	t.Run("the holder takes its lease again and extends it", func(t *testing.T) {
		s := newStore(t)
		require.True(t, lease(t, s, "a", shortTTL))
		taken := time.Now()
		assert.True(t, lease(t, s, "a", time.Minute), "re-entrant lease")
		waitPast(taken, shortTTL)
		assert.False(t, lease(t, s, "b", time.Minute), "b after the first ttl of an extended lease")
	})

	t.Run("a lease ends after its ttl", func(t *testing.T) {
		s := newStore(t)
		begun := time.Now()
		require.True(t, lease(t, s, "a", shortTTL))
		taken := time.Now()
		ok := lease(t, s, "b", shortTTL)
		if time.Since(begun) < shortTTL {
			assert.False(t, ok, "b before a's ttl ran out")
		}
		waitPast(taken, shortTTL)
		assert.True(t, lease(t, s, "b", time.Minute), "b after a's ttl ran out")
	})

	t.Run("release by a non-owner does nothing", func(t *testing.T) {
		s := newStore(t)
		require.True(t, lease(t, s, "a", time.Minute))
		release(t, s, "b")
		assert.False(t, lease(t, s, "c", time.Minute), "c after b released a's lease")
	})

	t.Run("a late release does not end the next owner's lease", func(t *testing.T) {
		s := newStore(t)
		require.True(t, lease(t, s, "a", shortTTL))
		taken := time.Now()
		waitPast(taken, shortTTL)
		require.True(t, lease(t, s, "b", time.Minute))
		release(t, s, "a")
		assert.False(t, lease(t, s, "c", time.Minute), "c after a released a lease that b holds")
	})

	t.Run("release without a lease is not an error", func(t *testing.T) {
		release(t, newStore(t), "a")
	})

	t.Run("a non-positive ttl is an error", func(t *testing.T) {
		s := newStore(t)
		ok, err := s.Lease(ctx, "subject", "a", 0)
		assert.Error(t, err)
		assert.False(t, ok)
	})
}

func testContext(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	calls := []struct {
		name string
		call func(context.Context, pkce.Store) error
	}{
		{"Claim", func(ctx context.Context, s pkce.Store) error {
			_, err := s.Claim(ctx, Key("a"), time.Minute)
			return err
		}},
		{"LoadToken", func(ctx context.Context, s pkce.Store) error {
			_, err := s.LoadToken(ctx, "subject")
			return err
		}},
		{"SaveToken", func(ctx context.Context, s pkce.Store) error {
			_, err := s.SaveToken(ctx, "subject", nil, []byte("token"))
			return err
		}},
		{"SaveToken compare-and-set", func(ctx context.Context, s pkce.Store) error {
			_, err := s.SaveToken(ctx, "subject", []byte("old"), []byte("token"))
			return err
		}},
		{"DeleteToken", func(ctx context.Context, s pkce.Store) error { return s.DeleteToken(ctx, "subject") }},
		{"Lease", func(ctx context.Context, s pkce.Store) error {
			_, err := s.Lease(ctx, "subject", "a", time.Minute)
			return err
		}},
		{"Release", func(ctx context.Context, s pkce.Store) error { return s.Release(ctx, "subject", "a") }},
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for _, c := range calls {
		t.Run(c.name+" honours cancellation", func(t *testing.T) {
			err := c.call(cancelled, newStore(t))
			assert.ErrorIs(t, err, context.Canceled)
		})
		t.Run(c.name+" honours an expired deadline", func(t *testing.T) {
			err := c.call(expired, newStore(t))
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		})
	}
}

// OddSubjects are subjects that a store which builds file names or keys
// from them could confuse with each other or mishandle.
var OddSubjects = []struct{ Name, Subject string }{
	{"empty", ""},
	{"plain", "alice"},
	{"differs by case", "ALICE"},
	{"slash", "alice/bob"},
	{"backslash", `alice\bob`},
	{"dot dot", "../alice"},
	{"dot dot alone", ".."},
	{"dot", "."},
	{"NUL", "alice\x00bob"},
	{"NUL-terminated", "alice\x00"},
	{"unicode", "ålice/ユーザー/🙂"},
	{"invalid UTF-8", "alice\xff\xfe"},
	{"1 KiB long", strings.Repeat("s", 1024)},
	{"1 KiB long, last byte differs", strings.Repeat("s", 1023) + "t"},
	{"prefix of another", "alic"},
	{"colon, as in key prefixes", "token:alice"},
}

func testOddSubjects(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	ctx := context.Background()
	s := newStore(t)
	for i, o := range OddSubjects {
		ok, err := s.SaveToken(ctx, o.Subject, nil, []byte(fmt.Sprint("token ", i)))
		require.NoError(t, err, o.Name)
		require.True(t, ok, o.Name)
	}
	for i, o := range OddSubjects {
		t.Run(o.Name, func(t *testing.T) {
			tok, err := s.LoadToken(ctx, o.Subject)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprint("token ", i), string(tok), "token kept apart")

			ok, err := s.Lease(ctx, o.Subject, "a", time.Minute)
			require.NoError(t, err)
			assert.True(t, ok, "lease kept apart")

			ok, err = s.Claim(ctx, o.Subject, time.Minute)
			require.NoError(t, err)
			assert.True(t, ok, "claim key kept apart")
		})
	}
	for _, o := range OddSubjects {
		require.NoError(t, s.Release(ctx, o.Subject, "a"), o.Name)
		require.NoError(t, s.DeleteToken(ctx, o.Subject), o.Name)
	}
	for _, o := range OddSubjects {
		tok, err := s.LoadToken(ctx, o.Subject)
		require.NoError(t, err, o.Name)
		assert.Nil(t, tok, "deleted: %s", o.Name)
	}
}
