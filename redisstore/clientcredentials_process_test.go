//go:build unix

package redisstore_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/clientcredentials"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/redisstore"
)

// The replicas of a service that calls an API with the client credentials
// grant, as real processes on one Redis: every replica's callers share one
// token, and one token request reaches the server per expiry.

const (
	ccProcesses  = 4
	ccGoroutines = 100
	// ccLifetime and ccMargin give a token 5 seconds of use: long enough
	// for a round of callers on a loaded machine, short enough to wait out.
	ccLifetime = 14 * time.Second
	ccMargin   = 4 * time.Second
	ccKey      = "billing-api"
)

// ccService is the replica's Source over the parent's Redis.
func ccService(t *testing.T, tokenURL string) *clientcredentials.Source {
	t.Helper()
	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "billing", ClientSecret: "billing-secret",
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL}, Scopes: []string{"invoices"}})
	require.NoError(t, err)
	return &clientcredentials.Source{Client: c, Store: childStore(t), Key: ccKey, ExpiryMargin: ccMargin}
}

// ccCallers has n goroutines each ask src for a token once.
func ccCallers(src *clientcredentials.Source, n int) tally {
	ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
	defer cancel()
	var c callers
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			begun := time.Now()
			var tok *oauth2.Token
			t, err := src.Token(ctx)
			if err == nil {
				tok = t.Token
			}
			c.add(tok, err, time.Since(begun))
		})
	}
	wg.Wait()
	return c.tally
}

func TestClientCredentialsOneRequestPerExpiryAcrossProcesses(t *testing.T) {
	needRedis(t)
	if storetest.Role() == "service" {
		src := ccService(t, os.Getenv("TOKEN_URL"))
		storetest.AwaitStart()
		ccCallers(src, ccGoroutines).report()
		return
	}
	srv := pkcetest.NewServer(pkcetest.Config{
		AccessTokenLifetime: ccLifetime,
		Clients:             []pkcetest.Client{{ID: "billing", Secret: "billing-secret", Method: pkcetest.MethodBasic}},
	})
	t.Cleanup(srv.Close)
	env := []string{"REDIS_ADDR=" + redisAddr, "STORE_PREFIX=" + uniquePrefix(), "TOKEN_URL=" + srv.TokenURL()}

	round := func(name string) tally {
		ps := storetest.StartProcesses(t, ccProcesses, "service", env...)
		ps.Start()
		got, _ := tallies(t, ps)
		assert.Equal(t, ccProcesses*ccGoroutines, got.OK, "%s: callers served; errors: %q", name, got.Errors)
		assert.Len(t, got.Tokens, 1, "%s: distinct access tokens handed out", name)
		t.Logf("%s: slowest caller waited %d ms", name, got.Millis)
		return got
	}

	first := round("empty store")
	assert.Equal(t, 1, srv.ClientCredentialsRequests(), "token requests from %d processes × %d callers", ccProcesses, ccGoroutines)

	// New processes find the stored token and use it.
	again := round("token stored")
	assert.Equal(t, 1, srv.ClientCredentialsRequests(), "no request while the stored token is good")
	assert.Equal(t, first.Tokens, again.Tokens, "the stored token is handed out")

	// Once the stored token nears expiry, one of them renews it.
	time.Sleep(ccLifetime - ccMargin + 100*time.Millisecond) // lets the token reach its margin; decides nothing
	renewed := round("token near expiry")
	assert.Equal(t, 2, srv.ClientCredentialsRequests(), "one more request for the new expiry")
	assert.NotEqual(t, first.Tokens, renewed.Tokens, "a new token is handed out")
}

// A process killed while it holds the lease and waits for the server
// blocks the others until the lease ends, and no longer: then one of them
// requests the token, once.
func TestClientCredentialsOfKilledProcess(t *testing.T) {
	needRedis(t)
	const timeout = 2 * time.Second
	if storetest.Role() == "service" {
		src := ccService(t, os.Getenv("TOKEN_URL"))
		src.Timeout = timeout
		storetest.AwaitStart()
		ccCallers(src, 20).report()
		return
	}
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{ID: "billing", Secret: "billing-secret", Method: pkcetest.MethodBasic}},
	})
	t.Cleanup(srv.Close)
	prefix := uniquePrefix()
	env := []string{"REDIS_ADDR=" + redisAddr, "STORE_PREFIX=" + prefix, "TOKEN_URL=" + srv.TokenURL()}

	// The server stalls; the first process takes the lease and waits in
	// its token request until it is killed.
	srv.SetFaults(pkcetest.Faults{Hang: true})
	victim := storetest.StartProcesses(t, 1, "service", env...)
	victim.Start()
	waitFor(t, 10*time.Second, "the first process's token request", func() bool { return srv.TokenRequests() == 1 })
	victim[0].Kill(t)
	killed := time.Now()
	held, err := redisstore.New(newClient(t, redisAddr), redisstore.WithPrefix(prefix)).
		Lease(context.Background(), ccKey, "a probe", time.Minute)
	require.NoError(t, err)
	require.False(t, held, "the killed process still holds the lease; it was killed within its timeout")
	srv.SetFaults(pkcetest.Faults{})

	survivors := storetest.StartProcesses(t, 2, "service", env...)
	survivors.Start()
	got, each := tallies(t, survivors)
	for i, ty := range each {
		assert.Equal(t, 20, ty.OK, "callers of survivor %d served; errors: %q", i, ty.Errors)
	}
	assert.Len(t, got.Tokens, 1, "distinct access tokens handed out")
	assert.Equal(t, 2, srv.TokenRequests(), "the killed process's request and one more")
	assert.Equal(t, 1, srv.ClientCredentialsRequests(), "one token issued")
	t.Logf("survivors were served %v after the kill (lease %v)", time.Since(killed).Round(10*time.Millisecond), timeout+5*time.Second)
}
