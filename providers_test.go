package pkce_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// providerRow is one authorization server as its own documentation
// describes it, reproduced on the public test server, and the client
// configured as the provider table of docs/providers.md says. Each row signs in
// through Start, the server's authorization endpoint and Finish, calls the
// server's protected resource with the token, refreshes when the provider
// issues refresh tokens, and revokes when it has an RFC 7009 endpoint.
type providerRow struct {
	// name is the provider, as in the table of docs/providers.md.
	name string
	// docs are the provider's own pages the row follows.
	docs []string

	// server is the provider's shape: issuer path, iss on the redirect
	// (RFC 9207), refresh token rotation, advertised auth methods.
	server pkcetest.Config
	// faults make the answers look as documented, mostly with a
	// TokenTemplate.
	faults pkcetest.Faults
	// metadataIssuer, if set, is the issuer the metadata publishes, from
	// the server's: providers whose issuer ends with a slash.
	metadataIssuer func(issuer string) string
	// method is how the registered client authenticates.
	method pkcetest.AuthMethod
	// redirect is the registered redirect URI; "" means
	// https://app.example/callback.
	redirect string

	// issuer, if set, configures the client with NewFromIssuer from this
	// issuer; otherwise the endpoints are given by hand.
	issuer func(serverIssuer string) string
	// opts are the options the table's row names.
	opts   func(srv *pkcetest.Server) []pkce.Option
	scopes []string
	params []pkce.StartOption

	refresh refreshRule
	// revoke says the provider documents an RFC 7009 revocation endpoint.
	revoke bool
	// check asserts what matters for this provider.
	check func(t *testing.T, r *providerRun)
}

// refreshRule is what the provider documents about refresh tokens.
type refreshRule int

const (
	// noRefreshToken: the provider issues none in this configuration.
	noRefreshToken refreshRule = iota
	// refreshKeepsToken: the refresh answer omits refresh_token, so the
	// old one is kept.
	refreshKeepsToken
	// refreshRotates: every refresh answer carries a new refresh token.
	refreshRotates
	// refreshRotatesReuseRefused: as refreshRotates, and the replaced one
	// is refused afterwards.
	refreshRotatesReuseRefused
)

// providerRun is a row in progress.
type providerRun struct {
	srv       *pkcetest.Server
	client    *pkce.Client
	callback  *pkcetest.Callback
	tok       *pkce.Token // from the sign-in
	refreshed *pkce.Token // from the refresh, or nil
	newClient func(opts ...pkce.Option) (*pkce.Client, error)
}

const providerSecret = "provider-secret"

// Token response templates, each as the provider's page shows its answer.
const (
	googleTokens = `{"access_token":{{json .AccessToken}},"expires_in":3599,"token_type":"Bearer","scope":{{json .Scope}}` +
		`{{if .RefreshToken}},"refresh_token":{{json .RefreshToken}},"refresh_token_expires_in":604799{{end}}` +
		`{{if .IDToken}},"id_token":{{json .IDToken}}{{end}}}`
	entraTokens = `{"token_type":"Bearer","scope":{{json .Scope}},"expires_in":3599,"ext_expires_in":3599,` +
		`"access_token":{{json .AccessToken}},"refresh_token":{{json .RefreshToken}}{{if .IDToken}},"id_token":{{json .IDToken}}{{end}}}`
	githubOAuthAppTokens = `{"access_token":{{json .AccessToken}},"scope":"repo,gist","token_type":"bearer"}`
	githubAppTokens      = `{"access_token":{{json .AccessToken}},"expires_in":28800,"refresh_token":{{json .RefreshToken}},` +
		`"refresh_token_expires_in":15897600,"scope":"","token_type":"bearer"}`
	gitlabTokens = `{"access_token":{{json .AccessToken}},"token_type":"Bearer","expires_in":7200,"refresh_token":{{json .RefreshToken}},` +
		`"scope":{{json .Scope}},"created_at":1607635748{{if .IDToken}},"id_token":{{json .IDToken}}{{end}}}`
	keycloakTokens = `{"access_token":{{json .AccessToken}},"expires_in":300,"refresh_expires_in":1800,"refresh_token":{{json .RefreshToken}},` +
		`"token_type":"Bearer"{{if .IDToken}},"id_token":{{json .IDToken}}{{end}},"not-before-policy":0,` +
		`"session_state":"5e1bb2a4-7d1c-4c8c-9b8a-0c6b0e2c7a51","scope":{{json .Scope}}}`
	cognitoTokens = `{"access_token":{{json .AccessToken}}{{if .IDToken}},"id_token":{{json .IDToken}}{{end}}` +
		`{{if .RefreshToken}},"refresh_token":{{json .RefreshToken}}{{end}},"token_type":"Bearer","expires_in":3600}`
	// Apple always sends an id_token; its scopes are name and email, not
	// openid, so the row's is a fixed one.
	appleTokens = `{"access_token":{{json .AccessToken}},"token_type":"Bearer","expires_in":3600` +
		`{{if .RefreshToken}},"refresh_token":{{json .RefreshToken}}{{end}},"id_token":"eyJraWQiOiJXNldjT0tCIiwiYWxnIjoiUlMyNTYifQ.e30.c2lnbmF0dXJl"}`
	salesforceTokens = `{"access_token":{{json .AccessToken}},"signature":"CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=",` +
		`"scope":{{json .Scope}}{{if .IDToken}},"id_token":{{json .IDToken}}{{end}},"instance_url":"https://mycompany.my.salesforce.com",` +
		`"id":"https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P","token_type":"Bearer","issued_at":"1278448101416"` +
		`{{if .RefreshToken}},"refresh_token":{{json .RefreshToken}}{{end}}}`
	// Supabase Auth's OAuth 2.1 server; the id_token is sent whenever the
	// test server issues one (openid scope).
	supabaseAuthTokens = `{"access_token":{{json .AccessToken}},"token_type":"bearer","expires_in":3600` +
		`{{if .RefreshToken}},"refresh_token":{{json .RefreshToken}}{{end}},"scope":{{json .Scope}}` +
		`{{if .IDToken}},"id_token":{{json .IDToken}}{{end}}}`
	slackTokens = `{"ok":true,"access_token":{{json .AccessToken}},"token_type":"bot","scope":"commands,incoming-webhook",` +
		`"bot_user_id":"U0KRQLJ9H","app_id":"A0KRD7HC3","team":{"name":"Slack Softball Team","id":"T9TK3CUKW"},"enterprise":null,` +
		`"authed_user":{"id":"U1234","scope":"chat:write","access_token":"xoxp-1234","token_type":"user"},` +
		`"expires_in":43200,"refresh_token":{{json .RefreshToken}}}`
)

