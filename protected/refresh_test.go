package protected_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// rotatingServer is a pkcetest server for the public client "cli" that
// rotates refresh tokens and revokes the grant when a rotated one comes
// back (RFC 9700 §4.14.2).
func rotatingServer(t *testing.T) *pkcetest.Server {
	srv := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, Rotate: true, Clients: []pkcetest.Client{{
		ID: "cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback"}}}})
	t.Cleanup(srv.Close)
	return srv
}

// refusingAPI is a resource at /api that accepts srv's tokens issued for
// it, except those refuseLast was told to refuse: refuseLast refuses,
// from now on, the last access token the API accepted (its keys rotated,
// say).
func refusingAPI(t *testing.T, srv *pkcetest.Server) (resource string, refuseLast func()) {
	var (
		mu       sync.Mutex
		refused  = map[string]bool{}
		accepted string
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
	t.Cleanup(api.Close)
	return api.URL + "/api", func() {
		mu.Lock()
		defer mu.Unlock()
		refused[accepted] = true
	}
}

// cliTransport is the Transport of a command-line tool whose tokens live
// in store; it counts its sign-ins in signIns.
func cliTransport(store pkce.Store, signIns *atomic.Int32) *protected.Transport {
	headless := protected.HeadlessSignIn(nil)
	return &protected.Transport{
		SignIn: func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
			signIns.Add(1)
			return headless(ctx, c)
		},
		PreRegistered: func(iss string) *protected.Registration { return &protected.Registration{Issuer: iss, ClientID: "cli"} },
		Store:         store,
	}
}

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
	srv := rotatingServer(t)
	resource, refuseLast := refusingAPI(t, srv)
	store := pkce.NewMemoryStore()
	var signIns atomic.Int32
	first, second := &http.Client{Transport: cliTransport(store, &signIns)}, &http.Client{Transport: cliTransport(store, &signIns)}
	getOK(t, first, resource)
	require.Equal(t, int32(1), signIns.Load())
	getOK(t, second, resource)
	require.Equal(t, int32(1), signIns.Load(), "the second process uses the stored token")

	// Both hold the same token; the API refuses it from now on.
	refuseLast()
	getOK(t, first, resource) // refused, refreshed, sent again
	require.Equal(t, int32(1), signIns.Load(), "the first process refreshed")
	getOK(t, second, resource) // refused: the refreshed token is in the Store
	assert.Equal(t, int32(1), signIns.Load(), "no sign-in: the grant is intact")
	getOK(t, first, resource)
	assert.Equal(t, int32(1), signIns.Load(), "the first process's token survived the second's refresh")
	assert.Equal(t, 1, srv.RefreshRequests(), "one refresh")
}

// TestTransportRefreshesAStoredTokenTheAPIRefusesOnItsFirstRequest: a
// new process (a command-line tool's next invocation) whose stored token
// the API refuses gets through on its first request, by refreshing the
// token, instead of answering 401. Each invocation that sends one
// request would otherwise present the dead token again until it expires
// (THREATS.md, promise 1). A token that a sign-in or a refresh has just
// obtained is not refreshed again when refused: the 401 is returned.
func TestTransportRefreshesAStoredTokenTheAPIRefusesOnItsFirstRequest(t *testing.T) {
	srv := rotatingServer(t)
	resource, refuseLast := refusingAPI(t, srv)
	store := pkce.NewMemoryStore()
	var signIns atomic.Int32
	getOK(t, &http.Client{Transport: cliTransport(store, &signIns)}, resource)
	require.Equal(t, int32(1), signIns.Load())
	refuseLast()

	getOK(t, &http.Client{Transport: cliTransport(store, &signIns)}, resource)
	assert.Equal(t, int32(1), signIns.Load(), "refreshed, not signed in")
	assert.Equal(t, 1, srv.RefreshRequests())

	// An API that refuses every token: one refresh, then the 401.
	refuseEvery := &http.Client{Transport: cliTransport(store, &signIns)}
	api := newDocServer(t)
	api.set("/.well-known/oauth-protected-resource/api", map[string]any{"resource": api.URL + "/api", "authorization_servers": []string{srv.Issuer()}})
	api.set("/api", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	getOK(t, refuseEvery, resource)
	before := srv.RefreshRequests()
	resp, err := refuseEvery.Get(api.URL + "/api")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.LessOrEqual(t, srv.RefreshRequests()-before, 1, "at most one refresh for one request")
	assert.LessOrEqual(t, signIns.Load(), int32(2), "at most one sign-in for one request")
}

// TestTransportDoesNotSignInWhenTheRefreshMayStillWork: when the API
// refuses a token and its refresh fails for a reason that says nothing
// about the grant (the authorization server answers 503, or cannot be
// reached), the request fails with a try-later error; the person is not
// asked to sign in, which would throw away a refresh token that may
// still be valid (THREATS.md, promise 1). A refresh token the server
// refuses (invalid_grant) still leads to a sign-in.
func TestTransportDoesNotSignInWhenTheRefreshMayStillWork(t *testing.T) {
	tests := []struct {
		name       string
		token      http.HandlerFunc
		wantSignIn bool
	}{
		{"a 503 from the token endpoint fails the request", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, false},
		{"temporarily_unavailable fails the request", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"temporarily_unavailable"}`))
		}, false},
		{"invalid_grant signs in again", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newDocServer(t)
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
			as.set("/token", tt.token)
			api := newDocServer(t)
			var refuse atomic.Bool
			protectedAPI(api, as.URL, nil, nil)
			api.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") == "" || refuse.Load() {
					w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+api.URL+`/.well-known/oauth-protected-resource/mcp"`)
					w.WriteHeader(http.StatusUnauthorized)
				}
			}))
			var signIns atomic.Int32
			tr := &protected.Transport{PreRegistered: preRegistered, SignIn: func(context.Context, *pkce.Client) (*pkce.Token, error) {
				signIns.Add(1)
				return &pkce.Token{Token: &oauth2.Token{AccessToken: fmt.Sprintf("at-%d", signIns.Load()), TokenType: "Bearer",
					RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}}, nil
			}}
			hc := &http.Client{Transport: tr}
			getOK(t, hc, api.URL+"/mcp")
			require.Equal(t, int32(1), signIns.Load())

			refuse.Store(true)
			resp, err := hc.Get(api.URL + "/mcp")
			if tt.wantSignIn {
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, int32(2), signIns.Load(), "a dead refresh token: signed in again")
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, pkce.ErrTryLater)
			assert.Equal(t, int32(1), signIns.Load(), "no sign-in while the refresh may still work")
		})
	}
}
