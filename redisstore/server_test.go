//go:build unix

package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// A redisServer is a redis-server process that a test started and stops:
// on a loopback port, in its own directory, without persistence.
type redisServer struct {
	Addr    string
	port    int
	dir     string
	cmd     *exec.Cmd
	out     *syncBuffer
	exited  chan error // gets the process's exit, once
	stopped bool
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// errNoRedisServer is the reason the tests that need redis-server skip,
// outside CI, when it is not installed; under CI=true it fails them.
var errNoRedisServer = errors.New("redis-server is not installed: the Redis store's tests start one of their own " +
	"(Debian, Ubuntu: apt-get install redis-server, or run bash .ci/test-all --install as root)")

// redisServerPath finds redis-server. It never installs it: installing
// system packages is for .ci/test-all --install, which says so first.
func redisServerPath() (string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errNoRedisServer
	}
	return path, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startRedis starts redis-server on port (a free one if 0), keeping its
// files in dir, with args added to its command line, and returns once it
// answers PING.
func startRedis(port int, dir string, args ...string) (*redisServer, error) {
	path, err := redisServerPath()
	if err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	s := &redisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port: port, dir: dir, out: &syncBuffer{}}
	s.cmd = exec.Command(path, append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no"}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	client := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer client.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("redis-server on port %d exited (%v); its output:\n%s", port, err, s.out)
		default:
		}
		if time.Now().After(deadline) {
			_ = s.cmd.Process.Kill()
			return nil, fmt.Errorf("redis-server on port %d does not answer PING: %v; its output:\n%s", port, err, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server by its process id and waits until it has exited.
// It may be called more than once.
func (s *redisServer) Stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	select {
	case <-s.exited: // it ended by itself
		return nil
	default:
	}
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		return err
	}
	<-s.exited
	return nil
}
