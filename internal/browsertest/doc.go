// Package browsertest drives examples/webapp in a real, headless
// Chromium, as a newcomer's browser would: consent page, sign-in, profile,
// sign-out, a refused sign-in and a replayed callback, with a screenshot
// of every page.
//
// It is a module of its own so that importers of github.com/pkcekit/pkce
// never download chromedp. Run it with
//
//	cd internal/browsertest && go test ./...
//
// It needs the Debian package chromium (bash .ci/test-all --install
// installs it): without it the tests skip, and under CI=true they fail. The
// screenshots go to $TEST_OUTPUT_DIR/webapp when TEST_OUTPUT_DIR is set,
// else to testdata/screenshots (ignored by git).
package browsertest
