package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// browser plays the person's browser: it follows the authorization URL to
// the server's redirect and visits it on the loopback receiver.
type browser struct {
	visits int
	opened []string // the URLs the program asked to open
	last   int      // status of the last page shown
	err    error    // what went wrong, if anything
}

func (b *browser) open(startURL string) error {
	b.visits++
	b.opened = append(b.opened, startURL)
	b.err = b.play(startURL)
	return b.err
}

// play visits the start URL on the loopback receiver, which redirects to
// the authorization endpoint, which redirects back to the receiver.
func (b *browser) play(startURL string) error {
	hc := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	next := startURL
	for _, hop := range []string{"start URL", "authorization endpoint"} {
		resp, err := hc.Get(next)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			return fmt.Errorf("%s answered %s", hop, resp.Status)
		}
		next = resp.Header.Get("Location")
	}
	resp, err := hc.Get(next)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	b.last = resp.StatusCode
	return nil
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func readStored(t *testing.T, path string) storedToken {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var st storedToken
	require.NoError(t, json.Unmarshal(b, &st))
	require.NotNil(t, st.Token)
	return st
}

func writeStored(t *testing.T, path string, st storedToken) {
	t.Helper()
	b, err := json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func assertPrivate(t *testing.T, path string) {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "token file mode")
	dir, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dir.Mode().Perm(), "token directory mode")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

// assertNoSecrets checks that the output shows no token of st.
func assertNoSecrets(t *testing.T, out string, st storedToken) {
	t.Helper()
	assert.NotContains(t, out, st.Token.AccessToken)
	assert.NotContains(t, out, st.Token.RefreshToken)
}

func TestDesktopSignInReuseRefreshLogout(t *testing.T) {
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{
			ID:           "cli",
			Method:       pkcetest.MethodNone,
			RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback"},
		}},
		SendIssuer: true,
		Rotate:     true,
	})
	defer srv.Close()
	args := []string{
		"-auth-url", srv.AuthURL(), "-token-url", srv.TokenURL(), "-issuer", srv.Issuer(),
		"-revocation-url", srv.RevocationURL(), "-client-id", "cli", "-scopes", "openid offline_access",
		"-param", "audience=https://api.example", "-resource-url", srv.ResourceURL(),
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "pkce-desktop", "token.json")
	b := &browser{}
	ctx := testContext(t)

	// First run: the browser signs in, the token is stored privately.
	var out bytes.Buffer
	require.NoError(t, run(ctx, args, &out, b.open, dir))
	require.NoError(t, b.err)
	assert.Equal(t, 1, b.visits)
	assert.Equal(t, http.StatusOK, b.last)
	assertPrivate(t, path)
	first := readStored(t, path)
	assert.NotEmpty(t, first.Token.RefreshToken)
	require.Len(t, b.opened, 1)
	assert.Contains(t, out.String(), b.opened[0], "the URL is printed in case no browser opens")
	assert.Equal(t, []string{"https://api.example"}, srv.LastAuthorizationRequest()["audience"])
	assert.Contains(t, out.String(), `"sub":"test-user"`)
	assertNoSecrets(t, out.String(), first)

	// Second run: the stored token is still valid and used as is.
	out.Reset()
	require.NoError(t, run(ctx, args, &out, b.open, dir))
	assert.Equal(t, 1, b.visits, "no browser")
	assert.Equal(t, 1, srv.TokenRequests(), "no token request")
	assert.Contains(t, out.String(), "Using the stored sign-in")
	assert.Contains(t, out.String(), `"sub":"test-user"`)
	assert.Equal(t, first, readStored(t, path))

	// Third run: the stored token has expired; it is refreshed and the
	// rotated refresh token is saved before use.
	expired := first
	tok := *first.Token
	tok.Expiry = time.Now().Add(-time.Hour)
	expired.Token = &tok
	writeStored(t, path, expired)
	out.Reset()
	require.NoError(t, run(ctx, args, &out, b.open, dir))
	assert.Equal(t, 1, b.visits, "no browser")
	assert.Equal(t, 1, srv.RefreshRequests())
	assert.Contains(t, out.String(), "Refreshed the stored sign-in")
	assert.Contains(t, out.String(), `"sub":"test-user"`)
	assertPrivate(t, path)
	refreshed := readStored(t, path)
	assert.NotEqual(t, first.Token.RefreshToken, refreshed.Token.RefreshToken, "the rotated refresh token is saved")
	assert.NotEqual(t, first.Token.AccessToken, refreshed.Token.AccessToken)
	assert.True(t, refreshed.Token.Expiry.After(time.Now()))
	assertNoSecrets(t, out.String(), refreshed)

	// -logout revokes the refresh token at the server, then deletes it.
	out.Reset()
	require.NoError(t, run(ctx, append([]string{"-logout"}, args...), &out, b.open, dir))
	assert.NoFileExists(t, path)
	assert.Contains(t, out.String(), "Revoked the token at the provider")
	assert.Contains(t, out.String(), "Signed out")
	assertNoSecrets(t, out.String(), refreshed)
	require.Equal(t, 1, srv.RevocationRequests())
	revoked := srv.LastRevocationRequest().Form
	assert.Equal(t, refreshed.Token.RefreshToken, revoked.Get("token"))
	assert.Equal(t, "refresh_token", revoked.Get("token_type_hint"))
	assert.Equal(t, "cli", revoked.Get("client_id"))
	_, err := testClient(t, srv).Refresh(ctx, refreshed.Token.RefreshToken)
	assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the revoked refresh token no longer works")

	// A second -logout finds nothing to do.
	out.Reset()
	require.NoError(t, run(ctx, append([]string{"-logout"}, args...), &out, b.open, dir))
	assert.Contains(t, out.String(), "Not signed in")
	assert.Equal(t, 1, srv.RevocationRequests())
}

