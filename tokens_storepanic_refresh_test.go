package pkce_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// tokenPanicStore is a RefreshStore that panics in the one method named by
// method with a value that quotes the token bytes it holds or was given,
// as a store's bug (a failed encoding, a failed type assertion on the
// value) may.
type tokenPanicStore struct {
	pkce.RefreshStore
	method string
}

func (p *tokenPanicStore) LeaseToken(ctx context.Context, subject, owner string, ttl time.Duration) (bool, []byte, error) {
	held, tok, err := p.RefreshStore.LeaseToken(ctx, subject, owner, ttl)
	if p.method == "LeaseToken" {
		panic("store bug near " + string(tok))
	}
	return held, tok, err
}

func (p *tokenPanicStore) SaveTokenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error) {
	if p.method == "SaveTokenRelease" {
		panic("store bug near " + string(token))
	}
	return p.RefreshStore.SaveTokenRelease(ctx, subject, owner, old, token)
}

// A panic in the application's Store during a refresh through Tokens is a
// try-later error whose text does not quote the panic's value: it may hold
// the stored or the newly issued tokens, which no redactor of the source
// knows (the new ones are not its yet), and a token goes into no error
// (THREATS.md, promise 2).
func TestTokensStorePanicDuringARefreshQuotesNoToken(t *testing.T) {
	tests := []struct {
		name   string
		method string
	}{
		{"LeaseToken: the stored token is not quoted", "LeaseToken"},
		{"SaveTokenRelease: the new token is not quoted", "SaveTokenRelease"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newTokensStack(t)
			store := &tokenPanicStore{RefreshStore: s.store.(pkce.RefreshStore)}
			tokens, err := s.client.Tokens(store)
			require.NoError(t, err)
			src, err := tokens.Source(ctx, "alice")
			require.NoError(t, err)
			store.method = tt.method

			require.NotPanics(t, func() { _, err = src.TokenContext(ctx) })
			require.Error(t, err)
			assert.ErrorIs(t, err, pkce.ErrTryLater)
			assert.NotContains(t, err.Error(), "store bug near", "the panic's value is quoted")
			assert.NotContains(t, err.Error(), `"refresh_token":"`, "a stored form of a token is quoted")
		})
	}
}
