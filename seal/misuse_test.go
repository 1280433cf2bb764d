package seal_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/seal"
)

// Keys and Stores not made by their constructors fail every call with an
// error; they never panic.
func TestZeroValues(t *testing.T) {
	ctx := context.Background()
	flow := &pkce.Flow{URL: "https://as.example/authorize", Expires: time.Now().Add(time.Minute)}
	req := httptest.NewRequest(http.MethodGet, "/cb", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: "AQ"})
	for name, k := range map[string]*seal.Keys{"zero Keys": {}, "nil Keys": nil} {
		t.Run(name, func(t *testing.T) {
			assert.NotPanics(t, func() {
				_, err := k.FlowCookie(cookieName, flow)
				assert.Error(t, err)
				_, err = k.OpenFlow(req, cookieName)
				assert.Error(t, err)
			})
		})
	}
	keys := newKeys(t, newKey("k1"))
	t.Run("OpenFlow with a nil request", func(t *testing.T) {
		assert.NotPanics(t, func() {
			_, err := keys.OpenFlow(nil, cookieName)
			assert.Error(t, err)
		})
	})
	zeroKeysStore, err := seal.NewStore(pkce.NewMemoryStore(), &seal.Keys{})
	require.NoError(t, err)
	for name, s := range map[string]*seal.Store{"zero Store": {}, "nil Store": nil, "Store with zero Keys": zeroKeysStore} {
		t.Run(name, func(t *testing.T) {
			assert.NotPanics(t, func() {
				_, err := s.SaveToken(ctx, "alice", nil, []byte("token"))
				assert.Error(t, err, "SaveToken")
				_, err = s.SaveToken(ctx, "alice", []byte("old"), []byte("token"))
				if name != "Store with zero Keys" {
					assert.Error(t, err, "SaveToken compare-and-set")
				}
				_, err = s.LoadToken(ctx, "alice")
				if name != "Store with zero Keys" {
					assert.Error(t, err, "LoadToken")
				}
				if name == "Store with zero Keys" {
					return // claims and leases need no keys
				}
				_, err = s.Claim(ctx, "k", time.Minute)
				assert.Error(t, err, "Claim")
				assert.Error(t, s.DeleteToken(ctx, "alice"), "DeleteToken")
				_, err = s.Lease(ctx, "alice", "a", time.Minute)
				assert.Error(t, err, "Lease")
				assert.Error(t, s.Release(ctx, "alice", "a"), "Release")
			})
		})
	}
	_, err = seal.NewStore(nil, keys)
	assert.Error(t, err, "NewStore without a store")
	_, err = seal.NewStore(pkce.NewMemoryStore(), nil)
	assert.Error(t, err, "NewStore without keys")
}

// A value sealed as a stored token does not open as a flow cookie, even
// under the same key: the two uses are kept apart.
func TestTokenValueIsNotAFlowCookie(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t, newKey("k1"))
	mem := pkce.NewMemoryStore()
	s, err := seal.NewStore(mem, keys)
	require.NoError(t, err)
	_, err = s.SaveToken(ctx, "", nil, []byte(`{"p":"pkce-login","e":4102444800,"f":{}}`))
	require.NoError(t, err)
	raw, err := mem.LoadToken(ctx, "")
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/cb", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: base64.RawURLEncoding.EncodeToString(raw)})
	_, err = keys.OpenFlow(req, cookieName)
	assert.ErrorIs(t, err, seal.ErrTampered)
}
