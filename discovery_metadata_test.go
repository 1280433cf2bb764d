package pkce_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

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
