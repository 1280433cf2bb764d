//go:build unix

package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/redisstore"
)

// These tests run the replicas of an application as real OS processes
// (re-executions of the test binary, see storetest.StartProcesses) that
// share one Redis, against an authorization server in the parent that
// rotates refresh tokens and revokes the whole grant when a rotated-out
// one is presented again (RFC 9700 §4.14.2): one refresh too many ends
// the user's session, so a count of refresh requests at the server is
// the proof.

const (
	stormProcesses  = 4
	stormGoroutines = 250
	// crashTimeout is the refresh timeout of the crash tests; the lease
	// lasts crashTimeout plus 5 seconds (see pkce.Tokens).
	crashTimeout = 2 * time.Second
	// callerDeadline bounds each child's wait for a token. It only stops a
	// broken child from hanging; the tests assert what callers got.
	callerDeadline = 20 * time.Second

	clientID    = "replicas"
	redirectURL = "http://127.0.0.1/cb"
	subject     = "alice"
)

// authServer starts a server with one public client that rotates refresh
// tokens.
func authServer(t *testing.T) *pkcetest.Server {
	srv := pkcetest.NewServer(pkcetest.Config{
		Rotate:     true,
		SendIssuer: true,
		Clients: []pkcetest.Client{{
			ID: clientID, Method: pkcetest.MethodNone, RedirectURIs: []string{redirectURL},
		}},
	})
	t.Cleanup(srv.Close)
	return srv
}

// oauthClient is the public client of authServer, as every replica makes
// it: from the issuer's metadata.
func oauthClient(t *testing.T, issuer string, opts ...pkce.Option) *pkce.Client {
	t.Helper()
	c, err := pkce.NewFromIssuer(context.Background(), issuer,
		&oauth2.Config{ClientID: clientID, RedirectURL: redirectURL}, opts...)
	require.NoError(t, err)
	return c
}

// signIn runs a whole flow against srv and returns the token.
func signIn(t *testing.T, srv *pkcetest.Server, c *pkce.Client) *pkce.Token {
	t.Helper()
	ctx := context.Background()
	flow, err := c.Start(ctx)
	require.NoError(t, err)
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	tok, err := c.Finish(req, flow)
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken, "the server issues refresh tokens")
	return tok
}

// expired returns a copy of tok whose access token expired a minute ago,
// so that the first caller of a source must refresh it.
func expired(tok *pkce.Token) *pkce.Token {
	cp := *tok.Token
	cp.Expiry = time.Now().Add(-time.Minute)
	return &pkce.Token{Token: &cp}
}

// digest names a token in reports without revealing it.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// replicaEnv is what a child needs to act as a replica of the parent's
// application: the Redis, the key prefix and the issuer.
func replicaEnv(srv *pkcetest.Server, prefix string) []string {
	return []string{"REDIS_ADDR=" + redisAddr, "STORE_PREFIX=" + prefix, "ISSUER=" + srv.Issuer()}
}

// replicaTokens is a child's Tokens over the parent's Redis.
func replicaTokens(t *testing.T, opts ...pkce.SourceOption) *pkce.Tokens {
	t.Helper()
	tokens, err := oauthClient(t, os.Getenv("ISSUER")).Tokens(childStore(t), opts...)
	require.NoError(t, err)
	return tokens
}

// A tally counts what the callers of one process got; a child reports it
// as one line of JSON.
type tally struct {
	OK, SignIn, Later, Other int
	Tokens                   []string // digests of the distinct access tokens handed out
	Errors                   []string // the distinct unexpected errors
	Millis                   int64    // how long the slowest caller waited
}

func (ty *tally) merge(o tally) {
	ty.OK += o.OK
	ty.SignIn += o.SignIn
	ty.Later += o.Later
	ty.Other += o.Other
	ty.Millis = max(ty.Millis, o.Millis)
	for _, d := range o.Tokens {
		if !slices.Contains(ty.Tokens, d) {
			ty.Tokens = append(ty.Tokens, d)
		}
	}
	ty.Errors = append(ty.Errors, o.Errors...)
}

// callers tallies the callers of one process as they return.
type callers struct {
	mu    sync.Mutex
	tally tally
}

func (c *callers) add(tok *oauth2.Token, err error, waited time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ty := &c.tally
	ty.Millis = max(ty.Millis, waited.Milliseconds())
	switch {
	case err == nil:
		ty.OK++
		if d := digest(tok.AccessToken); !slices.Contains(ty.Tokens, d) {
			ty.Tokens = append(ty.Tokens, d)
		}
		return
	case errors.Is(err, pkce.ErrSignInRequired):
		ty.SignIn++
		return
	case errors.Is(err, pkce.ErrTryLater):
		ty.Later++
	default:
		ty.Other++
	}
	if !slices.Contains(ty.Errors, err.Error()) && len(ty.Errors) < 5 {
		ty.Errors = append(ty.Errors, err.Error()) // package pkce's errors hold no secrets
	}
}

