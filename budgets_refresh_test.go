package pkce_test

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// refreshAllocs is the allocation budget of one refresh on the in-memory
// transport, by way: a plain TokenSource, and Tokens over the memory
// store (two store calls, the stored form written once).
var refreshAllocs = map[string]float64{
	"TokenSource": 40,
	"Tokens":      44,
}

// allocsOf counts the allocations of call averaged over runs, each after
// its own setup, which is not counted. Like testing.AllocsPerRun it runs
// on one P, so that nothing else allocates meanwhile.
func allocsOf[T any](runs int, setup func() T, call func(T)) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var ms runtime.MemStats
	var total uint64
	for range runs {
		v := setup()
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		call(v)
		runtime.ReadMemStats(&ms)
		total += ms.Mallocs - before
	}
	return float64(total) / float64(runs)
}

func TestBudgetRefresh(t *testing.T) {
	body := `{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}`
	hc := &http.Client{Transport: memoryTransport{body: []byte(body)}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	client, err := pkce.New(benchConfig(""))
	require.NoError(t, err)
	tokens, err := client.Tokens(pkce.NewMemoryStore())
	require.NoError(t, err)
	expired := func() *oauth2.Token {
		return &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "tGzv3JOkF0XG5Qx2TlKWIA", Expiry: time.Now().Add(-time.Minute)}
	}
	tests := []struct {
		name  string
		setup func() *pkce.TokenSource
	}{
		{"TokenSource", func() *pkce.TokenSource {
			src, err := client.TokenSource(expired())
			require.NoError(t, err)
			return src
		}},
		{"Tokens", func() *pkce.TokenSource {
			require.NoError(t, tokens.Save(ctx, "alice", &pkce.Token{Token: expired()}))
			src, err := tokens.Source(ctx, "alice")
			require.NoError(t, err)
			return src
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			allocs := allocsOf(budgetRuns, tt.setup, func(src *pkce.TokenSource) { _, err = src.TokenContext(ctx) })
			require.NoError(t, err)
			t.Logf("%s refresh: %v allocations", tt.name, allocs)
			// A timer or the collector may allocate during a run now and
			// then: a few hundredths on average, never half of one.
			assert.Less(t, allocs, refreshAllocs[tt.name]+0.5, "allocations per refresh")
		})
	}
}
