package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemoSignsInAndCallsATool(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-demo", "-headless", "-call", "add", "-args", `{"a":2,"b":3}`}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	assert.Contains(t, stdout.String(), "tool add: adds two numbers")
	assert.Contains(t, stdout.String(), "add: 5")
	assert.Contains(t, stderr.String(), "demo: MCP server at http://127.0.0.1:")
}

func TestDemoNeedsNoURL(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), nil, &stdout, &stderr)
	assert.ErrorContains(t, err, "-demo")
}
