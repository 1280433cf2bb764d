package pkce_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// tenantPrefix is the issuer path of The Identity Hub profile (seed 004):
// endpoints live under /{tenant}/oauth2/v1.
const tenantPrefix = "/acme/oauth2/v1"

// defaultMaxResponseBytes is the package's default bound of response
// bodies (512 KiB), unexported since v1.
const defaultMaxResponseBytes = 512 << 10

// appSecret is the secret of the "app" client of the discovery tests; it
// needs form-encoding for Basic (RFC 6749 §2.3.1).
const appSecret = "secret/with+odd:chars%"

// startRegistered starts a server from cfg with one client "app"
// registered for method, and returns it with the client's oauth2.Config
// without endpoints.
func startRegistered(t *testing.T, method pkcetest.AuthMethod, cfg pkcetest.Config) (*pkcetest.Server, *oauth2.Config) {
	t.Helper()
	secret := appSecret
	if method == pkcetest.MethodNone {
		secret = ""
	}
	cfg.Clients = append(cfg.Clients, pkcetest.Client{ID: "app", Secret: secret, Method: method, RedirectURIs: []string{redirect}})
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv, &oauth2.Config{ClientID: "app", ClientSecret: secret, RedirectURL: redirect, Scopes: []string{"openid", "profile"}}
}

// newDiscoveredStack is newStack for a client that configures itself
// from the server's issuer with NewFromIssuer.
func newDiscoveredStack(t *testing.T, method pkcetest.AuthMethod, cfg pkcetest.Config, opts ...pkce.Option) *stack {
	t.Helper()
	srv, oc := startRegistered(t, method, cfg)
	client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), oc, opts...)
	require.NoError(t, err)
	return &stack{srv, client}
}

