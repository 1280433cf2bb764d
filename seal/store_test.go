package seal_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/filestore"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/seal"
)

func TestStoreContract(t *testing.T) {
	keys := newKeys(t, newKey("k1"))
	inners := []struct {
		name  string
		inner func(t *testing.T) pkce.Store
	}{
		{"over a RefreshStore", func(*testing.T) pkce.Store { return pkce.NewMemoryStore() }},
		{"over a store that is no RefreshStore", func(t *testing.T) pkce.Store {
			s, err := filestore.New(filepath.Join(t.TempDir(), "store"))
			require.NoError(t, err)
			return s
		}},
	}
	for _, tt := range inners {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) pkce.Store {
				s, err := seal.NewStore(tt.inner(t), keys)
				require.NoError(t, err)
				return s
			})
		})
	}
}

func TestNewKeys(t *testing.T) {
	tests := []struct {
		name    string
		current seal.Key
		older   []seal.Key
		ok      bool
	}{
		{"one key of 32 bytes", newKey("a"), nil, true},
		{"a current key and older ones", newKey("b"), []seal.Key{newKey("a"), newKey("z")}, true},
		{"an empty key ID", newKey(""), nil, false},
		{"a key ID over 255 bytes", newKey(string(make([]byte, 256))), nil, false},
		{"two keys with one ID", newKey("a"), []seal.Key{newKey("a")}, false},
		{"a secret of 16 bytes (AES-128)", seal.Key{ID: "a", Secret: make([]byte, 16)}, nil, false},
		{"no secret", seal.Key{ID: "a"}, nil, false},
		{"an older key with a short secret", newKey("b"), []seal.Key{{ID: "a", Secret: make([]byte, 31)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := seal.NewKeys(tt.current, tt.older...)
			if tt.ok {
				assert.NoError(t, err)
				assert.NotNil(t, k)
				return
			}
			assert.Error(t, err)
			for _, key := range append([]seal.Key{tt.current}, tt.older...) {
				if len(key.Secret) > 0 {
					assert.NotContains(t, err.Error(), string(key.Secret), "the error quotes a secret")
				}
			}
		})
	}
}

// rawStores are the stores whose stored bytes a test can read as they
// are kept: memory (through the unwrapped store) and files on disk.
func rawStores(t *testing.T) map[string]struct {
	store pkce.Store
	raw   func(t *testing.T) []byte
} {
	mem := pkce.NewMemoryStore()
	dir := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.Mkdir(dir, 0o700))
	files, err := filestore.New(dir)
	require.NoError(t, err)
	return map[string]struct {
		store pkce.Store
		raw   func(t *testing.T) []byte
	}{
		"memory": {mem, func(t *testing.T) []byte {
			b, err := mem.LoadToken(context.Background(), "alice")
			require.NoError(t, err)
			return b
		}},
		"files": {files, func(t *testing.T) []byte {
			var all []byte
			require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				all = append(all, b...)
				return err
			}))
			return all
		}},
	}
}

// After a sign-in and a refresh through Tokens, the bytes each store
// keeps hold neither the access token nor the refresh token, in any
// encoding; without encryption they do (so the check can fail).
func TestTokensAtRest(t *testing.T) {
	ctx := context.Background()
	for name, rs := range rawStores(t) {
		t.Run(name, func(t *testing.T) {
			srv := authServer(t)
			client := oauthClient(t, srv)
			sealed, err := seal.NewStore(rs.store, newKeys(t, newKey("k1")))
			require.NoError(t, err)
			tokens, err := client.Tokens(sealed)
			require.NoError(t, err)
			tok := signIn(t, srv, client)
			require.NoError(t, tokens.Save(ctx, "alice", tok))
			storetest.AssertNoSecrets(t, rs.raw(t), tok.AccessToken, tok.RefreshToken)

			require.NoError(t, tokens.Save(ctx, "alice", expired(tok)))
			src, err := tokens.Source(ctx, "alice")
			require.NoError(t, err)
			refreshed, err := src.TokenContext(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, srv.RefreshRequests())
			require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
			storetest.AssertNoSecrets(t, rs.raw(t), refreshed.AccessToken, refreshed.RefreshToken)

			plain, err := client.Tokens(rs.store)
			require.NoError(t, err)
			require.NoError(t, plain.Save(ctx, "alice", tok))
			assert.Contains(t, string(rs.raw(t)), tok.RefreshToken, "without encryption the store holds the token in clear")
		})
	}
}
