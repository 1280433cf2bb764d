package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstartRunsTheWholeFlow(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	text := out.String()
	for _, want := range []string{
		"1. pkce.NewFromIssuer:",
		"2. client.Start:",
		"3. srv.Authorize: the user signs in (simulated",
		"4. client.Finish:",
		"5. client.Finish again:",
		"6. oauth2.NewClient:",
		"7. source.TokenContext:",
		"8. source.SignOut:",
		"/.well-known/oauth-authorization-server/acme/oauth2/v1",
		"iss on redirect true",
		"auth: client_secret_basic",
		"code_challenge_method=S256",
		"verifier: redacted",
		"sub=test-user",
		"rotated         true",
		"hook saw it     true",
		"sign in again   true",
		"pkce: flow already finished",
		"finished once   true",
		"sign-out        ok",
		"pkce: signed out; the token source has no token (sign-in required)",
		"resource answered 401",
		"done",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "quickstart-secret", "the client secret is never printed")
}

// What a newcomer sees first reads well in a terminal.
func TestQuickstartOutputIsReadable(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	text := out.String()

	assert.False(t, strings.HasPrefix(text, "\n"), "no leading blank line")
	assert.NotContains(t, text, "<nil>", "a nil error prints as ok")
	assert.NotContains(t, text, "...", `secrets are shortened with "…" only`)
	for i, line := range strings.Split(text, "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), 100, "line %d is too long: %s", i+1, line)
	}
}
