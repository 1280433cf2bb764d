package pkce_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// Behaviours of widely deployed authorization servers, each reproduced on
// the public test server.

func quirkServer(t *testing.T, cfg pkcetest.Config) *pkcetest.Server {
	t.Helper()
	if cfg.Clients == nil {
		cfg.Clients = []pkcetest.Client{{ID: "app", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/cb"}}}
	}
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

func publicConfig() *oauth2.Config {
	return &oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb"}
}

// signInWith runs a whole sign-in with client against srv.
func signInWith(t *testing.T, srv *pkcetest.Server, client *pkce.Client) *pkce.Token {
	t.Helper()
	ctx := context.Background()
	flow, err := client.Start(ctx)
	require.NoError(t, err)
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	tok, err := client.Finish(req, flow)
	require.NoError(t, err)
	return tok
}

func TestDeadRefreshTokenAnsweredWith400AndNoBody(t *testing.T) {
	srv := quirkServer(t, pkcetest.Config{})
	client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), publicConfig())
	require.NoError(t, err)
	tok := signInWith(t, srv, client)
	srv.SetFaults(pkcetest.Faults{RefreshRaw: &pkcetest.RawResponse{Status: http.StatusBadRequest}})

	_, err = client.Refresh(context.Background(), tok.RefreshToken)
	require.Error(t, err)
	assert.ErrorIs(t, err, pkce.ErrSignInRequired, "a 4xx without an error object is terminal")
	assert.NotErrorIs(t, err, pkce.ErrTryLater)

	expired := *tok.Token
	expired.Expiry = expired.Expiry.Add(-24 * 60 * 60e9)
	src, err := client.TokenSource(&expired)
	require.NoError(t, err)
	before := srv.RefreshRequests()
	for range 3 {
		_, err = src.Token()
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
	}
	assert.Equal(t, before+1, srv.RefreshRequests(), "the source stops at the first terminal answer instead of retrying the dead token")
}

func TestDiscoveryFallsBackToOpenIDConnect(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults pkcetest.Faults
	}{
		{"RFC 8414 location answers 404", pkcetest.Faults{HideOAuthMetadata: true}},
		{"RFC 8414 location answers 401 with JSON", pkcetest.Faults{OAuthMetadataRaw: &pkcetest.RawResponse{
			Status: http.StatusUnauthorized, ContentType: "application/json", Body: `{"error":"unauthorized"}`}}},
		{"RFC 8414 location answers a login page", pkcetest.Faults{OAuthMetadataRaw: &pkcetest.RawResponse{
			ContentType: "text/html; charset=utf-8", Body: "<!DOCTYPE html><title>Sign in</title>"}}},
		{"RFC 8414 location answers JSON labelled as text", pkcetest.Faults{OAuthMetadataRaw: &pkcetest.RawResponse{
			ContentType: "text/plain", Body: `{"issuer":"x"}`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := quirkServer(t, pkcetest.Config{PathPrefix: "/tenant"})
			srv.SetFaults(tc.faults)
			md, err := pkce.Discover(context.Background(), srv.Issuer())
			require.NoError(t, err)
			assert.Equal(t, srv.Issuer(), md.Issuer)
			assert.Equal(t, []string{urlPath(t, srv.MetadataURL()), urlPath(t, srv.OpenIDConfigurationURL())}, srv.MetadataRequests())
		})
	}
}

func urlPath(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Path
}

func TestDiscoveryDoesNotFallBackOnServerErrors(t *testing.T) {
	srv := quirkServer(t, pkcetest.Config{})
	srv.SetFaults(pkcetest.Faults{OAuthMetadataRaw: &pkcetest.RawResponse{Status: http.StatusServiceUnavailable,
		ContentType: "text/plain", Body: "maintenance"}})
	_, err := pkce.Discover(context.Background(), srv.Issuer())
	require.Error(t, err)
	var re *pkce.ResponseError
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
	assert.Equal(t, http.StatusServiceUnavailable, re.StatusCode)
	assert.Len(t, srv.MetadataRequests(), 1, "a 5xx is a failure to report, not a reason to look elsewhere")
}

func TestDiscoveryFollowsSameOriginRedirects(t *testing.T) {
	srv := quirkServer(t, pkcetest.Config{})
	srv.SetFaults(pkcetest.Faults{MetadataRedirectToSlash: true})
	md, err := pkce.Discover(context.Background(), srv.Issuer())
	require.NoError(t, err)
	assert.Equal(t, srv.Issuer(), md.Issuer, "the issuer check stays exact after a redirect")
}

func TestDiscoveryRefusesRedirectsToAnotherOrigin(t *testing.T) {
	elsewhere := quirkServer(t, pkcetest.Config{})
	var issuer string
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.MetadataURL(), http.StatusMovedPermanently)
	}))
	t.Cleanup(redirector.Close)
	issuer = redirector.URL

	_, err := pkce.Discover(context.Background(), issuer)
	require.Error(t, err)
	assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
	assert.Contains(t, err.Error(), elsewhere.MetadataURL(), "the error names the redirect's target")
	assert.Empty(t, elsewhere.MetadataRequests(), "the other origin is never asked")
}

func TestPublicClientUsesNoneWhenMetadataListsOnlySecretMethods(t *testing.T) {
	srv := quirkServer(t, pkcetest.Config{AuthMethodsSupported: []pkcetest.AuthMethod{pkcetest.MethodBasic}})
	client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), publicConfig())
	require.NoError(t, err)
	tok := signInWith(t, srv, client)
	assert.NotEmpty(t, tok.AccessToken)
	assert.Empty(t, srv.LastTokenRequest().Authorization, "a public client sends no credentials")
	assert.Equal(t, "app", srv.LastTokenRequest().Form.Get("client_id"))
}

func TestRevocationEndpointTheMetadataLacks(t *testing.T) {
	srv := quirkServer(t, pkcetest.Config{})
	md, err := pkce.Discover(context.Background(), srv.Issuer())
	require.NoError(t, err)
	md.RevocationEndpoint = ""

	without, err := pkce.New(publicConfig(), pkce.WithMetadata(md))
	require.NoError(t, err)
	tok := signInWith(t, srv, without)
	assert.ErrorIs(t, without.Revoke(context.Background(), tok.Token), pkce.ErrInvalidConfig)

	with, err := pkce.New(publicConfig(), pkce.WithMetadata(md), pkce.WithRevocationURL(srv.RevocationURL()))
	require.NoError(t, err)
	require.NoError(t, with.Revoke(context.Background(), tok.Token))
	assert.Equal(t, 1, srv.RevocationRequests())
	_, err = with.Refresh(context.Background(), tok.RefreshToken)
	assert.True(t, errors.Is(err, pkce.ErrSignInRequired), "the revoked grant is gone: %v", err)
}
