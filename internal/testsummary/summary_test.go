package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ev builds one line of go test -json.
func ev(action, pkg, test, output string) string {
	b, err := json.Marshal(event{Action: action, Package: pkg, Test: test, Output: output})
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		want       []string // lines the output contains
		wantNot    []string // lines it must not contain
		wantFailed bool
	}{
		{
			name: "a passing package prints go test's ok line and nothing of its tests",
			in: ev("run", "ex/a", "TestA", "") + ev("output", "ex/a", "TestA", "=== RUN   TestA\n") +
				ev("output", "ex/a", "TestA", "    a_test.go:9: chatter\n") + ev("pass", "ex/a", "TestA", "") +
				ev("output", "ex/a", "", "ok  \tex/a\t0.01s\n") + ev("pass", "ex/a", "", ""),
			want:    []string{"ok  \tex/a\t0.01s", "== skipped: none"},
			wantNot: []string{"chatter", "=== RUN", "PASS\n"},
		},
		{
			name: "a skipped test is listed with its reason at the end",
			in: ev("output", "ex/b", "TestB", "=== RUN   TestB\n") +
				ev("output", "ex/b", "TestB", "    helpers_test.go:49: chromium is not installed\n") +
				ev("output", "ex/b", "TestB", "--- SKIP: TestB (0.00s)\n") + ev("skip", "ex/b", "TestB", "") +
				ev("output", "ex/b", "", "ok  \tex/b\t0.01s\n") + ev("pass", "ex/b", "", ""),
			want: []string{"ok  \tex/b\t0.01s", "== skipped: 1 tests", "SKIP\tex/b\tTestB: chromium is not installed"},
		},
		{
			name: "tests skipped for one reason share a line",
			in: ev("output", "ex/c", "TestC1", "    x_test.go:1: no redis\n") + ev("skip", "ex/c", "TestC1", "") +
				ev("output", "ex/c", "TestC2", "    x_test.go:1: no redis\n") + ev("skip", "ex/c", "TestC2", ""),
			want: []string{"== skipped: 2 tests", "SKIP\tex/c\tTestC1, TestC2: no redis"},
		},
		{
			name: "a failing test prints its output and go test's FAIL lines, and the run fails",
			in: ev("output", "ex/d", "TestD", "=== RUN   TestD\n") + ev("output", "ex/d", "TestD", "    d_test.go:3: wrong answer\n") +
				ev("output", "ex/d", "TestD", "--- FAIL: TestD (0.00s)\n") + ev("fail", "ex/d", "TestD", "") +
				ev("output", "ex/d", "", "FAIL\n") + ev("output", "ex/d", "", "FAIL\tex/d\t0.01s\n") + ev("fail", "ex/d", "", ""),
			want:       []string{"    d_test.go:3: wrong answer", "--- FAIL: TestD (0.00s)", "FAIL\tex/d\t0.01s"},
			wantNot:    []string{"=== RUN"},
			wantFailed: true,
		},
		{
			name:       "a build failure prints the compiler's lines and fails the run",
			in:         `{"ImportPath":"ex/e","Action":"build-output","Output":"e.go:1:1: syntax error\n"}` + "\n" + `{"ImportPath":"ex/e","Action":"build-fail"}` + "\n",
			want:       []string{"e.go:1:1: syntax error"},
			wantFailed: true,
		},
		{
			name: "lines that are not JSON pass through",
			in: "== go test (redisstore)\n" + ev("output", "ex/f", "", "?   \tex/f\t[no test files]\n") +
				ev("skip", "ex/f", "", ""),
			want: []string{"== go test (redisstore)", "?   \tex/f\t[no test files]", "== skipped: none"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := newSummary(&out)
			require.NoError(t, s.read(strings.NewReader(tt.in)))
			s.printSkips()
			lines := strings.Split(out.String(), "\n")
			for _, w := range tt.want {
				assert.Contains(t, lines, w)
			}
			for _, w := range tt.wantNot {
				assert.NotContains(t, out.String(), w)
			}
			assert.Equal(t, tt.wantFailed, s.failed)
		})
	}
}
