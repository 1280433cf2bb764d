//go:build unix

package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/redisstore"
)

// redisAddr is the address of the redis-server that TestMain started, or
// that a parent test process passed to its children in REDIS_ADDR.
var redisAddr string

// redisMissing is why every test that needs Redis skips: redis-server is
// not installed and the tests do not run in CI.
var redisMissing error

// needRedis skips the test when redis-server is missing outside CI.
func needRedis(t *testing.T) {
	t.Helper()
	if redisMissing != nil {
		t.Skip(redisMissing.Error())
	}
}

func TestMain(m *testing.M) {
	if storetest.Role() != "" {
		redisAddr = os.Getenv("REDIS_ADDR")
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "redisstore-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := startRedis(0, dir)
	if errors.Is(err, errNoRedisServer) && os.Getenv("CI") != "true" {
		_ = os.RemoveAll(dir)
		redisMissing = err
		os.Exit(m.Run())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisstore:", err)
		os.Exit(1)
	}
	redisAddr = srv.Addr
	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "redisstore: stop redis-server:", err)
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// newClient returns a client of addr whose calls end with their context
// (ContextTimeoutEnabled) and not sooner: the read and write timeouts are
// long, so a call that ignored its context would hang visibly.
func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		ReadTimeout:           time.Minute,
		WriteTimeout:          time.Minute,
		PoolTimeout:           time.Minute,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var prefixes atomic.Int64

// uniquePrefix keeps every test's keys apart in the shared server.
func uniquePrefix() string {
	return fmt.Sprintf("pkce-test:%d:%d:", os.Getpid(), prefixes.Add(1))
}

func TestContract(t *testing.T) {
	needRedis(t)
	client := newClient(t, redisAddr)
	storetest.Run(t, func(*testing.T) pkce.Store {
		return redisstore.New(client, redisstore.WithPrefix(uniquePrefix()))
	})
}

func TestKeys(t *testing.T) {
	needRedis(t)
	ctx := context.Background()
	client := newClient(t, redisAddr)
	tests := []struct {
		name string
		opts []redisstore.Option
		want string
	}{
		{"the default prefix", nil, redisstore.DefaultPrefix + "token:alice"},
		{"a chosen prefix", []redisstore.Option{redisstore.WithPrefix("app:")}, "app:token:alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := redisstore.New(client, tt.opts...)
			_, err := s.SaveToken(ctx, "alice", nil, []byte("token"))
			require.NoError(t, err)
			t.Cleanup(func() { client.Del(ctx, tt.want) })
			got, err := client.Get(ctx, tt.want).Result()
			require.NoError(t, err)
			assert.Equal(t, "token", got)
		})
	}
}
