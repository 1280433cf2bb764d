package pkce_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// The memory store saves a token over the bytes it replaces: no caller
// may hold those bytes, neither the slice it saved nor one it loaded, or a
// later save would change a token the caller holds, and a caller's reuse
// of its buffer would change the stored token (THREATS.md: a careless
// application).
func TestMemoryStoreSharesNoBytesWithItsCallers(t *testing.T) {
	ctx := context.Background()
	rs := func(s pkce.Store) pkce.RefreshStore { return s.(pkce.RefreshStore) }
	tests := []struct {
		name string
		// run returns what the store must hold and what the caller
		// must hold after it.
		run func(t *testing.T, s pkce.Store) (stored, held []byte)
	}{
		{"the buffer given to SaveToken is reused", func(t *testing.T, s pkce.Store) ([]byte, []byte) {
			buf := []byte("token-1")
			_, err := s.SaveToken(ctx, "alice", nil, buf)
			require.NoError(t, err)
			copy(buf, "XXXXXXX")
			return []byte("token-1"), nil
		}},
		{"the buffer given to SaveTokenRelease is reused", func(t *testing.T, s pkce.Store) ([]byte, []byte) {
			_, err := s.SaveToken(ctx, "alice", nil, []byte("token-1"))
			require.NoError(t, err)
			buf := []byte("token-2")
			saved, err := rs(s).SaveTokenRelease(ctx, "alice", "me", []byte("token-1"), buf)
			require.NoError(t, err)
			require.True(t, saved)
			copy(buf, "XXXXXXX")
			return []byte("token-2"), nil
		}},
		{"a loaded token is changed by its caller", func(t *testing.T, s pkce.Store) ([]byte, []byte) {
			_, err := s.SaveToken(ctx, "alice", nil, []byte("token-1"))
			require.NoError(t, err)
			b, err := s.LoadToken(ctx, "alice")
			require.NoError(t, err)
			copy(b, "XXXXXXX")
			return []byte("token-1"), nil
		}},
		{"a token loaded with the lease is changed by its caller", func(t *testing.T, s pkce.Store) ([]byte, []byte) {
			_, err := s.SaveToken(ctx, "alice", nil, []byte("token-1"))
			require.NoError(t, err)
			_, b, err := rs(s).LeaseToken(ctx, "alice", "me", time.Minute)
			require.NoError(t, err)
			copy(b, "XXXXXXX")
			return []byte("token-1"), nil
		}},
		{"a loaded token outlives a save over it", func(t *testing.T, s pkce.Store) ([]byte, []byte) {
			_, err := s.SaveToken(ctx, "alice", nil, []byte("token-1"))
			require.NoError(t, err)
			b, err := s.LoadToken(ctx, "alice")
			require.NoError(t, err)
			_, err = s.SaveToken(ctx, "alice", nil, []byte("TOKEN-2"))
			require.NoError(t, err)
			return []byte("TOKEN-2"), b
		}},
		{"a token loaded with the lease outlives a save with release", func(t *testing.T, s pkce.Store) ([]byte, []byte) {
			_, err := s.SaveToken(ctx, "alice", nil, []byte("token-1"))
			require.NoError(t, err)
			_, b, err := rs(s).LeaseToken(ctx, "alice", "me", time.Minute)
			require.NoError(t, err)
			_, err = rs(s).SaveTokenRelease(ctx, "alice", "me", b, []byte("TOKEN-2"))
			require.NoError(t, err)
			return []byte("TOKEN-2"), b
		}},
		{"a shorter token saved over a longer one", func(t *testing.T, s pkce.Store) ([]byte, []byte) {
			_, err := s.SaveToken(ctx, "alice", nil, []byte("a-longer-token"))
			require.NoError(t, err)
			b, err := s.LoadToken(ctx, "alice")
			require.NoError(t, err)
			_, err = s.SaveToken(ctx, "alice", b, []byte("short"))
			require.NoError(t, err)
			return []byte("short"), b
		}},
		{"an empty token saved over another is still a token", func(t *testing.T, s pkce.Store) ([]byte, []byte) {
			_, err := s.SaveToken(ctx, "alice", nil, []byte("token-1"))
			require.NoError(t, err)
			_, err = s.SaveToken(ctx, "alice", nil, nil)
			require.NoError(t, err)
			return []byte{}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := pkce.NewMemoryStore()
			stored, held := tt.run(t, s)
			var before []byte
			if held != nil {
				before = bytes.Clone(held)
			}
			got, err := s.LoadToken(ctx, "alice")
			require.NoError(t, err)
			require.NotNil(t, got, "a saved token, even an empty one, is not absent")
			assert.Equal(t, stored, got)
			if held != nil {
				assert.Equal(t, before, held, "the caller's copy")
				assert.NotEqual(t, stored, held)
			}
		})
	}
}