func (ty tally) report() {
	b, err := json.Marshal(ty)
	if err != nil {
		panic(err)
	}
	storetest.Report("%s", b)
}

// tallies reads every child's one report and adds them up; each child's
// own tally comes back too, in order.
func tallies(t *testing.T, ps storetest.Processes) (sum tally, each []tally) {
	t.Helper()
	for i, lines := range ps.Wait(t) {
		require.Len(t, lines, 1, "child %d reports once", i)
		var ty tally
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &ty), "child %d reported %q", i, lines[0])
		sum.merge(ty)
		each = append(each, ty)
	}
	slices.Sort(sum.Tokens)
	return sum, each
}

// callConcurrently has n goroutines each ask tokens for subject's source
// and a token from it, once, and tallies what they got.
func callConcurrently(tokens *pkce.Tokens, n int) tally {
	ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
	defer cancel()
	var c callers
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			begun := time.Now()
			var tok *oauth2.Token
			src, err := tokens.Source(ctx, subject)
			if err == nil {
				tok, err = src.TokenContext(ctx)
			}
			c.add(tok, err, time.Since(begun))
		})
	}
	wg.Wait()
	return c.tally
}

// callUntilServed has n goroutines each ask for a token until they get
// one or a sign-in-required error, as a request handler whose caller
// retries after a try-later answer would; try-later answers are tallied
// on the way.
func callUntilServed(tokens *pkce.Tokens, n int) tally {
	ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
	defer cancel()
	var c callers
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			begun := time.Now()
			for {
				var tok *oauth2.Token
				src, err := tokens.Source(ctx, subject)
				if err == nil {
					tok, err = src.TokenContext(ctx)
				}
				if !errors.Is(err, pkce.ErrTryLater) || ctx.Err() != nil {
					c.add(tok, err, time.Since(begun))
					return
				}
				c.add(nil, err, time.Since(begun))
				time.Sleep(50 * time.Millisecond) // pacing only: the source backs off itself
			}
		})
	}
	wg.Wait()
	return c.tally
}

// A thousand callers in four replicas find the token expired at once:
// one refresh reaches the server, every caller gets the one new token,
// and the store ends with the refresh token the server considers live.
func TestRefreshStormAcrossReplicas(t *testing.T) {
	needRedis(t)
	if storetest.Role() == "storm" {
		tokens := replicaTokens(t)
		storetest.AwaitStart()
		callConcurrently(tokens, stormGoroutines).report()
		return
	}
	ctx := context.Background()
	srv := authServer(t)
	client := oauthClient(t, srv.Issuer())
	prefix := uniquePrefix()
	tokens, err := client.Tokens(redisstore.New(newClient(t, redisAddr), redisstore.WithPrefix(prefix)))
	require.NoError(t, err)
	signedIn := signIn(t, srv, client)
	require.NoError(t, tokens.Save(ctx, subject, expired(signedIn)))

	ps := storetest.StartProcesses(t, stormProcesses, "storm", replicaEnv(srv, prefix)...)
	ps.Start()
	got, _ := tallies(t, ps)

	assert.Equal(t, 1, srv.RefreshRequests(), "refresh requests from %d replicas × %d callers", stormProcesses, stormGoroutines)
	assert.Equal(t, stormProcesses*stormGoroutines, got.OK, "callers served; errors: %q", got.Errors)
	assert.Zero(t, got.SignIn, "callers told to sign in again")
	assert.Zero(t, got.Later, "callers told to try later")
	assert.Zero(t, got.Other, "other errors")
	assert.Len(t, got.Tokens, 1, "distinct access tokens handed out")
	t.Logf("slowest caller waited %d ms", got.Millis)

	// The store holds what the replicas were handed, with the newest
	// refresh token: redeeming it succeeds, so the grant is alive.
	src, err := tokens.Source(ctx, subject)
	require.NoError(t, err)
	stored, err := src.TokenContext(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, srv.RefreshRequests(), "the stored token is valid: reading it refreshed nothing")
	assert.Equal(t, []string{digest(stored.AccessToken)}, got.Tokens, "the stored access token is the one handed out")
	assert.NotEqual(t, signedIn.RefreshToken, stored.RefreshToken, "the store holds the rotated refresh token")
	_, err = client.Refresh(ctx, stored.RefreshToken)
	assert.NoError(t, err, "the stored refresh token is the live one")
}

