package tolerate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/tolerate"
)

// tokenEndpoint answers every token request with status and body.
func tokenEndpoint(status int, body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
}

func config(srv *httptest.Server, secret string) *oauth2.Config {
	return &oauth2.Config{ClientID: "app", ClientSecret: secret, RedirectURL: "http://127.0.0.1/callback",
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token"}}
}

// Each option relaxes its one check, and only when given.
func TestEachOptionRelaxesItsCheck(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		opt    pkce.Option
	}{
		{name: "RFC 6749 §5.1: a token answered 201 needs TokenStatus", status: http.StatusCreated,
			body: `{"access_token":"at","token_type":"Bearer"}`, opt: tolerate.TokenStatus(http.StatusCreated)},
		{name: "RFC 6750: a token type other than Bearer needs TokenTypes", status: http.StatusOK,
			body: `{"access_token":"at","token_type":"bot"}`, opt: tolerate.TokenTypes("bot")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tokenEndpoint(tt.status, tt.body)
			defer srv.Close()
			strict, err := pkce.New(config(srv, ""))
			require.NoError(t, err)
			_, err = strict.Refresh(context.Background(), "refresh-token-1")
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse, "without the option")

			tolerant, err := pkce.New(config(srv, ""), tt.opt)
			require.NoError(t, err)
			tok, err := tolerant.Refresh(context.Background(), "refresh-token-1")
			require.NoError(t, err, "with the option")
			assert.Equal(t, "at", tok.AccessToken)
		})
	}
}

// Options that need something else of the client, or that are given
// something they cannot tolerate, fail at pkce.New.
func TestOptionsRefuseWhatTheyCannotTolerate(t *testing.T) {
	srv := tokenEndpoint(http.StatusOK, `{}`)
	defer srv.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name   string
		secret string
		opts   []pkce.Option
		says   string
	}{
		{name: "TokenStatus: 204 has no token to carry", opts: []pkce.Option{tolerate.TokenStatus(http.StatusNoContent)}, says: "not 204"},
		{name: "TokenStatus: 200 is no deviation", opts: []pkce.Option{tolerate.TokenStatus(http.StatusOK)}, says: "not 200"},
		{name: "TokenStatus: a status must be given", opts: []pkce.Option{tolerate.TokenStatus()}, says: "given no status"},
		{name: "TokenTypes: DPoP needs WithDPoP", opts: []pkce.Option{tolerate.TokenTypes("DPoP")}, says: "use WithDPoP"},
		{name: "TokenTypes: an empty type", opts: []pkce.Option{tolerate.TokenTypes("")}, says: "empty token type"},
		{name: "HS256IDTokens: OpenID Connect Core §10.1 keys HS256 with the client secret", opts: []pkce.Option{tolerate.HS256IDTokens()}, says: "needs a ClientSecret"},
		{name: "TokenEndpointAudience: needs WithClientKey before it", opts: []pkce.Option{tolerate.TokenEndpointAudience()}, says: "needs WithClientKey"},
		{name: "TokenEndpointAudience: FAPI 2.0 §5.3.2.1 wants the issuer alone",
			opts: []pkce.Option{pkce.WithFAPI2(), pkce.WithIssuer(srv.URL), pkce.WithClientKey(key, "k", ""), pkce.WithDPoP(key), tolerate.TokenEndpointAudience()}, says: "not the token endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pkce.New(config(srv, tt.secret), tt.opts...)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.ErrorContains(t, err, tt.says)
		})
	}
}

// A token endpoint that answers 201 Created, as the Supabase Management
// API's does, is refused unless the client tolerates that status.
func ExampleTokenStatus() {
	srv := tokenEndpoint(http.StatusCreated, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
	defer srv.Close()
	for _, opts := range [][]pkce.Option{nil, {tolerate.TokenStatus(http.StatusCreated)}} {
		client, err := pkce.New(config(srv, ""), opts...)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, err = client.Refresh(context.Background(), "refresh-token-1")
		fmt.Println("refreshed:", err == nil)
	}
	// Output:
	// refreshed: false
	// refreshed: true
}
