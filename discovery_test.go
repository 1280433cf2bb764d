package pkce_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
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

func TestWithMetadataChecksWhatItIsGiven(t *testing.T) {
	good := func() *pkce.Metadata {
		return &pkce.Metadata{
			Issuer:                "https://as.example",
			AuthorizationEndpoint: "https://as.example/authorize",
			TokenEndpoint:         "https://as.example/token",
		}
	}
	tests := []struct {
		name    string
		edit    func(*pkce.Metadata)
		wantErr error
	}{
		{"complete metadata", func(*pkce.Metadata) {}, nil},
		{"RFC 8414 §2: issuer must be https", func(md *pkce.Metadata) { md.Issuer = "http://as.example" }, pkce.ErrInvalidConfig},
		{"RFC 8414 §2: issuer with a query", func(md *pkce.Metadata) { md.Issuer = "https://as.example?x=1" }, pkce.ErrInvalidConfig},
		{"RFC 8414 §2: authorization_endpoint missing", func(md *pkce.Metadata) { md.AuthorizationEndpoint = "" }, pkce.ErrInvalidResponse},
		{"RFC 8414 §2: pushed_authorization_request_endpoint must be https", func(md *pkce.Metadata) {
			md.PushedAuthorizationRequestEndpoint = "http://as.example/par"
		}, pkce.ErrInvalidResponse},
		{"RFC 7636 §4.2: S256 missing", func(md *pkce.Metadata) { md.CodeChallengeMethodsSupported = []string{"plain"} }, pkce.ErrInvalidResponse},
		{"RFC 8414 §2: response_types_supported without code", func(md *pkce.Metadata) { md.ResponseTypesSupported = []string{"token"} }, pkce.ErrInvalidResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := good()
			tt.edit(md)
			client, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: "https://app.example/cb"},
				pkce.WithMetadata(md), pkce.WithAuthMethod(pkce.AuthNone))
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			md.TokenEndpoint = "https://changed.example/token"
			assert.Equal(t, "https://as.example/token", client.Metadata().TokenEndpoint, "the metadata was copied")
		})
	}
}

func TestAuthMethodFromMetadata(t *testing.T) {
	basic, post, none := pkcetest.MethodBasic, pkcetest.MethodPost, pkcetest.MethodNone
	tests := []struct {
		name       string
		advertised []pkcetest.AuthMethod
		registered pkcetest.AuthMethod // also decides whether the client has a secret
		opts       []pkce.Option
		want       pkce.AuthMethod
		wantErr    error
	}{
		{name: "RFC 8414 §2: absent means client_secret_basic", registered: basic, want: pkce.AuthSecretBasic},
		{name: "Basic preferred over post", advertised: []pkcetest.AuthMethod{post, basic}, registered: basic, want: pkce.AuthSecretBasic},
		{name: "post when Basic is not listed", advertised: []pkcetest.AuthMethod{none, post}, registered: post, want: pkce.AuthSecretPost},
		{name: "none for a public client", advertised: []pkcetest.AuthMethod{basic, post, none}, registered: none, want: pkce.AuthNone},
		// v1: a public client uses none even when the list omits it (v0: ErrInvalidConfig).
		{name: "a public client where only secrets are listed", advertised: []pkcetest.AuthMethod{basic, post}, registered: none, want: pkce.AuthNone},
		{name: "RFC 8414 §2: a public client where the list is absent", registered: none, want: pkce.AuthNone},
		{name: "a client with a secret where only other methods are listed",
			advertised: []pkcetest.AuthMethod{none, "private_key_jwt"}, registered: post, wantErr: pkce.ErrInvalidConfig},
		{name: "WithAuthMethod wins over the metadata", advertised: []pkcetest.AuthMethod{basic},
			registered: post, opts: []pkce.Option{pkce.WithAuthMethod(pkce.AuthSecretPost)}, want: pkce.AuthSecretPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, oc := startRegistered(t, tt.registered, pkcetest.Config{AuthMethodsSupported: tt.advertised})

			client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), oc, tt.opts...)

			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.ErrorContains(t, err, "token_endpoint_auth_methods_supported")
				return
			}
			require.NoError(t, err)
			s := &stack{srv, client}
			f, q := s.signIn(t)
			_, err = finish(context.Background(), client, f, q)
			assert.NoError(t, err, "the server accepts the chosen method")
			assertAuthMethod(t, tt.want, srv.LastTokenRequest())
		})
	}
}

