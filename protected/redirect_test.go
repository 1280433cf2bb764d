package protected_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// preRegistered is a PreRegistered that has credentials for every issuer.
func preRegistered(string) *protected.Registration { return &protected.Registration{ClientID: "pre"} }

// Finding 10 of issue 20: metadata may not claim a parent of the URL
// requested (RFC 9728 §3.3), unless the application accepts MCP's looser
// rule.
func TestMetadataClaimingAParentOfTheURLIsRefused(t *testing.T) {
	tests := []struct {
		name      string
		resource  string // the metadata's resource, after the origin
		ancestors bool
		wantOK    bool
	}{
		{"the URL itself is accepted", "/tenant-b/mcp", false, true},
		{"the bare origin is refused", "", false, false},
		{"the origin with a slash is refused", "/", false, false},
		{"a parent path is refused", "/tenant-b", false, false},
		{"a parent path is accepted where MCP's rule is asked for", "/tenant-b", true, true},
		{"a sibling is refused even with MCP's rule", "/tenant-a/mcp", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newDocServer(t)
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
			api := newDocServer(t)
			api.set("/.well-known/oauth-protected-resource/tenant-b/mcp", map[string]any{"resource": api.URL + tt.resource,
				"authorization_servers": []string{as.URL}})
			api.set("/tenant-b/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "+stubTokenPrefix) {
					w.WriteHeader(http.StatusUnauthorized)
				}
			}))

			_, err := protected.FetchResourceMetadata(t.Context(), api.URL+"/tenant-b/mcp", "")
			if tt.resource == "/tenant-b/mcp" {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, pkce.ErrInvalidResponse, "FetchResourceMetadata is strict")
			}

			stub := &stubSignIn{}
			tr := &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered, AllowAncestorResource: tt.ancestors}
			resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/tenant-b/mcp")
			if !tt.wantOK {
				require.Error(t, err)
				assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
				assert.Empty(t, stub.ids, "no sign-in for metadata that claims more than the URL")
				return
			}
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Len(t, stub.ids, 1)
		})
	}
}

// Finding 12 of issue 20: MaxStepUps bounds one request's step-ups, not
// a resource's for the life of the Transport.
func TestTransportStepUpBoundIsPerRequest(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	api := newDocServer(t)
	protectedAPI(api, as.URL, nil, []string{"base"})
	// Each request asks for one more scope than the last: a long session
	// whose work grows legitimately.
	var calls atomic.Int32
	api.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "+stubTokenPrefix+":")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer scope="base"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		want := "s" + r.URL.Query().Get("n")
		if !strings.Contains(" "+tok+" ", " "+want+" ") {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+want+`"`)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		calls.Add(1)
	}))
	stub := &stubSignIn{}
	tr := &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered, MaxStepUps: 1}
	hc := &http.Client{Transport: tr}
	for _, n := range []string{"1", "2", "3", "4"} {
		getOK(t, hc, api.URL+"/mcp?n="+n)
	}
	assert.Equal(t, int32(4), calls.Load(), "every request stepped up once and got through")
	assert.Equal(t, []string{"base", "base s1", "base s1 s2", "base s1 s2 s3", "base s1 s2 s3 s4"}, stub.scopes)
}

