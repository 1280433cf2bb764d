package protected_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// TestTransportRefreshOfARefusedTokenGoesThroughTheStore: two Transports
// over one Store (two processes of a command-line tool sharing a token
// file) whose API refuses the access token they share. The first
// refreshes it; the second, still holding the old token, must take the
// refreshed one from the Store instead of presenting the rotated refresh
// token again, which a rotating server answers by revoking the whole
// grant (RFC 9700 §4.14.2): the user would be asked to sign in again,
// and the first process's new token would die with the grant
// (THREATS.md, promise 1).
func TestTransportRefreshOfARefusedTokenGoesThroughTheStore(t *testing.T) {
	srv := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, Rotate: true, Clients: []pkcetest.Client{{
		ID: "cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback"}}}})
	defer srv.Close()
	var (
		mu       sync.Mutex
		refused  = map[string]bool{} // access tokens the API no longer accepts
		accepted string              // the last access token the API accepted
	)
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/api" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"resource": api.URL + "/api", "authorization_servers": []string{srv.Issuer()}})
			return
		}
		at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		check, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, srv.ResourceURL(), nil)
		check.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := http.DefaultClient.Do(check)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		if resp.StatusCode != http.StatusOK || refused[at] {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		accepted = at
	}))
	defer api.Close()

	store := pkce.NewMemoryStore()
	var signIns atomic.Int32
	headless := protected.HeadlessSignIn(nil)
	transport := func() *protected.Transport {
		return &protected.Transport{
			SignIn: func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
				signIns.Add(1)
				return headless(ctx, c)
			},
			PreRegistered: func(iss string) *protected.Registration { return &protected.Registration{Issuer: iss, ClientID: "cli"} },
			Store:         store,
		}
	}
	first, second := &http.Client{Transport: transport()}, &http.Client{Transport: transport()}
	getOK(t, first, api.URL+"/api")
	require.Equal(t, int32(1), signIns.Load())

	getOK(t, second, api.URL+"/api")
	require.Equal(t, int32(1), signIns.Load(), "the second process uses the stored token")

	// Both hold the same token; the API refuses it from now on (its keys
	// rotated, say).
	mu.Lock()
	refused[accepted] = true
	mu.Unlock()
	getOK(t, first, api.URL+"/api") // refused, refreshed, sent again
	require.Equal(t, int32(1), signIns.Load(), "the first process refreshed")
	getOK(t, second, api.URL+"/api") // refused: the refreshed token is in the Store
	assert.Equal(t, int32(1), signIns.Load(), "no sign-in: the grant is intact")
	getOK(t, first, api.URL+"/api")
	assert.Equal(t, int32(1), signIns.Load(), "the first process's token survived the second's refresh")
}
