package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstartRunsTheWholeFlow(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	text := out.String()
	for _, want := range []string{
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
		"sign-out        <nil>",
		"pkce: signed out; the token source has no token (sign-in required)",
		"resource answered 401",
		"done",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "quickstart-secret", "the client secret is never printed")
}