// SaveToken with old is a compare-and-set on the stored bytes: nil old
// saves unconditionally, an empty old matches only a stored empty token,
// and nothing matches a token that is absent (deleted meanwhile).
func TestMemoryStoreCompareAndSet(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		stored    []byte // nil: none
		deleted   bool   // the token is deleted before the save
		old       []byte
		wantSaved bool
	}{
		{"nil old saves over a token", []byte("t1"), false, nil, true},
		{"nil old saves where none is", nil, false, nil, true},
		{"an equal old saves", []byte("t1"), false, []byte("t1"), true},
		{"an old that differs does not save", []byte("t1"), false, []byte("t0"), false},
		{"an old that is a prefix does not save", []byte("t1"), false, []byte("t"), false},
		{"an empty old does not match a token", []byte("t1"), false, []byte{}, false},
		{"an empty old matches a stored empty token", []byte{}, false, []byte{}, true},
		{"an empty old does not match an absent token", nil, false, []byte{}, false},
		{"an old does not match a deleted token", []byte("t1"), true, []byte("t1"), false},
		{"nil old saves after a delete", []byte("t1"), true, nil, true},
	}
	for _, tt := range tests {
		for _, call := range []string{"SaveToken", "SaveTokenRelease"} {
			t.Run(call+": "+tt.name, func(t *testing.T) {
				s := pkce.NewMemoryStore()
				if tt.stored != nil {
					_, err := s.SaveToken(ctx, "alice", nil, tt.stored)
					require.NoError(t, err)
				}
				if tt.deleted {
					require.NoError(t, s.DeleteToken(ctx, "alice"))
				}
				held, err := s.Lease(ctx, "alice", "me", time.Minute)
				require.NoError(t, err)
				require.True(t, held)
				var saved bool
				if call == "SaveToken" {
					saved, err = s.SaveToken(ctx, "alice", tt.old, []byte("t2"))
				} else {
					saved, err = s.(pkce.RefreshStore).SaveTokenRelease(ctx, "alice", "me", tt.old, []byte("t2"))
				}
				require.NoError(t, err)
				assert.Equal(t, tt.wantSaved, saved)
				got, err := s.LoadToken(ctx, "alice")
				require.NoError(t, err)
				switch {
				case tt.wantSaved:
					assert.Equal(t, []byte("t2"), got)
				case tt.deleted:
					assert.Nil(t, got, "the token stays deleted")
				default:
					assert.Equal(t, tt.stored, got, "the token is left alone")
				}
				if call == "SaveTokenRelease" {
					// Released whether or not it saved.
					taken, err := s.Lease(ctx, "alice", "another", time.Minute)
					require.NoError(t, err)
					assert.True(t, taken, "the lease was released")
				}
			})
		}
	}
}

// Subjects and owners built in a buffer the caller reuses: the store's
// keys are its own, and leases of owners that take turns stay apart.
func TestMemoryStoreKeysAndOwnersFromAReusedBuffer(t *testing.T) {
	ctx := context.Background()
	s := pkce.NewMemoryStore()
	buf := []byte("alice")
	owner := []byte("owner-a")
	_, err := s.SaveToken(ctx, string(buf), nil, []byte("t1"))
	require.NoError(t, err)
	held, err := s.Lease(ctx, string(buf), string(owner), time.Minute)
	require.NoError(t, err)
	require.True(t, held)
	copy(buf, "mallo")
	copy(owner, "owner-b")

	got, err := s.LoadToken(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, []byte("t1"), got)
	got, err = s.LoadToken(ctx, "mallo")
	require.NoError(t, err)
	assert.Nil(t, got)
	held, err = s.Lease(ctx, "alice", string(owner), time.Minute)
	require.NoError(t, err)
	assert.False(t, held, "owner-b does not get owner-a's lease")

	// Two owners take turns: each lease keeps its own owner, whichever
	// asked last.
	for i := range 6 {
		me, other := "owner-a", "owner-b"
		if i%2 == 1 {
			me, other = other, me
		}
		require.NoError(t, s.Release(ctx, "alice", other), "turn %d", i) // not the holder: no effect
		held, err = s.Lease(ctx, "alice", other, time.Minute)
		require.NoError(t, err)
		require.False(t, held, "turn %d: %s holds the lease", i, me)
		require.NoError(t, s.Release(ctx, "alice", me))
		held, err = s.Lease(ctx, "alice", other, time.Minute)
		require.NoError(t, err)
		require.True(t, held, "turn %d: released by %s", i, me)
		// Another subject's lease by the first owner in between.
		held, err = s.Lease(ctx, fmt.Sprint("bob-", i), me, time.Minute)
		require.NoError(t, err)
		require.True(t, held)
	}
}

// Loads during saves of tokens of other lengths see one whole token or
// the other, never a mix (run with -race).
func TestMemoryStoreLoadsDuringSavesSeeWholeTokens(t *testing.T) {
	ctx := context.Background()
	s := pkce.NewMemoryStore()
	tokens := [][]byte{[]byte("short"), bytes.Repeat([]byte("L"), 300), bytes.Repeat([]byte("m"), 40)}
	_, err := s.SaveToken(ctx, "alice", nil, tokens[0])
	require.NoError(t, err)
	var wg sync.WaitGroup
	bad := make(chan []byte, 1)
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				if w%2 == 0 {
					if _, err := s.SaveToken(ctx, "alice", nil, tokens[(i+w)%len(tokens)]); err != nil {
						panic(err)
					}
					continue
				}
				var b []byte
				if w == 1 {
					b, _ = s.LoadToken(ctx, "alice")
				} else {
					_, b, _ = s.(pkce.RefreshStore).LeaseToken(ctx, "alice", "me", time.Minute)
				}
				if !bytes.Equal(b, tokens[0]) && !bytes.Equal(b, tokens[1]) && !bytes.Equal(b, tokens[2]) {
					select {
					case bad <- b:
					default:
					}
				}
				if len(b) > 0 {
					b[0] = '!' // the reader's own copy
				}
			}
		})
	}
	wg.Wait()
	close(bad)
	for b := range bad {
		assert.Failf(t, "a torn or shared token", "%q", b)
	}
}