// TestIssParameterWithMetadata checks RFC 9207 §2.4 with an issuer known
// from metadata: iss is required only when the server advertises it, and
// must equal the issuer whenever present.
func TestIssParameterWithMetadata(t *testing.T) {
	tests := []struct {
		name       string
		sendIssuer bool // the server advertises and sends iss
		faults     func(srv *pkcetest.Server) pkcetest.Faults
		withIssuer bool
		wantErr    error
	}{
		{name: "iss advertised and sent", sendIssuer: true},
		{name: "RFC 9207 §2.4: iss advertised but missing", sendIssuer: true,
			faults:  func(*pkcetest.Server) pkcetest.Faults { return pkcetest.Faults{OmitIssuer: true} },
			wantErr: pkce.ErrIssuerMismatch},
		{name: "iss not advertised and absent"},
		{name: "iss not advertised, present and equal",
			faults: func(srv *pkcetest.Server) pkcetest.Faults { return pkcetest.Faults{IssuerOverride: srv.Issuer()} }},
		{name: "RFC 9207 §2.4: iss not advertised, present and different",
			faults: func(*pkcetest.Server) pkcetest.Faults {
				return pkcetest.Faults{IssuerOverride: "https://evil.example"}
			},
			wantErr: pkce.ErrIssuerMismatch},
		{name: "WithIssuer still requires iss when not advertised", withIssuer: true, wantErr: pkce.ErrIssuerMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, oc := startRegistered(t, pkcetest.MethodBasic, pkcetest.Config{SendIssuer: tt.sendIssuer, PathPrefix: tenantPrefix})
			var opts []pkce.Option
			if tt.withIssuer {
				opts = append(opts, pkce.WithIssuer(srv.Issuer()))
			}
			client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), oc, opts...)
			require.NoError(t, err)
			if tt.faults != nil {
				srv.SetFaults(tt.faults(srv))
			}
			s := &stack{srv, client}
			f, q := s.signIn(t)

			tok, err := finish(context.Background(), client, f, q)

			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, 0, srv.TokenRequests(), "no token request after a failed callback")
				return
			}
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
		})
	}
}

// TestIdentityHubProfileFromIssuer is seed 004 configured by discovery: a
// tenant-scoped issuer, credentials in the body, and a refresh that
// returns a new refresh token.
func TestIdentityHubProfileFromIssuer(t *testing.T) {
	s := newDiscoveredStack(t, pkcetest.MethodPost, pkcetest.Config{
		PathPrefix:           tenantPrefix,
		AuthMethodsSupported: []pkcetest.AuthMethod{pkcetest.MethodPost},
		Rotate:               true,
	})
	assert.Equal(t, s.srv.URL+tenantPrefix, s.client.Metadata().Issuer)
	assert.Equal(t, []string{"/.well-known/oauth-authorization-server" + tenantPrefix}, s.srv.MetadataRequests())

	f, q := s.signIn(t)
	assert.True(t, strings.HasPrefix(f.URL, s.srv.URL+tenantPrefix+"/authorize?"), f.URL)
	assert.Equal(t, s.srv.URL+tenantPrefix, flowJSON(t, f)["issuer"])
	tok, err := finish(context.Background(), s.client, f, q)
	require.NoError(t, err)
	req := s.srv.LastTokenRequest()
	assertAuthMethod(t, pkce.AuthSecretPost, req)
	assert.Equal(t, appSecret, req.Form.Get("client_secret"), "credentials in the body")
	assert.Empty(t, req.Authorization)

	next, err := s.client.Refresh(context.Background(), tok.RefreshToken)
	require.NoError(t, err)
	assert.NotEqual(t, tok.RefreshToken, next.RefreshToken, "a new refresh token")
}

func TestMetadataErrorsCarryNoSecrets(t *testing.T) {
	srv, oc := startRegistered(t, pkcetest.MethodBasic, pkcetest.Config{})
	srv.SetFaults(pkcetest.Faults{MetadataHTML: true})
	_, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), oc)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), appSecret)
	assert.NotContains(t, err.Error(), url.QueryEscape(appSecret))
	var me *pkce.ResponseError
	require.True(t, errors.As(err, &me))
	assert.Equal(t, "metadata discovery", me.Op)
	// v1: the HTML page at the RFC 8414 URL leads to the OpenID Connect
	// URL, whose answer is the error (v0: the RFC 8414 URL).
	assert.Equal(t, srv.OpenIDConfigurationURL(), me.URL)
	assert.ErrorContains(t, err, srv.MetadataURL())
}

// assertAuthMethod checks how the client authenticated in the request the
// server saw (v0's Client.AuthStyle is gone).
func assertAuthMethod(t *testing.T, want pkce.AuthMethod, req pkcetest.TokenRequest) {
	t.Helper()
	switch want {
	case pkce.AuthSecretBasic:
		assert.True(t, strings.HasPrefix(req.Authorization, "Basic "), "Basic header")
		assert.NotContains(t, req.Form, "client_secret")
	case pkce.AuthSecretPost:
		assert.Empty(t, req.Authorization)
		assert.NotEmpty(t, req.Form.Get("client_secret"))
		assert.Equal(t, "app", req.Form.Get("client_id"))
	case pkce.AuthNone:
		assert.Empty(t, req.Authorization)
		assert.NotContains(t, req.Form, "client_secret")
		assert.Equal(t, "app", req.Form.Get("client_id"))
	default:
		t.Fatalf("unknown method %q", want)
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