func TestProviders(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			require.NotEmpty(t, p.docs, "every row cites the provider's documentation")
			ctx := context.Background()
			r := p.start(t)

			var err error
			r.tok, r.callback, err = signIn(t, r.srv, r.client, p.params...)
			require.NoError(t, err)
			require.NotEmpty(t, r.tok.AccessToken)
			assertBearerAccepted(t, r.srv, r.tok.AccessToken)

			switch p.refresh {
			case noRefreshToken:
				assert.Empty(t, r.tok.RefreshToken)
			default:
				require.NotEmpty(t, r.tok.RefreshToken)
				r.refreshed, err = r.client.Refresh(ctx, r.tok.RefreshToken)
				require.NoError(t, err)
				assertBearerAccepted(t, r.srv, r.refreshed.AccessToken)
				if p.refresh == refreshKeepsToken {
					assert.Equal(t, r.tok.RefreshToken, r.refreshed.RefreshToken, "the old refresh token is kept")
				} else {
					assert.NotEqual(t, r.tok.RefreshToken, r.refreshed.RefreshToken, "the rotated refresh token is returned")
				}
			}
			if p.check != nil {
				p.check(t, r)
			}
			if p.refresh == refreshRotatesReuseRefused {
				_, err := r.client.Refresh(ctx, r.tok.RefreshToken)
				assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the replaced refresh token is refused")
			}
			if p.revoke {
				// On a grant of its own, so that nothing else ended it.
				tok, _, err := signIn(t, r.srv, r.client, p.params...)
				require.NoError(t, err)
				require.NoError(t, r.client.Revoke(ctx, tok.Token))
				_, err = r.client.Refresh(ctx, tok.RefreshToken)
				assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the revoked refresh token is refused")
			}
		})
	}
}

// start serves the provider and builds its client.
func (p providerRow) start(t *testing.T) *providerRun {
	t.Helper()
	cfg := p.server
	secret := ""
	if p.method != pkcetest.MethodNone {
		secret = providerSecret
	}
	redirect := p.redirect
	if redirect == "" {
		redirect = "https://app.example/callback"
	}
	cfg.Clients = []pkcetest.Client{{ID: "app-id", Secret: secret, Method: p.method, RedirectURIs: []string{redirect}}}
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	faults := p.faults
	if p.metadataIssuer != nil {
		faults.MetadataIssuer = p.metadataIssuer(srv.Issuer())
	}
	srv.SetFaults(faults)

	newClient := func(opts ...pkce.Option) (*pkce.Client, error) {
		cfg := &oauth2.Config{ClientID: "app-id", ClientSecret: secret, RedirectURL: redirect, Scopes: p.scopes}
		if p.issuer != nil {
			return pkce.NewFromIssuer(context.Background(), p.issuer(srv.Issuer()), cfg, opts...)
		}
		cfg.Endpoint = oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}
		if p.revoke {
			opts = append(opts, pkce.WithRevocationURL(srv.RevocationURL()))
		}
		return pkce.New(cfg, opts...)
	}
	var opts []pkce.Option
	if p.opts != nil {
		opts = p.opts(srv)
	}
	client, err := newClient(opts...)
	require.NoError(t, err)
	return &providerRun{srv: srv, client: client, newClient: newClient}
}

