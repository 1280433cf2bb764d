package protected_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/protected"
)

// docServer serves JSON documents at fixed paths and records every path
// asked, in order; other paths get 404.
type docServer struct {
	*httptest.Server
	mu    sync.Mutex
	docs  map[string]any
	asked []string
}

func newDocServer(t *testing.T) *docServer {
	d := &docServer{docs: map[string]any{}}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.asked = append(d.asked, r.URL.Path)
		doc, ok := d.docs[r.URL.Path]
		d.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if h, ok := doc.(http.HandlerFunc); ok {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *docServer) set(path string, doc any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.docs[path] = doc
}

func (d *docServer) paths() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.asked)
}

// asMetadata is authorization server metadata for issuer on d.
func asMetadata(issuer string, extra map[string]any) map[string]any {
	m := map[string]any{
		"issuer":                           issuer,
		"authorization_endpoint":           issuer + "/authorize",
		"token_endpoint":                   issuer + "/token",
		"code_challenge_methods_supported": []string{"S256"},
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestDiscoverAuthorizationServerOrder(t *testing.T) {
	const (
		rfc8414   = "/.well-known/oauth-authorization-server/tenant1"
		oidcInsrt = "/.well-known/openid-configuration/tenant1"
		oidcAppnd = "/tenant1/.well-known/openid-configuration"
	)
	tests := []struct {
		name   string
		at     string
		issuer string // path below the server's URL
		asked  []string
	}{
		{"RFC 8414 path insertion is asked first", rfc8414, "/tenant1", []string{rfc8414}},
		{"OpenID Connect path insertion comes second", oidcInsrt, "/tenant1", []string{rfc8414, oidcInsrt}},
		{"OpenID Connect appended to the path comes last", oidcAppnd, "/tenant1", []string{rfc8414, oidcInsrt, oidcAppnd}},
		{"an issuer without a path has two locations", "/.well-known/openid-configuration", "",
			[]string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDocServer(t)
			issuer := d.URL + tt.issuer
			d.set(tt.at, asMetadata(issuer, nil))
			md, err := protected.DiscoverAuthorizationServer(t.Context(), issuer)
			require.NoError(t, err)
			assert.Equal(t, issuer, md.Issuer)
			assert.Equal(t, tt.asked, d.paths())
		})
	}
}

func TestDiscoverAuthorizationServerRefuses(t *testing.T) {
	tests := []struct {
		name  string
		doc   func(issuer string) map[string]any
		match error
	}{
		{"issuer differs from the one the URL was built from", func(string) map[string]any {
			return asMetadata("https://other.example", nil)
		}, pkce.ErrIssuerMismatch},
		{"code_challenge_methods_supported is absent", func(iss string) map[string]any {
			m := asMetadata(iss, nil)
			delete(m, "code_challenge_methods_supported")
			return m
		}, pkce.ErrInvalidResponse},
		{"code_challenge_methods_supported lacks S256", func(iss string) map[string]any {
			return asMetadata(iss, map[string]any{"code_challenge_methods_supported": []string{"plain"}})
		}, pkce.ErrInvalidResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDocServer(t)
			d.set("/.well-known/oauth-authorization-server", tt.doc(d.URL))
			_, err := protected.DiscoverAuthorizationServer(t.Context(), d.URL)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.match)
		})
	}
}

func TestDiscoverStillAcceptsAbsentChallengeMethods(t *testing.T) {
	// Discover's rule is unchanged: an absent list is "not advertised".
	d := newDocServer(t)
	m := asMetadata(d.URL, nil)
	delete(m, "code_challenge_methods_supported")
	d.set("/.well-known/oauth-authorization-server", m)
	_, err := pkce.Discover(t.Context(), d.URL)
	assert.NoError(t, err)
}

func TestFetchResourceMetadata(t *testing.T) {
	tests := []struct {
		name      string
		docs      map[string]func(origin string) any
		header    func(origin string) string // the challenge's resource_metadata
		path      string                     // of the requested URL
		asked     []string
		wantError error
	}{
		{"the challenge's URL is used and nothing else",
			map[string]func(string) any{"/custom/prm.json": prm("/mcp")},
			func(o string) string { return o + "/custom/prm.json" }, "/mcp",
			[]string{"/custom/prm.json"}, nil},
		{"path-based well-known URL first",
			map[string]func(string) any{"/.well-known/oauth-protected-resource/mcp": prm("/mcp")},
			nil, "/mcp", []string{"/.well-known/oauth-protected-resource/mcp"}, nil},
		{"root well-known URL when the path-based one is missing",
			map[string]func(string) any{"/.well-known/oauth-protected-resource": prm("/mcp")},
			nil, "/mcp", []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}, nil},
		{"resource that identifies another resource",
			map[string]func(string) any{"/.well-known/oauth-protected-resource/mcp": func(string) any {
				return map[string]any{"resource": "https://evil.example/mcp", "authorization_servers": []string{"https://as.example"}}
			}}, nil, "/mcp", nil, pkce.ErrInvalidResponse},
		{"resource that is a sibling path, not an ancestor",
			map[string]func(string) any{"/.well-known/oauth-protected-resource/mcp": prm("/mc")},
			nil, "/mcp", nil, pkce.ErrInvalidResponse},
		{"authorization_servers empty",
			map[string]func(string) any{"/.well-known/oauth-protected-resource/mcp": func(o string) any {
				return map[string]any{"resource": o + "/mcp", "authorization_servers": []string{}}
			}}, nil, "/mcp", nil, pkce.ErrInvalidResponse},
		{"a redirect is not followed",
			map[string]func(string) any{"/.well-known/oauth-protected-resource/mcp": func(string) any {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "/elsewhere", http.StatusFound)
				})
			}, "/elsewhere": prm("/mcp")}, nil, "/mcp", []string{"/.well-known/oauth-protected-resource/mcp"}, pkce.ErrInvalidResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDocServer(t)
			for path, doc := range tt.docs {
				d.set(path, doc(d.URL))
			}
			header := ""
			if tt.header != nil {
				header = tt.header(d.URL)
			}
			rm, err := protected.FetchResourceMetadata(t.Context(), d.URL+tt.path+"?q=1", header)
			if tt.wantError != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.wantError)
			} else {
				require.NoError(t, err)
				assert.Equal(t, []string{"https://as.example"}, rm.AuthorizationServers)
			}
			if tt.asked != nil {
				assert.Equal(t, tt.asked, d.paths())
			}
		})
	}
}

