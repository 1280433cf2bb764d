package storetest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// roleEnv names the environment variable that tells a re-executed test
// binary which part it plays.
const roleEnv = "PKCE_STORETEST_ROLE"

// resultPrefix marks the lines a child reports, apart from the testing
// package's own output.
const resultPrefix = "storetest-result: "

// Role returns the role a parent test gave this process in
// StartProcesses, or "" when the process is not such a child. A test that
// starts children begins with it:
//
//	if storetest.Role() == "counter" {
//		runCounter(t) // the child's part; it reports with Report
//		return
//	}
//	ps := storetest.StartProcesses(t, 8, "counter", "DIR="+dir)
//
// A TestMain must not start shared services in a child; it can tell by
// Role too.
func Role() string { return os.Getenv(roleEnv) }

// AwaitStart blocks a child until its parent calls Processes.Start, so
// that the children begin together however long each took to start.
func AwaitStart() { _, _ = io.Copy(io.Discard, os.Stdin) }

// Report writes one result line for the parent to read with
// Process.Next or Processes.Wait.
func Report(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if strings.ContainsAny(line, "\r\n") {
		panic("storetest: a reported result must be one line")
	}
	fmt.Fprintf(os.Stdout, "%s%s\n", resultPrefix, line)
}

// A Process is one child test process.
type Process struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	results chan string
	done    chan struct{} // closed once stdout is read to its end
	mu      sync.Mutex
	output  bytes.Buffer // the child's other output, for failure messages
}

// Processes are children started together by StartProcesses.
type Processes []*Process

// StartProcesses runs n copies of the current test binary, each running
// only the calling test, with Role() returning role and the extra
// environment entries env ("NAME=value"). The children are killed when
// the test ends, if they still run.
func StartProcesses(t *testing.T, n int, role string, env ...string) Processes {
	t.Helper()
	require.NotEmpty(t, role, "storetest: a child needs a role")
	var pattern []string
	for _, part := range strings.Split(t.Name(), "/") {
		pattern = append(pattern, "^"+regexp.QuoteMeta(part)+"$")
	}
	ps := make(Processes, n)
	for i := range ps {
		cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(pattern, "/"), "-test.count=1", "-test.timeout=5m")
		cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
		p := &Process{cmd: cmd, results: make(chan string, 1024), done: make(chan struct{})}
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = &lockedWriter{p}
		p.stdin = stdin
		require.NoError(t, cmd.Start(), "storetest: start child %d", i)
		go p.read(stdout)
		ps[i] = p
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-p.done
			_ = cmd.Wait()
		})
	}
	return ps
}

func (p *Process) read(stdout io.Reader) {
	defer close(p.done)
	defer close(p.results)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), resultPrefix); ok {
			p.results <- line
			continue
		}
		p.mu.Lock()
		p.output.WriteString(sc.Text() + "\n")
		p.mu.Unlock()
	}
}

type lockedWriter struct{ p *Process }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.output.Write(b)
}

// Output returns what the child wrote apart from its results.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// PID returns the child's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Start lets every child waiting in AwaitStart go on.
func (ps Processes) Start() {
	for _, p := range ps {
		_ = p.stdin.Close()
	}
}

// Next returns the child's next result line. The test fails if the child
// ends without one.
func (p *Process) Next(t *testing.T) string {
	t.Helper()
	line, ok := <-p.results
	require.True(t, ok, "storetest: child %d ended without a result; its output:\n%s", p.PID(), p.Output())
	return line
}

// Kill ends the child with SIGKILL (on Windows, TerminateProcess) and
// waits until the system has reaped it, and with it closed its files.
func (p *Process) Kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	<-p.done
	_ = p.cmd.Wait()
}

// Wait waits for every child to end and returns, per child, the result
// lines it has not handed out through Next. The test fails if a child
// fails.
func (ps Processes) Wait(t *testing.T) [][]string {
	t.Helper()
	results := make([][]string, len(ps))
	for i, p := range ps {
		for line := range p.results {
			results[i] = append(results[i], line)
		}
		<-p.done
		err := p.cmd.Wait()
		require.NoError(t, err, "storetest: child %d failed; its output:\n%s", p.PID(), p.Output())
	}
	return results
}
