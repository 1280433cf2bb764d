package pkce_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// flowClaimKey returns the i-th claim key in the form the package gives a
// flow's claim: "flow:" and 32 lower-case hex digits.
func flowClaimKey(i int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(b[:])
	return "flow:" + hex.EncodeToString(sum[:16])
}

// TestClaimsAreGoneWithinTheFlowsLifetime: a finished flow is remembered
// until the flow itself expires, no longer, so a flood of sign-ins holds
// its memory for one flow lifetime at most.
func TestClaimsAreGoneWithinTheFlowsLifetime(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	clock := newTimerClock()
	store := pkce.NewMemoryStoreWithClock(clock.Now, clock.AfterFunc, pkce.MaxMemoryClaims)
	c := clientFor(t, te, testSecret, pkce.WithClock(clock.Now), pkce.WithStore(store))
	const lifetime = 10 * time.Minute // the package default
	ctx := context.Background()
	for range 3 {
		f, err := c.Start(ctx)
		require.NoError(t, err)
		require.Equal(t, clock.Now().Add(lifetime), f.Expires)
		_, err = finish(ctx, c, f, url.Values{"state": {f.State}, "code": {testCode}})
		require.NoError(t, err)
	}
	claims, _ := pkce.MemoryStoreSize(store)
	require.Equal(t, 3, claims, "each finished flow is remembered")

	clock.Advance(lifetime)
	claims, _ = pkce.MemoryStoreSize(store)
	assert.Zero(t, claims, "no claim outlives its flow")
}

// TestMemoryStoreRemembersAFlowIn64Bytes: the heap a remembered flow
// takes, measured over 200,000 flows' claims.
func TestMemoryStoreRemembersAFlowIn64Bytes(t *testing.T) {
	ctx := context.Background()
	const n = 200_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = flowClaimKey(i)
	}
	before := heapAlloc()
	s := pkce.NewMemoryStore()
	for _, k := range keys {
		ok, err := s.Claim(ctx, k, time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
	}
	perFlow := float64(int64(heapAlloc())-int64(before)) / n
	assert.LessOrEqual(t, perFlow, 64.0, "bytes per remembered flow")
	runtime.KeepAlive(keys)
	runtime.KeepAlive(s)
}

// TestClaimTableHoldsNoPointers: the garbage collector does not scan a
// table without pointers, however many claims it holds.
func TestClaimTableHoldsNoPointers(t *testing.T) {
	assert.False(t, pkce.ClaimSlotHasPointers())
}

// TestClaimKeySpellings: a flow's claim key is decoded from hex rather
// than hashed again; only the lower-case spelling is, so that two
// distinct keys never share a claim.
func TestClaimKeySpellings(t *testing.T) {
	ctx := context.Background()
	s := pkce.NewMemoryStore()
	key := flowClaimKey(1)
	upper := "flow:" + string(bytesToUpper(key[5:]))
	for _, tt := range []struct {
		name string
		key  string
		want bool
	}{
		{"a flow's key is claimed once", key, true},
		{"the same key again is refused", key, false},
		{"the upper-case spelling is another key", upper, true},
		{"a key one character shorter is another key", key[:len(key)-1], true},
		{"the raw digest bytes are another key", string([]byte{0x01}), true},
	} {
		ok, err := s.Claim(ctx, tt.key, time.Minute)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, ok, tt.name)
	}
}

func bytesToUpper(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return b
}

// TestFlowClaimIsOneClaimByKeyOrDigest: the callback claims a flow in the
// memory store by its digest, and through the Store interface by its key;
// both name the same claim.
func TestFlowClaimIsOneClaimByKeyOrDigest(t *testing.T) {
	assert.True(t, pkce.ClaimKeyNamesFlowDigest("0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"))
}
