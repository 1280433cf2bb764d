package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// testRefreshStore checks the two combined steps of a pkce.RefreshStore
// against its Store methods: LeaseToken is Lease and LoadToken,
// SaveTokenRelease is SaveToken and Release. A store that answers
// errors.ErrUnsupported (a wrapper over a store without them) must have
// done nothing.
func testRefreshStore(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	ctx := context.Background()
	store := func(t *testing.T) pkce.RefreshStore {
		t.Helper()
		return newStore(t).(pkce.RefreshStore)
	}
	lease := func(t *testing.T, s pkce.Store, owner string) bool {
		t.Helper()
		ok, err := s.Lease(ctx, "subject", owner, time.Minute)
		require.NoError(t, err)
		return ok
	}
	save := func(t *testing.T, s pkce.Store, tok []byte) {
		t.Helper()
		ok, err := s.SaveToken(ctx, "subject", nil, tok)
		require.NoError(t, err)
		require.True(t, ok)
	}

	probe := store(t)
	if _, _, err := probe.LeaseToken(ctx, "subject", "a", time.Minute); errors.Is(err, errors.ErrUnsupported) {
		t.Run("an unsupported lease with the token takes no lease", func(t *testing.T) {
			assert.True(t, lease(t, probe, "b"), "b after a's unsupported LeaseToken")
		})
		t.Run("an unsupported save with release saves nothing", func(t *testing.T) {
			s := store(t)
			require.True(t, lease(t, s, "a"))
			_, err := s.SaveTokenRelease(ctx, "subject", "a", nil, []byte("new"))
			assert.ErrorIs(t, err, errors.ErrUnsupported)
			tok, err := s.LoadToken(ctx, "subject")
			require.NoError(t, err)
			assert.Nil(t, tok, "token after an unsupported save")
			assert.False(t, lease(t, s, "b"), "b after a's unsupported SaveTokenRelease")
		})
		return
	}

	leases := []struct {
		name   string
		stored []byte // nil: nothing stored
		holder string // "": nobody holds the lease first
		held   bool
	}{
		{"the lease comes with an absent token as nil", nil, "", true},
		{"the lease comes with the stored token", []byte("stored\x00a"), "", true},
		{"the stored token comes without the lease another owner holds", []byte("stored"), "b", false},
		{"the holder takes its lease again with the token", []byte("stored"), "a", true},
	}
	for _, tt := range leases {
		t.Run(tt.name, func(t *testing.T) {
			s := store(t)
			if tt.stored != nil {
				save(t, s, tt.stored)
			}
			if tt.holder != "" {
				require.True(t, lease(t, s, tt.holder))
			}
			held, tok, err := s.LeaseToken(ctx, "subject", "a", time.Minute)
			require.NoError(t, err)
			assert.Equal(t, tt.held, held, "held")
			assert.Equal(t, tt.stored, tok, "token")
			if tt.held {
				assert.False(t, lease(t, s, "c"), "c while a holds the lease")
			}
		})
	}

	t.Run("the holder extends its lease with the token", func(t *testing.T) {
		s := store(t)
		held, _, err := s.LeaseToken(ctx, "subject", "a", shortTTL)
		require.NoError(t, err)
		require.True(t, held)
		taken := time.Now()
		held, _, err = s.LeaseToken(ctx, "subject", "a", time.Minute)
		require.NoError(t, err)
		assert.True(t, held, "re-entrant lease")
		waitPast(taken, shortTTL)
		assert.False(t, lease(t, s, "b"), "b after the first ttl of an extended lease")
	})

	t.Run("a lease with the token with a non-positive ttl is an error", func(t *testing.T) {
		held, _, err := store(t).LeaseToken(ctx, "subject", "a", 0)
		assert.Error(t, err)
		assert.False(t, held)
	})

	saves := []struct {
		name    string
		stored  []byte // nil: nothing stored
		old     []byte
		saved   bool
		content []byte // what loads afterwards; nil: absent
	}{
		{"compare-and-set with release succeeds when the bytes are equal", []byte("stored"), []byte("stored"), true, []byte("new")},
		{"compare-and-set with release fails when the bytes differ, and releases", []byte("stored\x00a"), []byte("stored\x00b"), false, []byte("stored\x00a")},
		{"compare-and-set with release fails when there is no token, and releases", nil, []byte("stored"), false, nil},
		{"unconditional save with release saves", []byte("stored"), nil, true, []byte("new")},
	}
	for _, tt := range saves {
		t.Run(tt.name, func(t *testing.T) {
			s := store(t)
			if tt.stored != nil {
				save(t, s, tt.stored)
			}
			require.True(t, lease(t, s, "a"))
			ok, err := s.SaveTokenRelease(ctx, "subject", "a", tt.old, []byte("new"))
			require.NoError(t, err)
			assert.Equal(t, tt.saved, ok, "saved")
			tok, err := s.LoadToken(ctx, "subject")
			require.NoError(t, err)
			assert.Equal(t, tt.content, tok, "token")
			assert.True(t, lease(t, s, "b"), "b after a saved with release")
		})
	}

	t.Run("a save with release by a non-owner leaves the lease", func(t *testing.T) {
		s := store(t)
		save(t, s, []byte("stored"))
		require.True(t, lease(t, s, "a"))
		ok, err := s.SaveTokenRelease(ctx, "subject", "b", []byte("stored"), []byte("new"))
		require.NoError(t, err)
		assert.True(t, ok, "the compare-and-set does not depend on the lease")
		assert.False(t, lease(t, s, "c"), "c after b released a's lease")
	})

	t.Run("the token that comes with the lease is the caller's copy", func(t *testing.T) {
		s := store(t)
		save(t, s, []byte("token"))
		_, tok, err := s.LeaseToken(ctx, "subject", "a", time.Minute)
		require.NoError(t, err)
		require.Equal(t, []byte("token"), tok)
		tok[0] = 'Y'
		tok, err = s.LoadToken(ctx, "subject")
		require.NoError(t, err)
		assert.Equal(t, []byte("token"), tok)
	})
}
