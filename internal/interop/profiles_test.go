package interop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/interop"
)

// A profile is a fosite server and a client registration set up the way one
// provider documents them (see shared/seeds), and what its token responses
// must then contain.
type profile struct {
	name   string
	server interop.Config // exactly one client
	start  []pkce.StartOption

	wantScope    string
	wantAudience []string
	wantIDToken  bool
	wantMembers  map[string]any
}

var profiles = []profile{
	{
		// Seed 000: confidential client, HTTP Basic at /v1/o/token/, S256.
		name: "CMS Blue Button 2.0: confidential client, client_secret_basic at /v1/o/token/",
		server: interop.Config{
			AuthorizePath:  "/v1/o/authorize/",
			TokenPath:      "/v1/o/token/",
			RevocationPath: "/v1/o/revoke_token/",
			ResourcePath:   "/v2/fhir/Patient/",
			Clients: []interop.Client{{
				ID:           "bb2-sandbox-app",
				Secret:       "bb2-sandbox-secret",
				Method:       interop.ClientSecretBasic,
				RedirectURIs: []string{"https://bb2-app.example/callback"},
				Scopes:       []string{"patient/Patient.read", "patient/ExplanationOfBenefit.read", "profile"},
			}},
		},
		wantScope: "patient/Patient.read patient/ExplanationOfBenefit.read profile",
	},
	{
		// Seed 001: a public client with a private-use redirect URI, an
		// audience, offline_access for a refresh token, and an id_token.
		name: "Auth0 native app: public client, audience, offline_access",
		server: interop.Config{
			AuthorizePath:  "/authorize",
			TokenPath:      "/oauth/token",
			RevocationPath: "/oauth/revoke",
			ResourcePath:   "/api/appointments",
			RefreshScope:   "offline_access",
			Clients: []interop.Client{{
				ID:           "auth0-native-app",
				Method:       interop.None,
				RedirectURIs: []string{"com.myclientapp://myclientapp.com/callback"},
				Scopes:       []string{"openid", "profile", "offline_access", "appointments"},
				Audience:     []string{"appointments:api"},
			}},
		},
		start:        []pkce.StartOption{pkce.Param("audience", "appointments:api")},
		wantScope:    "openid profile offline_access appointments",
		wantAudience: []string{"appointments:api"},
		wantIDToken:  true,
	},
	{
		// Seed 002: PKCE with a client secret in HTTP Basic (curl --user),
		// iss on the redirect, a vendor "claims" member and an empty scope.
		name:   "Pagero: client secret in HTTP Basic, iss on the redirect",
		server: pageroConfig(interop.ClientSecretBasic),
		wantMembers: map[string]any{
			"claims": "publicid",
		},
	},
	{
		// Seed 002 again: the same server takes the credentials in the body.
		name:   "Pagero: client secret in the body, iss on the redirect",
		server: pageroConfig(interop.ClientSecretPost),
		wantMembers: map[string]any{
			"claims": "publicid",
		},
	},
	{
		// Seed 003: the textbook flow; the token request carries
		// client_id and client_secret in the body.
		name: "generic: state round trip and refresh grant",
		server: interop.Config{
			Clients: []interop.Client{{
				ID:           "generic-app",
				Secret:       "generic-secret",
				Method:       interop.ClientSecretPost,
				RedirectURIs: []string{"https://app.example/callback"},
				Scopes:       []string{"photos"},
			}},
		},
		wantScope: "photos",
	},
	{
		// Seed 004: tenant-scoped endpoints, credentials in the body, and a
		// refresh that returns a new refresh token.
		name: "The Identity Hub: tenant-scoped endpoints, client_secret_post",
		server: interop.Config{
			AuthorizePath:  "/contoso/oauth2/v1/auth/",
			TokenPath:      "/contoso/oauth2/v1/token/",
			RevocationPath: "/contoso/oauth2/v1/revoke/",
			ResourcePath:   "/contoso/api/v1/me",
			Clients: []interop.Client{{
				ID:           "identity-hub-app",
				Secret:       "identity-hub-secret",
				Method:       interop.ClientSecretPost,
				RedirectURIs: []string{"https://hub-app.example/oauth/callback/"},
				Scopes:       []string{"profile", "email"},
			}},
		},
		wantScope: "profile email",
	},
}

