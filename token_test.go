package pkce_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/pkcekit/pkce/tolerate"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// A tokenEndpoint is an httptest server that answers token requests with a
// fixed response and records what it was sent.
type tokenEndpoint struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	header http.Header
	form   url.Values
}

func newTokenEndpoint(t *testing.T, respond http.HandlerFunc) *tokenEndpoint {
	t.Helper()
	te := &tokenEndpoint{}
	te.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		te.mu.Lock()
		te.requests = append(te.requests, recordedRequest{r.Header.Clone(), form})
		te.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(te.Close)
	return te
}

func (te *tokenEndpoint) last(t *testing.T) recordedRequest {
	t.Helper()
	te.mu.Lock()
	defer te.mu.Unlock()
	require.NotEmpty(t, te.requests, "the token endpoint saw no request")
	return te.requests[len(te.requests)-1]
}

func (te *tokenEndpoint) count() int {
	te.mu.Lock()
	defer te.mu.Unlock()
	return len(te.requests)
}

func jsonResponse(status int, body string) http.HandlerFunc {
	return rawResponse(status, "application/json;charset=UTF-8", body)
}

func rawResponse(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const goodBody = `{"access_token":"AT-1","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-1","scope":"openid","id_token":"a.b.c","claims":"publicid"}`

const (
	testSecret = "client/sec+ret:%é"
	testCode   = "the-authorization-code"
)

// clientFor returns a confidential client of te, with extra options.
func clientFor(t *testing.T, te *tokenEndpoint, secret string, opts ...pkce.Option) *pkce.Client {
	t.Helper()
	c, err := pkce.New(&oauth2.Config{
		ClientID:     "app id",
		ClientSecret: secret,
		Endpoint:     oauth2.Endpoint{AuthURL: te.URL + "/authorize", TokenURL: te.URL + "/token"},
		RedirectURL:  "http://127.0.0.1/callback",
	}, opts...)
	require.NoError(t, err)
	return c
}

func exchange(t *testing.T, c *pkce.Client) (*pkce.Flow, *pkce.Token, error) {
	t.Helper()
	f, err := c.Start(context.Background())
	require.NoError(t, err)
	tok, err := c.Exchange(context.Background(), f, testCode)
	return f, tok, err
}

func TestExchangeClientAuthentication(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		method pkce.AuthMethod
		check  func(t *testing.T, r recordedRequest)
	}{
		{"client_secret_basic form-encodes id and secret (RFC 6749 §2.3.1)", testSecret, pkce.AuthSecretBasic, func(t *testing.T, r recordedRequest) {
			user, pass, ok := (&http.Request{Header: r.header}).BasicAuth()
			require.True(t, ok, "Basic header expected")
			assert.Equal(t, url.QueryEscape("app id"), user)
			assert.Equal(t, url.QueryEscape(testSecret), pass)
			id, _ := url.QueryUnescape(user)
			secret, _ := url.QueryUnescape(pass)
			assert.Equal(t, "app id", id)
			assert.Equal(t, testSecret, secret)
			assert.NotContains(t, r.form, "client_secret", "the secret is sent once")
			assert.NotContains(t, r.form, "client_id")
		}},
		{"client_secret_post puts id and secret in the body", testSecret, pkce.AuthSecretPost, func(t *testing.T, r recordedRequest) {
			assert.Empty(t, r.header.Get("Authorization"))
			assert.Equal(t, []string{"app id"}, r.form["client_id"])
			assert.Equal(t, []string{testSecret}, r.form["client_secret"])
		}},
		{"none sends client_id only", "", pkce.AuthNone, func(t *testing.T, r recordedRequest) {
			assert.Empty(t, r.header.Get("Authorization"))
			assert.Equal(t, []string{"app id"}, r.form["client_id"])
			assert.NotContains(t, r.form, "client_secret")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, jsonResponse(200, goodBody))
			c := clientFor(t, te, tt.secret, pkce.WithAuthMethod(tt.method))
			f, tok, err := exchange(t, c)
			require.NoError(t, err)
			assert.Equal(t, "AT-1", tok.AccessToken)
			assert.Equal(t, 1, te.count(), "one request, no probing")
			r := te.last(t)
			assert.Equal(t, []string{"authorization_code"}, r.form["grant_type"])
			assert.Equal(t, []string{testCode}, r.form["code"])
			stored := flowJSON(t, f)
			assert.Equal(t, []string{stored["verifier"].(string)}, r.form["code_verifier"])
			assert.Equal(t, []string{stored["redirect_url"].(string)}, r.form["redirect_uri"])
			assert.Equal(t, "application/x-www-form-urlencoded", r.header.Get("Content-Type"))
			assert.Equal(t, "application/json", r.header.Get("Accept"), "v1: token requests ask for JSON")
			tt.check(t, r)
		})
	}
}

