package fapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// redirectURL is the registered redirect URI; the tests stop at it
// instead of following it. oidc-provider's FAPI 2.0 profile wants https.
const redirectURL = "https://app.example/callback"

// needTool finds a program, failing under CI=true and skipping otherwise.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; CI must run the oidc-provider interop tests", name)
		}
		t.Skipf("%s is not installed: the oidc-provider interop tests need node and npm "+
			"(Debian, Ubuntu: apt-get install nodejs npm, or run bash .ci/test-all --install as root)", name)
	}
	return path
}

var installOnce sync.Once
var installErr error

// install runs npm ci once when node_modules lacks oidc-provider.
func install(t *testing.T) {
	t.Helper()
	npm := needTool(t, "npm")
	installOnce.Do(func() {
		if _, err := os.Stat("node_modules/oidc-provider/package.json"); err == nil {
			return
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		out, err := cmd.CombinedOutput()
		if err != nil {
			installErr = fmt.Errorf("npm ci: %v\n%s", err, out)
		}
	})
	require.NoError(t, installErr)
}

// provider is a running oidc-provider.
type provider struct {
	issuer string
}

// startProvider starts provider.mjs with clients on a free loopback
// port, waits until it listens and stops it by its pid when t ends.
func startProvider(t *testing.T, clients []map[string]any) *provider {
	t.Helper()
	return startProviderConfig(t, map[string]any{"clients": clients})
}

// startProviderConfig is startProvider with the whole FAPI_CONFIG but the
// port, e.g. with "profile": "oauth" for a plain OAuth 2.0 server.
func startProviderConfig(t *testing.T, config map[string]any) *provider {
	t.Helper()
	node := needTool(t, "node")
	install(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	config["port"] = port
	cfg, err := json.Marshal(config)
	require.NoError(t, err)
	cmd := exec.Command(node, "provider.mjs")
	cmd.Env = append(os.Environ(), "FAPI_CONFIG="+string(cfg))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
		cmd.Wait()
		if t.Failed() {
			t.Logf("oidc-provider stderr:\n%s", stderr.String())
		}
	})

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if issuer, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- issuer
			}
		}
	}()
	select {
	case issuer := <-ready:
		return &provider{issuer: issuer}
	case <-time.After(60 * time.Second):
		t.Fatalf("oidc-provider did not start within 60s:\n%s", stderr.String())
	}
	return nil
}

// authorize plays the browser: it follows the authorization server's
// redirects with a cookie jar (the login interaction and its resume) and
// returns the query of the redirect to redirectURL.
func authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := authURL
	for range 10 {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, next, nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		loc, err := resp.Location()
		require.NoError(t, err, "status %d at %s", resp.StatusCode, next)
		if strings.HasPrefix(loc.String(), redirectURL) {
			return loc.Query()
		}
		next = loc.String()
	}
	t.Fatalf("no redirect to %s after 10 hops", redirectURL)
	return nil
}
