package pkce_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// TestRefreshClassTableIsInErrorsGuide keeps the table of refresh error
// classes in docs/errors.md in step with the package: for each error code
// the table's "error ..." rows name, the row gives the class that a first
// refresh answered with that code (RFC 6749 §5.2) matches.
// TestRefreshErrorClasses checks every row's cases in detail.
func TestRefreshClassTableIsInErrorsGuide(t *testing.T) {
	guide, err := os.ReadFile(filepath.Join("docs", "errors.md"))
	require.NoError(t, err)
	_, section, found := strings.Cut(string(guide), "## Refresh errors: one class each")
	require.True(t, found, "the section of docs/errors.md is missing")
	section, _, _ = strings.Cut(section, "\n## ")

	// classOf maps each code of the first-answer rows to the class the
	// row gives it.
	classOf := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 3 || !strings.HasPrefix(cells[0], "error `") {
			continue
		}
		answer, _, _ := strings.Cut(cells[0], ", or any code")
		for _, code := range strings.Split(strings.TrimPrefix(answer, "error "), ", ") {
			classOf[strings.Trim(code, "`")] = strings.Trim(cells[1], "`")
		}
	}
	classes := map[string]error{
		"ErrSignInRequired": pkce.ErrSignInRequired,
		"ErrTryLater":       pkce.ErrTryLater,
		"ErrClientRejected": pkce.ErrClientRejected,
	}
	// The codes the package classes apart, and any other the table names.
	codes := []string{
		"invalid_grant",
		"invalid_client", "unauthorized_client", "unsupported_grant_type",
		"invalid_request", "invalid_scope", "server_error", "temporarily_unavailable", "access_denied",
	}
	for code := range classOf {
		if !slices.Contains(codes, code) {
			codes = append(codes, code)
		}
	}
	for _, code := range codes {
		t.Run(code, func(t *testing.T) {
			name, ok := classOf[code]
			require.True(t, ok, "the table has a row for error %s", code)
			class, ok := classes[name]
			require.True(t, ok, "the row for %s names a class: %q", code, name)
			te := newTokenEndpoint(t, jsonResponse(400, `{"error":"`+code+`"}`))
			_, err := clientFor(t, te, testSecret).Refresh(context.Background(), "old-refresh")
			assert.True(t, errors.Is(err, class), "error %s is %s, as the table says; got %v", code, name, err)
			for other, c := range classes {
				if other != name {
					assert.False(t, errors.Is(err, c), "error %s is not also %s", code, other)
				}
			}
		})
	}
}