// Finding 11 of issue 20: a redirect to another origin is not followed
// by a request the Transport authorizes, and no sign-in starts for the
// origin it names.
func TestTransportDoesNotFollowARedirectToAnotherOrigin(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	other := newDocServer(t)
	protectedAPI(other, as.URL, nil, nil)
	var bodies atomic.Int32
	other.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			bodies.Add(1)
		}
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+other.URL+`/.well-known/oauth-protected-resource/mcp"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	api := newDocServer(t)
	protectedAPI(api, as.URL, nil, nil)
	api.set("/moved", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
	}))
	api.set("/here", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/mcp", http.StatusTemporaryRedirect)
	}))

	stub := &stubSignIn{}
	tr := &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered}
	hc := &http.Client{Transport: tr}
	resp, err := hc.Post(api.URL+"/moved", "application/json", strings.NewReader(`{"jsonrpc":"2.0"}`))
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "a redirect to another origin fails")
	assert.Empty(t, other.paths(), "nothing reached the other origin: no token, no body, no discovery")
	assert.Zero(t, bodies.Load())
	assert.Empty(t, stub.ids, "no sign-in for an origin reached through a redirect")

	getOK(t, hc, api.URL+"/here")
	assert.Len(t, stub.ids, 1, "a redirect within the origin is followed and signs in for it")
}

// Finding 9 of issue 20: a remote API cannot steer the client to loopback,
// private or link-local addresses, or plain http.
func TestTransportRefusesMetadataSteeringToLocalAddresses(t *testing.T) {
	tests := []struct {
		name   string
		issuer string // the authorization server the remote resource names
		md     map[string]any
	}{
		{"issuer on loopback", "http://127.0.0.1:9", nil},
		{"issuer named localhost", "http://localhost:9", nil},
		{"issuer on a private address", "https://10.0.0.1", nil},
		{"issuer on a link-local address", "https://169.254.169.254", nil},
		{"issuer on an IPv6 loopback", "https://[::1]:9", nil},
		{"issuer on an IPv4-mapped loopback", "https://[::ffff:127.0.0.1]", nil},
		{"issuer on the unspecified address", "https://0.0.0.0", nil},
		{"issuer that a resolver reads as a number", "https://2130706433", nil},
		{"issuer named ip6-localhost, which /etc/hosts maps to loopback", "https://ip6-localhost", nil},
		{"issuer named localhost.localdomain", "https://localhost.localdomain", nil},
		{"issuer on a single-label intranet name", "https://intranet", nil},
		{"issuer on an mDNS name", "https://printer.local", nil},
		{"registration endpoint on loopback", "", map[string]any{"registration_endpoint": "http://127.0.0.1:9/register"}},
		{"token endpoint on a private address", "", map[string]any{"token_endpoint": "https://192.168.1.1/token"}},
		{"jwks_uri on a link-local address", "", map[string]any{"jwks_uri": "https://169.254.169.254/jwks"}},
		{"userinfo endpoint on loopback", "", map[string]any{"userinfo_endpoint": "https://[::1]/userinfo"}},
		{"end_session endpoint on a private address", "", map[string]any{"end_session_endpoint": "https://10.1.2.3/logout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRemote(t)
			issuer := tt.issuer
			if issuer == "" {
				issuer = "https://as.example"
				r.set("as.example", "/.well-known/oauth-authorization-server", asMetadata(issuer, tt.md))
			}
			r.set("api.example", "/.well-known/oauth-protected-resource/mcp", map[string]any{"resource": "https://api.example/mcp",
				"authorization_servers": []string{issuer}})
			r.set("api.example", "/mcp", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
			}))

			stub := &stubSignIn{}
			tr := &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered, Base: r.transport(), HTTPClient: r.client()}
			_, err := (&http.Client{Transport: tr}).Get("https://api.example/mcp")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "AllowLocalAuthorizationServers")
			assert.Empty(t, stub.ids)
			assert.Empty(t, r.local(), "no request left for this machine or a private network")

			tr = &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered, Base: r.transport(), HTTPClient: r.client(),
				AllowLocalAuthorizationServers: true}
			_, err = (&http.Client{Transport: tr}).Get("https://api.example/mcp")
			if err != nil {
				assert.NotContains(t, err.Error(), "AllowLocalAuthorizationServers", "the option lifts the check")
			}
		})
	}
}

// A resource on loopback may use a server on loopback (development).
func TestTransportAllowsLoopbackServersForALoopbackResource(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	api := newDocServer(t)
	protectedAPI(api, as.URL, nil, nil)
	stub := &stubSignIn{}
	getOK(t, &http.Client{Transport: &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered}}, api.URL+"/mcp")
	assert.Len(t, stub.ids, 1)
}

// remote is a pretend network of https hosts with names (api.example,
// as.example) served by one TLS test server; a dial to any other address
// is recorded and refused, so that a test can tell what a client tried to
// reach on this machine or a private network.
type remote struct {
	srv    *httptest.Server
	mu     sync.Mutex
	docs   map[string]any // host + path
	dialed []string       // addresses outside the pretend network
}

func newRemote(t *testing.T) *remote {
	r := &remote{docs: map[string]any{}}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		doc, ok := r.docs[req.Host+req.URL.Path]
		r.mu.Unlock()
		switch h, isHandler := doc.(http.HandlerFunc); {
		case !ok:
			http.NotFound(w, req)
		case isHandler:
			h(w, req)
		default:
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(doc)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *remote) set(host, path string, doc any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.docs[host+path] = doc
}

func (r *remote) local() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.dialed)
}

func (r *remote) transport() *http.Transport {
	return &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the pretend hosts share the test server's certificate
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, _ := net.SplitHostPort(addr); strings.HasSuffix(host, ".example") {
				return (&net.Dialer{}).DialContext(ctx, network, r.srv.Listener.Addr().String())
			}
			r.mu.Lock()
			r.dialed = append(r.dialed, addr)
			r.mu.Unlock()
			return nil, errors.New("refused by the test network")
		},
	}
}

func (r *remote) client() *http.Client { return &http.Client{Transport: r.transport()} }
