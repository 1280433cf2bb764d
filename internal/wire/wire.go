// Package wire holds the small helpers of requests and messages that
// package pkce and package protected share.
package wire

import "unicode/utf8"

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
