//go:build unix

package protected_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/filestore"
	"github.com/pkcekit/pkce/internal/storetest"
)

// toolProcesses is how many invocations of the tool start at once.
const toolProcesses = 4

// toolOutcome is what one invocation of the tool reports.
type toolOutcome struct {
	Status  int
	SignIns int32
	Err     string
}

// Four invocations of a command-line tool, real processes sharing a
// token file, have used the stored token; then their API refuses it,
// and they send their next request at once: the refresh token reaches the rotating server once, every
// invocation gets through with the refreshed token, and none asks the
// user to sign in (THREATS.md, promise 1).
func TestTransportRefreshOfARefusedTokenAcrossProcesses(t *testing.T) {
	if storetest.Role() == "tool" {
		s, err := filestore.New(os.Getenv("STORE_DIR"))
		require.NoError(t, err)
		var signIns atomic.Int32
		hc := &http.Client{Transport: cliTransport(s, &signIns)}
		getOK(t, hc, os.Getenv("RESOURCE")) // with the stored token, still accepted
		storetest.Report("ready")
		storetest.AwaitStart()
		var o toolOutcome
		resp, err := hc.Get(os.Getenv("RESOURCE"))
		if err != nil {
			o.Err = err.Error()
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			o.Status = resp.StatusCode
		}
		o.SignIns = signIns.Load()
		b, _ := json.Marshal(o)
		storetest.Report("%s", b)
		return
	}
	srv := rotatingServer(t)
	resource, refuseLast := refusingAPI(t, srv)
	dir := filepath.Join(t.TempDir(), "tokens")
	s, err := filestore.New(dir)
	require.NoError(t, err)
	var signIns atomic.Int32
	getOK(t, &http.Client{Transport: cliTransport(s, &signIns)}, resource)
	require.Equal(t, int32(1), signIns.Load(), "signed in once")

	// Every invocation has used the stored token; then the API refuses it.
	ps := storetest.StartProcesses(t, toolProcesses, "tool", "STORE_DIR="+dir, "RESOURCE="+resource)
	for _, p := range ps {
		require.Equal(t, "ready", p.Next(t))
	}
	refuseLast()
	ps.Start()
	for i, lines := range ps.Wait(t) {
		require.Len(t, lines, 1, "child %d reports once", i)
		var o toolOutcome
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &o), "child %d reported %q", i, lines[0])
		assert.Equal(t, http.StatusOK, o.Status, "child %d: %s", i, o.Err)
		assert.Zero(t, o.SignIns, fmt.Sprintf("child %d asked the user to sign in", i))
	}
	assert.Equal(t, 1, srv.RefreshRequests(), "refresh requests from %d processes", toolProcesses)
}