// metadataDoc returns srv's metadata as a JSON body, changed by edit.
func metadataDoc(srv *pkcetest.Server, edit func(map[string]any)) string {
	doc := map[string]any{
		"issuer":                           srv.Issuer(),
		"authorization_endpoint":           srv.AuthURL(),
		"token_endpoint":                   srv.TokenURL(),
		"response_types_supported":         []string{"code"},
		"code_challenge_methods_supported": []string{"S256"},
	}
	if edit != nil {
		edit(doc)
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

func rawMetadata(status int, contentType string, edit func(map[string]any)) func(*pkcetest.Server) pkcetest.Faults {
	return func(srv *pkcetest.Server) pkcetest.Faults {
		return pkcetest.Faults{MetadataRaw: &pkcetest.RawResponse{Status: status, ContentType: contentType, Body: metadataDoc(srv, edit)}}
	}
}

func TestDiscover(t *testing.T) {
	const oauthPath = "/.well-known/oauth-authorization-server" + tenantPrefix
	const openidPath = tenantPrefix + "/.well-known/openid-configuration"
	tests := []struct {
		name      string
		faults    func(*pkcetest.Server) pkcetest.Faults
		issuer    func(*pkcetest.Server) string // nil: srv.Issuer()
		wantErr   error
		fails     bool // fails without a sentinel of its own (wantErr nil)
		wantPaths []string
		check     func(t *testing.T, srv *pkcetest.Server, md *pkce.Metadata, err error)
	}{
		{name: "RFC 8414 §3.1: suffix inserted before the tenant path", wantPaths: []string{oauthPath},
			check: func(t *testing.T, srv *pkcetest.Server, md *pkce.Metadata, _ error) {
				assert.Equal(t, srv.Issuer(), md.Issuer)
				assert.Equal(t, srv.URL+tenantPrefix+"/authorize", md.AuthorizationEndpoint)
				assert.Equal(t, srv.URL+tenantPrefix+"/token", md.TokenEndpoint)
				assert.Equal(t, srv.RevocationURL(), md.RevocationEndpoint)
				assert.Equal(t, srv.PARURL(), md.PushedAuthorizationRequestEndpoint)
				assert.Equal(t, []string{"S256"}, md.CodeChallengeMethodsSupported)
			}},
		{name: "OpenID Connect Discovery when the RFC 8414 document is 404",
			faults:    func(*pkcetest.Server) pkcetest.Faults { return pkcetest.Faults{HideOAuthMetadata: true} },
			wantPaths: []string{oauthPath, openidPath},
			check: func(t *testing.T, srv *pkcetest.Server, md *pkce.Metadata, _ error) {
				assert.Equal(t, srv.TokenURL(), md.TokenEndpoint)
			}},
		{name: "RFC 8414 §3.3: issuer member differs",
			faults: func(*pkcetest.Server) pkcetest.Faults {
				return pkcetest.Faults{MetadataIssuer: "https://evil.example/acme/oauth2/v1"}
			},
			wantErr: pkce.ErrIssuerMismatch, wantPaths: []string{oauthPath},
			check: func(t *testing.T, srv *pkcetest.Server, _ *pkce.Metadata, err error) {
				var mismatch *pkce.ResponseError
				require.ErrorAs(t, err, &mismatch)
				assert.Equal(t, "metadata discovery", mismatch.Op)
				assert.Equal(t, srv.MetadataURL(), mismatch.URL)
				assert.Equal(t, "RFC 8414 §3.3", mismatch.Rule)
				assert.ErrorContains(t, err, srv.Issuer())
				assert.ErrorContains(t, err, "https://evil.example/acme/oauth2/v1")
			}},
		{name: "RFC 8414 §3.3: issuer compared exactly, trailing slash included",
			issuer:  func(srv *pkcetest.Server) string { return srv.Issuer() + "/" },
			wantErr: pkce.ErrIssuerMismatch, wantPaths: []string{oauthPath}},
		{name: "not found at either well-known URL",
			faults: func(*pkcetest.Server) pkcetest.Faults {
				return pkcetest.Faults{HideOAuthMetadata: true, HideOpenIDConfiguration: true}
			},
			wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath, openidPath},
			check: func(t *testing.T, _ *pkcetest.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, oauthPath)
				assert.ErrorContains(t, err, openidPath)
			}},
		// v1: an HTML page at the RFC 8414 URL makes discovery try the
		// OpenID Connect URL (v0 failed at once, after one request).
		{name: "RFC 8414 §3.2: an HTML page is not metadata",
			faults:  func(*pkcetest.Server) pkcetest.Faults { return pkcetest.Faults{MetadataHTML: true} },
			wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath, openidPath},
			check: func(t *testing.T, srv *pkcetest.Server, _ *pkce.Metadata, err error) {
				var me *pkce.ResponseError
				require.ErrorAs(t, err, &me)
				assert.Equal(t, "metadata discovery", me.Op)
				assert.Equal(t, srv.OpenIDConfigurationURL(), me.URL)
				assert.Equal(t, http.StatusOK, me.StatusCode)
				assert.Equal(t, "text/html; charset=utf-8", me.ContentType)
				assert.ErrorContains(t, err, "HTML")
				assert.ErrorContains(t, err, srv.MetadataURL(), "the error names both locations")
			}},
		{name: "RFC 8414 §3.2: JSON not labelled application/json",
			faults: rawMetadata(200, "text/plain", nil), wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath, openidPath}},
		{name: "RFC 8414 §3.2: success is 200 only",
			faults: rawMetadata(203, "application/json", nil), wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath}},
		{name: "a server error is not a fallback",
			faults: func(*pkcetest.Server) pkcetest.Faults {
				return pkcetest.Faults{MetadataRaw: &pkcetest.RawResponse{Status: 500, ContentType: "text/plain", Body: "oops"}}
			},
			wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath}},
		// v1: any 4xx at the RFC 8414 URL falls back (v0: only 404).
		{name: "a 403 at the RFC 8414 URL falls back to OpenID Connect Discovery",
			faults: func(srv *pkcetest.Server) pkcetest.Faults {
				return pkcetest.Faults{MetadataRaw: &pkcetest.RawResponse{Status: 403, ContentType: "text/plain", Body: "forbidden"}}
			},
			wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath, openidPath}},
		// v1: same-origin redirects are followed (at most 3); a redirect
		// to another origin is not, and the error names it.
		{name: "RFC 8414 §3.1: a redirect to another origin is not followed",
			faults: func(srv *pkcetest.Server) pkcetest.Faults {
				return pkcetest.Faults{MetadataRaw: &pkcetest.RawResponse{Status: http.StatusFound,
					Header: http.Header{"Location": {"https://elsewhere.example/.well-known/openid-configuration"}}}}
			},
			wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath},
			check: func(t *testing.T, _ *pkcetest.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "not followed")
				assert.ErrorContains(t, err, "https://elsewhere.example/.well-known/openid-configuration")
			}},
		{name: "redirects within the origin are followed at most 3 times",
			faults: func(srv *pkcetest.Server) pkcetest.Faults {
				return pkcetest.Faults{MetadataRaw: &pkcetest.RawResponse{Status: http.StatusFound,
					Header: http.Header{"Location": {srv.OpenIDConfigurationURL()}}}}
			},
			fails: true, wantPaths: []string{oauthPath, openidPath, openidPath, openidPath},
			check: func(t *testing.T, _ *pkcetest.Server, md *pkce.Metadata, err error) {
				assert.Nil(t, md)
				assert.ErrorContains(t, err, "redirects")
				assert.True(t, noAnswer(err), "%v", err)
			}},
		{name: "a body over the bound is an error, not cut",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["padding"] = strings.Repeat("x", defaultMaxResponseBytes)
			}),
			wantErr: pkce.ErrInvalidResponse,
			check: func(t *testing.T, _ *pkcetest.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "longer than")
			}},
		{name: "RFC 8414 §2: endpoints must be https",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["token_endpoint"] = "http://as.example/token"
			}),
			wantErr: pkce.ErrInvalidResponse,
			check: func(t *testing.T, _ *pkcetest.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "token_endpoint")
				assert.ErrorContains(t, err, "https")
			}},
		{name: "RFC 8414 §2: revocation endpoint must be https too",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["revocation_endpoint"] = "http://as.example/revoke"
			}),
			wantErr: pkce.ErrInvalidResponse},
		{name: "RFC 8414 §2: token_endpoint missing",
			faults:  rawMetadata(200, "application/json", func(doc map[string]any) { delete(doc, "token_endpoint") }),
			wantErr: pkce.ErrInvalidResponse},
		{name: "RFC 8414 §2: a member of the wrong type",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["authorization_response_iss_parameter_supported"] = "yes"
			}),
			wantErr: pkce.ErrInvalidResponse,
			check: func(t *testing.T, _ *pkcetest.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "authorization_response_iss_parameter_supported")
			}},
		{name: "RFC 7636 §4.2: code_challenge_methods_supported without S256",
			faults:  func(*pkcetest.Server) pkcetest.Faults { return pkcetest.Faults{MetadataWithoutS256: true} },
			wantErr: pkce.ErrInvalidResponse,
			check: func(t *testing.T, _ *pkcetest.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "S256")
			}},
		{name: "RFC 8414 §2: response_types_supported without code",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["response_types_supported"] = []string{"token"}
			}),
			wantErr: pkce.ErrInvalidResponse},
		{name: "RFC 9126 §5: PAR required without an endpoint",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["require_pushed_authorization_requests"] = true
			}),
			wantErr: pkce.ErrInvalidResponse},
		// v1: member names are exact (RFC 8259 §4); encoding/json would
		// read ISSUER into Issuer.
		{name: "RFC 8259 §4: ISSUER next to issuer",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["ISSUER"] = "https://evil.example"
			}),
			wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath}},
		{name: "RFC 8259 §4: ISSUER instead of issuer",
			faults: func(srv *pkcetest.Server) pkcetest.Faults {
				body := strings.Replace(metadataDoc(srv, nil), `"issuer"`, `"ISSUER"`, 1)
				return pkcetest.Faults{MetadataRaw: &pkcetest.RawResponse{Status: 200, ContentType: "application/json", Body: body}}
			},
			wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath}},
		{name: "RFC 8259 §4: Token_Endpoint next to token_endpoint",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["Token_Endpoint"] = "https://evil.example/token"
			}),
			wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath}},
		// encoding/json folds the Kelvin sign U+212A to k and would read
		// this member into TokenEndpoint.
		{name: "RFC 8259 §4: token_endpoint spelt with the Kelvin sign",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["to\u212aen_endpoint"] = "https://evil.example/token"
			}),
			wantErr: pkce.ErrInvalidResponse, wantPaths: []string{oauthPath}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := pkcetest.NewServer(pkcetest.Config{PathPrefix: tenantPrefix})
			t.Cleanup(srv.Close)
			if tt.faults != nil {
				srv.SetFaults(tt.faults(srv))
			}
			issuer := srv.Issuer()
			if tt.issuer != nil {
				issuer = tt.issuer(srv)
			}

			md, err := pkce.Discover(context.Background(), issuer)

			switch {
			case tt.wantErr != nil:
				assert.Nil(t, md)
				assert.ErrorIs(t, err, tt.wantErr)
			case tt.fails:
				assert.Nil(t, md)
				assert.Error(t, err)
			default:
				require.NoError(t, err)
			}
			if tt.wantPaths != nil {
				assert.Equal(t, tt.wantPaths, srv.MetadataRequests())
			}
			if tt.check != nil {
				tt.check(t, srv, md, err)
			}
		})
	}
}

