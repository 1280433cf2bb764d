package pkce_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// tokensStack is a rotating server, a public client and a Tokens over a
// shared in-memory store, with one subject signed in and its token
// expired.
type tokensStack struct {
	srv    *pkcetest.Server
	client *pkce.Client
	store  pkce.Store
	tokens *pkce.Tokens
}

func newTokensStack(t *testing.T, opts ...pkce.SourceOption) *tokensStack {
	t.Helper()
	srv := quirkServer(t, pkcetest.Config{Rotate: true})
	client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), publicConfig())
	require.NoError(t, err)
	store := pkce.NewMemoryStore()
	tokens, err := client.Tokens(store, opts...)
	require.NoError(t, err)
	tok := signInWith(t, srv, client)
	tok.Expiry = time.Now().Add(-time.Minute) // due for refresh
	require.NoError(t, tokens.Save(context.Background(), "alice", tok))
	return &tokensStack{srv: srv, client: client, store: store, tokens: tokens}
}

func TestTokensParallelRequestsAfterExpiryRefreshOnce(t *testing.T) {
	// The handler of each request asks for the user's source, as a
	// backend that keeps tokens in a database does. With a rotating server
	// that revokes the grant on reuse, a second refresh would sign the
	// user out.
	for run := range 100 {
		s := newTokensStack(t)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				src, err := s.tokens.Source(context.Background(), "alice")
				if err == nil {
					_, err = src.TokenContext(context.Background())
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "run %d, request %d", run, i)
		}
		require.Equal(t, 1, s.srv.RefreshRequests(), "run %d", run)
	}
}

func TestTokensSecondReplicaUsesTheStoredToken(t *testing.T) {
	s := newTokensStack(t)
	other, err := s.client.Tokens(s.store) // another process's Tokens, same store
	require.NoError(t, err)

	a, err := s.tokens.Source(context.Background(), "alice")
	require.NoError(t, err)
	b, err := other.Source(context.Background(), "alice")
	require.NoError(t, err)
	first, err := a.Token()
	require.NoError(t, err)
	second, err := b.Token()
	require.NoError(t, err)

	assert.Equal(t, 1, s.srv.RefreshRequests(), "the second replica finds the refreshed token in the store")
	assert.Equal(t, first.AccessToken, second.AccessToken)
	stored, err := s.store.LoadToken(context.Background(), "alice")
	require.NoError(t, err)
	assert.Contains(t, string(stored), first.RefreshToken, "the store holds the newest refresh token")
}

func TestTokensValidTokenDoesNotTouchTheStore(t *testing.T) {
	s := newTokensStack(t)
	counting := &countingStore{Store: s.store}
	tokens, err := s.client.Tokens(counting)
	require.NoError(t, err)
	src, err := tokens.Source(context.Background(), "alice")
	require.NoError(t, err)
	_, err = src.Token() // refreshes: lease, load, save, release
	require.NoError(t, err)
	after := counting.calls()
	for range 100 {
		_, err = src.Token()
		require.NoError(t, err)
	}
	assert.Equal(t, after, counting.calls(), "a valid token comes from memory")
}

func TestTokensStoreFailureIsTryLater(t *testing.T) {
	s := newTokensStack(t)
	broken := &countingStore{Store: s.store, fail: errors.New("store unreachable")}
	tokens, err := s.client.Tokens(broken)
	require.NoError(t, err)
	_, err = tokens.Source(context.Background(), "alice")
	assert.ErrorIs(t, err, pkce.ErrTryLater)
	assert.NotErrorIs(t, err, pkce.ErrSignInRequired)

	stored, err := s.store.LoadToken(context.Background(), "alice")
	require.NoError(t, err)
	assert.NotEmpty(t, stored, "nothing stored is lost")
}

func TestTokensUnknownSubjectNeedsSignIn(t *testing.T) {
	s := newTokensStack(t)
	_, err := s.tokens.Source(context.Background(), "bob")
	assert.ErrorIs(t, err, pkce.ErrSignInRequired)
}

