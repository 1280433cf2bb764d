//go:build unix

package redisstore_test

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/redisstore"
)

// While Redis is frozen (SIGSTOP: it keeps its memory but answers
// nothing), callers with a valid token in memory keep getting it, and
// callers that need a refresh or a token not yet loaded are told to try
// later, never to sign in again. When Redis thaws, everything stored is
// still there and the next call refreshes.
func TestTokensThroughStoreOutage(t *testing.T) {
	needRedis(t)
	ctx := context.Background()
	rs, err := startRedis(0, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.Stop() })
	pid := rs.cmd.Process.Pid
	store := redisstore.New(newClient(t, rs.Addr))
	srv := authServer(t)
	client := oauthClient(t, srv.Issuer())
	tokens, err := client.Tokens(store, pkce.WithRefreshTimeout(time.Second))
	require.NoError(t, err)

	require.NoError(t, tokens.Save(ctx, "bob", signIn(t, srv, client)))
	require.NoError(t, tokens.Save(ctx, subject, expired(signIn(t, srv, client))))
	bob, err := tokens.Source(ctx, "bob")
	require.NoError(t, err)
	bobToken, err := bob.TokenContext(ctx)
	require.NoError(t, err)
	alice, err := tokens.Source(ctx, subject)
	require.NoError(t, err)
	before := map[string][]byte{}
	for _, s := range []string{"bob", subject} {
		before[s], err = store.LoadToken(ctx, s)
		require.NoError(t, err)
	}

	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
		}
	}
	t.Cleanup(thaw)

	t.Run("a valid token in memory is served", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				tok, err := bob.TokenContext(ctx)
				if assert.NoError(t, err) {
					assert.Equal(t, bobToken.AccessToken, tok.AccessToken)
				}
			})
		}
		wg.Wait()
	})
	t.Run("a refresh is try-later, not sign-in-required", func(t *testing.T) {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := alice.TokenContext(callCtx)
		assert.ErrorIs(t, err, pkce.ErrTryLater)
		assert.NotErrorIs(t, err, pkce.ErrSignInRequired)
		assert.Equal(t, 0, srv.RefreshRequests(), "no refresh without the lease")
	})
	t.Run("a subject not loaded yet is try-later", func(t *testing.T) {
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := tokens.Source(callCtx, "carol")
		assert.ErrorIs(t, err, pkce.ErrTryLater)
		assert.NotErrorIs(t, err, pkce.ErrSignInRequired)
	})

	thaw()
	t.Run("nothing stored is lost", func(t *testing.T) {
		for s, want := range before {
			got, err := store.LoadToken(ctx, s)
			require.NoError(t, err)
			assert.Equal(t, want, got, s)
		}
	})
	t.Run("the next call refreshes once Redis is back", func(t *testing.T) {
		var tok *oauth2.Token
		waitFor(t, 10*time.Second, "a refreshed token", func() bool {
			tok, err = alice.TokenContext(ctx)
			require.NotErrorIs(t, err, pkce.ErrSignInRequired)
			return err == nil
		})
		assert.Equal(t, 1, srv.RefreshRequests())
		stored, err := store.LoadToken(ctx, subject)
		require.NoError(t, err)
		assert.NotEqual(t, before[subject], stored, "the refreshed token was saved")
		assert.Contains(t, string(stored), tok.AccessToken)
	})
}
