package main

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

func TestDesktopLogoutWithoutRevocation(t *testing.T) {
	tests := []struct {
		name  string
		args  func(srv *pkcetest.Server) []string
		spoil func(st *storedToken)
		want  string
	}{
		{
			name: "no revocation endpoint",
			args: func(*pkcetest.Server) []string { return nil },
			want: "no -revocation-url",
		},
		{
			name:  "token of another provider is not sent to this one",
			args:  func(srv *pkcetest.Server) []string { return []string{"-revocation-url", srv.RevocationURL()} },
			spoil: func(st *storedToken) { st.TokenURL = "https://other.example/token" },
			want:  "another provider",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := pkcetest.NewServer(pkcetest.Config{Clients: []pkcetest.Client{{
				ID: "cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback"},
			}}})
			defer srv.Close()
			args := append([]string{"-auth-url", srv.AuthURL(), "-token-url", srv.TokenURL(), "-client-id", "cli", "-scopes", "offline_access"}, tt.args(srv)...)
			dir := t.TempDir()
			path := filepath.Join(dir, "pkce-desktop", "token.json")
			b := &browser{}
			ctx := testContext(t)
			require.NoError(t, run(ctx, args, io.Discard, b.open, dir))
			st := readStored(t, path)
			if tt.spoil != nil {
				tt.spoil(&st)
				writeStored(t, path, st)
			}

			var out bytes.Buffer
			require.NoError(t, run(ctx, append([]string{"-logout"}, args...), &out, b.open, dir))

			assert.NoFileExists(t, path)
			assert.Contains(t, out.String(), "was not revoked")
			assert.Contains(t, out.String(), tt.want)
			assert.Contains(t, out.String(), "Signed out")
			assert.Zero(t, srv.RevocationRequests())
			_, err := testClient(t, srv).Refresh(ctx, st.Token.RefreshToken)
			assert.NoError(t, err, "the refresh token was not revoked")
		})
	}
}

func TestDesktopLogoutReportsFailedRevocation(t *testing.T) {
	srv := pkcetest.NewServer(pkcetest.Config{Clients: []pkcetest.Client{{
		ID: "cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback"},
	}}})
	defer srv.Close()
	args := []string{"-auth-url", srv.AuthURL(), "-token-url", srv.TokenURL(), "-client-id", "cli", "-scopes", "offline_access"}
	dir := t.TempDir()
	path := filepath.Join(dir, "pkce-desktop", "token.json")
	ctx := testContext(t)
	require.NoError(t, run(ctx, args, io.Discard, (&browser{}).open, dir))
	st := readStored(t, path)

	// The revocation endpoint is wrong: the server answers 404.
	args = append(args, "-revocation-url", srv.Issuer()+"/no-such-endpoint")
	var out bytes.Buffer
	err := run(ctx, append([]string{"-logout"}, args...), &out, (&browser{}).open, dir)

	require.Error(t, err)
	assert.Contains(t, err.Error(), "deleted but not revoked")
	assert.NoFileExists(t, path, "the token is forgotten even so")
	assert.NotContains(t, err.Error(), st.Token.RefreshToken)
	assert.NotContains(t, out.String(), st.Token.RefreshToken)
}
