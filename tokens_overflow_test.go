package pkce_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// A refresh timeout meant as "no timeout" must not overflow the lease it
// sets (timeout plus margin) into a negative ttl, which every store
// refuses: the subject would answer try-later for ever. It is refused
// when the Tokens is made, or it works.
func TestTokensHugeRefreshTimeoutWedgesTheSubject(t *testing.T) {
	for name, d := range map[string]time.Duration{
		"the largest duration":      math.MaxInt64,
		"a duration that overflows": math.MaxInt64 - time.Second,
	} {
		t.Run(name, func(t *testing.T) {
			s := newTokensStack(t)
			tokens, err := s.client.Tokens(s.store, pkce.WithRefreshTimeout(d))
			if err != nil {
				assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
				return
			}
			src, err := tokens.Source(context.Background(), "alice")
			require.NoError(t, err)
			_, err = src.TokenContext(context.Background())
			assert.NoError(t, err, "a refresh with a valid refresh token")
		})
	}
}
