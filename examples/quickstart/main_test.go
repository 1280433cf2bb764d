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
		"code_challenge_method=S256",
		"sub=test-user",
		"rotated         true",
		"hook saw it     true",
		"sign in again   true",
		"pkce: flow already finished",
		"done",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "quickstart-secret", "the client secret is never printed")
}
