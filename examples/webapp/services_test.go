//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// The process tests run the stores' servers themselves, on loopback
// ports, and stop them by PID. Without the server installed they fail in
// CI (CI=true) and are skipped elsewhere.

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// missing fails the test in CI and skips it elsewhere.
func missing(t *testing.T, what string) {
	t.Helper()
	msg := what + " is not installed (Debian, Ubuntu: apt-get install -y redis-server postgresql)"
	if os.Getenv("CI") == "true" {
		require.FailNow(t, msg)
	}
	t.Skip(msg)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitUntil polls ready until it succeeds, the process exits or 30
// seconds pass.
func waitUntil(t *testing.T, name string, exited <-chan struct{}, out *lockedBuffer, ready func(context.Context) error) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-exited:
			require.FailNow(t, name+" exited", "%v; its output:\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			require.FailNow(t, name+" does not answer", "%v; its output:\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startProcess starts cmd and stops it with sig by its PID when the test
// ends; the returned channel closes when it exits.
func startProcess(t *testing.T, cmd *exec.Cmd, sig syscall.Signal) (<-chan struct{}, *lockedBuffer) {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, sig)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return exited, out
}

// startRedis runs redis-server without persistence and returns its
// address.
func startRedis(t *testing.T) string {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server")
	}
	port := freePort(t)
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no")
	exited, out := startProcess(t, cmd, syscall.SIGTERM)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer client.Close()
	waitUntil(t, "redis-server", exited, out, func(ctx context.Context) error { return client.Ping(ctx).Err() })
	return addr
}

// startPostgres runs a new PostgreSQL cluster and returns its DSN. As
// root, it runs as the user postgres: initdb and postgres refuse root.
func startPostgres(t *testing.T) string {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	var bin string
	if p, err := exec.LookPath("initdb"); err == nil {
		bin = filepath.Dir(p)
	} else if len(bins) > 0 {
		bin = filepath.Dir(bins[len(bins)-1])
	} else {
		missing(t, "PostgreSQL")
	}
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "webapp-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "as root, PostgreSQL runs as the user postgres")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		require.NoError(t, os.Chown(dir, uid, gid))
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := initdb.CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	port := freePort(t)
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port),
		"-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	exited, log := startProcess(t, cmd, syscall.SIGINT) // fast shutdown
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	waitUntil(t, "postgres", exited, log, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
	return dsn
}
