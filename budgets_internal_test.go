package pkce

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pkcekit/pkce/internal/jose"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// Allocation budgets of the hot paths: counts are deterministic, so a
// change that adds one allocation fails here; timings stay in benchmarks.

// A waiter in a refresh storm joins the refresh in flight: no timer, no
// allocation of its own (issue 25: one bound shared by the waiters).
func TestBudgetStormWaiter(t *testing.T) {
	c, err := New(&oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "http://127.0.0.1/authorize", TokenURL: "http://127.0.0.1/token"}})
	if err != nil {
		t.Fatal(err)
	}
	s := c.newSource(nil)
	s.current.Store(s.state(&Token{Token: &oauth2.Token{AccessToken: "old", RefreshToken: "rt", Expiry: time.Now().Add(-time.Minute)}}, false))
	call := &refreshCall{done: make(chan struct{}), overdue: make(chan struct{}), token: &oauth2.Token{AccessToken: "new"}}
	close(call.done) // the refresh's outcome, as a waiter finds it
	s.inflight = call
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if tok, err := s.wait(ctx); err != nil || tok.AccessToken != "new" {
			t.Fatal(tok, err)
		}
	})
	assert.Zero(t, allocs, "allocations per waiter")
}

// dpopProofAllocs is the budget of one DPoP proof (RFC 9449 §4) with
// ES256, a nonce and an access token hash, at today's figure; the
// signature itself (ecdsa.SignASN1) accounts for most of it.
const dpopProofAllocs = 70

func TestBudgetDPoPProof(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	signer, err := jose.NewSigner(key, "")
	require.NoError(t, err)
	p, err := newDPoPProver(signer, time.Now)
	require.NoError(t, err)
	u, err := url.Parse("https://api.example/resource")
	require.NoError(t, err)
	p.remember(originOf(u), http.Header{"Dpop-Nonce": {"eyJ7S_zG.eyJH0-Z.HX4w-7v"}})
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := p.proof(http.MethodGet, u, "access-token-access-token"); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("DPoP proof: %v allocations", allocs)
	assert.LessOrEqual(t, allocs, float64(dpopProofAllocs+raceDPoPAllocs), "allocations per DPoP proof")
}
