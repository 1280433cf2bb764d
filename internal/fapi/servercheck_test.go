package fapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/servercheck"
)

// update rewrites the committed servercheck report from the server:
//
//	go test -run TestServercheck -update
var update = flag.Bool("update", false, "rewrite testdata/servercheck-*.json from the servers")

// committedResult is what a committed report keeps of each check: enough
// to say what the server does and why, without the evidence.
type committedResult struct {
	Name    string              `json:"name"`
	Grade   servercheck.Grade   `json:"grade"`
	Outcome servercheck.Outcome `json:"outcome"`
	Why     string              `json:"why"`
}

// assertReport compares the outcome of every check in rep with the
// report committed in testdata/servercheck-<server>.json, or rewrites that
// file with -update. Why is kept in the file for its readers, with the
// issuer written {issuer}, but not compared: the outcome is the claim.
func assertReport(t *testing.T, server string, rep *servercheck.Report) {
	t.Helper()
	path := filepath.Join("testdata", "servercheck-"+server+".json")
	got := make([]committedResult, len(rep.Results))
	for i, res := range rep.Results {
		// The issuer's loopback port changes from run to run.
		why := strings.ReplaceAll(res.Why, rep.Issuer, "{issuer}")
		got[i] = committedResult{Name: res.Name, Grade: res.Grade, Outcome: res.Outcome, Why: why}
	}
	if *update {
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

// TestServercheckOIDCProvider runs servercheck's battery against
// oidc-provider as a plain OAuth 2.0 server (provider.mjs with profile
// oauth: no FAPI profile, no DPoP, PAR offered), with a public, a Basic, a
// post and a private_key_jwt client. The FAPI 2.0 profile the other tests
// use would refuse every request the battery makes without DPoP and PAR;
// the checks are about what any client meets. Its interaction URL signs
// in at once, so following redirects is the sign-in.
func TestServercheckOIDCProvider(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	client := func(id, method, secret string) map[string]any {
		c := map[string]any{
			"client_id":                    id,
			"token_endpoint_auth_method":   method,
			"redirect_uris":                []string{redirectURL},
			"grant_types":                  []string{"authorization_code", "refresh_token"},
			"response_types":               []string{"code"},
			"id_token_signed_response_alg": "ES256",
		}
		if secret != "" {
			c["client_secret"] = secret
		}
		return c
	}
	jwtApp := registration(t, "jwt-app", key)
	delete(jwtApp, "dpop_bound_access_tokens")
	op := startProviderConfig(t, map[string]any{"profile": "oauth", "clients": []map[string]any{
		client("public-app", "none", ""),
		client("basic-app", "client_secret_basic", "basic-secret-1234-basic-secret-1234"),
		client("post-app", "client_secret_post", "post-secret-5678-post-secret-5678"),
		jwtApp,
	}})
	rep, err := servercheck.Check(context.Background(), servercheck.Config{
		Issuer: op.issuer,
		Clients: []servercheck.Registration{
			{ID: "public-app", Method: servercheck.AuthNone, RedirectURI: redirectURL},
			{ID: "basic-app", Secret: "basic-secret-1234-basic-secret-1234", Method: servercheck.AuthSecretBasic, RedirectURI: redirectURL},
			{ID: "post-app", Secret: "post-secret-5678-post-secret-5678", Method: servercheck.AuthSecretPost, RedirectURI: redirectURL},
			{ID: "jwt-app", Key: key, KeyID: "jwt-app-key", Method: servercheck.AuthPrivateKeyJWT, RedirectURI: redirectURL},
		},
		Scope:      "openid",
		HTTPClient: &http.Client{},
	})
	require.NoError(t, err)
	assertReport(t, "oidc-provider", rep)
}
