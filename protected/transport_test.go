package protected_test

import (
	"context"
	"encoding/json"
	"io"
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

// stubSignIn records the client ID and scope of each sign-in and issues a
// stub token carrying the scope.
type stubSignIn struct {
	mu     sync.Mutex
	ids    []string
	scopes []string
}

func (s *stubSignIn) signIn(t *testing.T) func(context.Context, *pkce.Client) (*pkce.Token, error) {
	return func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
		id, scope := clientIDOf(t, ctx, c)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ids = append(s.ids, id)
		s.scopes = append(s.scopes, scope)
		return stubToken(scope), nil
	}
}

func getOK(t *testing.T, hc *http.Client, u string) {
	t.Helper()
	resp, err := hc.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

func TestTransportRegistrationPriority(t *testing.T) {
	const cimdURL = "https://client.example/metadata.json"
	tests := []struct {
		name          string
		pre           func(issuer string) *protected.Registration
		cimdSupported bool
		registration  bool
		wantID        string
		wantError     error
	}{
		{"pre-registered credentials come first",
			func(iss string) *protected.Registration { return &protected.Registration{Issuer: iss, ClientID: "pre"} },
			true, true, "pre", nil},
		{"client ID metadata document when the server supports it",
			nil, true, true, cimdURL, nil},
		{"dynamic registration when the server supports no metadata document",
			nil, false, true, "dcr-1", nil},
		{"pre-registered credentials of another issuer are not sent",
			func(string) *protected.Registration {
				return &protected.Registration{Issuer: "https://other.example", ClientID: "pre"}
			},
			false, true, "", nil},
		{"no registration possible",
			nil, false, false, "", protected.ErrNoRegistration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newDocServer(t)
			extra := map[string]any{"client_id_metadata_document_supported": tt.cimdSupported,
				"token_endpoint_auth_methods_supported": []string{"none"}}
			var registered []map[string]any
			if tt.registration {
				extra["registration_endpoint"] = as.URL + "/register"
				as.set("/register", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					var req map[string]any
					require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
					registered = append(registered, req)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusCreated)
					json.NewEncoder(w).Encode(map[string]any{"client_id": "dcr-1", "token_endpoint_auth_method": "none"})
				}))
			}
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, extra))
			api := newDocServer(t)
			protectedAPI(api, as.URL, nil, nil)

			stub := &stubSignIn{}
			tr := &protected.Transport{SignIn: stub.signIn(t), PreRegistered: tt.pre, ClientIDMetadataURL: cimdURL}
			resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/mcp")
			switch {
			case tt.wantError != nil:
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.wantError)
			case tt.wantID == "":
				require.Error(t, err, "credentials bound to another issuer")
			default:
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, []string{tt.wantID}, stub.ids)
			}
			if tt.wantID == "dcr-1" {
				require.Len(t, registered, 1)
				assert.Equal(t, "none", registered[0]["token_endpoint_auth_method"], "explicit auth method")
				assert.Equal(t, "native", registered[0]["application_type"])
				assert.Equal(t, []any{"http://127.0.0.1/callback"}, registered[0]["redirect_uris"])
				assert.Equal(t, []any{"authorization_code", "refresh_token"}, registered[0]["grant_types"])
			}
		})
	}
}

func TestTransportScopes(t *testing.T) {
	tests := []struct {
		name            string
		scopesSupported []string
		asScopes        []string
		challengeScope  string
		want            string
	}{
		{"scope from the challenge first", []string{"a", "b"}, nil, "c", "c"},
		{"else every scope the resource supports", []string{"a", "b"}, nil, "", "a b"},
		{"else no scope parameter", nil, nil, "", ""},
		{"offline_access only when the server lists it", []string{"a"}, []string{"a", "offline_access"}, "", "a offline_access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newDocServer(t)
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, map[string]any{"scopes_supported": tt.asScopes}))
			api := newDocServer(t)
			protectedAPI(api, as.URL, nil, tt.scopesSupported)
			if tt.challengeScope != "" {
				api.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "+stubTokenPrefix) {
						w.Header().Set("WWW-Authenticate", `Bearer scope="`+tt.challengeScope+`"`)
						w.WriteHeader(http.StatusUnauthorized)
					}
				}))
			}
			stub := &stubSignIn{}
			tr := &protected.Transport{SignIn: stub.signIn(t),
				PreRegistered: func(string) *protected.Registration { return &protected.Registration{ClientID: "pre"} }}
			getOK(t, &http.Client{Transport: tr}, api.URL+"/mcp")
			assert.Equal(t, []string{tt.want}, stub.scopes)
		})
	}
}

