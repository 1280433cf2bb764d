//go:build unix

package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// A pgServer is a PostgreSQL server that a test started and stops: on a
// loopback port, with its data in its own directory.
type pgServer struct {
	DSN     string
	port    int
	dir     string // holds the data directory and the socket
	cred    *syscall.Credential
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

// errNoPostgres says how to install the server the tests need; the
// tests never install it themselves (bash .ci/test-all --install does).
var errNoPostgres = errors.New("pgstore: the tests need a PostgreSQL server; install it (Debian, Ubuntu: apt-get install -y postgresql, or bash .ci/test-all --install)")

// pgBin finds the directory of initdb and postgres: on PATH, or in
// Debian's /usr/lib/postgresql/<version>/bin. In CI a missing server is
// errNoPostgres.
func pgBin() (string, error) {
	find := func() string {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
		if len(dirs) == 0 {
			return ""
		}
		return filepath.Dir(dirs[len(dirs)-1])
	}
	if dir := find(); dir != "" {
		return dir, nil
	}
	return "", errNoPostgres
}

// serverUser is who runs the server: initdb and postgres refuse to run
// as root, so a root test runs them as the postgres user, which the
// Debian package creates.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgstore: running as root, the tests run PostgreSQL as the user postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
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

// initServer makes a data directory under a new directory and starts a
// server on it.
func initServer() (*pgServer, error) {
	if _, err := pgBin(); err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgstore-test-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	if err := initData(dir, cred); err != nil {
		return nil, err
	}
	return startServer(0, dir, cred)
}

// initData makes a new data directory, dir/data.
func initData(dir string, cred *syscall.Credential) error {
	bin, err := pgBin()
	if err != nil {
		return err
	}
	out := &syncBuffer{}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Stdout, initdb.Stderr = out, out
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := initdb.Run(); err != nil {
		return fmt.Errorf("pgstore: initdb: %w; its output:\n%s", err, out)
	}
	return nil
}

// startServer starts postgres on port (a free one if 0) with the data in
// dir, and returns once it accepts connections.
func startServer(port int, dir string, cred *syscall.Credential) (*pgServer, error) {
	bin, err := pgBin()
	if err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	s := &pgServer{
		DSN:  fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		port: port, dir: dir, cred: cred, out: &syncBuffer{},
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN)
		if err == nil {
			err = conn.Ping(ctx)
			_ = conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("postgres on port %d exited (%v); its output:\n%s", port, err, s.out)
		default:
		}
		if time.Now().After(deadline) {
			_ = s.cmd.Process.Kill()
			return nil, fmt.Errorf("postgres on port %d does not accept connections: %v; its output:\n%s", port, err, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server by its process id (SIGINT: fast shutdown, which
// ends open connections) and waits until it has exited. It may be called
// more than once.
func (s *pgServer) Stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGINT); err != nil {
		return err
	}
	<-s.exited
	return nil
}

// Freeze stops the server and all its backends with SIGSTOP: it keeps
// its connections open but answers nothing. The postmaster stops first,
// so that it starts no backend afterwards; each backend is in a session
// of its own, so they are found by their parent in /proc.
func (s *pgServer) Freeze() error { return s.signalAll(syscall.SIGSTOP) }

// Thaw lets a frozen server go on.
func (s *pgServer) Thaw() error { return s.signalAll(syscall.SIGCONT) }

func (s *pgServer) signalAll(sig syscall.Signal) error {
	pid := s.cmd.Process.Pid
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return fmt.Errorf("pgstore: finding the backends of %d in /proc: %v", pid, err)
	}
	for _, stat := range stats {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue // it ended
		}
		// pid (comm) state ppid ...; comm may hold spaces, so read
		// after its closing parenthesis.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		var state string
		var ppid int
		if _, err := fmt.Sscan(string(b[i+1:]), &state, &ppid); err != nil || ppid != pid {
			continue
		}
		child, err := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
		if err != nil {
			continue
		}
		if err := syscall.Kill(child, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
	}
	return nil
}

// Restart starts the server again on its port and data.
func (s *pgServer) Restart() (*pgServer, error) { return startServer(s.port, s.dir, s.cred) }

// Recreate stops the server, deletes its data and starts a new, empty
// cluster on the same port: a database restarted without its data.
func (s *pgServer) Recreate() (*pgServer, error) {
	if err := s.Stop(); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(s.dir, "data")); err != nil {
		return nil, err
	}
	if err := initData(s.dir, s.cred); err != nil {
		return nil, err
	}
	return startServer(s.port, s.dir, s.cred)
}

// Remove stops the server and deletes its files.
func (s *pgServer) Remove() {
	_ = s.Stop()
	_ = os.RemoveAll(s.dir)
}
