package filestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClaimFiles checks how Claim reads a claim file that is already there.
func TestClaimFiles(t *testing.T) {
	ctx := context.Background()
	const ttl = 10 * time.Minute
	now := time.Now()
	expiry := func(at time.Time) string { return fmt.Sprintf("%020d\n", at.UnixNano()) }
	tests := []struct {
		name     string
		content  string
		modified time.Time
		claimed  bool
	}{
		{"a live claim holds", expiry(now.Add(time.Minute)), now, false},
		{"an expired claim is replaced", expiry(now.Add(-time.Second)), now, true},
		{"a half-written claim holds for ttl from its modification time", "0000000", now.Add(-ttl + time.Minute), false},
		{"a half-written claim ends ttl after its modification time", "0000000", now.Add(-ttl - time.Second), true},
		{"an empty claim holds for ttl from its modification time", "", now, false},
		{"an expiry without its final newline is not trusted", expiry(now.Add(-time.Second))[:20], now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(filepath.Join(t.TempDir(), "tokens"))
			require.NoError(t, err)
			path := filepath.Join(s.dir, s.file("key", ".claim"))
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			require.NoError(t, os.Chtimes(path, tt.modified, tt.modified))
			ok, err := s.Claim(ctx, "key", ttl)
			require.NoError(t, err)
			assert.Equal(t, tt.claimed, ok)
			if ok {
				ok, err = s.Claim(ctx, "key", ttl)
				require.NoError(t, err)
				assert.False(t, ok, "the replacement claim holds")
			}
		})
	}
}

func TestSweepRemovesExpiredClaimsAndStaleTemporaries(t *testing.T) {
	s, err := New(filepath.Join(t.TempDir(), "tokens"))
	require.NoError(t, err)
	old := time.Now().Add(-2 * staleTemp)
	files := []struct {
		name, content string
		modified      time.Time
		kept          bool
	}{
		{name("expired") + ".claim", fmt.Sprintf("%020d\n", time.Now().Add(-time.Second).UnixNano()), time.Now(), false},
		{name("live") + ".claim", fmt.Sprintf("%020d\n", time.Now().Add(time.Hour).UnixNano()), time.Now(), true},
		{".tmp-stale", "token", old, false},
		{".tmp-fresh", "token", time.Now(), true},
		{name("alice") + ".token", "token", old, true},
	}
	for _, f := range files {
		path := filepath.Join(s.dir, f.name)
		require.NoError(t, os.WriteFile(path, []byte(f.content), 0o600))
		require.NoError(t, os.Chtimes(path, f.modified, f.modified))
	}
	// A new store sweeps on its first claim.
	_, err = s.Claim(context.Background(), "another key", time.Minute)
	require.NoError(t, err)
	for _, f := range files {
		_, err := os.Stat(filepath.Join(s.dir, f.name))
		assert.Equal(t, f.kept, err == nil, "%s kept", f.name)
	}
}