func TestTokensSignOutDeletesAndRevokes(t *testing.T) {
	s := newTokensStack(t)
	src, err := s.tokens.Source(context.Background(), "alice")
	require.NoError(t, err)
	require.NoError(t, s.tokens.SignOut(context.Background(), "alice"))

	stored, err := s.store.LoadToken(context.Background(), "alice")
	require.NoError(t, err)
	assert.Nil(t, stored)
	assert.Equal(t, 1, s.srv.RevocationRequests())
	_, err = src.Token()
	assert.ErrorIs(t, err, pkce.ErrSignInRequired, "a source handed out before sign-out stops too")
}

func TestTokensRejectsBadOptions(t *testing.T) {
	s := newTokensStack(t)
	_, err := s.client.Tokens(nil)
	assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	_, err = s.client.Tokens(s.store, pkce.WithRefreshTimeout(0))
	assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
}

// countingStore counts the calls to a Store, and fails them all when fail
// is set.
type countingStore struct {
	pkce.Store
	fail error
	mu   sync.Mutex
	n    int
}

func (c *countingStore) count() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.fail
}

func (c *countingStore) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *countingStore) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := c.count(); err != nil {
		return false, err
	}
	return c.Store.Claim(ctx, key, ttl)
}

func (c *countingStore) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	if err := c.count(); err != nil {
		return nil, err
	}
	return c.Store.LoadToken(ctx, subject)
}

func (c *countingStore) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	if err := c.count(); err != nil {
		return false, err
	}
	return c.Store.SaveToken(ctx, subject, old, token)
}

func (c *countingStore) DeleteToken(ctx context.Context, subject string) error {
	if err := c.count(); err != nil {
		return err
	}
	return c.Store.DeleteToken(ctx, subject)
}

func (c *countingStore) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if err := c.count(); err != nil {
		return false, err
	}
	return c.Store.Lease(ctx, subject, owner, ttl)
}

func (c *countingStore) Release(ctx context.Context, subject, owner string) error {
	if err := c.count(); err != nil {
		return err
	}
	return c.Store.Release(ctx, subject, owner)
}

// failingSaves is a store whose SaveToken always fails.
type failingSaves struct{ pkce.Store }

func (failingSaves) SaveToken(context.Context, string, []byte, []byte) (bool, error) {
	return false, errors.New("store unreachable for writes")
}

func TestTokensKeepARefreshedTokenTheStoreCannotSave(t *testing.T) {
	s := newTokensStack(t, pkce.WithRefreshTimeout(time.Second))
	tokens, err := s.client.Tokens(failingSaves{s.store}, pkce.WithRefreshTimeout(time.Second))
	require.NoError(t, err)
	src, err := tokens.Source(context.Background(), "alice")
	require.NoError(t, err)

	tok, err := src.Token()
	require.NoError(t, err, "the server rotated the refresh token: the new one is handed out, not dropped")
	assert.Equal(t, 1, s.srv.RefreshRequests())
	again, err := src.Token()
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, again.AccessToken, "and kept by this process")
}

func TestTokensRefreshATokenDueUnderTheSourcesMargin(t *testing.T) {
	s := newTokensStack(t)
	counting := &countingStore{Store: s.store}
	tokens, err := s.client.Tokens(counting, pkce.WithExpiryMargin(time.Minute))
	require.NoError(t, err)
	src, err := tokens.Source(context.Background(), "alice")
	require.NoError(t, err)

	// Another replica stored a token that is fresh by a 10 s margin but
	// due by this source's minute.
	b, err := s.store.LoadToken(context.Background(), "alice")
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal(b, &stored))
	stored["access_token"] = "from-another-replica"
	stored["expiry"] = time.Now().Add(30 * time.Second).Format(time.RFC3339Nano)
	b, err = json.Marshal(stored)
	require.NoError(t, err)
	_, err = s.store.SaveToken(context.Background(), "alice", nil, b)
	require.NoError(t, err)

	tok, err := src.Token()
	require.NoError(t, err)
	assert.NotEqual(t, "from-another-replica", tok.AccessToken, "a token due by the source's margin is refreshed")
	assert.Equal(t, 1, s.srv.RefreshRequests())
	calls := counting.calls()
	_, err = src.Token()
	require.NoError(t, err)
	assert.Equal(t, calls, counting.calls(), "and then served from memory, not looked up again")
}
