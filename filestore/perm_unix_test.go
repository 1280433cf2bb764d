//go:build unix

package filestore_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/filestore"
)

func TestDirectoryPermissions(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode // of an existing directory; 0: none exists
		ok   bool
	}{
		{"a missing directory is created private", 0, true},
		{"a private directory is accepted", 0o700, true},
		{"a directory the group can read is refused", 0o750, false},
		{"a directory others can enter is refused", 0o701, false},
		{"a world-writable directory is refused", 0o777, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tokens")
			if tt.mode != 0 {
				require.NoError(t, os.Mkdir(dir, 0o700))
				require.NoError(t, os.Chmod(dir, tt.mode))
			}
			_, err := filestore.New(dir)
			if !tt.ok {
				assert.ErrorContains(t, err, "chmod 700")
				return
			}
			require.NoError(t, err)
			fi, err := os.Stat(dir)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
		})
	}

	t.Run("a file is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(path, nil, 0o600))
		_, err := filestore.New(path)
		assert.Error(t, err)
	})
}

func TestFilesArePrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tokens")
	s, err := filestore.New(dir)
	require.NoError(t, err)
	_, err = s.SaveToken(ctx, "alice", nil, []byte("token"))
	require.NoError(t, err)
	_, err = s.SaveToken(ctx, "alice", []byte("token"), []byte("token 2"))
	require.NoError(t, err)
	_, err = s.Lease(ctx, "alice", "a", time.Minute)
	require.NoError(t, err)
	_, err = s.Claim(ctx, "state digest", time.Minute)
	require.NoError(t, err)
	assertPrivate(t, dir)
}

// assertPrivate checks that dir is 0700 and every file in it 0600.
func assertPrivate(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), fi.Mode().Perm(), "directory mode")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), "mode of %s", e.Name())
	}
}
