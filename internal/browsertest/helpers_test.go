package browsertest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// outputDir is where the screenshots and the webapp's log go:
// $TEST_OUTPUT_DIR/webapp when TEST_OUTPUT_DIR is set, else
// testdata/screenshots, which git ignores and each run empties first.
func outputDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("testdata", "screenshots")
	if base := os.Getenv("TEST_OUTPUT_DIR"); base != "" {
		dir = filepath.Join(base, "webapp")
	} else {
		require.NoError(t, os.RemoveAll(dir))
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	return abs
}

// chromium returns the path of the system's Chromium. When it is missing
// the test fails under CI=true (CI must never skip the browser) and skips
// otherwise. It never installs it: installing system packages is for
// .ci/test-all --install, which says so before it starts.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	const missing = "chromium is not installed: the browser tests drive examples/webapp in headless Chromium " +
		"(Debian, Ubuntu: apt-get install chromium, or run bash .ci/test-all --install as root)"
	if os.Getenv("CI") == "true" {
		require.FailNow(t, missing+"; CI=true must not skip them")
	}
	t.Skip(missing)
	return ""
}

// startBrowser starts the headless Chromium at execPath for the test and
// returns the context of its tab. The browser is closed when the test
// ends.
func startBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.WindowSize(1024, 640),
	)
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		chromedp.Cancel(ctx) // closes the browser
		cancel()
		cancelAlloc() // waits for the browser process to end
	})
	return ctx
}

// recordRequests records the URLs of the requests the tab sends, redirects
// included, that start with prefix.
func recordRequests(t *testing.T, ctx context.Context, prefix string) func() []string {
	t.Helper()
	var mu sync.Mutex
	var urls []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok && strings.HasPrefix(ev.Request.URL, prefix) {
			mu.Lock()
			urls = append(urls, ev.Request.URL)
			mu.Unlock()
		}
	}))
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), urls...)
	}
}

// webapp is examples/webapp -demo running as a process of its own.
type webapp struct {
	URL string // e.g. http://127.0.0.1:41234
	log *os.File
}

// startWebapp builds examples/webapp, runs it with -demo on a free
// loopback port, and waits until it says it listens. Its log (stderr)
// goes to dir/webapp.log. The process is interrupted, as Ctrl-C would, by
// its PID when the test ends, and must exit cleanly.
func startWebapp(t *testing.T, dir string) *webapp {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "webapp")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(root, "examples", "webapp") // a module of its own
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./examples/webapp:\n%s", out)

	addr := freeLoopbackAddr(t)
	log, err := os.Create(filepath.Join(dir, "webapp.log"))
	require.NoError(t, err)
	t.Cleanup(func() { log.Close() })
	stdout := &lineWatch{want: "Listening on http://" + addr + "/", seen: make(chan struct{})}
	cmd := exec.Command(bin, "-demo", "-addr", addr)
	cmd.Stdout, cmd.Stderr = stdout, log
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt) // main shuts the server down on os.Interrupt
		<-exited
		require.NoError(t, waitErr, "the webapp (pid %d) exits cleanly when interrupted", cmd.Process.Pid)
	})
	select {
	case <-stdout.seen:
	case <-exited:
		require.FailNow(t, "the webapp exited before it listened", "%v\nstdout:\n%s", waitErr, stdout.String())
	}
	return &webapp{URL: "http://" + addr, log: log}
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// lineWatch keeps what is written to it and closes seen once it holds
// want.
type lineWatch struct {
	want string
	seen chan struct{}

	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.want) {
		w.done = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
