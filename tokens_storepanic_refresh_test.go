package pkce_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// tokenPanicStore is a RefreshStore that panics in the one method named by
// method with a value that quotes the token bytes it holds, as a store's
// bug (a failed decoding, a failed type assertion on the value) may.
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

// A panic in the application's Store during a refresh through Tokens is a
// try-later error whose text does not quote the panic's value: it may hold
// the stored token, whose members (an ID token, a sealed form) the
// source's redaction does not all know, and a token goes into no error
// (THREATS.md, promise 2). A panicking save is another matter: see
// TestTokensStorePanicSavingARefreshKeepsTheNewToken.
func TestTokensStorePanicDuringARefreshQuotesNoToken(t *testing.T) {
	tests := []struct {
		name   string
		method string
	}{
		{"LeaseToken: the stored token is not quoted", "LeaseToken"},
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

// saveReleasePanicStore is a RefreshStore whose SaveTokenRelease panics,
// and, with release set, whose Release panics too.
type saveReleasePanicStore struct {
	pkce.RefreshStore
	release bool
}

func (p *saveReleasePanicStore) SaveTokenRelease(context.Context, string, string, []byte, []byte) (bool, error) {
	panic(storePanicValue)
}

func (p *saveReleasePanicStore) Release(ctx context.Context, subject, owner string) error {
	if p.release {
		panic(storePanicValue)
	}
	return p.RefreshStore.Release(ctx, subject, owner)
}

// The authorization server has issued a new token, and may have rotated
// the refresh token, when the Store panics saving it: as when the save
// fails, this process hands out the new token rather than drop it, which
// would leave only a dead refresh token (THREATS.md, promise 1).
func TestTokensStorePanicSavingARefreshKeepsTheNewToken(t *testing.T) {
	tests := []struct {
		name    string
		release bool
	}{
		{"a panicking save: the new token is handed out", false},
		{"a panicking save and release: the new token is handed out", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newTokensStack(t)
			old, err := s.store.LoadToken(ctx, "alice")
			require.NoError(t, err)
			store := &saveReleasePanicStore{RefreshStore: s.store.(pkce.RefreshStore), release: tt.release}
			tokens, err := s.client.Tokens(store)
			require.NoError(t, err)
			src, err := tokens.Source(ctx, "alice")
			require.NoError(t, err)

			var tok *oauth2.Token
			require.NotPanics(t, func() { tok, err = src.TokenContext(ctx) })
			require.NoError(t, err)
			assert.Equal(t, 1, s.srv.RefreshRequests())
			assert.NotEqual(t, storedRefreshToken(t, old), tok.RefreshToken, "the rotated refresh token")
		})
	}
}
