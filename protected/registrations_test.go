package protected_test

import (
	"context"
	"encoding/json"
	"net/http"
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
)

// registrar makes d an authorization server with dynamic registration
// that issues client IDs prefix-1, prefix-2, ... and whose token endpoint
// answers invalid_client to every request.
func registrar(t *testing.T, d *docServer, prefix string) *atomic.Int32 {
	var n atomic.Int32
	d.set("/.well-known/oauth-authorization-server", asMetadata(d.URL, map[string]any{
		"registration_endpoint": d.URL + "/register", "token_endpoint_auth_methods_supported": []string{"none"}}))
	d.set("/register", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := prefix + "-" + string(rune('0'+n.Add(1)))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"client_id": id, "token_endpoint_auth_method": "none"})
	}))
	d.set("/token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client"}`))
	}))
	return &n
}

// clientSignIn issues a token named after the client that signed in,
// with a refresh token, and records the client IDs.
type clientSignIn struct {
	mu  sync.Mutex
	ids []string
}

func (c *clientSignIn) signIn(t *testing.T) func(context.Context, *pkce.Client) (*pkce.Token, error) {
	return func(ctx context.Context, cl *pkce.Client) (*pkce.Token, error) {
		id, _ := clientIDOf(t, ctx, cl)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.ids = append(c.ids, id)
		return &pkce.Token{Token: &oauth2.Token{AccessToken: "at-" + id, TokenType: "Bearer", RefreshToken: "rt-" + id,
			Expiry: time.Now().Add(time.Hour)}}, nil
	}
}

// acceptingAPI is a resource at /mcp on d that accepts the token of the
// client whose ID accept returns, and names the server as() returns.
func acceptingAPI(d *docServer, as func() string, accept func() string) {
	d.set("/.well-known/oauth-protected-resource/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"resource": d.URL + "/mcp", "authorization_servers": []string{as()}})
	}))
	d.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-"+accept() {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+d.URL+`/.well-known/oauth-protected-resource/mcp"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
}