func TestExchangeKeepsResponseMembers(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	c := clientFor(t, te, testSecret, pkce.WithClock(func() time.Time { return now }))
	_, tok, err := exchange(t, c)
	require.NoError(t, err)
	assert.Equal(t, "AT-1", tok.AccessToken)
	assert.Equal(t, "Bearer", tok.Type())
	assert.Equal(t, "RT-1", tok.RefreshToken)
	assert.Equal(t, "openid", tok.Scope())
	assert.Equal(t, "a.b.c", tok.IDToken())
	assert.Equal(t, "publicid", tok.Extra("claims"), "unknown members are kept")
	assert.Equal(t, float64(3600), tok.Extra("expires_in"), "numbers in Extra are float64, as golang.org/x/oauth2 gives them")
	assert.Equal(t, int64(3600), tok.ExpiresIn)
	assert.Equal(t, now.Add(time.Hour), tok.Expiry)
}

func TestExchangeAcceptsWhatRFC6749Allows(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		wantExpires int64
	}{
		{"token_type in lower case", "application/json", `{"access_token":"a","token_type":"bearer","expires_in":60}`, 60},
		{"token_type in upper case", "application/json", `{"access_token":"a","token_type":"BEARER"}`, 0},
		{"expires_in as a numeric string", "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":"3600"}`, 3600},
		{"expires_in absent", "application/json", `{"access_token":"a","token_type":"Bearer"}`, 0},
		{"expires_in null", "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":null}`, 0},
		{"expires_in zero", "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":0}`, 0},
		{"content type with charset", "application/json; charset=utf-8", `{"access_token":"a","token_type":"Bearer"}`, 0},
		{"content type in upper case", "Application/JSON", `{"access_token":"a","token_type":"Bearer"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, rawResponse(200, tt.contentType, tt.body))
			_, tok, err := exchange(t, clientFor(t, te, testSecret))
			require.NoError(t, err)
			assert.Equal(t, "a", tok.AccessToken)
			assert.Equal(t, tt.wantExpires, tok.ExpiresIn)
			assert.Equal(t, tt.wantExpires == 0, tok.Expiry.IsZero())
		})
	}
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{testSecret, url.QueryEscape(testSecret), testCode} {
		assert.NotContains(t, s, secret)
	}
}

func TestTokenErrorKeepsRFC6749Members(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(400, `{"error":"invalid_grant","error_description":"code `+testCode+` was used","error_uri":"https://as.example/doc"}`))
	_, _, err := exchange(t, clientFor(t, te, testSecret))
	var tokErr *pkce.OAuthError
	require.ErrorAs(t, err, &tokErr)
	assert.Equal(t, "code exchange", tokErr.Op)
	assert.Equal(t, pkce.AuthSecretBasic, tokErr.AuthMethod)
	assert.Equal(t, "invalid_grant", tokErr.Code)
	assert.Equal(t, "code [redacted] was used", tokErr.Description, "a secret echoed by the server is removed")
	assert.Equal(t, "https://as.example/doc", tokErr.URI)
	assert.Equal(t, 400, tokErr.StatusCode)
	assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))
	assert.NotErrorIs(t, err, pkce.ErrorCode("invalid_client"))
	assert.ErrorContains(t, err, "RFC 6749 §5.2")

	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "invalid_grant", re.ErrorCode)
	require.NotNil(t, re.Response)
	require.NotNil(t, re.Response.Request)
	assert.Empty(t, re.Response.Request.Header.Get("Authorization"), "the Basic header is not handed out")
	assert.NotContains(t, string(re.Body), testCode)
	assertNoSecret(t, err.Error())
	assertNoSecret(t, re.Error())
}

