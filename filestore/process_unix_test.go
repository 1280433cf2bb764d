//go:build unix

package filestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/filestore"
	"github.com/pkcekit/pkce/internal/storetest"
)

const (
	counterProcesses  = 8
	counterIterations = 50
	claimProcesses    = 4
	claimGoroutines   = 250
)

// Eight processes take the lease in turn and each adds one to a counter
// kept as the token, by compare-and-set: no increment is lost, no read
// finds a torn file, and the files stay private.
func TestLeaseCounterAcrossProcesses(t *testing.T) {
	if storetest.Role() == "counter" {
		countUnderLease(t, os.Getenv("STORE_DIR"))
		return
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tokens")
	s, err := filestore.New(dir)
	require.NoError(t, err)
	_, err = s.SaveToken(ctx, "counter", nil, []byte("0"))
	require.NoError(t, err)

	ps := storetest.StartProcesses(t, counterProcesses, "counter", "STORE_DIR="+dir)
	ps.Start()
	for i, lines := range ps.Wait(t) {
		assert.Equal(t, []string{"done"}, lines, "child %d: results other than done", i)
	}

	tok, err := s.LoadToken(ctx, "counter")
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(counterProcesses*counterIterations), string(tok))
	assertPrivate(t, dir)
}

// countUnderLease is a child's part in TestLeaseCounterAcrossProcesses. It
// reads the counter also without the lease, to catch torn files.
func countUnderLease(t *testing.T, dir string) {
	ctx := context.Background()
	s, err := filestore.New(dir)
	require.NoError(t, err)
	owner := fmt.Sprint("process ", os.Getpid())
	storetest.AwaitStart()
	for range counterIterations {
		for {
			tok, err := s.LoadToken(ctx, "counter")
			require.NoError(t, err)
			if _, err := strconv.Atoi(string(tok)); err != nil {
				storetest.Report("torn read %q", tok)
			}
			ok, err := s.Lease(ctx, "counter", owner, time.Minute)
			require.NoError(t, err)
			if ok {
				break
			}
			time.Sleep(200 * time.Microsecond) // pacing only
		}
		tok, err := s.LoadToken(ctx, "counter")
		require.NoError(t, err)
		n, err := strconv.Atoi(string(tok))
		if err != nil {
			storetest.Report("torn read %q", tok)
		}
		ok, err := s.SaveToken(ctx, "counter", tok, []byte(strconv.Itoa(n+1)))
		require.NoError(t, err)
		if !ok {
			storetest.Report("compare-and-set failed under the lease at %d", n)
		}
		require.NoError(t, s.Release(ctx, "counter", owner))
	}
	storetest.Report("done")
}

// A process killed while it holds the lease does not block others: the
// system drops its lock with the process.
func TestLeaseOfKilledProcess(t *testing.T) {
	ctx := context.Background()
	if storetest.Role() == "holder" {
		s, err := filestore.New(os.Getenv("STORE_DIR"))
		require.NoError(t, err)
		ok, err := s.Lease(ctx, "subject", "holder", time.Hour)
		require.NoError(t, err)
		storetest.Report("held %t", ok)
		storetest.AwaitStart() // until killed
		return
	}
	dir := filepath.Join(t.TempDir(), "tokens")
	s, err := filestore.New(dir)
	require.NoError(t, err)
	ps := storetest.StartProcesses(t, 1, "holder", "STORE_DIR="+dir)
	require.Equal(t, "held true", ps[0].Next(t))

	ok, err := s.Lease(ctx, "subject", "other", time.Hour)
	require.NoError(t, err)
	require.False(t, ok, "the lease of a live holder")

	ps[0].Kill(t)
	ok, err = s.Lease(ctx, "subject", "other", time.Hour)
	require.NoError(t, err)
	assert.True(t, ok, "the lease once its holder was killed")
}

// Processes racing for one claim key have exactly one winner among them.
func TestClaimAcrossProcesses(t *testing.T) {
	if storetest.Role() == "claimer" {
		s, err := filestore.New(os.Getenv("STORE_DIR"))
		require.NoError(t, err)
		storetest.AwaitStart()
		storetest.ClaimRace(t, s, claimGoroutines)
		return
	}
	dir := filepath.Join(t.TempDir(), "tokens")
	_, err := filestore.New(dir)
	require.NoError(t, err)
	ps := storetest.StartProcesses(t, claimProcesses, "claimer", "STORE_DIR="+dir)
	ps.Start()
	wins := storetest.TotalWins(t, ps)
	assert.Equal(t, 1, wins, "winners among %d processes × %d goroutines", claimProcesses, claimGoroutines)
}
