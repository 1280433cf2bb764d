package pkce_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// Allocation budgets of the sign-in's hot paths on the in-memory
// transport, at today's figures: a change that adds one allocation to
// Start or Finish fails here. Counts are deterministic; times belong in
// the benchmarks (BenchmarkStart, BenchmarkCallbackAndExchange).
const startAllocs = 5

// finishAllocs is the budget of Finish per token response and client
// authentication (see exchangeShapes and exchangeAuths).
var finishAllocs = map[string]float64{
	"minimal/basic": 36,
	"minimal/none":  36,
	"full/basic":    47,
	"full/none":     47,
}

// budgetRuns is how many calls an allocation count is averaged over.
const budgetRuns = 200

func TestStartAllocationBudget(t *testing.T) {
	client, err := pkce.New(benchConfig("s3cret"))
	require.NoError(t, err)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(budgetRuns, func() {
		if _, err := client.Start(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Start: %v allocations", allocs)
	assert.LessOrEqual(t, allocs, float64(startAllocs+pkce.RaceStartAllocs), "allocations per Start")
}

func TestFinishAllocationBudget(t *testing.T) {
	for _, shape := range exchangeShapes {
		for _, auth := range exchangeAuths {
			t.Run(shape.name+"/"+auth.name, func(t *testing.T) {
				hc := &http.Client{Transport: memoryTransport{body: []byte(shape.body)}}
				ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
				client, err := pkce.New(benchConfig(auth.secret))
				require.NoError(t, err)
				// AllocsPerRun calls the function once more than it
				// counts; each call finishes a flow of its own.
				flows := make([]*pkce.Flow, budgetRuns+1)
				reqs := make([]*http.Request, budgetRuns+1)
				for i := range flows {
					flows[i], err = client.Start(ctx)
					require.NoError(t, err)
					q := url.Values{"code": {"SplxlOBeZQQYbYS6WxSbIA"}, "state": {flows[i].State}}
					reqs[i] = httptest.NewRequestWithContext(ctx, http.MethodGet, "/cb?"+q.Encode(), nil)
				}
				i := 0
				allocs := testing.AllocsPerRun(budgetRuns, func() {
					if _, err := client.Finish(reqs[i], flows[i]); err != nil {
						t.Fatal(err)
					}
					i++
				})
				t.Logf("Finish: %v allocations", allocs)
				assert.LessOrEqual(t, allocs, finishAllocs[shape.name+"/"+auth.name], "allocations per Finish")
			})
		}
	}
}
