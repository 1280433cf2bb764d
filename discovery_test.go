package pkce_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/authserver"
)

// tenantPrefix is the issuer path of The Identity Hub profile (seed 004):
// endpoints live under /{tenant}/oauth2/v1.
const tenantPrefix = "/acme/oauth2/v1"

// appSecret is the secret of the "app" client of the discovery tests; it
// needs form-encoding for Basic (RFC 6749 §2.3.1).
const appSecret = "secret/with+odd:chars%"

// startRegistered starts a server from cfg with one client "app"
// registered for method, and returns it with the client's oauth2.Config
// without endpoints.
func startRegistered(t *testing.T, method authserver.AuthMethod, cfg authserver.Config) (*authserver.Server, *oauth2.Config) {
	t.Helper()
	secret := appSecret
	if method == authserver.MethodNone {
		secret = ""
	}
	cfg.Clients = append(cfg.Clients, authserver.Client{ID: "app", Secret: secret, Method: method, RedirectURIs: []string{redirect}})
	srv := authserver.Start(cfg)
	t.Cleanup(srv.Close)
	return srv, &oauth2.Config{ClientID: "app", ClientSecret: secret, RedirectURL: redirect, Scopes: []string{"openid", "profile"}}
}

// newDiscoveredStack is newStack for a client that configures itself
// from the server's issuer with NewFromIssuer.
func newDiscoveredStack(t *testing.T, method authserver.AuthMethod, cfg authserver.Config, opts ...pkce.Option) *stack {
	t.Helper()
	srv, oc := startRegistered(t, method, cfg)
	client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), oc, opts...)
	require.NoError(t, err)
	return &stack{srv, client}
}

