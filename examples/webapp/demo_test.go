package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

// The -demo server asks for consent, as real providers do, so that a
// newcomer sees both a sign-in and a refused one; -replicas still works.
func TestWebappDemo(t *testing.T) {
	tests := []struct {
		name       string
		replicas   int
		deny       bool
		wantStatus int
		wantPath   string
		wantBody   []string
	}{
		{name: "approving on the consent page signs in", replicas: 1,
			wantStatus: http.StatusOK, wantPath: "/me", wantBody: []string{"<h1>Your profile</h1>", "Signed in as <strong>Test User</strong>"}},
		{name: "denying on the consent page shows access_denied and the server's description", replicas: 1, deny: true,
			wantStatus: http.StatusForbidden, wantPath: "/callback", wantBody: []string{"<h1>Sign-in failed</h1>", "<dd>access_denied</dd>", "<dd>the resource owner denied the request</dd>"}},
		{name: "approving signs in across three replicas", replicas: 3,
			wantStatus: http.StatusOK, wantPath: "/me", wantBody: []string{"<h1>Your profile</h1>", "Signed in as <strong>Test User</strong>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := startDemo(t, "-demo", "-addr", "127.0.0.1:0", "-replicas", strconv.Itoa(tt.replicas))
			jar, err := cookiejar.New(nil)
			require.NoError(t, err)
			browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
			stop := *browser
			stop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := stop.Get(base + "/login?next=/me")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode)

			// pkcetest.Browser fails when there is no consent page to
			// press Deny on.
			cb, err := pkcetest.Browser{Deny: tt.deny}.Authorize(t.Context(), resp.Header.Get("Location"))
			require.NoError(t, err)
			resp, err = browser.Get(cb.URL.String())
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)

			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Equal(t, tt.wantPath, resp.Request.URL.Path)
			for _, want := range tt.wantBody {
				assert.Contains(t, string(body), want)
			}
		})
	}
}

// The demo provider has an end-session endpoint, so signing out ends the
// session there too (RP-Initiated Logout 1.0) and comes back home.
func TestWebappDemoSignsOutAtTheProvider(t *testing.T) {
	base := startDemo(t, "-demo", "-addr", "127.0.0.1:0")
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	stop := *browser
	stop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := stop.Get(base + "/login?next=/me")
	require.NoError(t, err)
	resp.Body.Close()
	cb, err := pkcetest.Browser{}.Authorize(t.Context(), resp.Header.Get("Location"))
	require.NoError(t, err)
	resp, err = browser.Get(cb.URL.String())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = stop.PostForm(base+"/logout", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	logout, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/logout", logout.Path, "the browser goes to the provider's end-session endpoint")
	assert.NotEmpty(t, logout.Query().Get("id_token_hint"))
	resp, err = browser.Get(logout.String())
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, base+"/", resp.Request.URL.String(), "the provider sends the browser back home")
	assert.Contains(t, string(body), "You are not signed in.")
}

// startDemo runs serve with args until the test ends and returns the
// URL it listens on.
func startDemo(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, stdout := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, args, stdout)
		stdout.Close()
	}()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-served)
	})
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if base, ok := strings.CutPrefix(lines.Text(), "Listening on "); ok {
			go io.Copy(io.Discard, out)
			return strings.TrimSuffix(base, "/")
		}
	}
	require.FailNow(t, "serve ended without printing its address")
	return ""
}