// testClient is a client of srv's "cli" registration, for checking what the
// server thinks of a token.
func testClient(t *testing.T, srv *pkcetest.Server) *pkce.Client {
	t.Helper()
	c, err := pkce.New(&oauth2.Config{
		ClientID:    "cli",
		Endpoint:    oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
		RedirectURL: "http://127.0.0.1/callback",
	})
	require.NoError(t, err)
	return c
}

func TestDesktopSignsInAgain(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(st *storedToken)
		want  string
	}{
		{
			name: "refresh token refused",
			spoil: func(st *storedToken) {
				st.Token.Expiry = time.Now().Add(-time.Hour)
				st.Token.RefreshToken = "revoked"
			},
			want: "no longer accepted",
		},
		{
			name:  "token of another provider",
			spoil: func(st *storedToken) { st.TokenURL = "https://other.example/token" },
			want:  "another provider",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := pkcetest.NewServer(pkcetest.Config{Clients: []pkcetest.Client{{
				ID: "cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback"},
			}}})
			defer srv.Close()
			args := []string{"-auth-url", srv.AuthURL(), "-token-url", srv.TokenURL(), "-client-id", "cli", "-scopes", "offline_access"}
			dir := t.TempDir()
			path := filepath.Join(dir, "pkce-desktop", "token.json")
			b := &browser{}
			ctx := testContext(t)
			require.NoError(t, run(ctx, args, io.Discard, b.open, dir))
			st := readStored(t, path)
			tt.spoil(&st)
			writeStored(t, path, st)

			var out bytes.Buffer
			require.NoError(t, run(ctx, args, &out, b.open, dir))

			require.NoError(t, b.err)
			assert.Equal(t, 2, b.visits, "the person signs in again")
			assert.Contains(t, out.String(), tt.want)
			fresh := readStored(t, path)
			assert.Equal(t, srv.TokenURL(), fresh.TokenURL)
			assert.NotEqual(t, st.Token.AccessToken, fresh.Token.AccessToken)
			assertPrivate(t, path)
		})
	}
}

func TestDesktopDemo(t *testing.T) {
	dir := t.TempDir()
	b := &browser{}
	var out bytes.Buffer

	require.NoError(t, run(testContext(t), []string{"-demo"}, &out, b.open, dir))

	require.NoError(t, b.err)
	assert.Equal(t, http.StatusOK, b.last)
	path := filepath.Join(dir, "pkce-desktop", "demo-token.json")
	assertPrivate(t, path)
	st := readStored(t, path)
	assertNoSecrets(t, out.String(), st)
	assert.Contains(t, out.String(), `"sub":"test-user"`)
	assert.Contains(t, out.String(), "Token: Bearer")
	assert.NoFileExists(t, filepath.Join(dir, "pkce-desktop", "token.json"), "a demo does not replace a real sign-in")
}

func TestDesktopRefusesBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"param without a value", []string{"-demo", "-param", "audience"}},
		{"stray argument", []string{"-demo", "now"}},
		{"redirect on localhost", []string{"-auth-url", "https://as.example/a", "-token-url", "https://as.example/t", "-client-id", "x", "-redirect-url", "http://localhost/callback"}},
		{"no provider", []string{"-client-id", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &browser{}
			err := run(testContext(t), tt.args, io.Discard, b.open, t.TempDir())
			assert.Error(t, err)
			assert.Zero(t, b.visits)
		})
	}
}

