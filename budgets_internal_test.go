package pkce

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