// metadataDoc returns srv's metadata as a JSON body, changed by edit.
func metadataDoc(srv *authserver.Server, edit func(map[string]any)) string {
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

func rawMetadata(status int, contentType string, edit func(map[string]any)) func(*authserver.Server) authserver.Faults {
	return func(srv *authserver.Server) authserver.Faults {
		return authserver.Faults{MetadataRaw: &authserver.RawResponse{Status: status, ContentType: contentType, Body: metadataDoc(srv, edit)}}
	}
}

func TestDiscover(t *testing.T) {
	const oauthPath = "/.well-known/oauth-authorization-server" + tenantPrefix
	const openidPath = tenantPrefix + "/.well-known/openid-configuration"
	tests := []struct {
		name      string
		faults    func(*authserver.Server) authserver.Faults
		issuer    func(*authserver.Server) string // nil: srv.Issuer()
		wantErr   error
		wantPaths []string
		check     func(t *testing.T, srv *authserver.Server, md *pkce.Metadata, err error)
	}{
		{name: "RFC 8414 §3.1: suffix inserted before the tenant path", wantPaths: []string{oauthPath},
			check: func(t *testing.T, srv *authserver.Server, md *pkce.Metadata, _ error) {
				assert.Equal(t, srv.Issuer(), md.Issuer)
				assert.Equal(t, srv.URL()+tenantPrefix+"/authorize", md.AuthorizationEndpoint)
				assert.Equal(t, srv.URL()+tenantPrefix+"/token", md.TokenEndpoint)
				assert.Equal(t, srv.RevocationURL(), md.RevocationEndpoint)
				assert.Equal(t, srv.PARURL(), md.PushedAuthorizationRequestEndpoint)
				assert.Equal(t, []string{"S256"}, md.CodeChallengeMethodsSupported)
			}},
		{name: "OpenID Connect Discovery when the RFC 8414 document is 404",
			faults:    func(*authserver.Server) authserver.Faults { return authserver.Faults{HideOAuthMetadata: true} },
			wantPaths: []string{oauthPath, openidPath},
			check: func(t *testing.T, srv *authserver.Server, md *pkce.Metadata, _ error) {
				assert.Equal(t, srv.TokenURL(), md.TokenEndpoint)
			}},
		{name: "RFC 8414 §3.3: issuer member differs",
			faults: func(*authserver.Server) authserver.Faults {
				return authserver.Faults{MetadataIssuer: "https://evil.example/acme/oauth2/v1"}
			},
			wantErr: pkce.ErrIssuerMismatch, wantPaths: []string{oauthPath},
			check: func(t *testing.T, srv *authserver.Server, _ *pkce.Metadata, err error) {
				var mismatch *pkce.IssuerMismatchError
				require.ErrorAs(t, err, &mismatch)
				assert.Equal(t, srv.Issuer(), mismatch.Expected)
				assert.Equal(t, "https://evil.example/acme/oauth2/v1", mismatch.Got)
				assert.Equal(t, "RFC 8414 §3.3", mismatch.Rule)
				assert.ErrorContains(t, err, srv.Issuer())
				assert.ErrorContains(t, err, "https://evil.example/acme/oauth2/v1")
			}},
		{name: "RFC 8414 §3.3: issuer compared exactly, trailing slash included",
			issuer:  func(srv *authserver.Server) string { return srv.Issuer() + "/" },
			wantErr: pkce.ErrIssuerMismatch, wantPaths: []string{oauthPath}},
		{name: "not found at either well-known URL",
			faults: func(*authserver.Server) authserver.Faults {
				return authserver.Faults{HideOAuthMetadata: true, HideOpenIDConfiguration: true}
			},
			wantErr: pkce.ErrMetadataNotFound, wantPaths: []string{oauthPath, openidPath},
			check: func(t *testing.T, _ *authserver.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, oauthPath)
				assert.ErrorContains(t, err, openidPath)
			}},
		{name: "RFC 8414 §3.2: an HTML page is not metadata",
			faults:  func(*authserver.Server) authserver.Faults { return authserver.Faults{MetadataHTML: true} },
			wantErr: pkce.ErrMetadataNotJSON, wantPaths: []string{oauthPath},
			check: func(t *testing.T, _ *authserver.Server, _ *pkce.Metadata, err error) {
				var me *pkce.MetadataError
				require.ErrorAs(t, err, &me)
				assert.Equal(t, http.StatusOK, me.StatusCode)
				assert.Equal(t, "text/html; charset=utf-8", me.ContentType)
				assert.ErrorContains(t, err, "HTML")
			}},
		{name: "RFC 8414 §3.2: JSON not labelled application/json",
			faults: rawMetadata(200, "text/plain", nil), wantErr: pkce.ErrMetadataNotJSON},
		{name: "RFC 8414 §3.2: success is 200 only",
			faults: rawMetadata(203, "application/json", nil), wantErr: pkce.ErrInvalidMetadata},
		{name: "a server error is not a fallback",
			faults: func(*authserver.Server) authserver.Faults {
				return authserver.Faults{MetadataRaw: &authserver.RawResponse{Status: 500, ContentType: "text/plain", Body: "oops"}}
			},
			wantErr: pkce.ErrInvalidMetadata, wantPaths: []string{oauthPath}},
		{name: "a redirect is not followed",
			faults: func(srv *authserver.Server) authserver.Faults {
				return authserver.Faults{MetadataRaw: &authserver.RawResponse{Status: http.StatusFound,
					Header: http.Header{"Location": {srv.OpenIDConfigurationURL()}}}}
			},
			wantErr: pkce.ErrInvalidMetadata, wantPaths: []string{oauthPath},
			check: func(t *testing.T, _ *authserver.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "not followed")
			}},
		{name: "a body over the bound is an error, not cut",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["padding"] = strings.Repeat("x", pkce.DefaultMaxResponseBytes)
			}),
			wantErr: pkce.ErrInvalidMetadata,
			check: func(t *testing.T, _ *authserver.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "longer than")
			}},
		{name: "RFC 8414 §2: endpoints must be https",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["token_endpoint"] = "http://as.example/token"
			}),
			wantErr: pkce.ErrInvalidMetadata,
			check: func(t *testing.T, _ *authserver.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "token_endpoint")
				assert.ErrorContains(t, err, "https")
			}},
		{name: "RFC 8414 §2: revocation endpoint must be https too",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["revocation_endpoint"] = "http://as.example/revoke"
			}),
			wantErr: pkce.ErrInvalidMetadata},
		{name: "RFC 8414 §2: token_endpoint missing",
			faults:  rawMetadata(200, "application/json", func(doc map[string]any) { delete(doc, "token_endpoint") }),
			wantErr: pkce.ErrInvalidMetadata},
		{name: "RFC 8414 §2: a member of the wrong type",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["authorization_response_iss_parameter_supported"] = "yes"
			}),
			wantErr: pkce.ErrInvalidMetadata,
			check: func(t *testing.T, _ *authserver.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "authorization_response_iss_parameter_supported")
			}},
		{name: "RFC 7636 §4.2: code_challenge_methods_supported without S256",
			faults:  func(*authserver.Server) authserver.Faults { return authserver.Faults{MetadataWithoutS256: true} },
			wantErr: pkce.ErrInvalidMetadata,
			check: func(t *testing.T, _ *authserver.Server, _ *pkce.Metadata, err error) {
				assert.ErrorContains(t, err, "S256")
			}},
		{name: "RFC 8414 §2: response_types_supported without code",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["response_types_supported"] = []string{"token"}
			}),
			wantErr: pkce.ErrInvalidMetadata},
		{name: "RFC 9126 §5: PAR required without an endpoint",
			faults: rawMetadata(200, "application/json", func(doc map[string]any) {
				doc["require_pushed_authorization_requests"] = true
			}),
			wantErr: pkce.ErrInvalidMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := authserver.Start(authserver.Config{PathPrefix: tenantPrefix})
			t.Cleanup(srv.Close)
			if tt.faults != nil {
				srv.SetFaults(tt.faults(srv))
			}
			issuer := srv.Issuer()
			if tt.issuer != nil {
				issuer = tt.issuer(srv)
			}

			md, err := pkce.Discover(context.Background(), issuer)

			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				assert.Nil(t, md)
				assert.ErrorIs(t, err, tt.wantErr)
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
	srv, oc := startRegistered(t, authserver.MethodBasic, authserver.Config{})

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
		edit    func(srv *authserver.Server, oc *oauth2.Config)
		opts    func(srv *authserver.Server) []pkce.Option
		wantErr error
	}{
		{name: "endpoints come from the metadata", edit: func(*authserver.Server, *oauth2.Config) {}},
		{name: "endpoints in the config equal to the metadata's are accepted", edit: func(srv *authserver.Server, oc *oauth2.Config) {
			oc.Endpoint = oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}
		}},
		{name: "an endpoint in the config that differs from the metadata's", edit: func(srv *authserver.Server, oc *oauth2.Config) {
			oc.Endpoint.TokenURL = srv.URL() + "/other/token"
		}, wantErr: pkce.ErrInvalidConfig},
		{name: "RFC 8414 §3.3: WithIssuer differing from the metadata's issuer",
			opts: func(srv *authserver.Server) []pkce.Option {
				return []pkce.Option{pkce.WithIssuer(srv.URL() + "/other")}
			}, wantErr: pkce.ErrIssuerMismatch},
		{name: "other options are checked as in New",
			opts: func(*authserver.Server) []pkce.Option {
				return []pkce.Option{pkce.WithMaxResponseBytes(1)}
			}, wantErr: pkce.ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, oc := startRegistered(t, authserver.MethodBasic, authserver.Config{PathPrefix: tenantPrefix, SendIssuer: true})
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
			assert.Equal(t, srv.Issuer(), client.Issuer())
			assert.Equal(t, srv.RevocationURL(), client.Metadata().RevocationEndpoint)
			s := &stack{srv, client}
			f, q := s.signIn(t)
			assert.True(t, strings.HasPrefix(f.URL, srv.AuthURL()+"?"), f.URL)
			tok, err := client.Finish(context.Background(), f, q)
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
		{"RFC 8414 §2: authorization_endpoint missing", func(md *pkce.Metadata) { md.AuthorizationEndpoint = "" }, pkce.ErrInvalidMetadata},
		{"RFC 8414 §2: pushed_authorization_request_endpoint must be https", func(md *pkce.Metadata) {
			md.PushedAuthorizationRequestEndpoint = "http://as.example/par"
		}, pkce.ErrInvalidMetadata},
		{"RFC 7636 §4.2: S256 missing", func(md *pkce.Metadata) { md.CodeChallengeMethodsSupported = []string{"plain"} }, pkce.ErrInvalidMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := good()
			tt.edit(md)
			client, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: "https://app.example/cb"},
				pkce.WithMetadata(md), pkce.WithAuthStyle(pkce.AuthNone))
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

