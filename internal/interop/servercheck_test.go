package interop_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/internal/interop"
	"github.com/pkcekit/pkce/servercheck"
)

// update rewrites the committed servercheck reports from the servers:
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

// TestServercheckFosite runs servercheck's battery against fosite set up
// as the other interop tests use it: PKCE enforced with S256 only,
// refresh tokens rotated, revocation, OpenID Connect discovery, and a
// public, a Basic, a post and a private_key_jwt client. fosite signs in
// without asking, so following redirects is the sign-in.
func TestServercheckFosite(t *testing.T) {
	const redirect = "http://127.0.0.1:9/callback"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srv := start(t, interop.Config{
		OpenIDDiscovery: true,
		Clients: []interop.Client{
			{ID: "public-app", Method: interop.None, RedirectURIs: []string{redirect}},
			{ID: "basic-app", Secret: "basic-secret-1234", Method: interop.ClientSecretBasic, RedirectURIs: []string{redirect}},
			{ID: "post-app", Secret: "post-secret-5678", Method: interop.ClientSecretPost, RedirectURIs: []string{redirect}},
			{ID: "jwt-app", Key: key.Public(), KeyAlg: "ES256", Method: interop.PrivateKeyJWT, RedirectURIs: []string{redirect}},
		},
	})
	rep, err := servercheck.Check(context.Background(), servercheck.Config{
		Issuer: srv.Issuer(),
		Clients: []servercheck.Registration{
			{ID: "public-app", Method: servercheck.AuthNone, RedirectURI: redirect},
			{ID: "basic-app", Secret: "basic-secret-1234", Method: servercheck.AuthSecretBasic, RedirectURI: redirect},
			{ID: "post-app", Secret: "post-secret-5678", Method: servercheck.AuthSecretPost, RedirectURI: redirect},
			{ID: "jwt-app", Key: key, Method: servercheck.AuthPrivateKeyJWT, RedirectURI: redirect, AssertionAudience: srv.TokenURL()},
		},
		Endpoints:  servercheck.Endpoints{Revocation: srv.RevocationURL()},
		SignIn:     servercheck.FollowRedirects(srv.Client()),
		HTTPClient: srv.Client(),
	})
	require.NoError(t, err)
	assertReport(t, "fosite", rep)
}

// TestServercheckZitadel runs the battery against the zitadel/oidc OP with
// the example storage's native (public) and web (Basic) clients. Its
// login is the scripted /login/username redirect, which following
// redirects passes through.
func TestServercheckZitadel(t *testing.T) {
	z := startZitadel(t)
	rep, err := servercheck.Check(context.Background(), servercheck.Config{
		Issuer: z.issuer,
		Clients: []servercheck.Registration{
			{ID: zitadelNativeID, Method: servercheck.AuthNone, RedirectURI: zitadelNatRedir},
			{ID: zitadelWebID, Secret: zitadelWebSecret, Method: servercheck.AuthSecretBasic, RedirectURI: zitadelWebRedir},
		},
		Scope:      "openid offline_access",
		HTTPClient: z.ts.Client(),
	})
	require.NoError(t, err)
	assertReport(t, "zitadel", rep)
}
