// Package wire holds the small helpers of requests and messages that
// package pkce and package protected share.
package wire

import (
	"net/http"
	"unicode/utf8"
)

// Clip shortens s, which may come from an untrusted server, for messages.
// It cuts at a character boundary.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Presence says whether a secret is set, for printing a value without
// it: "absent" or "redacted".
func Presence(secret string) string {
	if secret == "" {
		return "absent"
	}
	return "redacted"
}

// StopRedirect makes an http.Client return a redirect as the answer, for
// requests that must not follow one (they carry credentials, or their
// target was checked).
func StopRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
