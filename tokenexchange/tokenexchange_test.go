package tokenexchange_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/jwtbearer"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/tokenexchange"
)

const resource = "https://mcp.example/mcp"

// enterprise is an identity provider and the authorization server of a
// resource that trusts it, with the client "app" registered at both, and
// the person's ID token from the identity provider.
type enterprise struct {
	idp, as         *pkcetest.Server
	idpClient, asCl *pkce.Client
	idToken         string
}

func newEnterprise(t *testing.T) *enterprise {
	t.Helper()
	e := &enterprise{}
	e.idp = pkcetest.NewServer(pkcetest.Config{Clients: []pkcetest.Client{{ID: "app", Method: pkcetest.MethodNone}}})
	t.Cleanup(e.idp.Close)
	e.as = pkcetest.NewServer(pkcetest.Config{
		SendIssuer:       true,
		Clients:          []pkcetest.Client{{ID: "app", Secret: "app-secret", Method: pkcetest.MethodBasic}},
		AssertionIssuers: map[string]crypto.PublicKey{e.idp.Issuer(): e.idp.AssertionKey()},
	})
	t.Cleanup(e.as.Close)
	var err error
	e.idpClient, err = pkce.NewTokenClient(&oauth2.Config{ClientID: "app", Endpoint: oauth2.Endpoint{TokenURL: e.idp.TokenURL()}},
		pkce.WithIssuer(e.idp.Issuer()))
	require.NoError(t, err)
	e.asCl, err = pkce.NewTokenClient(&oauth2.Config{ClientID: "app", ClientSecret: "app-secret",
		Endpoint: oauth2.Endpoint{TokenURL: e.as.TokenURL()}}, pkce.WithIssuer(e.as.Issuer()), pkce.WithResource(resource))
	require.NoError(t, err)
	e.idToken = e.idp.SignAssertion("", map[string]any{"iss": e.idp.Issuer(), "sub": "alice", "aud": "app",
		"exp": time.Now().Add(time.Hour).Unix()})
	return e
}

func (e *enterprise) request() tokenexchange.Request {
	return tokenexchange.Request{
		SubjectToken:       e.idToken,
		SubjectTokenType:   tokenexchange.IDToken,
		RequestedTokenType: tokenexchange.IDJAG,
		Audience:           e.as.Issuer(),
		Resource:           []string{resource},
	}
}

func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestEnterpriseManagedAuthorization(t *testing.T) {
	ctx := context.Background()
	e := newEnterprise(t)

	jag, err := tokenexchange.Exchange(ctx, e.idpClient, e.request())
	require.NoError(t, err)
	assert.Equal(t, "N_A", jag.TokenType, "an ID-JAG is not an access token (RFC 8693 §2.2.1)")
	assert.Equal(t, tokenexchange.IDJAG, jag.Extra("issued_token_type"))
	c := claims(t, jag.AccessToken)
	assert.Equal(t, e.as.Issuer(), c["aud"], "the grant is for the resource's authorization server")
	assert.Equal(t, resource, c["resource"])
	assert.Equal(t, "alice", c["sub"])
	form := e.idp.LastTokenRequest().Form
	assert.Equal(t, tokenexchange.GrantType, form.Get("grant_type"))
	assert.Equal(t, tokenexchange.IDToken, form.Get("subject_token_type"))

	tok, err := jwtbearer.Token(ctx, e.asCl, jag.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "Bearer", tok.TokenType)
	assert.Contains(t, e.as.LastTokenRequest().Authorization, "Basic ", "the client authenticates at the authorization server")
	assert.Equal(t, []string{resource}, e.as.LastTokenRequest().Form["resource"])
}

func TestExchangeRefuses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		change   func(e *enterprise, r *tokenexchange.Request)
		requests int // requests that reach the identity provider
	}{
		{"no subject token", func(_ *enterprise, r *tokenexchange.Request) { r.SubjectToken = "" }, 0},
		{"no subject token type", func(_ *enterprise, r *tokenexchange.Request) { r.SubjectTokenType = "" }, 0},
		{"an actor token without its type", func(_ *enterprise, r *tokenexchange.Request) { r.ActorToken = "x" }, 0},
		{"an ID token for another client", func(e *enterprise, r *tokenexchange.Request) {
			r.SubjectToken = e.idp.SignAssertion("", map[string]any{"iss": e.idp.Issuer(), "sub": "alice", "aud": "other",
				"exp": time.Now().Add(time.Hour).Unix()})
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnterprise(t)
			r := e.request()
			tt.change(e, &r)
			_, err := tokenexchange.Exchange(ctx, e.idpClient, r)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), e.idToken)
			assert.Equal(t, tt.requests, e.idp.TokenRequests())
		})
	}
}

func TestExchangeNeedsTheIssuedTypeAskedFor(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"issued_token_type missing", `{"access_token":"t","token_type":"N_A"}`, "no issued_token_type"},
		{"another type issued", `{"access_token":"t","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:jwt"}`, "asked for a token of type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "app", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}})
			require.NoError(t, err)
			_, err = tokenexchange.Exchange(context.Background(), c, tokenexchange.Request{SubjectToken: "id-token",
				SubjectTokenType: tokenexchange.IDToken, RequestedTokenType: tokenexchange.IDJAG})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestNAIsForTokenExchangeOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"t","token_type":"N_A"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "app", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}})
	require.NoError(t, err)
	_, err = c.Grant(context.Background(), url.Values{"grant_type": {"client_credentials"}})
	assert.ErrorIs(t, err, pkce.ErrInvalidResponse, "an access token request must not accept a token that is not one")
}