func TestInvalidClientExplainsCauses(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		method pkce.AuthMethod
		hint   string
	}{
		{"public client refused by a confidential registration", "", pkce.AuthNone, "registered the client as confidential"},
		{"Basic refused", testSecret, pkce.AuthSecretBasic, "AuthSecretPost"},
		{"post refused", testSecret, pkce.AuthSecretPost, "AuthSecretBasic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, jsonResponse(401, `{"error":"invalid_client"}`))
			_, _, err := exchange(t, clientFor(t, te, tt.secret, pkce.WithAuthMethod(tt.method)))
			assert.ErrorIs(t, err, pkce.ErrorCode("invalid_client"))
			assert.ErrorContains(t, err, tt.hint)
			assert.ErrorContains(t, err, string(tt.method))
		})
	}
}

func TestTolerateTokenTypes(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, `{"access_token":"a","token_type":"N_A"}`))
	_, tok, err := exchange(t, clientFor(t, te, testSecret, tolerate.TokenTypes("n_a")))
	require.NoError(t, err)
	assert.Equal(t, "N_A", tok.TokenType)

	// DPoP tokens are usable only with the key: WithDPoP, not a type name.
	_, err = pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: "https://app.example/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "https://as.example/a", TokenURL: "https://as.example/t"}}, tolerate.TokenTypes("dpop"))
	assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	assert.ErrorContains(t, err, "WithDPoP")
}

func TestExchangeHonoursContextAndHTTPClient(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	var viaOption, viaContext int
	counting := func(n *int) *http.Client {
		return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			*n++
			return http.DefaultTransport.RoundTrip(r)
		})}
	}
	c := clientFor(t, te, testSecret, pkce.WithHTTPClient(counting(&viaOption)))
	f, err := c.Start(context.Background())
	require.NoError(t, err)
	_, err = c.Exchange(context.Background(), f, testCode)
	require.NoError(t, err)
	assert.Equal(t, 1, viaOption, "WithHTTPClient is used")

	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, counting(&viaContext))
	_, err = c.Exchange(ctx, f, testCode)
	require.NoError(t, err)
	assert.Equal(t, 1, viaContext, "the context's client takes precedence")
	assert.Equal(t, 1, viaOption)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTokenRedacted(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	_, tok, err := exchange(t, clientFor(t, te, testSecret))
	require.NoError(t, err)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{tok, *tok} {
			out := fmt.Sprintf(format, v)
			assert.NotContains(t, out, "AT-1", format)
			assert.NotContains(t, out, "RT-1", format)
		}
	}
}

// TestTokenResponseStatus: RFC 6749 §5.1 says a successful token response
// is 200 OK. v1 refuses other 2xx statuses (v0 accepted them).
func TestTokenResponseStatus(t *testing.T) {
	for _, status := range []int{200, 201, 202, 203, 206} { // 204 has no body to refuse: ErrInvalidResponse
		t.Run(fmt.Sprintf("RFC 6749 §5.1: status %d", status), func(t *testing.T) {
			te := newTokenEndpoint(t, jsonResponse(status, `{"access_token":"a","token_type":"Bearer","refresh_token":"r"}`))
			c := clientFor(t, te, testSecret)
			_, tok, err := exchange(t, c)
			refreshed, refreshErr := c.Refresh(context.Background(), "rt-of-the-test")
			if status == http.StatusOK {
				require.NoError(t, err)
				assert.Equal(t, "a", tok.AccessToken)
				require.NoError(t, refreshErr)
				assert.Equal(t, "a", refreshed.AccessToken)
				return
			}
			assert.Nil(t, tok)
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
			var re *pkce.ResponseError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, status, re.StatusCode)
			assert.Equal(t, "code exchange", re.Op)
			assert.ErrorContains(t, err, "RFC 6749 §5.1")

			assert.Nil(t, refreshed)
			assert.ErrorIs(t, refreshErr, pkce.ErrInvalidResponse)
			assertOneClass(t, refreshErr, pkce.ErrTryLater)
		})
	}
}