func TestDiscoverRefusesIssuers(t *testing.T) {
	tests := []struct{ name, issuer string }{
		{"RFC 8414 §2: issuer must be https", "http://as.example"},
		{"RFC 8414 §2: issuer without a query", "https://as.example/?tenant=acme"},
		{"RFC 8414 §2: issuer without a fragment", "https://as.example/#x"},
		{"issuer must be absolute", "as.example"},
		{"issuer must not be empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: countingTransport(&requests)})
			_, err := pkce.Discover(ctx, tt.issuer)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.Zero(t, requests.Load(), "no request for a bad issuer")
		})
	}
}

// countingTransport counts requests and sends them on.
func countingTransport(n *atomic.Int32) http.RoundTripper {
	return countingRoundTripper{n}
}

type countingRoundTripper struct{ n *atomic.Int32 }

func (c countingRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestDiscoverTransport(t *testing.T) {
	srv, oc := startRegistered(t, pkcetest.MethodBasic, pkcetest.Config{})

	t.Run("the context's HTTP client", func(t *testing.T) {
		var requests atomic.Int32
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: countingTransport(&requests)})
		_, err := pkce.Discover(ctx, srv.Issuer())
		require.NoError(t, err)
		assert.Equal(t, int32(1), requests.Load())
	})
	t.Run("WithHTTPClient for NewFromIssuer", func(t *testing.T) {
		var requests atomic.Int32
		_, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), oc,
			pkce.WithHTTPClient(&http.Client{Transport: countingTransport(&requests)}))
		require.NoError(t, err)
		assert.Equal(t, int32(1), requests.Load())
	})
	t.Run("a cancelled context stops discovery", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := pkce.Discover(ctx, srv.Issuer())
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestNewFromIssuerConfiguresTheClient(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(srv *pkcetest.Server, oc *oauth2.Config)
		opts    func(srv *pkcetest.Server) []pkce.Option
		wantErr error
	}{
		{name: "endpoints come from the metadata", edit: func(*pkcetest.Server, *oauth2.Config) {}},
		{name: "endpoints in the config equal to the metadata's are accepted", edit: func(srv *pkcetest.Server, oc *oauth2.Config) {
			oc.Endpoint = oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}
		}},
		{name: "an endpoint in the config that differs from the metadata's", edit: func(srv *pkcetest.Server, oc *oauth2.Config) {
			oc.Endpoint.TokenURL = srv.URL + "/other/token"
		}, wantErr: pkce.ErrInvalidConfig},
		// v1: a configuration conflict (v0: ErrIssuerMismatch).
		{name: "RFC 8414 §3.3: WithIssuer differing from the metadata's issuer",
			opts: func(srv *pkcetest.Server) []pkce.Option {
				return []pkce.Option{pkce.WithIssuer(srv.URL + "/other")}
			}, wantErr: pkce.ErrInvalidConfig},
		{name: "WithIssuer equal to the metadata's issuer",
			opts: func(srv *pkcetest.Server) []pkce.Option {
				return []pkce.Option{pkce.WithIssuer(srv.Issuer())}
			}},
		{name: "a nil option", opts: func(*pkcetest.Server) []pkce.Option { return []pkce.Option{nil} }, wantErr: pkce.ErrInvalidConfig},
		{name: "other options are checked as in New",
			opts: func(*pkcetest.Server) []pkce.Option {
				return []pkce.Option{pkce.WithMaxResponseBytes(1)}
			}, wantErr: pkce.ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, oc := startRegistered(t, pkcetest.MethodBasic, pkcetest.Config{PathPrefix: tenantPrefix, SendIssuer: true})
			if tt.edit != nil {
				tt.edit(srv, oc)
			}
			var opts []pkce.Option
			if tt.opts != nil {
				opts = tt.opts(srv)
			}

			client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), oc, opts...)

			if tt.wantErr != nil {
				assert.Nil(t, client)
				assert.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, srv.Issuer(), client.Metadata().Issuer)
			assert.Equal(t, srv.RevocationURL(), client.Metadata().RevocationEndpoint)
			s := &stack{srv, client}
			f, q := s.signIn(t)
			assert.True(t, strings.HasPrefix(f.URL, srv.AuthURL()+"?"), f.URL)
			assert.Equal(t, srv.Issuer(), flowJSON(t, f)["issuer"], "the flow expects the metadata's issuer")
			tok, err := finish(context.Background(), client, f, q)
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
		})
	}
}

// TestDiscoverFollowsASameOriginRedirect: a server that moves its
// metadata within its origin (adding a slash, say) is followed (v1).
func TestDiscoverFollowsASameOriginRedirect(t *testing.T) {
	srv := pkcetest.NewServer(pkcetest.Config{PathPrefix: tenantPrefix})
	t.Cleanup(srv.Close)
	srv.SetFaults(pkcetest.Faults{MetadataRedirectToSlash: true})

	md, err := pkce.Discover(context.Background(), srv.Issuer())

	require.NoError(t, err)
	assert.Equal(t, srv.Issuer(), md.Issuer)
	assert.Equal(t, srv.TokenURL(), md.TokenEndpoint)
}
