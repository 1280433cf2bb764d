//go:build unix

package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/pkcetest"
)

const (
	verifyProcesses  = 4
	verifyGoroutines = 2_500
)

// startedFlow starts a flow in the parent, as the replica that served
// /login would, and walks the browser through the server. It returns the
// flow as the application stores it (JSON) and the callback.
func startedFlow(t *testing.T, srv *pkcetest.Server, c *pkce.Client) (flowJSON string, cb *pkcetest.Callback) {
	t.Helper()
	ctx := context.Background()
	flow, err := c.Start(ctx)
	require.NoError(t, err)
	b, err := json.Marshal(flow)
	require.NoError(t, err)
	cb, err = srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	return string(b), cb
}

// replicaClient is a child's Client, which records finished flows in the
// parent's database.
func replicaClient(t *testing.T) (*pkce.Client, *pkce.Flow) {
	t.Helper()
	var flow pkce.Flow
	require.NoError(t, json.Unmarshal([]byte(os.Getenv("FLOW")), &flow))
	return oauthClient(t, os.Getenv("ISSUER"), pkce.WithStore(childStore(t))), &flow
}

// A flow started by one replica is finished by the replica that gets the
// callback, and a replay of that callback at a third replica is refused
// with ErrFlowFinished before any token request.
func TestFlowAcrossReplicas(t *testing.T) {
	needPostgres(t)
	if storetest.Role() == "finisher" {
		client, flow := replicaClient(t)
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, os.Getenv("CALLBACK"), nil)
		require.NoError(t, err)
		_, err = client.Finish(req, flow)
		switch {
		case err == nil:
			storetest.Report("finished")
		case errors.Is(err, pkce.ErrFlowFinished):
			storetest.Report("refused: flow finished")
		default:
			storetest.Report("refused: %v", err)
		}
		return
	}
	srv := authServer(t)
	schema := uniqueSchema()
	starter := oauthClient(t, srv.Issuer(), pkce.WithStore(newStore(t, newPool(t, pgDSN), schema)))
	flow, cb := startedFlow(t, srv, starter)
	env := append(replicaEnv(srv, schema), "FLOW="+flow, "CALLBACK="+cb.URL.String())

	tests := []struct {
		name          string
		want          string
		tokenRequests int
	}{
		{"the replica that gets the callback finishes the flow", "finished", 1},
		{"a replay at another replica is refused", "refused: flow finished", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := storetest.StartProcesses(t, 1, "finisher", env...)
			assert.Equal(t, [][]string{{tt.want}}, ps.Wait(t))
			assert.Equal(t, tt.tokenRequests, srv.TokenRequests(), "token requests so far")
		})
	}
}

// Ten thousand verifications of one callback, in four replicas at once,
// accept it once: the others get ErrFlowFinished.
func TestCallbackClaimedOnceAcrossReplicas(t *testing.T) {
	needPostgres(t)
	if storetest.Role() == "verifier" {
		client, flow := replicaClient(t)
		params, err := url.ParseQuery(os.Getenv("PARAMS"))
		require.NoError(t, err)
		storetest.AwaitStart()
		var won, finished, other atomic.Int64
		var wg sync.WaitGroup
		for range verifyGoroutines {
			wg.Go(func() {
				code, err := client.VerifyCallback(context.Background(), flow, params)
				switch {
				case err == nil && code != "":
					won.Add(1)
				case errors.Is(err, pkce.ErrFlowFinished):
					finished.Add(1)
				default:
					other.Add(1)
				}
			})
		}
		wg.Wait()
		storetest.Report(`{"OK":%d,"Finished":%d,"Other":%d}`, won.Load(), finished.Load(), other.Load())
		return
	}
	srv := authServer(t)
	schema := uniqueSchema()
	flow, cb := startedFlow(t, srv, oauthClient(t, srv.Issuer()))
	ps := storetest.StartProcesses(t, verifyProcesses, "verifier",
		append(replicaEnv(srv, schema), "FLOW="+flow, "PARAMS="+cb.Params.Encode())...)
	ps.Start()

	var won, finished, other int
	for i, lines := range ps.Wait(t) {
		require.Len(t, lines, 1, "child %d reports once", i)
		var got struct{ OK, Finished, Other int }
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &got), "child %d reported %q", i, lines[0])
		won, finished, other = won+got.OK, finished+got.Finished, other+got.Other
	}
	const all = verifyProcesses * verifyGoroutines
	assert.Equal(t, 1, won, "callbacks accepted among %d", all)
	assert.Equal(t, all-1, finished, "callbacks refused with ErrFlowFinished")
	assert.Zero(t, other, "other outcomes")
	assert.Zero(t, srv.TokenRequests(), "verifying makes no token request")
}
