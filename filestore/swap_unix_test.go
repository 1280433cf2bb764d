//go:build unix

package filestore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/filestore"
)

// Another local user who can replace a component of the store's path (a
// symlink in a shared directory) swaps it, after New checked the
// directory, for one that points at a world-writable directory. Every
// file the store writes afterwards still lands in the directory New
// checked (THREATS.md: a directory swapped for a symlink between check
// and use).
func TestStoreUsesTheDirectoryItChecked(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	checked := filepath.Join(base, "checked")
	open := filepath.Join(base, "open")
	require.NoError(t, os.Mkdir(checked, 0o700))
	require.NoError(t, os.MkdirAll(filepath.Join(open, "tokens"), 0o700))
	require.NoError(t, os.Chmod(filepath.Join(open, "tokens"), 0o777))
	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(checked, link))

	s, err := filestore.New(filepath.Join(link, "tokens"))
	require.NoError(t, err)

	// The swap: the link now names the open directory.
	require.NoError(t, os.Remove(link))
	require.NoError(t, os.Symlink(open, link))

	_, err = s.SaveToken(ctx, "alice", nil, []byte("token"))
	require.NoError(t, err)
	_, err = s.SaveToken(ctx, "alice", []byte("token"), []byte("token 2"))
	require.NoError(t, err)
	_, err = s.Lease(ctx, "alice", "owner", time.Minute)
	require.NoError(t, err)
	_, err = s.Claim(ctx, "state digest", time.Minute)
	require.NoError(t, err)
	tok, err := s.LoadToken(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, "token 2", string(tok))

	planted, err := os.ReadDir(filepath.Join(open, "tokens"))
	require.NoError(t, err)
	assert.Empty(t, planted, "nothing is written into the directory swapped in")
	kept, err := os.ReadDir(filepath.Join(checked, "tokens"))
	require.NoError(t, err)
	assert.NotEmpty(t, kept, "the files are in the directory New checked")
	assertPrivate(t, filepath.Join(checked, "tokens"))
}

// A token file replaced by something that is not a token file: a FIFO
// (which blocks a reader until someone writes), a directory, or a file
// too large to be a token. Reading refuses each at once, without
// blocking, and says why.
func TestTokenFileMustBeASmallRegularFile(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, path string)
		want  string
	}{
		{"a FIFO in place of the token file is refused without blocking", func(t *testing.T, path string) {
			require.NoError(t, syscall.Mkfifo(path, 0o600))
		}, "not a regular file"},
		{"a directory in place of the token file is refused", func(t *testing.T, path string) {
			require.NoError(t, os.Mkdir(path, 0o700))
		}, "not a regular file"},
		{"a symlink to a device in place of the token file is refused", func(t *testing.T, path string) {
			require.NoError(t, os.Symlink("/dev/zero", path))
		}, "not a regular file"},
		{"a token file over the size bound is refused", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("x", 1<<20+1)), 0o600))
		}, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tokens")
			s, err := filestore.New(dir)
			require.NoError(t, err)
			_, err = s.SaveToken(context.Background(), "alice", nil, []byte("token"))
			require.NoError(t, err)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var path string
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".token") {
					path = filepath.Join(dir, e.Name())
				}
			}
			require.NotEmpty(t, path)
			require.NoError(t, os.Remove(path))
			tt.plant(t, path)

			// A FIFO that blocked the read would hang here until the
			// test binary's own timeout.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err = s.LoadToken(ctx, "alice")
			assert.ErrorContains(t, err, tt.want)
			assert.NotErrorIs(t, err, context.DeadlineExceeded, "refused, not timed out")
			_, err = s.SaveToken(context.Background(), "alice", []byte("token"), []byte("token 2"))
			assert.ErrorContains(t, err, tt.want, "a compare-and-set reads the same way")
		})
	}
}

func TestLoadTokenHonoursTheContext(t *testing.T) {
	s, err := filestore.New(filepath.Join(t.TempDir(), "tokens"))
	require.NoError(t, err)
	_, err = s.SaveToken(context.Background(), "alice", nil, []byte("token"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.LoadToken(ctx, "alice")
	assert.ErrorIs(t, err, context.Canceled)
}