func status(t *testing.T, hc *http.Client, u string) int {
	t.Helper()
	resp, err := hc.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// A refresh answered invalid_client means the server forgot a dynamic
// registration: the Transport registers again and signs in with the new
// client, instead of signing in with the forgotten one.
func TestTransportRegistersAgainWhenARefreshAnswersInvalidClient(t *testing.T) {
	as := newDocServer(t)
	registrations := registrar(t, as, "dcr")
	api := newDocServer(t)
	acceptingAPI(api, func() string { return as.URL }, func() string { return "dcr-2" })

	stub := &clientSignIn{}
	hc := &http.Client{Transport: &protected.Transport{SignIn: stub.signIn(t)}}
	assert.Equal(t, http.StatusUnauthorized, status(t, hc, api.URL+"/mcp"), "the API refuses the first client's token")
	assert.Equal(t, http.StatusOK, status(t, hc, api.URL+"/mcp"), "the refresh said invalid_client: a new registration")
	assert.Equal(t, int32(2), registrations.Load())
	assert.Equal(t, []string{"dcr-1", "dcr-2"}, stub.ids)
}

// MCP SEP-2352: when the resource's metadata names another authorization
// server, the client registers with it instead of using the registration
// it made with the old one.
func TestTransportRegistersWithTheServerAResourceMovedTo(t *testing.T) {
	old, moved := newDocServer(t), newDocServer(t)
	oldRegs, newRegs := registrar(t, old, "old"), registrar(t, moved, "new")
	var migrated atomic.Bool
	api := newDocServer(t)
	acceptingAPI(api, func() string {
		if migrated.Load() {
			return moved.URL
		}
		return old.URL
	}, func() string {
		if migrated.Load() {
			return "new-1"
		}
		return "old-1"
	})

	stub := &clientSignIn{}
	hc := &http.Client{Transport: &protected.Transport{SignIn: stub.signIn(t)}}
	require.Equal(t, http.StatusOK, status(t, hc, api.URL+"/mcp"))
	migrated.Store(true)
	assert.Equal(t, http.StatusOK, status(t, hc, api.URL+"/mcp"), "signed in with the new server")
	assert.Equal(t, int32(1), oldRegs.Load())
	assert.Equal(t, int32(1), newRegs.Load(), "registered with the new server")
	assert.Equal(t, []string{"old-1", "new-1"}, stub.ids)
	assert.True(t, strings.HasPrefix(stub.ids[1], "new-"), "no old registration at the new server")
}

// The same when the refresh is the source's own, of an expired token:
// the Transport does not fail with the client's rejection, it registers
// again and signs in.
func TestTransportRegistersAgainWhenAnExpiredTokensRefreshAnswersInvalidClient(t *testing.T) {
	as := newDocServer(t)
	registrations := registrar(t, as, "dcr")
	api := newDocServer(t)
	acceptingAPI(api, func() string { return as.URL }, func() string { return "dcr-2" })

	var ids []string
	signIn := func(ctx context.Context, cl *pkce.Client) (*pkce.Token, error) {
		id, _ := clientIDOf(t, ctx, cl)
		ids = append(ids, id)
		expiry := time.Now().Add(time.Hour)
		if id == "dcr-1" {
			expiry = time.Now().Add(-time.Hour) // refreshed before use
		}
		return &pkce.Token{Token: &oauth2.Token{AccessToken: "at-" + id, TokenType: "Bearer", RefreshToken: "rt-" + id, Expiry: expiry}}, nil
	}
	hc := &http.Client{Transport: &protected.Transport{SignIn: signIn}}
	assert.Equal(t, http.StatusUnauthorized, status(t, hc, api.URL+"/mcp"), "the first client's refresh was refused")
	assert.Equal(t, http.StatusOK, status(t, hc, api.URL+"/mcp"), "a new registration, and a sign-in with it")
	assert.Equal(t, int32(2), registrations.Load())
	assert.Equal(t, []string{"dcr-1", "dcr-2"}, ids)
}

// savedRegistrations is a RegistrationStore holding one registration.
type savedRegistrations struct {
	mu  sync.Mutex
	reg *protected.Registration
}

func (s *savedRegistrations) LoadRegistration(_ context.Context, issuer string) (*protected.Registration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reg == nil || s.reg.Issuer != issuer {
		return nil, nil
	}
	cp := *s.reg
	return &cp, nil
}

func (s *savedRegistrations) SaveRegistration(_ context.Context, r *protected.Registration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *r
	s.reg = &cp
	return nil
}

// A saved dynamic registration whose secret has expired
// (client_secret_expires_at, RFC 7591 §3.2.1) is replaced before the
// person signs in, not after the code exchange is refused with
// invalid_client, which would ask the person to sign in twice. One whose
// secret is still valid, or never expires, is used.
func TestTransportReplacesASavedRegistrationWhoseSecretExpired(t *testing.T) {
	tests := []struct {
		name      string
		expiresAt time.Time
		wantID    string
	}{
		{"an expired secret is replaced before the sign-in", time.Now().Add(-time.Minute), "dcr-1"},
		{"a secret that has not expired is used", time.Now().Add(time.Hour), "saved"},
		{"a secret that never expires is used", time.Time{}, "saved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newDocServer(t)
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, map[string]any{
				"registration_endpoint": as.URL + "/register", "token_endpoint_auth_methods_supported": []string{"client_secret_basic"}}))
			var registered atomic.Int32
			as.set("/register", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				registered.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				json.NewEncoder(w).Encode(map[string]any{"client_id": "dcr-1", "client_secret": "new-secret-value",
					"token_endpoint_auth_method": "client_secret_basic"})
			}))
			api := newDocServer(t)
			protectedAPI(api, as.URL, nil, nil)
			regs := &savedRegistrations{reg: &protected.Registration{Issuer: as.URL, ClientID: "saved", ClientSecret: "old-secret-value",
				AuthMethod: pkce.AuthSecretBasic, SecretExpiresAt: tt.expiresAt}}
			stub := &stubSignIn{}
			getOK(t, &http.Client{Transport: &protected.Transport{SignIn: stub.signIn(t), Registrations: regs}}, api.URL+"/mcp")
			assert.Equal(t, []string{tt.wantID}, stub.ids, "one sign-in, with this client")
			if tt.wantID == "dcr-1" {
				assert.Equal(t, int32(1), registered.Load())
			} else {
				assert.Zero(t, registered.Load())
			}
		})
	}
}