func TestDesktopSaysWhenNoBrowserOpens(t *testing.T) {
	tests := []struct {
		name    string
		timeout []string
		open    func(b *browser) func(string) error
		want    []string
	}{
		{
			name: "a browser opens: the program still says how long it waits",
			open: func(b *browser) func(string) error { return b.open },
			want: []string{"Waiting up to 5 minutes for the sign-in"},
		},
		{
			name:    "no browser opens: the program says so, and how long it waits",
			timeout: []string{"-timeout", "90s"},
			open: func(b *browser) func(string) error {
				return func(authURL string) error {
					b.open(authURL) // the person pastes the printed URL
					return errors.New(`exec: "xdg-open": executable file not found in $PATH`)
				}
			},
			want: []string{"No browser opened: exec: \"xdg-open\"", "Open the URL above yourself",
				"Waiting up to 90 seconds for the sign-in"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &browser{}
			var out bytes.Buffer

			require.NoError(t, run(testContext(t), append([]string{"-demo"}, tt.timeout...), &out, tt.open(b), t.TempDir()))

			require.NoError(t, b.err)
			for _, want := range tt.want {
				assert.Contains(t, out.String(), want)
			}
			assert.Contains(t, out.String(), `"sub":"test-user"`, "signed in all the same")
		})
	}
}

func TestDesktopDemoRefreshesOnTheNextRunAndLogsOut(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pkce-desktop", "demo-token.json")
	b := &browser{}
	ctx := testContext(t)
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-demo"}, &out, b.open, dir))
	require.NoError(t, b.err)
	first := readStored(t, path)

	// The next run has a new embedded server: the stored token is refreshed,
	// without a browser, and the rotated refresh token is saved.
	out.Reset()
	require.NoError(t, run(ctx, []string{"-demo"}, &out, b.open, dir))
	assert.Equal(t, 1, b.visits, "no browser on the second run")
	assert.Contains(t, out.String(), "Refreshed the stored sign-in")
	assert.Contains(t, out.String(), `"sub":"test-user"`, "the refreshed token works")
	second := readStored(t, path)
	assert.NotEqual(t, first.Token.RefreshToken, second.Token.RefreshToken, "rotated and saved")
	assertNoSecrets(t, out.String(), second)
	assertPrivate(t, path)

	// -logout revokes the stored token, deletes it, and ends the session
	// at the provider in the browser (RP-Initiated Logout 1.0).
	out.Reset()
	var opened []string
	// Each demo run has a provider with new keys, which cannot accept the
	// last run's ID token; the webapp's tests follow the whole logout.
	open := func(u string) error {
		opened = append(opened, u)
		return nil
	}
	require.NoError(t, run(ctx, []string{"-demo", "-logout"}, &out, open, dir))
	assert.Contains(t, out.String(), "Revoked the token at the provider")
	assert.Contains(t, out.String(), "Signed out")
	assert.NoFileExists(t, path)
	require.Len(t, opened, 1, "the browser goes to the end-session endpoint")
	logout, err := url.Parse(opened[0])
	require.NoError(t, err)
	assert.Equal(t, "/logout", logout.Path)
	assert.Equal(t, second.IDToken, logout.Query().Get("id_token_hint"), "with the stored ID token as hint")
	assert.NotEmpty(t, second.IDToken)
}

// Finding 18 of issue 20: the browser is started with a local start URL,
// not with the authorization URL, whose state and code challenge other
// users of the computer could read on its command line.
func TestDesktopKeepsTheAuthorizationURLOffTheCommandLine(t *testing.T) {
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{ID: "cli", Method: pkcetest.MethodNone,
			RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback"}}},
		SendIssuer: true,
	})
	defer srv.Close()
	args := []string{"-auth-url", srv.AuthURL(), "-token-url", srv.TokenURL(), "-issuer", srv.Issuer(), "-client-id", "cli"}
	b := &browser{}
	var out bytes.Buffer
	require.NoError(t, run(testContext(t), args, &out, b.open, t.TempDir()))
	require.NoError(t, b.err)
	require.Len(t, b.opened, 1)
	assert.Regexp(t, `^http://(127\.0\.0\.1|\[::1\]):[0-9]+/start/[A-Z2-7]+$`, b.opened[0], "the browser's argument is the receiver's start URL")
	state := srv.LastAuthorizationRequest().Get("state")
	require.NotEmpty(t, state)
	for _, secret := range []string{state, srv.LastAuthorizationRequest().Get("code_challenge")} {
		assert.NotContains(t, b.opened[0], secret)
		assert.NotContains(t, out.String(), secret)
	}
}
