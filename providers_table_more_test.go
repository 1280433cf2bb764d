package pkce_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/tolerate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// providersSecond is the second part of the providers table.
var providersSecond = []providerRow{
	{
		name: "Sign in with Apple",
		docs: []string{
			"https://developer.apple.com/documentation/signinwithapplerestapi/request-an-authorization-to-the-sign-in-with-apple-server",
			"https://developer.apple.com/documentation/signinwithapplerestapi/generate-and-validate-tokens",
			"https://developer.apple.com/documentation/signinwithapplerestapi/revoke-tokens",
		},
		// client_secret is a JWT the app signs, sent in the body; name
		// and email need response_mode=form_post.
		server:  pkcetest.Config{AuthMethodsSupported: []pkcetest.AuthMethod{pkcetest.MethodPost}},
		faults:  pkcetest.Faults{TokenTemplate: appleTokens},
		method:  pkcetest.MethodPost,
		issuer:  same,
		opts:    func(*pkcetest.Server) []pkce.Option { return []pkce.Option{pkce.WithFormPost()} },
		scopes:  []string{"name", "email"},
		refresh: refreshKeepsToken,
		revoke:  true,
		check: func(t *testing.T, r *providerRun) {
			assert.True(t, r.callback.FormPost, "the code comes in a POST form")
			assert.Equal(t, "form_post", r.srv.LastAuthorizationRequest().Get("response_mode"))
			assert.NotEmpty(t, r.tok.IDToken())
		},
	},
	{
		name: "Salesforce",
		docs: []string{
			"https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm",
			"https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm",
			"https://help.salesforce.com/s/articleView?id=sf.remoteaccess_revoke_token.htm",
		},
		faults:  pkcetest.Faults{TokenTemplate: salesforceTokens},
		method:  pkcetest.MethodPost,
		issuer:  same,
		opts:    func(*pkcetest.Server) []pkce.Option { return []pkce.Option{pkce.WithAuthMethod(pkce.AuthSecretPost)} },
		scopes:  []string{"api", "refresh_token", "openid"},
		refresh: refreshKeepsToken,
		revoke:  true,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, "https://mycompany.my.salesforce.com", r.tok.Extra("instance_url"), "instance_url is reachable")
			assert.Equal(t, "1278448101416", r.tok.Extra("issued_at"), "issued_at stays a string")
			assert.True(t, r.tok.Expiry.IsZero(), "no expires_in: the lifetime is the org's session timeout")
			assert.Equal(t, "https://mycompany.my.salesforce.com", r.refreshed.Extra("instance_url"))
		},
	},
	{
		name: "Slack",
		docs: []string{
			"https://docs.slack.dev/reference/methods/oauth.v2.access",
			"https://docs.slack.dev/authentication/using-token-rotation",
		},
		// token_type "bot"; errors as {"ok":false,"error":...} with 200.
		server:  pkcetest.Config{Rotate: true},
		faults:  pkcetest.Faults{TokenTemplate: slackTokens, ErrorsAs200: true},
		method:  pkcetest.MethodBasic,
		opts:    func(*pkcetest.Server) []pkce.Option { return []pkce.Option{tolerate.TokenTypes("bot")} },
		scopes:  []string{"commands", "incoming-webhook"},
		refresh: refreshRotatesReuseRefused,
		check: func(t *testing.T, r *providerRun) {
			user, ok := r.tok.Extra("authed_user").(map[string]any)
			require.True(t, ok, "authed_user is a nested object: %T", r.tok.Extra("authed_user"))
			assert.Equal(t, "xoxp-1234", user["access_token"], "the user token is nested")
			assert.Equal(t, "user", user["token_type"])
			assert.Equal(t, true, r.tok.Extra("ok"))
			assert.Equal(t, "bot", r.tok.Type())
			assertErrorWith200(t, r)

			strict, err := r.newClient(pkce.WithAuthMethod(pkce.AuthSecretBasic))
			require.NoError(t, err)
			_, err = signInOnce(t, r.srv, strict)
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse, `without tolerate.TokenTypes("bot") the bot token is refused`)
		},
	},
	{
		name: "Supabase Auth (OAuth 2.1 server)",
		docs: []string{
			"https://supabase.com/docs/guides/auth/oauth-server/getting-started",
			"https://supabase.com/docs/guides/auth/oauth-server/oauth-flows",
		},
		// Issuer https://{project-ref}.supabase.co/auth/v1, metadata at
		// the RFC 8414 location. The token answer is the oauth-flows
		// page's: token_type "bearer", expires_in 3600, the requested
		// scope, and an id_token on every code exchange. Its refresh
		// example carries a new refresh token, but the page says only that
		// refresh tokens may be rotated, so the row does not assert reuse.
		server:   pkcetest.Config{PathPrefix: "/auth/v1", Rotate: true},
		faults:   pkcetest.Faults{TokenTemplate: supabaseAuthTokens},
		method:   pkcetest.MethodNone,
		redirect: "http://127.0.0.1/callback",
		issuer:   same,
		scopes:   []string{"openid", "email"},
		refresh:  refreshRotates,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, []string{"/.well-known/oauth-authorization-server/auth/v1"}, r.srv.MetadataRequests(),
				"RFC 8414 metadata is found at the first place asked")
			assert.Equal(t, "bearer", r.tok.TokenType, "compared case-insensitively")
			assert.False(t, r.tok.Expiry.IsZero(), "expires_in 3600")
			assert.Equal(t, "openid email", r.tok.Scope())
			assert.NotEmpty(t, r.tok.IDToken(), "an id_token comes with every code exchange")
		},
	},
	{
		name: "Supabase Management API (OAuth apps)",
		docs: []string{
			"https://supabase.com/docs/guides/integrations/build-a-supabase-oauth-integration",
			"https://api.supabase.com/api/v1#tag/oauth/POST/v1/oauth/token",
		},
		// The token endpoint answers 201 Created.
		faults: pkcetest.Faults{TokenSuccessStatus: http.StatusCreated},
		method: pkcetest.MethodPost,
		opts: func(*pkcetest.Server) []pkce.Option {
			return []pkce.Option{pkce.WithAuthMethod(pkce.AuthSecretPost), tolerate.TokenStatus(http.StatusCreated)}
		},
		refresh: refreshKeepsToken,
		check: func(t *testing.T, r *providerRun) {
			strict, err := r.newClient(pkce.WithAuthMethod(pkce.AuthSecretPost))
			require.NoError(t, err)
			_, err = signInOnce(t, r.srv, strict)
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse, "without tolerate.TokenStatus(201) the answer is refused")
		},
	},
	{
		name: "ZITADEL",
		docs: []string{
			"https://zitadel.com/docs/apis/openidoauth/endpoints",
			"https://zitadel.com/docs/guides/integrate/login/oidc/login-users",
			"https://help.zitadel.com/how-to-enable-and-receive-refresh-tokens",
		},
		// ZITADEL issues rotating refresh tokens: a refresh returns a new
		// one (help article). No page read says what happens to the
		// replaced one, so the row does not assert reuse (refreshRotates).
		server:   pkcetest.Config{Rotate: true},
		method:   pkcetest.MethodNone,
		redirect: "http://127.0.0.1/callback",
		issuer:   same,
		scopes:   []string{"openid", "profile", "offline_access"},
		refresh:  refreshRotates,
		revoke:   true,
	},
	{
		name: "authentik",
		docs: []string{"https://docs.goauthentik.io/docs/add-secure-apps/providers/oauth2/"},
		// Issuer https://{host}/application/o/{slug}/, with the slash.
		server:         pkcetest.Config{PathPrefix: "/application/o/my-app", Rotate: true},
		metadataIssuer: slash,
		method:         pkcetest.MethodBasic,
		issuer:         slash,
		scopes:         []string{"openid", "profile", "offline_access"},
		refresh:        refreshRotates,
		revoke:         true,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, slash(r.srv.Issuer()), r.client.Metadata().Issuer)
		},
	},
	{
		name: "Ory (Hydra, Ory Network)",
		docs: []string{
			"https://www.ory.sh/docs/oauth2-oidc/authorization-code-flow",
			"https://www.ory.sh/docs/oauth2-oidc/refresh-token-grant",
			"https://www.ory.sh/docs/hydra/guides/graceful-token-refresh",
			"https://docs.rs/ory-client/1.1.7/ory_client/apis/o_auth2_api/fn.revoke_o_auth2_token.html",
		},
		// token_type "bearer" in lower case. Refresh tokens are single-use:
		// each refresh returns a new one and invalidates the one used
		// (refresh-token-grant page). Reusing one after the grace period,
		// which is off unless configured, revokes every token of the
		// consent (graceful-token-refresh page). The pages do not give the
		// error code; fosite, Ory's OAuth2 engine, answers invalid_grant
		// (internal/interop/profiles_test.go). Access and refresh tokens
		// can be revoked by their client (revokeOAuth2Token, whose SDK page
		// is cited).
		server:  pkcetest.Config{Rotate: true},
		faults:  pkcetest.Faults{TokenType: "bearer"},
		method:  pkcetest.MethodBasic,
		issuer:  same,
		scopes:  []string{"openid", "offline_access"},
		refresh: refreshRotatesReuseRefused,
		revoke:  true,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, "bearer", r.tok.TokenType, "compared case-insensitively")
			_, err := r.client.Refresh(context.Background(), r.tok.RefreshToken)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the replaced refresh token is refused")
			_, err = r.client.Refresh(context.Background(), r.refreshed.RefreshToken)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired, "reuse detection revoked the newest refresh token too")
		},
	},

	// The seed providers (shared/seeds).
	{
		name:    "CMS Blue Button 2.0",
		docs:    []string{"https://bluebutton.cms.gov/api-documentation/", "shared/seeds/000_93768e669867e10c.txt"},
		server:  pkcetest.Config{PathPrefix: "/v1/o"},
		method:  pkcetest.MethodBasic,
		scopes:  []string{"patient/Patient.read"},
		refresh: refreshKeepsToken,
		check: func(t *testing.T, r *providerRun) {
			assert.NotEmpty(t, r.srv.LastTokenRequest().Authorization, "Basic is the default with a secret")
			// Leaving the secret out gets invalid_client.
			public, err := pkce.New(&oauth2.Config{ClientID: "app-id", RedirectURL: "https://app.example/callback",
				Endpoint: oauth2.Endpoint{AuthURL: r.srv.AuthURL(), TokenURL: r.srv.TokenURL()}})
			require.NoError(t, err)
			_, err = signInOnce(t, r.srv, public)
			assert.ErrorIs(t, err, pkce.ErrorCode("invalid_client"))
		},
	},
	{
		name:     "Auth0 native app",
		docs:     []string{"https://auth0.com/docs/get-started/authentication-and-authorization-flow/authorization-code-flow-with-pkce", "shared/seeds/001_6fbea552b9458534.txt"},
		server:   pkcetest.Config{Rotate: true},
		method:   pkcetest.MethodNone,
		redirect: "http://127.0.0.1/callback",
		scopes:   []string{"openid", "offline_access"},
		params:   []pkce.StartOption{pkce.Param("audience", "https://api.example.com")},
		refresh:  refreshRotates,
		check: func(t *testing.T, r *providerRun) {
			assert.NotEmpty(t, r.tok.IDToken())
		},
	},
	{
		name:    "Pagero",
		docs:    []string{"shared/seeds/002_87056e2ab66e0d4c.txt"},
		server:  pkcetest.Config{SendIssuer: true},
		method:  pkcetest.MethodBasic,
		opts:    func(srv *pkcetest.Server) []pkce.Option { return []pkce.Option{pkce.WithIssuer(srv.Issuer())} },
		refresh: refreshKeepsToken,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, "publicid", r.tok.Extra("claims"))
		},
	},
	{
		name:    "any RFC 6749 server",
		docs:    []string{"https://www.rfc-editor.org/rfc/rfc6749", "shared/seeds/003_0b2d98ee265a0e6c.txt"},
		method:  pkcetest.MethodPost,
		opts:    func(*pkcetest.Server) []pkce.Option { return []pkce.Option{pkce.WithAuthMethod(pkce.AuthSecretPost)} },
		scopes:  []string{"photos"},
		refresh: refreshKeepsToken,
	},
	{
		name:    "The Identity Hub",
		docs:    []string{"shared/seeds/004_51ae12770b27fcb0.txt"},
		server:  pkcetest.Config{PathPrefix: "/acme/oauth2/v1", Rotate: true},
		method:  pkcetest.MethodPost,
		opts:    func(*pkcetest.Server) []pkce.Option { return []pkce.Option{pkce.WithAuthMethod(pkce.AuthSecretPost)} },
		refresh: refreshRotates,
	},
}
