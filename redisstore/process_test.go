//go:build unix

package redisstore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/redisstore"
)

const (
	claimProcesses  = 4
	claimGoroutines = 250
	// hangBound only catches a call that never returns; every call in
	// these tests has a context deadline far below it.
	hangBound = 30 * time.Second
)

// childStore is the store of a child process, in the parent's server
// under the parent's prefix.
func childStore(t *testing.T) *redisstore.Store {
	return redisstore.New(newClient(t, redisAddr), redisstore.WithPrefix(os.Getenv("STORE_PREFIX")))
}

// Four processes of 250 goroutines each claim one key: one call in all
// of them wins.
func TestClaimAcrossProcesses(t *testing.T) {
	needRedis(t)
	if storetest.Role() == "claimer" {
		s := childStore(t)
		storetest.AwaitStart()
		storetest.ClaimRace(t, s, claimGoroutines)
		return
	}
	ps := storetest.StartProcesses(t, claimProcesses, "claimer", "REDIS_ADDR="+redisAddr, "STORE_PREFIX="+uniquePrefix())
	ps.Start()
	wins := storetest.TotalWins(t, ps)
	assert.Equal(t, 1, wins, "winners among %d processes × %d goroutines", claimProcesses, claimGoroutines)
}

// A lease whose holder was killed ends when its ttl runs out, and not
// before.
func TestLeaseOfKilledProcess(t *testing.T) {
	needRedis(t)
	const ttl = time.Second
	ctx := context.Background()
	if storetest.Role() == "holder" {
		ok, err := childStore(t).Lease(ctx, "subject", "holder", ttl)
		require.NoError(t, err)
		storetest.Report("held %t", ok)
		storetest.AwaitStart() // until killed
		return
	}
	prefix := uniquePrefix()
	s := redisstore.New(newClient(t, redisAddr), redisstore.WithPrefix(prefix))
	begun := time.Now() // the lease cannot have been taken before
	ps := storetest.StartProcesses(t, 1, "holder", "REDIS_ADDR="+redisAddr, "STORE_PREFIX="+prefix)
	require.Equal(t, "held true", ps[0].Next(t))
	seen := time.Now() // the lease was taken by now
	ps[0].Kill(t)

	ok, err := s.Lease(ctx, "subject", "other", time.Minute)
	require.NoError(t, err)
	if time.Since(begun) < ttl {
		assert.False(t, ok, "the lease of a killed holder, within its ttl")
	}
	time.Sleep(time.Until(seen.Add(ttl + 5*time.Millisecond)))
	ok, err = s.Lease(ctx, "subject", "other", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "the lease of a killed holder, after its ttl")
}

// storeCalls are one call of each method, for outage tests.
var storeCalls = []struct {
	name string
	call func(context.Context, pkce.Store) error
}{
	{"Claim", func(ctx context.Context, s pkce.Store) error {
		_, err := s.Claim(ctx, storetest.Key("outage"), time.Minute)
		return err
	}},
	{"LoadToken", func(ctx context.Context, s pkce.Store) error {
		_, err := s.LoadToken(ctx, "subject")
		return err
	}},
	{"SaveToken", func(ctx context.Context, s pkce.Store) error {
		_, err := s.SaveToken(ctx, "subject", nil, []byte("secret token"))
		return err
	}},
	{"SaveToken compare-and-set", func(ctx context.Context, s pkce.Store) error {
		_, err := s.SaveToken(ctx, "subject", []byte("secret token"), []byte("secret token"))
		return err
	}},
	{"DeleteToken", func(ctx context.Context, s pkce.Store) error { return s.DeleteToken(ctx, "other subject") }},
	{"Lease", func(ctx context.Context, s pkce.Store) error {
		_, err := s.Lease(ctx, "subject", "a", time.Minute)
		return err
	}},
	{"Release", func(ctx context.Context, s pkce.Store) error { return s.Release(ctx, "subject", "a") }},
}

// callWithin runs call with a deadline of d and returns its error; the
// test fails if the call outlives hangBound.
func callWithin(t *testing.T, s pkce.Store, d time.Duration, call func(context.Context, pkce.Store) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- call(ctx, s) }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangBound):
		require.FailNow(t, "a store call ignored its context deadline")
		return nil
	}
}

// While Redis is down or frozen, every call fails within its deadline, with
// an error that names the store and not the token; once Redis is back on
// the same port, calls work again.
func TestOutage(t *testing.T) {
	needRedis(t)
	srv, err := startRedis(0, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	s := redisstore.New(newClient(t, srv.Addr))
	assertWorking := func(t *testing.T) {
		t.Helper()
		for _, c := range storeCalls {
			assert.NoError(t, callWithin(t, s, 5*time.Second, c.call), c.name)
		}
	}
	assertFailing := func(t *testing.T) {
		t.Helper()
		for _, c := range storeCalls {
			err := callWithin(t, s, 300*time.Millisecond, c.call)
			if assert.Error(t, err, c.name) {
				assert.True(t, strings.HasPrefix(err.Error(), "redisstore: "), "%s: %v", c.name, err)
				assert.NotContains(t, err.Error(), "secret token", c.name)
			}
		}
	}
	assertWorking(t)

	t.Run("frozen server", func(t *testing.T) {
		require.NoError(t, syscall.Kill(srv.cmd.Process.Pid, syscall.SIGSTOP))
		defer func() { require.NoError(t, syscall.Kill(srv.cmd.Process.Pid, syscall.SIGCONT)) }()
		for _, c := range storeCalls {
			err := callWithin(t, s, 300*time.Millisecond, c.call)
			assert.True(t, errors.Is(err, context.DeadlineExceeded) || isTimeout(err), "%s: %v", c.name, err)
		}
		assertFailing(t)
	})
	t.Run("calls work after the server thaws", assertWorking)

	t.Run("stopped server", func(t *testing.T) {
		require.NoError(t, srv.Stop())
		assertFailing(t)
	})

	t.Run("calls work after a restart on the same port", func(t *testing.T) {
		restarted, err := startRedis(srv.port, srv.dir)
		require.NoError(t, err)
		t.Cleanup(func() { _ = restarted.Stop() })
		assertWorking(t)
	})
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
