package pkce_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// recordingStore records the Store calls a refresh makes, in order.
type recordingStore struct {
	inner pkce.RefreshStore
	mu    sync.Mutex
	calls []string
}

func (s *recordingStore) record(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
}

// take returns the calls recorded since the last take.
func (s *recordingStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = nil
	return calls
}

func (s *recordingStore) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	s.record("Claim")
	return s.inner.Claim(ctx, key, ttl)
}

func (s *recordingStore) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	s.record("LoadToken")
	return s.inner.LoadToken(ctx, subject)
}

func (s *recordingStore) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	s.record("SaveToken")
	return s.inner.SaveToken(ctx, subject, old, token)
}

func (s *recordingStore) DeleteToken(ctx context.Context, subject string) error {
	s.record("DeleteToken")
	return s.inner.DeleteToken(ctx, subject)
}

func (s *recordingStore) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	s.record("Lease")
	return s.inner.Lease(ctx, subject, owner, ttl)
}

func (s *recordingStore) Release(ctx context.Context, subject, owner string) error {
	s.record("Release")
	return s.inner.Release(ctx, subject, owner)
}

// recordingRefreshStore is a recordingStore that is a RefreshStore too, or
// says that it cannot be one (unsupported), as a wrapping store does.
type recordingRefreshStore struct {
	*recordingStore
	unsupported bool
}

func (s *recordingRefreshStore) LeaseToken(ctx context.Context, subject, owner string, ttl time.Duration) (bool, []byte, error) {
	s.record("LeaseToken")
	if s.unsupported {
		return false, nil, errors.ErrUnsupported
	}
	return s.inner.LeaseToken(ctx, subject, owner, ttl)
}

func (s *recordingRefreshStore) SaveTokenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error) {
	s.record("SaveTokenRelease")
	if s.unsupported {
		return false, errors.ErrUnsupported
	}
	return s.inner.SaveTokenRelease(ctx, subject, owner, old, token)
}

func TestTokensRefreshStoreCalls(t *testing.T) {
	fourCalls := []string{"Lease", "LoadToken", "SaveToken", "Release"}
	tests := []struct {
		name string
		// store wraps rec as the Store given to Tokens.
		store func(rec *recordingStore) pkce.Store
		dead  bool       // the stored refresh token was redeemed elsewhere
		want  [][]string // the calls of each refresh in turn
	}{
		{"a RefreshStore takes the lease with the token and saves with the release",
			func(rec *recordingStore) pkce.Store { return &recordingRefreshStore{recordingStore: rec} }, false,
			[][]string{{"LeaseToken", "SaveTokenRelease"}, {"LeaseToken", "SaveTokenRelease"}}},
		{"a Store that is no RefreshStore takes four calls",
			func(rec *recordingStore) pkce.Store { return rec }, false,
			[][]string{fourCalls, fourCalls}},
		{"a RefreshStore that answers ErrUnsupported is asked once, then takes four calls",
			func(rec *recordingStore) pkce.Store {
				return &recordingRefreshStore{recordingStore: rec, unsupported: true}
			}, false,
			[][]string{append([]string{"LeaseToken"}, fourCalls...), fourCalls}},
		{"a RefreshStore stores the tombstone with the release",
			func(rec *recordingStore) pkce.Store { return &recordingRefreshStore{recordingStore: rec} }, true,
			[][]string{{"LeaseToken", "SaveTokenRelease"}}},
		{"a Store that is no RefreshStore stores the tombstone, then releases",
			func(rec *recordingStore) pkce.Store { return rec }, true,
			[][]string{fourCalls}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newTokensStack(t)
			rec := &recordingStore{inner: s.store.(pkce.RefreshStore)}
			tokens, err := s.client.Tokens(tt.store(rec))
			require.NoError(t, err)
			cur, err := s.store.LoadToken(ctx, "alice")
			require.NoError(t, err)
			if tt.dead {
				_, err = s.client.Refresh(ctx, storedRefreshToken(t, cur))
				require.NoError(t, err)
			}
			for i, want := range tt.want {
				src, err := tokens.Source(ctx, "alice")
				require.NoError(t, err)
				rec.take()
				tok, err := src.TokenContext(ctx)
				assert.Equal(t, want, rec.take(), "refresh %d", i)
				if tt.dead {
					assertOneClass(t, err, pkce.ErrSignInRequired)
					stored, err := s.store.LoadToken(ctx, "alice")
					require.NoError(t, err)
					assert.JSONEq(t, `{"dead":true}`, string(stored), "the tombstone")
					continue
				}
				require.NoError(t, err)
				stored, err := s.store.LoadToken(ctx, "alice")
				require.NoError(t, err)
				assert.Equal(t, tok.RefreshToken, storedRefreshToken(t, stored), "refresh %d saved", i)
				ok, err := s.store.Lease(ctx, "alice", "another replica", time.Minute)
				require.NoError(t, err)
				assert.True(t, ok, "refresh %d released its lease", i)
				require.NoError(t, s.store.Release(ctx, "alice", "another replica"))
				// The next refresh starts from an expired copy.
				tok.Expiry = time.Now().Add(-time.Minute)
				require.NoError(t, tokens.Save(ctx, "alice", &pkce.Token{Token: tok}))
			}
			assert.Equal(t, len(tt.want)+btoi(tt.dead), s.srv.RefreshRequests(), "refresh requests")
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
