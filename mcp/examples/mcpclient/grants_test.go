package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGrantFlags(t *testing.T) {
	dir := t.TempDir()
	assertion := filepath.Join(dir, "workload.jwt")
	require.NoError(t, os.WriteFile(assertion, []byte("a.b.c\n"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	notPEM := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a key"), 0o600))

	tests := []struct {
		name     string
		args     []string
		clientID string
		signIn   bool   // a SignIn of its own
		wantErr  string // "" for none
	}{
		{"no grant keeps the browser sign-in", nil, "", false, ""},
		{"client credentials", []string{"-grant", "client_credentials"}, "svc", true, ""},
		{"client credentials need a client ID", []string{"-grant", "client_credentials"}, "", false, "needs -client-id"},
		{"a client key that is not PEM", []string{"-grant", "client_credentials", "-client-key", notPEM}, "svc", false, "no PEM"},
		{"a client key without the grant", []string{"-client-key", notPEM}, "svc", false, "no PEM"},
		{"jwt-bearer reads the assertion from a file", []string{"-grant", "jwt-bearer", "-assertion-file", assertion}, "w", true, ""},
		{"jwt-bearer needs the file", []string{"-grant", "jwt-bearer"}, "w", false, "-assertion-file is required"},
		{"an empty assertion file", []string{"-grant", "jwt-bearer", "-assertion-file", empty}, "w", false, "empty"},
		{"id-jag needs the identity provider", []string{"-grant", "id-jag", "-id-token-file", assertion}, "app", false, "-idp-token-url"},
		{"id-jag", []string{"-grant", "id-jag", "-id-token-file", assertion, "-idp-token-url", "https://idp.example/token",
			"-idp-client-id", "app"}, "app", true, ""},
		{"an unknown grant", []string{"-grant", "password"}, "app", false, "is not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			g := addGrantFlags(fs)
			require.NoError(t, fs.Parse(tt.args))
			signIn, err := g.signIn(tt.clientID, "https://mcp.example/mcp")
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.signIn, signIn != nil)
		})
	}
}