func pageroConfig(method string) interop.Config {
	return interop.Config{
		AuthorizePath:  "/oauth/v2/oauth-authorize",
		TokenPath:      "/oauth/v2/oauth-token",
		RevocationPath: "/oauth/v2/oauth-revoke",
		ResourcePath:   "/someresource",
		SendIssuer:     true,
		TokenMembers:   map[string]any{"claims": "publicid"},
		Clients: []interop.Client{{
			ID:           "pagero-client-id",
			Secret:       "pagero-client-secret",
			Method:       method,
			RedirectURIs: []string{"https://urltoclient:4443"},
		}},
	}
}

// TestProviderProfiles runs the whole life of a grant against fosite for
// each provider: authorization request, callback, code exchange, a call to
// the protected resource, a rotating refresh, a refreshing TokenSource, and
// the server's refusal of the refresh token that rotation replaced.
func TestProviderProfiles(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			srv := start(t, p.server)
			reg := p.server.Clients[0]
			var opts []pkce.Option
			if p.server.SendIssuer {
				opts = append(opts, pkce.WithIssuer(srv.Issuer()))
			}
			client := newClient(t, srv, reg, opts...)
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())

			// The redirect back (RFC 6749 §4.1.2; RFC 9207 §2).
			f, loc := signIn(t, srv, client, p.start...)
			q := loc.Query()
			assert.Equal(t, reg.RedirectURIs[0], withoutQuery(loc))
			assert.Equal(t, f.State, q.Get("state"), "state comes back unchanged")
			assert.NotEmpty(t, q.Get("code"))
			if p.server.SendIssuer {
				assert.Equal(t, srv.Issuer(), q.Get("iss"))
			} else {
				assert.NotContains(t, q, "iss")
			}

			// The code exchange (RFC 6749 §4.1.3, RFC 7636 §4.5).
			tok, err := client.Finish(callback(ctx, loc), f)
			require.NoError(t, err)
			require.Equal(t, 1, srv.TokenRequests())
			assert.NotEmpty(t, tok.AccessToken)
			assert.Equal(t, "bearer", tok.Extra("token_type"), "fosite sends token_type in lower case")
			assert.Equal(t, "Bearer", tok.Type())
			assert.Positive(t, tok.ExpiresIn)
			assert.True(t, tok.Expiry.After(time.Now()))
			require.NotEmpty(t, tok.RefreshToken)
			assert.Equal(t, p.wantScope, tok.Scope())
			assert.Equal(t, p.wantIDToken, tok.IDToken() != "", "id_token present")
			if p.wantIDToken {
				claims := idTokenClaims(t, tok.IDToken())
				assert.Equal(t, srv.Issuer(), claims["iss"])
				assert.Equal(t, interop.Subject, claims["sub"])
				assert.Contains(t, claims["aud"], reg.ID)
			}
			for k, v := range p.wantMembers {
				assert.Equal(t, v, tok.Extra(k), "member %q kept", k)
			}
			assert.NotContains(t, fmt.Sprint(tok), tok.AccessToken)

			// The protected resource accepts the bearer token (RFC 6750 §2.1).
			status, res := callResource(t, bearer(srv, tok.AccessToken), srv)
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, interop.Subject, res.Subject)
			assert.Equal(t, reg.ID, res.ClientID)
			assert.Equal(t, p.wantScope, res.Scope)
			assert.ElementsMatch(t, p.wantAudience, res.Audience)

			// A refresh that rotates the refresh token (RFC 6749 §6, §10.4).
			next, err := client.Refresh(ctx, tok.RefreshToken)
			require.NoError(t, err)
			assert.NotEqual(t, tok.AccessToken, next.AccessToken)
			require.NotEmpty(t, next.RefreshToken)
			assert.NotEqual(t, tok.RefreshToken, next.RefreshToken, "fosite rotates refresh tokens")
			assert.Equal(t, p.wantScope, next.Scope())
			assert.Equal(t, p.wantIDToken, next.IDToken() != "", "id_token on refresh")
			for k, v := range p.wantMembers {
				assert.Equal(t, v, next.Extra(k), "member %q kept on refresh", k)
			}
			status, _ = callResource(t, bearer(srv, next.AccessToken), srv)
			assert.Equal(t, http.StatusOK, status)
			status, _ = callResource(t, bearer(srv, tok.AccessToken), srv)
			assert.Equal(t, http.StatusUnauthorized, status, "fosite revokes the access token of a rotated refresh token")

			// A TokenSource with an expired token refreshes once, and the
			// hook sees the new token before anyone uses it.
			expired := *next.Token
			expired.Expiry = time.Now().Add(-time.Minute)
			var saved []*pkce.Token
			ts, err := client.TokenSource(&expired, pkce.OnRefresh(func(_ context.Context, t *pkce.Token) error {
				saved = append(saved, t)
				return nil
			}))
			require.NoError(t, err)
			got, err := ts.TokenContext(ctx)
			require.NoError(t, err)
			require.Len(t, saved, 1)
			assert.Equal(t, saved[0].AccessToken, got.AccessToken)
			assert.Equal(t, saved[0].RefreshToken, got.RefreshToken)
			assert.NotEqual(t, next.RefreshToken, got.RefreshToken, "rotated again")
			again, err := ts.TokenContext(ctx)
			require.NoError(t, err)
			assert.Equal(t, got.AccessToken, again.AccessToken)
			assert.Len(t, saved, 1, "a valid token is handed out without another refresh")
			status, _ = callResource(t, ts.Client(ctx), srv)
			assert.Equal(t, http.StatusOK, status)

			// The refresh token that rotation replaced is refused, and the
			// user must sign in again.
			_, err = client.Refresh(ctx, tok.RefreshToken)
			assertTokenError(t, err, pkce.ErrorCode("invalid_grant"), http.StatusBadRequest, "refresh")
			assert.ErrorIs(t, err, pkce.ErrSignInRequired)
			assert.NotErrorIs(t, err, pkce.ErrTryLater)
			assert.NotContains(t, err.Error(), tok.RefreshToken)

			// fosite takes the reuse for theft and revokes the whole grant,
			// as RFC 9700 §4.14.2 recommends: the newest tokens die too.
			_, err = client.Refresh(ctx, got.RefreshToken)
			assertTokenError(t, err, pkce.ErrorCode("invalid_grant"), http.StatusBadRequest, "refresh")
			status, _ = callResource(t, bearer(srv, got.AccessToken), srv)
			assert.Equal(t, http.StatusUnauthorized, status)

			// Signing out revokes the refresh token at the server (RFC 7009)
			// and forgets it.
			rc := revokingClient(t, srv, reg)
			fresh := signedIn(t, srv, rc)
			src, err := rc.TokenSource(fresh.Token)
			require.NoError(t, err)
			require.NoError(t, src.SignOut(ctx))
			_, err = src.TokenContext(ctx)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired)
			_, err = rc.Refresh(ctx, fresh.RefreshToken)
			assertTokenError(t, err, pkce.ErrorCode("invalid_grant"), http.StatusBadRequest, "refresh")
		})
	}
}

// idTokenClaims decodes the payload of a compact JWS without verifying its
// signature, which the package leaves to OpenID Connect libraries.
func idTokenClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3, "a compact JWS (RFC 7515 §7.1)")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	return claims
}