// prm returns protected resource metadata whose resource is the origin
// followed by path.
func prm(path string) func(origin string) any {
	return func(origin string) any {
		return map[string]any{"resource": origin + path, "authorization_servers": []string{"https://as.example"}}
	}
}

func TestFetchResourceMetadataRefusesCrossOriginHeaderURL(t *testing.T) {
	other := newDocServer(t)
	other.set("/prm", map[string]any{"resource": "x", "authorization_servers": []string{"https://as.example"}})
	d := newDocServer(t)
	_, err := protected.FetchResourceMetadata(t.Context(), d.URL+"/mcp", other.URL+"/prm")
	require.Error(t, err)
	assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
	assert.Empty(t, other.paths(), "no request to a URL from a header on another origin")
}

func TestResourceIndicatorOnEveryRequest(t *testing.T) {
	const resource = "https://mcp.example/mcp"
	srv := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, Clients: []pkcetest.Client{{
		ID: "cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback"}}}})
	defer srv.Close()
	c, err := pkce.New(&oauth2.Config{ClientID: "cli", RedirectURL: "http://127.0.0.1/callback",
		Endpoint: oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}},
		pkce.WithIssuer(srv.Issuer()), pkce.WithResource(resource))
	require.NoError(t, err)

	_, err = c.Start(t.Context(), pkce.Param("resource", "https://other.example"))
	assert.Error(t, err, "Param(resource) contradicts WithResource")

	tok, err := protected.HeadlessSignIn(nil)(t.Context(), c)
	require.NoError(t, err)
	assert.Equal(t, []string{resource}, srv.LastAuthorizationRequest()["resource"], "authorization request")
	assert.Equal(t, []string{resource}, srv.LastTokenRequest().Form["resource"], "code exchange")

	_, err = c.Refresh(t.Context(), tok.RefreshToken)
	require.NoError(t, err)
	assert.Equal(t, []string{resource}, srv.LastTokenRequest().Form["resource"], "refresh")
}

func TestTokenKey(t *testing.T) {
	base := protected.TokenKey("https://as.example", "cli", "https://mcp.example/mcp", []string{"a", "b"})
	assert.Equal(t, base, protected.TokenKey("https://as.example", "cli", "https://mcp.example/mcp", []string{"b", "a", "a"}),
		"scopes are a set")
	for name, other := range map[string]string{
		"another issuer":   protected.TokenKey("https://as2.example", "cli", "https://mcp.example/mcp", []string{"a", "b"}),
		"another client":   protected.TokenKey("https://as.example", "cli2", "https://mcp.example/mcp", []string{"a", "b"}),
		"another resource": protected.TokenKey("https://as.example", "cli", "https://mcp.example/other", []string{"a", "b"}),
		"other scopes":     protected.TokenKey("https://as.example", "cli", "https://mcp.example/mcp", []string{"a"}),
		"parts shifted":    protected.TokenKey("https://as.examplecli", "", "https://mcp.example/mcp", []string{"a", "b"}),
	} {
		assert.NotEqual(t, base, other, name)
	}
	assert.NotContains(t, base, "mcp.example", "the key is a digest")
}

// clientIDOf returns the client_id c sends, from an authorization URL.
func clientIDOf(t *testing.T, ctx context.Context, c *pkce.Client) (id string, scope string) {
	f, err := c.Start(ctx)
	require.NoError(t, err)
	u, err := url.Parse(f.URL)
	require.NoError(t, err)
	return u.Query().Get("client_id"), u.Query().Get("scope")
}

// stubTokenPrefix starts every token the stub sign-in issues.
const stubTokenPrefix = "stub-token"

func stubToken(scope string) *pkce.Token {
	return &pkce.Token{Token: (&oauth2.Token{AccessToken: stubTokenPrefix + ":" + scope, TokenType: "Bearer"})}
}

// protectedAPI is a resource at /mcp on d that wants a stub token with
// every scope in need, and publishes its metadata at the path-based
// location naming as.
func protectedAPI(d *docServer, as string, need []string, scopesSupported []string) {
	d.set("/.well-known/oauth-protected-resource/mcp", map[string]any{"resource": d.URL + "/mcp",
		"authorization_servers": []string{as}, "scopes_supported": scopesSupported})
	d.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "+stubTokenPrefix+":")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+d.URL+`/.well-known/oauth-protected-resource/mcp"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		for _, s := range need {
			if !slices.Contains(strings.Fields(tok), s) {
				w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+strings.Join(need, " ")+`"`)
				w.WriteHeader(http.StatusForbidden)
				return
			}
		}
		w.Write([]byte("ok"))
	}))
}
