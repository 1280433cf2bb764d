package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events
	Test       string
	Output     string
}

// skip is one skipped test and the reason it gave.
type skip struct {
	pkg, test, reason string
}

// summary turns a go test -json stream back into go test's usual output,
// collecting skips on the way.
type summary struct {
	out    io.Writer
	output map[string][]string // a running test's output, by package and test
	skips  []skip
	failed bool
}

func newSummary(out io.Writer) *summary {
	return &summary{out: out, output: map[string][]string{}}
}

// read consumes the stream. Tests' own lines are held until the test ends:
// printed if it failed, kept as the reason if it skipped, dropped if it
// passed, as go test does without -v.
func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		var e event
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil || e.Action == "" {
			fmt.Fprintln(s.out, line)
			continue
		}
		s.handle(e)
	}
	return sc.Err()
}

func (s *summary) handle(e event) {
	key := e.Package + "\x00" + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.out, e.Output)
	case e.Action == "build-fail":
		s.failed = true
	case e.Test == "" && e.Action == "output":
		// The package's own lines: ok, FAIL, "no test files", coverage, and
		// what TestMain printed; not the PASS that only -v prints.
		if e.Output != "PASS\n" {
			fmt.Fprint(s.out, e.Output)
		}
	case e.Test == "" && e.Action == "fail":
		s.failed = true
	case e.Action == "output":
		s.output[key] = append(s.output[key], e.Output)
	case e.Action == "fail":
		s.failed = true
		for _, l := range s.output[key] {
			if !strings.HasPrefix(l, "=== ") {
				fmt.Fprint(s.out, l)
			}
		}
		delete(s.output, key)
	case e.Test == "" && e.Action == "skip": // a package without tests
	case e.Action == "skip":
		s.skips = append(s.skips, skip{pkg: e.Package, test: e.Test, reason: skipReason(s.output[key])})
		delete(s.output, key)
	case e.Action == "pass":
		delete(s.output, key)
	}
}

// skipReason is what a skipped test logged: its lines without the
// "=== RUN" and "--- SKIP" markers and the file:line prefix t.Skip adds.
func skipReason(lines []string) string {
	var reason []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		if file, rest, ok := strings.Cut(l, ": "); ok && strings.HasSuffix(strings.SplitN(file, ":", 2)[0], ".go") {
			l = rest
		}
		reason = append(reason, l)
	}
	if len(reason) == 0 {
		return "(no reason given)"
	}
	return strings.Join(reason, " ")
}

// printSkips lists the skipped tests, one line per package and reason.
func (s *summary) printSkips() {
	if len(s.skips) == 0 {
		fmt.Fprintln(s.out, "== skipped: none")
		return
	}
	type group struct{ pkg, reason string }
	tests := map[group][]string{}
	var order []group
	for _, sk := range s.skips {
		g := group{sk.pkg, sk.reason}
		if _, ok := tests[g]; !ok {
			order = append(order, g)
		}
		tests[g] = append(tests[g], sk.test)
	}
	slices.SortStableFunc(order, func(a, b group) int { return strings.Compare(a.pkg, b.pkg) })
	fmt.Fprintf(s.out, "== skipped: %d tests\n", len(s.skips))
	for _, g := range order {
		fmt.Fprintf(s.out, "SKIP\t%s\t%s: %s\n", g.pkg, strings.Join(tests[g], ", "), g.reason)
	}
}