func TestAuthStyleFromMetadata(t *testing.T) {
	basic, post, none := authserver.MethodBasic, authserver.MethodPost, authserver.MethodNone
	tests := []struct {
		name       string
		advertised []authserver.AuthMethod
		registered authserver.AuthMethod // also decides whether the client has a secret
		opts       []pkce.Option
		want       pkce.AuthStyle
		wantErr    error
	}{
		{name: "RFC 8414 §2: absent means client_secret_basic", registered: basic, want: pkce.AuthClientSecretBasic},
		{name: "Basic preferred over post", advertised: []authserver.AuthMethod{post, basic}, registered: basic, want: pkce.AuthClientSecretBasic},
		{name: "post when Basic is not listed", advertised: []authserver.AuthMethod{none, post}, registered: post, want: pkce.AuthClientSecretPost},
		{name: "none for a public client", advertised: []authserver.AuthMethod{basic, post, none}, registered: none, want: pkce.AuthNone},
		{name: "a public client where only secrets are listed", advertised: []authserver.AuthMethod{basic, post}, registered: none, wantErr: pkce.ErrInvalidConfig},
		{name: "RFC 8414 §2: a public client where the list is absent", registered: none, wantErr: pkce.ErrInvalidConfig},
		{name: "a client with a secret where only other methods are listed",
			advertised: []authserver.AuthMethod{none, "private_key_jwt"}, registered: post, wantErr: pkce.ErrInvalidConfig},
		{name: "WithAuthStyle wins over the metadata", advertised: []authserver.AuthMethod{basic},
			registered: post, opts: []pkce.Option{pkce.WithAuthStyle(pkce.AuthClientSecretPost)}, want: pkce.AuthClientSecretPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, oc := startRegistered(t, tt.registered, authserver.Config{AuthMethodsSupported: tt.advertised})

			client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), oc, tt.opts...)

			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.ErrorContains(t, err, "token_endpoint_auth_methods_supported")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, client.AuthStyle())
			s := &stack{srv, client}
			f, q := s.signIn(t)
			_, err = client.Finish(context.Background(), f, q)
			assert.NoError(t, err, "the server accepts the chosen method")
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
		faults     func(srv *authserver.Server) authserver.Faults
		withIssuer bool
		wantErr    error
	}{
		{name: "iss advertised and sent", sendIssuer: true},
		{name: "RFC 9207 §2.4: iss advertised but missing", sendIssuer: true,
			faults:  func(*authserver.Server) authserver.Faults { return authserver.Faults{OmitIssuer: true} },
			wantErr: pkce.ErrIssuerMismatch},
		{name: "iss not advertised and absent"},
		{name: "iss not advertised, present and equal",
			faults: func(srv *authserver.Server) authserver.Faults { return authserver.Faults{IssuerOverride: srv.Issuer()} }},
		{name: "RFC 9207 §2.4: iss not advertised, present and different",
			faults: func(*authserver.Server) authserver.Faults {
				return authserver.Faults{IssuerOverride: "https://evil.example"}
			},
			wantErr: pkce.ErrIssuerMismatch},
		{name: "WithIssuer still requires iss when not advertised", withIssuer: true, wantErr: pkce.ErrIssuerMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, oc := startRegistered(t, authserver.MethodBasic, authserver.Config{SendIssuer: tt.sendIssuer, PathPrefix: tenantPrefix})
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

			tok, err := client.Finish(context.Background(), f, q)

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
	s := newDiscoveredStack(t, authserver.MethodPost, authserver.Config{
		PathPrefix:           tenantPrefix,
		AuthMethodsSupported: []authserver.AuthMethod{authserver.MethodPost},
		Rotate:               true,
	})
	assert.Equal(t, pkce.AuthClientSecretPost, s.client.AuthStyle())
	assert.Equal(t, s.srv.URL()+tenantPrefix, s.client.Issuer())
	assert.Equal(t, []string{"/.well-known/oauth-authorization-server" + tenantPrefix}, s.srv.MetadataRequests())

	f, q := s.signIn(t)
	assert.True(t, strings.HasPrefix(f.URL, s.srv.URL()+tenantPrefix+"/authorize?"), f.URL)
	tok, err := s.client.Finish(context.Background(), f, q)
	require.NoError(t, err)
	req := s.srv.LastTokenRequest()
	assert.Equal(t, appSecret, req.Form.Get("client_secret"), "credentials in the body")
	assert.Empty(t, req.Authorization)

	next, err := s.client.Refresh(context.Background(), tok.RefreshToken)
	require.NoError(t, err)
	assert.NotEqual(t, tok.RefreshToken, next.RefreshToken, "a new refresh token")
}

func TestMetadataErrorsCarryNoSecrets(t *testing.T) {
	srv, oc := startRegistered(t, authserver.MethodBasic, authserver.Config{})
	srv.SetFaults(authserver.Faults{MetadataHTML: true})
	_, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), oc)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), appSecret)
	var me *pkce.MetadataError
	assert.True(t, errors.As(err, &me))
	assert.Equal(t, srv.MetadataURL(), me.URL)
}
