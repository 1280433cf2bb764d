package pkce_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A valid token is read without allocation, from a TokenSource and
// through Tokens (Source, then TokenContext, as a request handler does).
func TestBudgetValidTokenRead(t *testing.T) {
	s := newTokensStack(t)
	ctx := context.Background()
	tok := signInWith(t, s.srv, s.client)
	require.NoError(t, s.tokens.Save(ctx, "bob", tok))
	_, err := s.tokens.Source(ctx, "bob") // loaded once, by the first request
	require.NoError(t, err)
	src, err := s.client.TokenSource(tok.Token)
	require.NoError(t, err)

	tests := []struct {
		name string
		read func() error
	}{
		{"TokenSource.TokenContext", func() error { _, err := src.TokenContext(ctx); return err }},
		{"TokenSource.Token", func() error { _, err := src.Token(); return err }},
		{"Tokens.Source then TokenContext", func() error {
			src, err := s.tokens.Source(ctx, "bob")
			if err == nil {
				_, err = src.TokenContext(ctx)
			}
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(1000, func() { err = tc.read() })
			require.NoError(t, err)
			assert.Zero(t, allocs)
		})
	}
}
