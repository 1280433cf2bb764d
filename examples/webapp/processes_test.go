//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

// A storeBackend is a shared store the replica processes are pointed at,
// and a way for the test to make the stored token of every signed-in
// subject expired, as time would.
type storeBackend struct {
	name   string
	start  func(t *testing.T) (flag, value string)
	expire func(t *testing.T, value string)
}

// expiredJSON returns a stored token (pkce.Tokens' JSON form) whose
// access token expired a minute ago.
func expiredJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var tok map[string]any
	require.NoError(t, json.Unmarshal(b, &tok))
	tok["expiry"] = time.Now().Add(-time.Minute).Format(time.RFC3339Nano)
	out, err := json.Marshal(tok)
	require.NoError(t, err)
	return out
}

var storeBackends = []storeBackend{
	{
		name:  "redis",
		start: func(t *testing.T) (string, string) { return "-redis", startRedis(t) },
		expire: func(t *testing.T, addr string) {
			ctx := context.Background()
			c := redis.NewClient(&redis.Options{Addr: addr})
			defer c.Close()
			keys, err := c.Keys(ctx, "pkce:token:*").Result()
			require.NoError(t, err)
			n := 0
			for _, k := range keys {
				if strings.HasPrefix(k, "pkce:token:session:") {
					continue
				}
				b, err := c.Get(ctx, k).Bytes()
				require.NoError(t, err)
				require.NoError(t, c.SetArgs(ctx, k, expiredJSON(t, b), redis.SetArgs{KeepTTL: true}).Err())
				n++
			}
			require.Equal(t, 1, n, "stored tokens")
		},
	},
	{
		name:  "postgres",
		start: func(t *testing.T) (string, string) { return "-postgres", startPostgres(t) },
		expire: func(t *testing.T, dsn string) {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			require.NoError(t, err)
			defer conn.Close(ctx)
			rows, err := conn.Query(ctx, `SELECT subject, token FROM pkce.tokens WHERE NOT starts_with(convert_from(subject, 'UTF8'), 'session:')`)
			require.NoError(t, err)
			type row struct{ subject, token []byte }
			var found []row
			for rows.Next() {
				var r row
				require.NoError(t, rows.Scan(&r.subject, &r.token))
				found = append(found, r)
			}
			require.NoError(t, rows.Err())
			require.Len(t, found, 1, "stored tokens")
			_, err = conn.Exec(ctx, `UPDATE pkce.tokens SET token = $2 WHERE subject = $1`, found[0].subject, expiredJSON(t, found[0].token))
			require.NoError(t, err)
		},
	},
}

// buildWebapp builds this program once per test binary.
var buildWebapp = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "webapp-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "webapp")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startReplica runs the webapp as a process on port with args, and
// returns once it listens. It is interrupted by PID when the test ends.
func startReplica(t *testing.T, port int, args ...string) string {
	t.Helper()
	bin, err := buildWebapp()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:" + strconv.Itoa(port)}, args...)...)
	cmd.Env = append(os.Environ(), "PKCE_CLIENT_SECRET=webapp-secret")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "Listening on "+base+"/" {
				close(listening)
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case <-listening:
	case err := <-exited:
		require.FailNow(t, "a replica exited before it listened", "%v\n%s", err, stderr)
	case <-time.After(60 * time.Second):
		require.FailNow(t, "a replica does not listen", "%s", stderr)
	}
	return base
}

// Three replicas of the webapp, each a process of its own, share a store
// in Redis or PostgreSQL: a sign-in started on one is finished on
// another, a replay of the callback on the third is refused without a
// token request, and an expired token is refreshed once for many
// requests across all three.
func TestReplicaProcesses(t *testing.T) {
	for _, sb := range storeBackends {
		t.Run(sb.name, func(t *testing.T) {
			flag, value := sb.start(t)
			as := pkcetest.NewServer(pkcetest.Config{
				Rotate: true, SendIssuer: true,
				Clients: []pkcetest.Client{{ID: "webapp", Secret: "webapp-secret", Method: pkcetest.MethodBasic,
					RedirectURIs: []string{"http://127.0.0.1/callback"}}},
			})
			t.Cleanup(as.Close)
			ports := []int{freePort(t), freePort(t), freePort(t)}
			redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", ports[0])
			var replicas []string
			for _, p := range ports {
				replicas = append(replicas, startReplica(t, p, flag, value,
					"-auth-url", as.AuthURL(), "-token-url", as.TokenURL(), "-issuer", as.Issuer(),
					"-client-id", "webapp", "-scopes", "openid profile offline_access",
					"-redirect-url", redirect, "-resource-url", as.ResourceURL()))
			}
			// Cookies are per host, not per port: the replicas share
			// them, as behind one name.
			jar, err := cookiejar.New(nil)
			require.NoError(t, err)
			browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			get := func(t *testing.T, c *http.Client, target string) (int, string, string) {
				t.Helper()
				resp, err := c.Get(target)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return resp.StatusCode, resp.Header.Get("Location"), string(body)
			}
			onReplica := func(t *testing.T, raw string, i int) string {
				t.Helper()
				u, err := url.Parse(raw)
				require.NoError(t, err)
				u.Host = fmt.Sprintf("127.0.0.1:%d", ports[i])
				return u.String()
			}

			status, authURL, _ := get(t, browser, replicas[0]+"/login?next=/me")
			require.Equal(t, http.StatusFound, status)
			u, err := url.Parse(replicas[0])
			require.NoError(t, err)
			loginCookies := jar.Cookies(u)
			cb, err := pkcetest.Browser{}.Authorize(context.Background(), authURL)
			require.NoError(t, err)
			callback := cb.URL.String()

			t.Run("the callback on replica 1 signs in", func(t *testing.T) {
				status, next, body := get(t, browser, onReplica(t, callback, 1))
				assert.Equal(t, http.StatusSeeOther, status, body)
				assert.Equal(t, "/me", next)
				assert.Equal(t, 1, as.TokenRequests())
			})
			t.Run("a replay on replica 2 is refused", func(t *testing.T) {
				// The login session's cookie, as a stolen copy would carry.
				other, err := cookiejar.New(nil)
				require.NoError(t, err)
				other.SetCookies(u, loginCookies)
				attacker := *browser
				attacker.Jar = other
				status, _, _ := get(t, &attacker, onReplica(t, callback, 2))
				assert.Equal(t, http.StatusBadRequest, status)
				assert.Equal(t, 1, as.TokenRequests(), "the replay made no token request")
			})
			t.Run("an expired token is refreshed once across the replicas", func(t *testing.T) {
				sb.expire(t, value)
				var wg sync.WaitGroup
				statuses := make(chan int, 3*20)
				for i := range replicas {
					for range 20 {
						wg.Go(func() {
							status, _, _ := get(t, browser, replicas[i]+"/me")
							statuses <- status
						})
					}
				}
				wg.Wait()
				close(statuses)
				for s := range statuses {
					assert.Equal(t, http.StatusOK, s)
				}
				assert.Equal(t, 1, as.RefreshRequests(), "refresh requests from 3 replicas × 20 requests")
			})
		})
	}
}
