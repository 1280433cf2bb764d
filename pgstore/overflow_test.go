//go:build unix

package pgstore_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A ttl near the largest duration, as an application that means "for
// ever" passes, must not round into a negative interval, which ends the
// claim or the lease at once: a second claim of a finished flow would
// win, and another owner would take a held lease.
func TestHugeTTLEndsTheClaimAtOnce(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newPool(t, pgDSN), uniqueSchema())
	for name, ttl := range map[string]time.Duration{
		"the largest duration":          math.MaxInt64,
		"a nanosecond short of it":      math.MaxInt64 - 1,
		"the largest whole microsecond": math.MaxInt64 / time.Microsecond * time.Microsecond,
	} {
		t.Run(name, func(t *testing.T) {
			won, err := s.Claim(ctx, "claim "+name, ttl)
			require.NoError(t, err)
			require.True(t, won)
			again, err := s.Claim(ctx, "claim "+name, time.Minute)
			require.NoError(t, err)
			assert.False(t, again, "a claimed key is claimed once")

			held, err := s.Lease(ctx, "lease "+name, "first", ttl)
			require.NoError(t, err)
			require.True(t, held)
			taken, err := s.Lease(ctx, "lease "+name, "second", time.Minute)
			require.NoError(t, err)
			assert.False(t, taken, "a held lease is not taken by another owner")
		})
	}
}
