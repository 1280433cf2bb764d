//go:build unix

package redisstore_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/redisstore"
	"github.com/pkcekit/pkce/seal"
)

// A monitor is a connection in MONITOR mode: Redis reports on it every
// command that it receives from any client, and each command that a script
// runs, marked "lua".
type monitor struct {
	conn net.Conn
	r    *bufio.Reader
}

// startMonitor returns once the server has confirmed MONITOR, so that every
// command sent afterwards is reported.
func startMonitor(t *testing.T, addr string) *monitor {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	// Only stops a broken server from hanging the test.
	require.NoError(t, conn.SetDeadline(time.Now().Add(time.Minute)))
	_, err = conn.Write([]byte("MONITOR\r\n"))
	require.NoError(t, err)
	m := &monitor{conn: conn, r: bufio.NewReader(conn)}
	require.Equal(t, "+OK", m.line(t))
	return m
}

func (m *monitor) line(t *testing.T) string {
	t.Helper()
	line, err := m.r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimRight(line, "\r\n")
}

// commandsUntil reads the reports up to the ECHO of marker and returns the
// names of the commands that clients sent with a key under prefix. Only
// names: the arguments hold tokens.
func (m *monitor) commandsUntil(t *testing.T, marker, prefix string) []string {
	t.Helper()
	var names []string
	for {
		line := m.line(t)
		if strings.Contains(line, `"echo" "`+marker+`"`) {
			return names
		}
		// A report is: time [db client] "command" "arg"...; a script's
		// commands name "lua" as their client.
		_, rest, ok := strings.Cut(line, " [")
		require.True(t, ok, "a MONITOR report has a client")
		client, command, ok := strings.Cut(rest, "] ")
		require.True(t, ok, "a MONITOR report has a client")
		if strings.HasSuffix(client, " lua") || !strings.Contains(command, prefix) {
			continue
		}
		name, _, _ := strings.Cut(command, " ")
		names = append(names, strings.Trim(name, `"`))
	}
}

// clusterLike hides the *redis.Client behind the interface, as a cluster
// or ring client would be, so that the store does not join keys in one
// script.
type clusterLike struct{ redis.UniversalClient }

func TestRefreshRoundTrips(t *testing.T) {
	needRedis(t)
	keys, err := seal.NewKeys(seal.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	tests := []struct {
		name  string
		store func(client *redis.Client, prefix string) pkce.Store
		want  []string // the commands of a refresh, as the server receives them
	}{
		{"a client of one server: lease with the token, save with the release",
			func(client *redis.Client, prefix string) pkce.Store {
				return redisstore.New(client, redisstore.WithPrefix(prefix))
			}, []string{"evalsha", "evalsha"}},
		{"sealed: the compare-and-set reads the sealed value first",
			func(client *redis.Client, prefix string) pkce.Store {
				s, err := seal.NewStore(redisstore.New(client, redisstore.WithPrefix(prefix)), keys)
				require.NoError(t, err)
				return s
			}, []string{"evalsha", "get", "evalsha"}},
		{"a cluster or ring client: one key a command",
			func(client *redis.Client, prefix string) pkce.Store {
				return redisstore.New(clusterLike{client}, redisstore.WithPrefix(prefix))
			}, []string{"set", "get", "evalsha", "evalsha"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			prefix := uniquePrefix()
			client := newClient(t, redisAddr)
			srv := authServer(t)
			c := oauthClient(t, srv.Issuer())
			tokens, err := c.Tokens(tt.store(client, prefix))
			require.NoError(t, err)
			tok := signIn(t, srv, c)
			mon := startMonitor(t, redisAddr)
			// The first refresh loads the scripts (EVALSHA fails with
			// NOSCRIPT, then EVAL); the second is every later one.
			for i := range 2 {
				require.NoError(t, tokens.Save(ctx, subject, expired(tok)))
				src, err := tokens.Source(ctx, subject)
				require.NoError(t, err)
				start, end := fmt.Sprintf("start-%d-%s", i, prefix), fmt.Sprintf("end-%d-%s", i, prefix)
				require.NoError(t, client.Echo(ctx, start).Err())
				refreshes := srv.RefreshRequests()
				next, err := src.TokenContext(ctx)
				require.NoError(t, err)
				require.NoError(t, client.Echo(ctx, end).Err())
				require.Equal(t, refreshes+1, srv.RefreshRequests(), "one refresh")
				require.NotEqual(t, tok.RefreshToken, next.RefreshToken, "the server rotates")
				tok = &pkce.Token{Token: next}

				mon.commandsUntil(t, start, prefix)
				got := mon.commandsUntil(t, end, prefix)
				if i == 1 {
					assert.Equal(t, tt.want, got, "the commands of a refresh")
				}
			}
		})
	}
}

// A plain client of a cluster node, or of a proxy that keeps to hash
// slots, gets CROSSSLOT for a script over a subject's lease and token
// keys: the store then makes every step touch one key, and refreshes go on.
func TestRefreshAgainstAClusterNode(t *testing.T) {
	needRedis(t)
	ctx := context.Background()
	dir := t.TempDir()
	node, err := startRedis(0, dir, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = node.Stop() })
	client := newClient(t, node.Addr)
	require.NoError(t, client.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err())
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		info, err := client.ClusterInfo(ctx).Result()
		require.NoError(t, err)
		if strings.Contains(info, "cluster_state:ok") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the one-node cluster is not ready: %s", info)
	}
	const prefix = "pkce-cluster:"
	leaseSlot, err := client.ClusterKeySlot(ctx, prefix+"lease:"+subject).Result()
	require.NoError(t, err)
	tokenSlot, err := client.ClusterKeySlot(ctx, prefix+"token:"+subject).Result()
	require.NoError(t, err)
	require.NotEqual(t, leaseSlot, tokenSlot, "the subject's keys are in two slots")

	srv := authServer(t)
	c := oauthClient(t, srv.Issuer())
	tokens, err := c.Tokens(redisstore.New(client, redisstore.WithPrefix(prefix)))
	require.NoError(t, err)
	tok := signIn(t, srv, c)
	mon := startMonitor(t, node.Addr)
	for i := range 2 {
		require.NoError(t, tokens.Save(ctx, subject, expired(tok)))
		src, err := tokens.Source(ctx, subject)
		require.NoError(t, err)
		start, end := fmt.Sprintf("start-%d", i), fmt.Sprintf("end-%d", i)
		require.NoError(t, client.Echo(ctx, start).Err())
		next, err := src.TokenContext(ctx)
		require.NoError(t, err, "refresh %d", i)
		require.NoError(t, client.Echo(ctx, end).Err())
		require.NotEqual(t, tok.RefreshToken, next.RefreshToken, "the server rotates")
		tok = &pkce.Token{Token: next}
		mon.commandsUntil(t, start, prefix)
		got := mon.commandsUntil(t, end, prefix)
		if i == 1 {
			assert.Equal(t, []string{"set", "get", "evalsha", "evalsha"}, got, "the commands of a refresh once CROSSSLOT was seen")
		}
	}
	assert.Equal(t, 2, srv.RefreshRequests(), "one refresh each")
}
