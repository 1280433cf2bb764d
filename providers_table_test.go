package pkce_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pkcekit/pkce/tolerate"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// providers is the table of TestProviders, kept in two parts that each
// fit a file.
var providers = append(providersFirst, providersSecond...)

var providersFirst = []providerRow{
	{
		name: "Google",
		docs: []string{
			"https://developers.google.com/identity/protocols/oauth2/web-server",
			"https://developers.google.com/identity/openid-connect/reference",
		},
		// The discovery document lists both secret methods and sets
		// authorization_response_iss_parameter_supported.
		server: pkcetest.Config{SendIssuer: true, AuthMethodsSupported: []pkcetest.AuthMethod{pkcetest.MethodPost, pkcetest.MethodBasic}},
		faults: pkcetest.Faults{TokenTemplate: googleTokens},
		method: pkcetest.MethodBasic,
		issuer: same,
		scopes: []string{"openid", "email"},
		params: []pkce.StartOption{pkce.Param("access_type", "offline"), pkce.Param("prompt", "consent")},
		// No rotation: the refresh answer has no refresh_token.
		refresh: refreshKeepsToken,
		revoke:  true,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, "offline", r.srv.LastAuthorizationRequest().Get("access_type"))
			assert.NotEmpty(t, r.callback.Params.Get("iss"), "Google sends iss; the metadata says so")
			assert.Equal(t, float64(604799), r.tok.Extra("refresh_token_expires_in"))
			assert.NotEmpty(t, r.tok.IDToken())
		},
	},
	{
		name: "Microsoft Entra ID",
		docs: []string{
			"https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow",
			"https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc",
		},
		// A tenant-specific issuer: https://login.microsoftonline.com/{tenant-id}/v2.0.
		server: pkcetest.Config{PathPrefix: "/11111111-2222-3333-4444-555555555555/v2.0", Rotate: true,
			AuthMethodsSupported: []pkcetest.AuthMethod{pkcetest.MethodPost, "private_key_jwt", pkcetest.MethodBasic}},
		faults:  pkcetest.Faults{TokenTemplate: entraTokens},
		method:  pkcetest.MethodBasic,
		issuer:  same,
		scopes:  []string{"openid", "offline_access", "https://graph.microsoft.com/User.Read"},
		refresh: refreshRotates,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, float64(3599), r.tok.Extra("ext_expires_in"), "ext_expires_in is kept")
			assert.Equal(t, float64(3599), r.refreshed.Extra("ext_expires_in"))
		},
	},
	{
		name: "GitHub OAuth app",
		docs: []string{
			"https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps",
			"https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication",
		},
		// Form-encoded unless asked for JSON, errors with 200, no
		// expires_in and no refresh token, comma-separated scopes.
		faults: pkcetest.Faults{TokenTemplate: githubOAuthAppTokens, FormEncodedUnlessJSONAccepted: true, ErrorsAs200: true},
		method: pkcetest.MethodPost,
		opts:   func(*pkcetest.Server) []pkce.Option { return []pkce.Option{pkce.WithAuthMethod(pkce.AuthSecretPost)} },
		scopes: []string{"repo", "gist"},
		check: func(t *testing.T, r *providerRun) {
			assert.True(t, r.tok.Expiry.IsZero(), "GitHub OAuth app tokens do not expire")
			assert.Equal(t, "repo,gist", r.tok.Scope())
			src, err := r.client.TokenSource(r.tok.Token)
			require.NoError(t, err)
			got, err := src.Token()
			require.NoError(t, err)
			assert.Equal(t, r.tok.AccessToken, got.AccessToken, "a token without expiry is used as it is")
			assertErrorWith200(t, r)
		},
	},
	{
		name: "GitHub App (user access token)",
		docs: []string{
			"https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app",
			"https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens",
		},
		// The refreshing page: each refresh returns a new user access
		// token and a new refresh token, and the refresh token used no
		// longer works. It does not document the error GitHub answers a
		// used refresh token with, so the row asserts that the reuse fails
		// and not how the package classifies it (refreshRotates, not
		// refreshRotatesReuseRefused).
		server:  pkcetest.Config{Rotate: true},
		faults:  pkcetest.Faults{TokenTemplate: githubAppTokens, FormEncodedUnlessJSONAccepted: true, ErrorsAs200: true},
		method:  pkcetest.MethodPost,
		opts:    func(*pkcetest.Server) []pkce.Option { return []pkce.Option{pkce.WithAuthMethod(pkce.AuthSecretPost)} },
		refresh: refreshRotates,
		check: func(t *testing.T, r *providerRun) {
			assert.False(t, r.tok.Expiry.IsZero(), "expiring user tokens: expires_in 28800")
			assert.Equal(t, float64(15897600), r.tok.Extra("refresh_token_expires_in"))
			assert.Equal(t, "", r.tok.Scope(), "GitHub Apps have no scopes")
			_, err := r.client.Refresh(context.Background(), r.tok.RefreshToken)
			assert.Error(t, err, "a refresh token that was used no longer works")
			assertErrorWith200(t, r)
		},
	},
	{
		name: "GitLab",
		docs: []string{"https://docs.gitlab.com/api/oauth2/"},
		server: pkcetest.Config{Rotate: true,
			AuthMethodsSupported: []pkcetest.AuthMethod{pkcetest.MethodBasic, pkcetest.MethodPost}},
		faults:  pkcetest.Faults{TokenTemplate: gitlabTokens},
		method:  pkcetest.MethodBasic,
		issuer:  same,
		scopes:  []string{"openid", "read_user"},
		refresh: refreshRotates,
		revoke:  true,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, float64(1607635748), r.tok.Extra("created_at"), "created_at is kept")
		},
	},
	{
		name: "Okta",
		docs: []string{
			"https://developer.okta.com/docs/guides/implement-grant-type/authcodepkce/main/",
			"https://developer.okta.com/docs/guides/refresh-tokens/main/",
			"https://developer.okta.com/docs/guides/refresh-tokens/refresh-token-rotation/",
			"https://developer.okta.com/docs/guides/revoke-tokens/main/",
		},
		// A custom authorization server: https://{yourOktaDomain}/oauth2/default.
		// Rotation is the default for SPAs, which are public clients like
		// this one (refresh-token-rotation page). The replaced refresh token
		// stays valid for the grace period configured on the app, and its
		// reuse after that is detected and invalidates the newest tokens;
		// the page gives neither a fixed grace period nor the error answer,
		// so the row does not assert reuse (refreshRotates).
		server:   pkcetest.Config{PathPrefix: "/oauth2/default", Rotate: true},
		method:   pkcetest.MethodNone,
		redirect: "http://127.0.0.1/callback",
		issuer:   same,
		scopes:   []string{"openid", "profile", "offline_access"},
		refresh:  refreshRotates,
		revoke:   true,
		check: func(t *testing.T, r *providerRun) {
			assert.Empty(t, r.srv.LastTokenRequest().Authorization, "a public client sends no credentials")
		},
	},
	{
		name: "Auth0",
		docs: []string{
			"https://auth0.com/docs/get-started/authentication-and-authorization-flow/authorization-code-flow-with-pkce/call-your-api-using-the-authorization-code-flow-with-pkce",
			"https://auth0.com/docs/secure/tokens/refresh-tokens/refresh-token-rotation",
			"https://auth0.com/docs/tokens/guides/configure-refresh-token-rotation",
			"https://support.auth0.com/center/s/article/troubleshoot-refresh-token-unknown-or-invalid-before-expiry-403-unknown-or-invalid-refresh-token",
			"https://auth0.com/docs/api/authentication#revoke-refresh-token",
		},
		// The issuer is https://{tenant}.auth0.com/, with the slash.
		metadataIssuer: slash,
		server:         pkcetest.Config{Rotate: true},
		method:         pkcetest.MethodPost,
		issuer:         slash,
		scopes:         []string{"openid", "profile", "offline_access"},
		params:         []pkce.StartOption{pkce.Param("audience", "https://api.example.com")},
		refresh:        refreshRotatesReuseRefused,
		revoke:         true,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, "https://api.example.com", r.srv.LastAuthorizationRequest().Get("audience"))
			assert.True(t, strings.HasSuffix(r.client.Metadata().Issuer, "/"))
			// A reused rotated refresh token is answered 403 with this
			// invalid_grant body (Auth0 support article, cited above), once
			// the rotation overlap period configured on the app, if any,
			// has passed.
			r.srv.SetFaults(pkcetest.Faults{RefreshRaw: &pkcetest.RawResponse{Status: http.StatusForbidden,
				ContentType: "application/json", Body: `{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}`}})
			defer r.srv.SetFaults(pkcetest.Faults{MetadataIssuer: slash(r.srv.Issuer())})
			_, err := r.client.Refresh(context.Background(), r.tok.RefreshToken)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired, "403 invalid_grant means sign in again")
			assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))
		},
	},
	{
		name: "Auth0, issuer configured without the slash",
		docs: []string{
			"https://auth0.com/docs/get-started/applications/configure-applications-with-oidc-discovery",
		},
		metadataIssuer: slash,
		server:         pkcetest.Config{Rotate: true},
		method:         pkcetest.MethodPost,
		issuer:         same,
		opts:           func(*pkcetest.Server) []pkce.Option { return []pkce.Option{tolerate.IssuerTrailingSlash()} },
		scopes:         []string{"openid", "offline_access"},
		refresh:        refreshRotates,
		check: func(t *testing.T, r *providerRun) {
			_, err := r.newClient()
			assert.ErrorIs(t, err, pkce.ErrIssuerMismatch, "without the option, the slash is a different issuer")
		},
	},
	{
		name: "Keycloak",
		docs: []string{
			"https://www.keycloak.org/securing-apps/oidc-layers",
			"https://www.keycloak.org/docs/latest/server_admin/index.html#_oidc-auth-flows",
			"https://keycloak.gitbooks.io/documentation/server_admin/topics/sessions/timeouts.html",
		},
		// Realm issuer https://{host}/realms/{realm}; iss on every
		// authorization response (RFC 9207). The realm has Revoke Refresh
		// Token on (Realm Settings, Tokens): each refresh then returns
		// another refresh token and the one used is single-use (timeouts
		// page). Without that setting the docs read do not say what a
		// refresh returns, and no page read gives the error for a reused
		// one, so the row asserts the rotation only (refreshRotates).
		server:  pkcetest.Config{PathPrefix: "/realms/myrealm", SendIssuer: true, Rotate: true},
		faults:  pkcetest.Faults{TokenTemplate: keycloakTokens},
		method:  pkcetest.MethodBasic,
		issuer:  same,
		scopes:  []string{"openid"},
		refresh: refreshRotates,
		revoke:  true,
		check: func(t *testing.T, r *providerRun) {
			assert.Equal(t, r.srv.Issuer(), r.callback.Params.Get("iss"))
			assert.Equal(t, float64(1800), r.tok.Extra("refresh_expires_in"))
			assert.Equal(t, float64(0), r.tok.Extra("not-before-policy"))
		},
	},
	{
		name: "Amazon Cognito",
		docs: []string{
			"https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html",
			"https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html",
			"https://docs.aws.amazon.com/cognito/latest/developerguide/revocation-endpoint.html",
		},
		// Issuer https://cognito-idp.{region}.amazonaws.com/{userPoolId}.
		server:  pkcetest.Config{PathPrefix: "/us-east-1_EXAMPLE"},
		faults:  pkcetest.Faults{TokenTemplate: cognitoTokens},
		method:  pkcetest.MethodBasic,
		issuer:  same,
		scopes:  []string{"openid", "email"},
		refresh: refreshKeepsToken,
		revoke:  true,
		check: func(t *testing.T, r *providerRun) {
			assert.NotEmpty(t, r.refreshed.IDToken(), "a refresh brings a new id_token")
		},
	},
}
