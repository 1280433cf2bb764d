//go:build unix

package pgstore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/pgstore"
)

const (
	claimProcesses  = 4
	claimGoroutines = 250
	// hangBound only catches a call that never returns; every call in
	// these tests has a context deadline far below it.
	hangBound = 30 * time.Second
)

// childStore is the store of a child process, in the parent's server
// under the parent's schema.
func childStore(t *testing.T) *pgstore.Store {
	return newStore(t, newPool(t, pgDSN), os.Getenv("STORE_SCHEMA"))
}

// Four processes of 250 goroutines each claim one key: one call in all
// of them wins.
func TestClaimAcrossProcesses(t *testing.T) {
	needPostgres(t)
	if storetest.Role() == "claimer" {
		s := childStore(t)
		storetest.AwaitStart()
		storetest.ClaimRace(t, s, claimGoroutines)
		return
	}
	ps := storetest.StartProcesses(t, claimProcesses, "claimer", "PG_DSN="+pgDSN, "STORE_SCHEMA="+uniqueSchema())
	ps.Start()
	wins := storetest.TotalWins(t, ps)
	assert.Equal(t, 1, wins, "winners among %d processes × %d goroutines", claimProcesses, claimGoroutines)
}

// A lease whose holder was killed ends when its ttl runs out, and not
// before.
func TestLeaseOfKilledProcess(t *testing.T) {
	needPostgres(t)
	const ttl = time.Second
	ctx := context.Background()
	if storetest.Role() == "holder" {
		ok, err := childStore(t).Lease(ctx, "subject", "holder", ttl)
		require.NoError(t, err)
		storetest.Report("held %t", ok)
		storetest.AwaitStart() // until killed
		return
	}
	schema := uniqueSchema()
	s := newStore(t, newPool(t, pgDSN), schema)
	begun := time.Now() // the lease cannot have been taken before
	ps := storetest.StartProcesses(t, 1, "holder", "PG_DSN="+pgDSN, "STORE_SCHEMA="+schema)
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

// While the database is down or frozen, every call fails within its
// deadline, with an error that names the store and not the token; once
// the database is back on the same port, calls work again.
func TestOutage(t *testing.T) {
	needPostgres(t)
	srv, err := initServer()
	require.NoError(t, err)
	t.Cleanup(srv.Remove)
	s := newStore(t, newPool(t, srv.DSN), "pkce")
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
				assert.True(t, strings.HasPrefix(err.Error(), "pgstore: "), "%s: %v", c.name, err)
				assert.NotContains(t, err.Error(), "secret token", c.name)
			}
		}
	}
	assertWorking(t)

	t.Run("frozen server", func(t *testing.T) {
		require.NoError(t, srv.Freeze())
		defer func() { require.NoError(t, srv.Thaw()) }()
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
		restarted, err := srv.Restart()
		require.NoError(t, err)
		t.Cleanup(func() { _ = restarted.Stop() })
		assertWorking(t)
	})
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// A database restarted without its data (no tables) is not an outage
// for ever: the store creates its tables again, and Tokens says the
// stored token is gone (sign in again) rather than try later.
func TestDatabaseRestartedWithoutItsData(t *testing.T) {
	needPostgres(t)
	ctx := context.Background()
	db, err := initServer()
	require.NoError(t, err)
	t.Cleanup(func() { db.Remove() })
	store := newStore(t, newPool(t, db.DSN), "pkce")
	srv := authServer(t)
	client := oauthClient(t, srv.Issuer(), pkce.WithStore(store))
	tokens, err := client.Tokens(store)
	require.NoError(t, err)
	require.NoError(t, tokens.Save(ctx, subject, signIn(t, srv, client)))

	db, err = db.Recreate()
	require.NoError(t, err)

	// The pool's connections died with the old server; a call may fail
	// once while the pool notices, as in any restart.
	waitFor(t, 10*time.Second, "a store call on the new database", func() bool {
		_, err := store.LoadToken(ctx, "probe")
		return !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "connect"))
	})
	for _, c := range storeCalls {
		assert.NoError(t, callWithin(t, store, 5*time.Second, c.call), c.name)
	}
	fresh, err := client.Tokens(store)
	require.NoError(t, err)
	_, err = fresh.Source(ctx, subject)
	assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the token is gone with the data")
	assert.NotErrorIs(t, err, pkce.ErrTryLater)
	assert.NoError(t, tokens.Save(ctx, subject, signIn(t, srv, client)), "a new sign-in")
}
