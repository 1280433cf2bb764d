// Package reporttest keeps the servercheck reports of real servers in
// step with the files committed beside their tests, for the interop
// modules that run the battery against fosite, zitadel/oidc and
// oidc-provider.
package reporttest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/servercheck"
)

// committedResult is what a committed report keeps of each check: enough
// to say what the server does and why, without the evidence.
type committedResult struct {
	Name    string              `json:"name"`
	Grade   servercheck.Grade   `json:"grade"`
	Outcome servercheck.Outcome `json:"outcome"`
	Why     string              `json:"why"`
}

// AssertReport compares the outcome of every check in rep with the
// report committed in testdata/servercheck-<server>.json, or first rewrites that
// file when update is set (the tests' -update flag). Why is kept in the file for its readers, with the
// issuer written {issuer}, but not compared: the outcome is the claim.
func AssertReport(t *testing.T, server string, rep *servercheck.Report, update bool) {
	t.Helper()
	path := filepath.Join("testdata", "servercheck-"+server+".json")
	got := make([]committedResult, len(rep.Results))
	for i, res := range rep.Results {
		// The issuer's loopback port changes from run to run.
		why := strings.ReplaceAll(res.Why, rep.Issuer, "{issuer}")
		got[i] = committedResult{Name: res.Name, Grade: res.Grade, Outcome: res.Outcome, Why: why}
	}
	if update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		require.NoError(t, enc.Encode(got))
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to write it")
	var want []committedResult
	require.NoError(t, json.Unmarshal(raw, &want))
	wantByName := map[string]servercheck.Outcome{}
	for _, w := range want {
		wantByName[w.Name] = w.Outcome
	}
	gotByName := map[string]servercheck.Outcome{}
	for _, res := range rep.Results {
		gotByName[res.Name] = res.Outcome
		if res.Outcome != wantByName[res.Name] {
			t.Logf("%s: %s: %s", res.Name, res.Outcome, res.Why)
		}
	}
	assert.Equal(t, wantByName, gotByName)
}