// A replica killed while it holds the lease and waits for the server
// blocks the other replicas until the lease ends, and no longer: they
// then refresh, once, with the refresh token the killed one never
// redeemed.
func TestRefreshOfKilledReplica(t *testing.T) {
	needRedis(t)
	if storetest.Role() == "replica" {
		tokens := replicaTokens(t, pkce.WithRefreshTimeout(crashTimeout))
		storetest.AwaitStart()
		callUntilServed(tokens, 20).report()
		return
	}
	ctx := context.Background()
	srv := authServer(t)
	client := oauthClient(t, srv.Issuer())
	prefix := uniquePrefix()
	store := redisstore.New(newClient(t, redisAddr), redisstore.WithPrefix(prefix))
	tokens, err := client.Tokens(store, pkce.WithRefreshTimeout(crashTimeout))
	require.NoError(t, err)
	signedIn := signIn(t, srv, client)
	require.NoError(t, tokens.Save(ctx, subject, expired(signedIn)))

	// The server stalls refreshes; the first replica takes the lease and
	// waits inside the refresh, until it is killed.
	srv.SetFaults(pkcetest.Faults{Hang: true})
	victim := storetest.StartProcesses(t, 1, "replica", replicaEnv(srv, prefix)...)
	victim.Start()
	waitFor(t, 10*time.Second, "the first replica's refresh request", func() bool { return srv.RefreshRequests() == 1 })
	victim[0].Kill(t)
	killed := time.Now()
	held, err := store.Lease(ctx, subject, "a probe", time.Minute)
	require.NoError(t, err)
	require.False(t, held, "the killed replica still holds the lease; it was killed within its refresh timeout")
	srv.SetFaults(pkcetest.Faults{})

	survivors := storetest.StartProcesses(t, 2, "replica", replicaEnv(srv, prefix)...)
	survivors.Start()
	got, each := tallies(t, survivors)
	waited := time.Since(killed)

	for i, ty := range each {
		assert.Equal(t, 20, ty.OK, "callers of survivor %d served; errors: %q", i, ty.Errors)
	}
	assert.Zero(t, got.SignIn, "callers told to sign in again")
	assert.Zero(t, got.Other, "other errors: %q", got.Errors)
	assert.Len(t, got.Tokens, 1, "distinct access tokens handed out")
	assert.Equal(t, 2, srv.RefreshRequests(), "the killed replica's refresh request and one more")
	t.Logf("survivors were served %v after the kill (lease %v); %d try-later answers on the way",
		waited.Round(10*time.Millisecond), crashTimeout+5*time.Second, got.Later)

	src, err := tokens.Source(ctx, subject)
	require.NoError(t, err)
	stored, err := src.TokenContext(ctx)
	require.NoError(t, err)
	_, err = client.Refresh(ctx, stored.RefreshToken)
	assert.NoError(t, err, "the stored refresh token is the live one")
}

// If a replica is killed after the server rotated the refresh token but
// before the new one was saved, the stored refresh token is dead. One
// replica presents it, gets invalid_grant and leaves a tombstone; every
// replica reports sign-in-required to all its callers from then on: none
// loops, none answers try-later for ever.
func TestTokenRotatedByKilledReplica(t *testing.T) {
	needRedis(t)
	const callers = 50
	if storetest.Role() == "replica" {
		tokens := replicaTokens(t, pkce.WithRefreshTimeout(crashTimeout))
		storetest.AwaitStart()
		ty := callConcurrently(tokens, callers)
		// Callers that come later get the same answer without a request.
		ty.merge(callConcurrently(tokens, 1))
		ty.merge(callConcurrently(tokens, 1))
		ty.report()
		return
	}
	const replicas = 2
	ctx := context.Background()
	srv := authServer(t)
	client := oauthClient(t, srv.Issuer())
	prefix := uniquePrefix()
	tokens, err := client.Tokens(redisstore.New(newClient(t, redisAddr), redisstore.WithPrefix(prefix)))
	require.NoError(t, err)
	signedIn := signIn(t, srv, client)
	require.NoError(t, tokens.Save(ctx, subject, expired(signedIn)))

	// What a replica killed between the server's answer and its save
	// leaves behind: the server rotated the token, the store has the old.
	rotated, err := client.Refresh(ctx, signedIn.RefreshToken)
	require.NoError(t, err)
	require.Equal(t, 1, srv.RefreshRequests())

	ps := storetest.StartProcesses(t, replicas, "replica", replicaEnv(srv, prefix)...)
	ps.Start()
	got, each := tallies(t, ps)

	for i, ty := range each {
		assert.Equal(t, callers+2, ty.SignIn, "callers of replica %d told to sign in again; errors: %q", i, ty.Errors)
	}
	assert.Zero(t, got.OK, "callers served")
	assert.Zero(t, got.Later, "callers told to try later")
	assert.Zero(t, got.Other, "other errors: %q", got.Errors)
	assert.Equal(t, 1+1, srv.RefreshRequests(), "one request with the dead refresh token in all: its refusal leaves a tombstone")

	// Presenting the rotated-out token revoked the grant (RFC 9700
	// §4.14.2), the token the killed replica obtained included.
	_, err = client.Refresh(ctx, rotated.RefreshToken)
	assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the grant is revoked")
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			require.FailNow(t, "timed out waiting for "+what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