func TestTransportStepUp(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	api := newDocServer(t)
	protectedAPI(api, as.URL, []string{"read", "write"}, []string{"read"})
	stub := &stubSignIn{}
	tr := &protected.Transport{SignIn: stub.signIn(t),
		PreRegistered: func(string) *protected.Registration { return &protected.Registration{ClientID: "pre"} }}
	hc := &http.Client{Transport: tr}

	getOK(t, hc, api.URL+"/mcp")
	assert.Equal(t, []string{"read", "read write"}, stub.scopes, "401 with the supported scopes, then 403 insufficient_scope adds write")
	getOK(t, hc, api.URL+"/mcp")
	assert.Len(t, stub.scopes, 2, "the stepped-up token is reused")
}

func TestTransportStepUpDoesNotLoop(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	api := newDocServer(t)
	protectedAPI(api, as.URL, []string{"admin"}, []string{"admin"})
	// The server refuses every token, even with the scope it asks for.
	var refused atomic.Int32
	api.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "+stubTokenPrefix) {
			w.Header().Set("WWW-Authenticate", `Bearer scope="admin"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		refused.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="admin"`)
		w.WriteHeader(http.StatusForbidden)
	}))
	stub := &stubSignIn{}
	tr := &protected.Transport{SignIn: stub.signIn(t),
		PreRegistered: func(string) *protected.Registration { return &protected.Registration{ClientID: "pre"} }}
	for range 3 {
		resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/mcp")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	}
	assert.Len(t, stub.scopes, 1, "a token that already has the scope asked for is not replaced")
}

// TestTransportWithPkcetest runs the whole chain against the package's
// test authorization server and a resource that checks its tokens there:
// resource metadata, discovery, PKCE, the resource indicator, the replay
// of a POST body, and reuse of the stored token.
func TestTransportWithPkcetest(t *testing.T) {
	srv := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, Clients: []pkcetest.Client{{
		ID: "cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback"}}}})
	defer srv.Close()
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/api" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"resource": api.URL + "/api", "authorization_servers": []string{srv.Issuer()}})
			return
		}
		// Check the token at the authorization server's userinfo, and
		// that it was issued for this resource (RFC 8707).
		check, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, srv.ResourceURL(), nil)
		check.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := http.DefaultClient.Do(check)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var info struct {
			Aud []string `json:"aud"`
		}
		json.NewDecoder(resp.Body).Decode(&info)
		if resp.StatusCode != http.StatusOK || len(info.Aud) != 1 || info.Aud[0] != api.URL+"/api" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	}))
	defer api.Close()

	store := pkce.NewMemoryStore()
	var signIns atomic.Int32
	headless := protected.HeadlessSignIn(nil)
	tr := &protected.Transport{
		SignIn: func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
			signIns.Add(1)
			return headless(ctx, c)
		},
		PreRegistered: func(iss string) *protected.Registration { return &protected.Registration{Issuer: iss, ClientID: "cli"} },
		Store:         store,
	}
	hc := &http.Client{Transport: tr}

	resp, err := hc.Post(api.URL+"/api", "text/plain", strings.NewReader("hello"))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "hello", string(body), "the body was sent again after sign-in")
	assert.Equal(t, []string{api.URL + "/api"}, srv.LastAuthorizationRequest()["resource"])
	assert.Equal(t, []string{api.URL + "/api"}, srv.LastTokenRequest().Form["resource"])

	getOK(t, hc, api.URL+"/api/items/1")
	assert.Equal(t, int32(1), signIns.Load(), "the token covers the resource's sub-paths")

	stored, err := store.LoadToken(t.Context(), protected.TokenKey(srv.Issuer(), "cli", api.URL+"/api", nil))
	require.NoError(t, err)
	assert.NotNil(t, stored, "the token is stored under its key")

	// A new Transport over the same store (a new process) uses it.
	tr2 := &protected.Transport{SignIn: tr.SignIn, PreRegistered: tr.PreRegistered, Store: store}
	getOK(t, &http.Client{Transport: tr2}, api.URL+"/api")
	assert.Equal(t, int32(1), signIns.Load(), "no second sign-in with a stored token")
}

func TestTransportDoesNotReplayAnUnreplayableBody(t *testing.T) {
	api := newDocServer(t)
	api.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	stub := &stubSignIn{}
	tr := &protected.Transport{SignIn: stub.signIn(t)}
	req, err := http.NewRequest(http.MethodPost, api.URL+"/mcp", io.NopCloser(strings.NewReader("x")))
	require.NoError(t, err)
	req.GetBody = nil
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Empty(t, stub.ids, "no sign-in for a request that cannot be retried")
}
