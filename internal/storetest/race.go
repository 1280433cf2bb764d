package storetest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// ClaimRace is the child's part of a race for one claim: goroutines
// claim the same key of s at once, and the child reports how many won,
// for the parent's TotalWins.
func ClaimRace(t *testing.T, s pkce.Store, goroutines int) {
	t.Helper()
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			ok, err := s.Claim(context.Background(), Key("contended"), time.Minute)
			assert.NoError(t, err)
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	Report("wins %d", wins.Load())
}

// TotalWins waits for the children of a ClaimRace and adds up their wins.
func TotalWins(t *testing.T, ps Processes) int {
	t.Helper()
	wins := 0
	for i, lines := range ps.Wait(t) {
		require.Len(t, lines, 1, "child %d", i)
		n, err := strconv.Atoi(strings.TrimPrefix(lines[0], "wins "))
		require.NoError(t, err, "child %d reported %q", i, lines[0])
		wins += n
	}
	return wins
}
