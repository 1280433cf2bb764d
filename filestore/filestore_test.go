package filestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/filestore"
	"github.com/pkcekit/pkce/internal/storetest"
)

var _ pkce.Store = (*filestore.Store)(nil)

func newStore(t *testing.T) *filestore.Store {
	t.Helper()
	s, err := filestore.New(filepath.Join(t.TempDir(), "tokens"))
	require.NoError(t, err)
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) pkce.Store { return newStore(t) })
}

func TestOddSubjectsStayInTheDirectory(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "tokens")
	s, err := filestore.New(dir)
	require.NoError(t, err)
	for _, o := range storetest.OddSubjects {
		_, err := s.SaveToken(ctx, o.Subject, nil, []byte("token"))
		require.NoError(t, err, o.Name)
		_, err = s.Lease(ctx, o.Subject, "owner", time.Minute)
		require.NoError(t, err, o.Name)
		_, err = s.Claim(ctx, o.Subject, time.Minute)
		require.NoError(t, err, o.Name)
	}

	others, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, others, 1, "nothing is written beside the store's directory")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.True(t, e.Type().IsRegular(), "%s is a plain file", e.Name())
		assert.LessOrEqual(t, len(e.Name()), 255, "file names fit common file systems")
	}
}

func TestNewRefusesAnEmptyPath(t *testing.T) {
	_, err := filestore.New("")
	assert.ErrorContains(t, err, "filestore: no directory given")
}
