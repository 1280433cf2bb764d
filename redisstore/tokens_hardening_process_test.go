//go:build unix

package redisstore_test

import (
	"context"
	"fmt"
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

// A slow server: it answers a refresh served on arrival (the refresh
// token rotated at once) after slowAnswer, well within slowTimeout, the
// refresh timeout of the replicas. Were the timeout spent waiting for a
// killed replica's lease (slowTimeout plus 5 s), a survivor's second try,
// a second after its first timed out, would reach the server with less
// than slowAnswer left and abandon a served request.
const (
	slowTimeout = 4 * time.Second
	slowAnswer  = 2500 * time.Millisecond
)

// Finding 1: a replica killed while its refresh request is held at the
// server, not yet served, burnt nothing. The survivors wait for its lease
// to end, then refresh with the whole refresh timeout against a server
// that rotates on arrival and answers late: nobody is signed out, and
// one refresh is served.
func TestRefreshAfterKilledReplicaGetsTheWholeTimeout(t *testing.T) {
	needRedis(t)
	if storetest.Role() == "replica" {
		tokens := replicaTokens(t, pkce.WithRefreshTimeout(slowTimeout))
		storetest.AwaitStart()
		callUntilServed(tokens, 20).report()
		return
	}
	ctx := context.Background()
	srv := authServer(t)
	client := oauthClient(t, srv.Issuer())
	prefix := uniquePrefix()
	store := redisstore.New(newClient(t, redisAddr), redisstore.WithPrefix(prefix))
	tokens, err := client.Tokens(store, pkce.WithRefreshTimeout(slowTimeout))
	require.NoError(t, err)
	signedIn := signIn(t, srv, client)
	require.NoError(t, tokens.Save(ctx, subject, expired(signedIn)))

	// The first replica's request is held before the server serves it.
	srv.SetFaults(pkcetest.Faults{Delay: time.Hour})
	victim := storetest.StartProcesses(t, 1, "replica", replicaEnv(srv, prefix)...)
	victim.Start()
	waitFor(t, 10*time.Second, "the first replica's refresh request", func() bool { return srv.RefreshRequests() == 1 })
	victim[0].Kill(t)
	srv.SetFaults(pkcetest.Faults{AnswerDelay: slowAnswer})

	survivors := storetest.StartProcesses(t, 3, "replica", replicaEnv(srv, prefix)...)
	survivors.Start()
	got, each := tallies(t, survivors)

	for i, ty := range each {
		assert.Equal(t, 20, ty.OK, "callers of survivor %d served; errors: %q", i, ty.Errors)
	}
	assert.Zero(t, got.SignIn, "callers told to sign in again")
	assert.Zero(t, got.Later, "callers told to try later: the wait for the lease is bounded on its own")
	assert.Zero(t, got.Other, "other errors: %q", got.Errors)
	assert.Len(t, got.Tokens, 1, "distinct access tokens handed out")
	assert.Equal(t, 2, srv.RefreshRequests(), "the killed replica's unserved request and one more")
	t.Logf("slowest caller waited %d ms", got.Millis)

	src, err := tokens.Source(ctx, subject)
	require.NoError(t, err)
	stored, err := src.TokenContext(ctx)
	require.NoError(t, err)
	srv.SetFaults(pkcetest.Faults{})
	_, err = client.Refresh(ctx, stored.RefreshToken)
	assert.NoError(t, err, "the stored refresh token is the live one")
}

// Finding 2: after a loss (a replica killed between the server's rotation
// and its save), the dead refresh token is presented once in all: the
// replica that gets invalid_grant leaves a tombstone, and every other
// replica, and every later caller, answers sign-in-required without a
// request. A new sign-in replaces the tombstone.
func TestDeadRefreshTokenPresentedOnceAcrossReplicas(t *testing.T) {
	needRedis(t)
	const callers = 50
	if storetest.Role() == "replica" {
		tokens := replicaTokens(t, pkce.WithRefreshTimeout(crashTimeout))
		storetest.AwaitStart()
		ty := callConcurrently(tokens, callers)
		ty.merge(callConcurrently(tokens, 1))
		ty.report()
		return
	}
	const replicas = 3
	ctx := context.Background()
	srv := authServer(t)
	client := oauthClient(t, srv.Issuer())
	prefix := uniquePrefix()
	store := redisstore.New(newClient(t, redisAddr), redisstore.WithPrefix(prefix))
	tokens, err := client.Tokens(store)
	require.NoError(t, err)
	signedIn := signIn(t, srv, client)
	require.NoError(t, tokens.Save(ctx, subject, expired(signedIn)))
	_, err = client.Refresh(ctx, signedIn.RefreshToken) // the loss
	require.NoError(t, err)

	for round := range 2 { // a second round of replicas, started after the first ended
		ps := storetest.StartProcesses(t, replicas, "replica", replicaEnv(srv, prefix)...)
		ps.Start()
		got, _ := tallies(t, ps)
		assert.Equal(t, replicas*(callers+1), got.SignIn, "round %d: callers told to sign in again; errors: %q", round, got.Errors)
		assert.Zero(t, got.OK+got.Later+got.Other, "round %d: other answers: %q", round, got.Errors)
	}
	assert.Equal(t, 2, srv.RefreshRequests(), "the loss, and the dead refresh token presented once in all")

	again := signIn(t, srv, client)
	require.NoError(t, tokens.Save(ctx, subject, expired(again)))
	src, err := tokens.Source(ctx, subject)
	require.NoError(t, err)
	_, err = src.TokenContext(ctx)
	assert.NoError(t, err, "a new sign-in replaces the tombstone")
}

// Finding 3: in one process, the cache of sources drops a subject's
// source while its refresh is at the server (more subjects are asked for
// than it holds); the subject's next source joins that refresh instead of
// redeeming the refresh token again, which the server would take for
// reuse.
func TestOneRedemptionPerProcessWhateverTheCacheDoes(t *testing.T) {
	needRedis(t)
	if storetest.Role() == "evictor" {
		tokens := replicaTokens(t, pkce.WithRefreshTimeout(20*time.Second))
		storetest.AwaitStart()
		ctx := context.Background()
		var c callers
		first, err := tokens.Source(ctx, subject)
		require.NoError(t, err)
		firstDone := make(chan struct{})
		go func() {
			defer close(firstDone)
			begun := time.Now()
			tok, err := first.TokenContext(ctx)
			c.add(tok, err, time.Since(begun))
		}()
		valid := &pkce.Token{Token: &oauth2.Token{AccessToken: "at", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}}
		for i := range 10_001 {
			other := fmt.Sprint("other-", i)
			require.NoError(t, tokens.Save(ctx, other, valid))
			_, err := tokens.Source(ctx, other)
			require.NoError(t, err)
		}
		second, err := tokens.Source(ctx, subject)
		require.NoError(t, err)
		require.NotSame(t, first, second, "the cache dropped the first source")
		begun := time.Now()
		tok, err := second.TokenContext(ctx)
		c.add(tok, err, time.Since(begun))
		<-firstDone
		c.tally.report()
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
	// Long enough for the child to ask for 10,001 other subjects while
	// the first refresh is held; the token is rotated on arrival.
	srv.SetFaults(pkcetest.Faults{AnswerDelay: 8 * time.Second})

	ps := storetest.StartProcesses(t, 1, "evictor", replicaEnv(srv, prefix)...)
	ps.Start()
	got, _ := tallies(t, ps)

	assert.Equal(t, 2, got.OK, "both sources served; errors: %q", got.Errors)
	assert.Zero(t, got.SignIn, "callers told to sign in again")
	assert.Len(t, got.Tokens, 1, "distinct access tokens handed out")
	assert.Equal(t, 1, srv.RefreshRequests(), "one redemption of the refresh token")
}