// TestTokenResponseMemberNamesAreExact: member names are case-sensitive
// (RFC 8259 §4, RFC 6749 §5.1). A response with a member whose name
// differs from a defined one only in case is refused, because another
// decoder (encoding/json matches field names case-insensitively) could use
// a different value than the one the package checked.
func TestTokenResponseMemberNamesAreExact(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"TOKEN_TYPE next to token_type", 200, `{"access_token":"AT","token_type":"Bearer","TOKEN_TYPE":"DPoP"}`},
		{"Access_Token next to access_token", 200, `{"access_token":"checked","Access_Token":"used","token_type":"Bearer"}`},
		{"Access_Token without access_token", 200, `{"Access_Token":"used","token_type":"Bearer"}`},
		{"Expires_In next to expires_in", 200, `{"access_token":"a","token_type":"Bearer","expires_in":3600,"Expires_In":-1}`},
		{"REFRESH_TOKEN next to refresh_token", 200, `{"access_token":"a","token_type":"Bearer","refresh_token":"r","REFRESH_TOKEN":"x"}`},
		{"Scope next to scope", 200, `{"access_token":"a","token_type":"Bearer","scope":"read","Scope":"admin"}`},
		{"ID_TOKEN next to id_token", 200, `{"access_token":"a","token_type":"Bearer","id_token":"a.b.c","ID_TOKEN":"x.y.z"}`},
		{"Error in an error object", 400, `{"error":"invalid_grant","Error":"invalid_client"}`},
		{"Error_Description in an error object", 400, `{"error":"invalid_grant","Error_Description":"x"}`},
		// encoding/json folds the Kelvin sign U+212A to k, as strings.EqualFold does.
		{"token_type spelt with the Kelvin sign", 200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"to\u212Aen_type\":\"DPoP\"}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, jsonResponse(tt.status, tt.body))
			c := clientFor(t, te, testSecret)
			_, tok, err := exchange(t, c)
			assert.Nil(t, tok)
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
			var re *pkce.ResponseError
			assert.ErrorAs(t, err, &re)
			assert.ErrorContains(t, err, "RFC 8259 §4")

			refreshed, err := c.Refresh(context.Background(), "rt-of-the-test")
			assert.Nil(t, refreshed)
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
		})
	}
	t.Run("members the package does not define may differ in case", func(t *testing.T) {
		te := newTokenEndpoint(t, jsonResponse(200, `{"access_token":"a","token_type":"Bearer","claims":"x","Claims":"y"}`))
		_, tok, err := exchange(t, clientFor(t, te, testSecret))
		require.NoError(t, err)
		assert.Equal(t, "x", tok.Extra("claims"))
		assert.Equal(t, "y", tok.Extra("Claims"))
	})
}

// TestTokenRequestsAskForJSON: v1 sends Accept: application/json on every
// token request; without it some servers (GitHub) answer form-encoded.
func TestTokenRequestsAskForJSON(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	c := clientFor(t, te, testSecret)
	_, _, err := exchange(t, c)
	require.NoError(t, err)
	assert.Equal(t, []string{"application/json"}, te.last(t).header.Values("Accept"), "code exchange")

	_, err = c.Refresh(context.Background(), "RT-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"application/json"}, te.last(t).header.Values("Accept"), "refresh")

	// Also through a caller's HTTP client whose transport sets its own Accept.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Add("X-Caller", "yes")
		return http.DefaultTransport.RoundTrip(r)
	})})
	_, err = c.Refresh(ctx, "RT-1")
	require.NoError(t, err)
	assert.Equal(t, "yes", te.last(t).header.Get("X-Caller"))
	assert.Equal(t, []string{"application/json"}, te.last(t).header.Values("Accept"))
}

// assertOneClass checks that err matches want and none of the other two
// refresh error classes.
func assertOneClass(t *testing.T, err error, want error) {
	t.Helper()
	classes := map[error]string{pkce.ErrSignInRequired: "ErrSignInRequired", pkce.ErrTryLater: "ErrTryLater", pkce.ErrClientRejected: "ErrClientRejected"}
	require.Error(t, err)
	for class, name := range classes {
		assert.Equal(t, class == want, errors.Is(err, class), "errors.Is(err, %s) for %v", name, err)
	}
}