// signIn runs Start, the server's authorization endpoint and Finish.
func signIn(t *testing.T, srv *pkcetest.Server, client *pkce.Client, params ...pkce.StartOption) (*pkce.Token, *pkcetest.Callback, error) {
	t.Helper()
	ctx := context.Background()
	flow, err := client.Start(ctx, params...)
	require.NoError(t, err)
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	tok, err := client.Finish(req, flow)
	return tok, cb, err
}

func signInOnce(t *testing.T, srv *pkcetest.Server, client *pkce.Client) (*pkce.Token, error) {
	t.Helper()
	tok, _, err := signIn(t, srv, client)
	return tok, err
}

// assertBearerAccepted calls the server's protected resource with the
// access token.
func assertBearerAccepted(t *testing.T, srv *pkcetest.Server, accessToken string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.ResourceURL(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the server honours the access token")
}

// assertErrorWith200 exchanges a code the server does not know: the
// provider answers its error with status 200, which the package reports
// as the *OAuthError it is.
func assertErrorWith200(t *testing.T, r *providerRun) {
	t.Helper()
	flow, err := r.client.Start(context.Background())
	require.NoError(t, err)
	_, err = r.client.Exchange(context.Background(), flow, "a-code-the-server-never-issued")
	var oe *pkce.OAuthError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, http.StatusOK, oe.StatusCode, "sent with 200")
	assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))
}

// TestProvidersAreInProvidersGuide checks that the provider table of
// docs/providers.md has a row for each provider TestProviders signs in to.
func TestProvidersAreInProvidersGuide(t *testing.T) {
	guide, err := os.ReadFile(filepath.Join("docs", "providers.md"))
	require.NoError(t, err)
	for _, p := range providers {
		assert.True(t, strings.Contains(string(guide), "| "+p.name+" |"), "the provider table of docs/providers.md has a row for %s", p.name)
	}
}

// GitHub answers form-encoded unless the request asks for JSON. The test
// server does the same, and the package always asks, so GitHub needs no
// tolerance.
func TestGitHubAnswersJSONBecauseThePackageAsks(t *testing.T) {
	srv := quirkServer(t, pkcetest.Config{})
	srv.SetFaults(pkcetest.Faults{FormEncodedUnlessJSONAccepted: true, ErrorsAs200: true})

	// Without Accept: application/json, a form-encoded answer (here an
	// error, sent with 200), which the package would refuse.
	resp, err := http.PostForm(srv.TokenURL(), map[string][]string{"grant_type": {"authorization_code"},
		"code": {"unknown"}, "client_id": {"app"}, "redirect_uri": {"http://127.0.0.1/cb"}, "code_verifier": {strings.Repeat("v", 43)}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/x-www-form-urlencoded; charset=utf-8", resp.Header.Get("Content-Type"))

	client, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb",
		Endpoint: oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}})
	require.NoError(t, err)
	tok := signInWith(t, srv, client)
	assert.NotEmpty(t, tok.AccessToken, "the package asked for JSON and got it")
}

// The package does not verify ID tokens, so an id_token on refresh that
// carries the sign-in's nonce (or none) needs no tolerance: it is kept as
// the provider sent it.
func TestIDTokenWithNonceOnRefreshNeedsNoTolerance(t *testing.T) {
	// {"alg":"RS256"} . {"iss":"https://as.example","nonce":"n-0S6_WzA2Mj"} . signature
	const idToken = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FzLmV4YW1wbGUiLCJub25jZSI6Im4tMFM2X1d6QTJNaiJ9.c2ln"
	srv := quirkServer(t, pkcetest.Config{Rotate: true})
	srv.SetFaults(pkcetest.Faults{TokenTemplate: `{"access_token":{{json .AccessToken}},"token_type":"Bearer","expires_in":3600,` +
		`"refresh_token":{{json .RefreshToken}},"id_token":"` + idToken + `"}`})
	client, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}})
	require.NoError(t, err)
	flow, err := client.Start(context.Background(), pkce.Param("nonce", "n-0S6_WzA2Mj"))
	require.NoError(t, err)
	cb, err := srv.Authorize(context.Background(), flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(context.Background())
	require.NoError(t, err)
	tok, err := client.Finish(req, flow)
	require.NoError(t, err)

	refreshed, err := client.Refresh(context.Background(), tok.RefreshToken)
	require.NoError(t, err)
	assert.Equal(t, idToken, refreshed.IDToken(), "kept verbatim; verifying it is the OpenID Connect library's job")
}
