//go:build unix

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pgstore"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/redisstore"
	"github.com/pkcekit/pkce/seal"
)

// A storeBackend is a shared store the replica processes are pointed at.
// contents reads it as the test sees it: the subjects stored (tokens and
// sessions), the raw bytes of every value, and a client store of the
// same data, for the test to change a token as time would.
type storeBackend struct {
	name     string
	start    func(t *testing.T) (flag, value string)
	contents func(t *testing.T, value string) (s pkce.Store, subjects []string, raw [][]byte)
}

var storeBackends = []storeBackend{
	{
		name:  "redis",
		start: func(t *testing.T) (string, string) { return "-redis", startRedis(t) },
		contents: func(t *testing.T, addr string) (pkce.Store, []string, [][]byte) {
			ctx := context.Background()
			c := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { c.Close() })
			keys, err := c.Keys(ctx, redisstore.DefaultPrefix+"token:*").Result()
			require.NoError(t, err)
			var subjects []string
			var raw [][]byte
			for _, k := range keys {
				b, err := c.Get(ctx, k).Bytes()
				require.NoError(t, err)
				subjects = append(subjects, strings.TrimPrefix(k, redisstore.DefaultPrefix+"token:"))
				raw = append(raw, b)
			}
			return redisstore.New(c), subjects, raw
		},
	},
	{
		name:  "postgres",
		start: func(t *testing.T) (string, string) { return "-postgres", startPostgres(t) },
		contents: func(t *testing.T, dsn string) (pkce.Store, []string, [][]byte) {
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, dsn)
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			rows, err := pool.Query(ctx, `SELECT subject, token FROM pkce.tokens`)
			require.NoError(t, err)
			var subjects []string
			var raw [][]byte
			for rows.Next() {
				var subject, token []byte
				require.NoError(t, rows.Scan(&subject, &token))
				subjects = append(subjects, string(subject))
				raw = append(raw, token)
			}
			require.NoError(t, rows.Err())
			s, err := pgstore.New(ctx, pool)
			require.NoError(t, err)
			return s, subjects, raw
		},
	},
}

// expireToken makes the one stored token expired a minute ago, through
// s (sealed with keys when they are given), as time would.
func expireToken(t *testing.T, s pkce.Store, keys *seal.Keys, subjects []string) {
	t.Helper()
	ctx := context.Background()
	if keys != nil {
		var err error
		s, err = seal.NewStore(s, keys)
		require.NoError(t, err)
	}
	n := 0
	for _, subject := range subjects {
		if strings.HasPrefix(subject, "session:") {
			continue
		}
		n++
		b, err := s.LoadToken(ctx, subject)
		require.NoError(t, err)
		var tok map[string]any
		require.NoError(t, json.Unmarshal(b, &tok))
		tok["expiry"] = time.Now().Add(-time.Minute).Format(time.RFC3339Nano)
		expired, err := json.Marshal(tok)
		require.NoError(t, err)
		ok, err := s.SaveToken(ctx, subject, b, expired)
		require.NoError(t, err)
		require.True(t, ok)
	}
	require.Equal(t, 1, n, "stored tokens")
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
func startReplica(t *testing.T, port int, env []string, args ...string) string {
	t.Helper()
	bin, err := buildWebapp()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:" + strconv.Itoa(port)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
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
		for _, sealed := range []bool{false, true} {
			name := sb.name
			if sealed {
				name += " with PKCE_SEAL_KEY"
			}
			t.Run(name, func(t *testing.T) { testReplicaProcesses(t, sb, sealed) })
		}
	}
}

func testReplicaProcesses(t *testing.T, sb storeBackend, sealed bool) {
	flag, value := sb.start(t)
	var keys *seal.Keys
	env := []string{"PKCE_CLIENT_SECRET=webapp-secret"}
	if sealed {
		secret := make([]byte, seal.KeySize)
		rand.Read(secret)
		var err error
		keys, err = seal.NewKeys(seal.Key{ID: "1", Secret: secret})
		require.NoError(t, err)
		env = append(env, "PKCE_SEAL_KEY="+base64.RawURLEncoding.EncodeToString(secret))
	}
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
		replicas = append(replicas, startReplica(t, p, env, flag, value,
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
	t.Run("the store holds tokens and flows in clear only without a key", func(t *testing.T) {
		_, _, raw := sb.contents(t, value)
		require.NotEmpty(t, raw)
		clear := 0
		for _, b := range raw {
			for _, member := range []string{`"access_token"`, `"refresh_token"`, `"verifier"`, `"subject"`} {
				if strings.Contains(string(b), member) {
					clear++
				}
			}
		}
		if sealed {
			assert.Zero(t, clear, "JSON members in clear in the store")
		} else {
			assert.NotZero(t, clear, "JSON members in clear in the store")
		}
	})
	t.Run("an expired token is refreshed once across the replicas", func(t *testing.T) {
		s, subjects, _ := sb.contents(t, value)
		expireToken(t, s, keys, subjects)
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
}
