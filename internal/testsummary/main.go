// Command testsummary reads the output of go test -json on its standard
// input and prints what go test prints without -json: a line per package
// (ok, FAIL, no test files), the output of every test that failed, and
// build errors. At the end it lists the tests that were skipped, grouped
// by the reason they gave, so that a run whose packages all say ok still
// shows what it did not test. .ci/test-all pipes every module's tests
// through it.
//
// Lines that are not JSON (the script's own headers, go's messages on
// standard output) pass through unchanged. It exits with status 1 when a
// test or package failed.
package main

import (
	"fmt"
	"os"
)

func main() {
	s := newSummary(os.Stdout)
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	s.printSkips()
	if s.failed {
		os.Exit(1)
	}
}
