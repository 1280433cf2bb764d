package pkce_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// panickyStore panics in the one method named by method, with a value
// that holds what a store keeps.
type panickyStore struct {
	pkce.Store
	method string
}

const storePanicValue = "store bug near stored-secret-value"

func (p *panickyStore) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	if p.method == "LoadToken" {
		panic(storePanicValue)
	}
	return p.Store.LoadToken(ctx, subject)
}

func (p *panickyStore) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	if p.method == "SaveToken" {
		panic(storePanicValue)
	}
	return p.Store.SaveToken(ctx, subject, old, token)
}

func (p *panickyStore) DeleteToken(ctx context.Context, subject string) error {
	if p.method == "DeleteToken" {
		panic(storePanicValue)
	}
	return p.Store.DeleteToken(ctx, subject)
}

// A panic in the application's Store, called on the caller's goroutine
// outside any refresh, becomes an error of the call (THREATS.md: a
// careless application must not crash the process), and the panic's
// value, which may hold what the store keeps, is not quoted.
func TestTokensStorePanicOutsideARefreshIsAnError(t *testing.T) {
	tests := []struct {
		name   string
		method string
		call   func(context.Context, *pkce.Tokens, *pkce.Token) error
	}{
		{"Source: a panicking LoadToken is try-later", "LoadToken", func(ctx context.Context, tk *pkce.Tokens, _ *pkce.Token) error {
			_, err := tk.Source(ctx, "bob")
			return err
		}},
		{"Save: a panicking SaveToken is an error", "SaveToken", func(ctx context.Context, tk *pkce.Tokens, tok *pkce.Token) error {
			return tk.Save(ctx, "bob", tok)
		}},
		{"SignOut: a panicking LoadToken is an error", "LoadToken", func(ctx context.Context, tk *pkce.Tokens, _ *pkce.Token) error {
			return tk.SignOut(ctx, "bob")
		}},
		{"SignOut: a panicking DeleteToken is an error", "DeleteToken", func(ctx context.Context, tk *pkce.Tokens, _ *pkce.Token) error {
			return tk.SignOut(ctx, "bob")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTokensStack(t)
			ctx := context.Background()
			tok, err := s.tokens.Source(ctx, "alice")
			require.NoError(t, err)
			current, err := tok.TokenContext(ctx)
			require.NoError(t, err)
			store := &panickyStore{Store: s.store}
			tokens, err := s.client.Tokens(store)
			require.NoError(t, err)
			require.NoError(t, tokens.Save(ctx, "bob", &pkce.Token{Token: current}))
			store.method = tt.method

			require.NotPanics(t, func() { err = tt.call(ctx, tokens, &pkce.Token{Token: current}) })
			require.Error(t, err)
			assert.ErrorIs(t, err, pkce.ErrTryLater)
			assert.ErrorContains(t, err, "Store panicked")
			assert.NotContains(t, err.Error(), "stored-secret-value")
		})
	}
}
