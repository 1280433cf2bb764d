package protected_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// TestTransportMalformedChallengeDoesNotQuoteTheCredentials: an API that
// answers a request with a WWW-Authenticate that does not parse, and
// echoes the credentials it was sent in it, does not get them into the
// error that quotes the header (THREATS.md: echoed secrets in every
// encoding): not the access token, raw or percent-encoded, and not the
// DPoP proof (RFC 9449 §7.1).
func TestTransportMalformedChallengeDoesNotQuoteTheCredentials(t *testing.T) {
	const accessToken = "at-echoed-by-the-api/with+chars=="
	tests := []struct {
		name    string
		dpop    bool
		echo    func(r *http.Request) string // the secret the API echoes
		encode  func(string) string
		secrets func(r *http.Request) []string
	}{
		{name: "the access token echoed as sent stays out of the error",
			echo: func(r *http.Request) string { return r.Header.Get("Authorization") }, encode: func(s string) string { return s }},
		{name: "the access token echoed percent-encoded stays out of the error",
			echo: func(r *http.Request) string { return r.Header.Get("Authorization") }, encode: url.QueryEscape},
		{name: "the DPoP proof echoed as sent stays out of the error", dpop: true,
			echo: func(r *http.Request) string { return r.Header.Get("DPoP") }, encode: func(s string) string { return s }},
		{name: "the DPoP access token echoed as sent stays out of the error", dpop: true,
			echo: func(r *http.Request) string { return r.Header.Get("Authorization") }, encode: func(s string) string { return s }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newDocServer(t)
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, map[string]any{"dpop_signing_alg_values_supported": []string{"ES256"}}))
			api := newDocServer(t)
			protectedAPI(api, as.URL, nil, nil)
			var (
				mu     sync.Mutex
				served int
				echoed []string
			)
			api.set("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if r.Header.Get("Authorization") == "" {
					w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+api.URL+`/.well-known/oauth-protected-resource/mcp"`)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				if served++; served == 1 {
					return // the first request with the token succeeds
				}
				secret := tt.echo(r)
				echoed = append(echoed, secret)
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token" `+tt.encode(secret))
				w.WriteHeader(http.StatusUnauthorized)
			}))
			tokenType := "Bearer"
			var opts []pkce.Option
			if tt.dpop {
				tokenType = "DPoP"
				opts = append(opts, pkce.WithDPoP(ec2Key))
			}
			tr := &protected.Transport{PreRegistered: preRegistered, Options: opts,
				SignIn: func(context.Context, *pkce.Client) (*pkce.Token, error) {
					return &pkce.Token{Token: &oauth2.Token{AccessToken: accessToken, TokenType: tokenType}}, nil
				}}
			hc := &http.Client{Transport: tr}
			getOK(t, hc, api.URL+"/mcp")

			_, err := hc.Get(api.URL + "/mcp")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "does not parse")
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, echoed)
			for _, secret := range echoed {
				secret = strings.TrimPrefix(strings.TrimPrefix(secret, "Bearer "), "DPoP ")
				require.Greater(t, len(secret), 20)
				assert.NotContains(t, err.Error(), tt.encode(secret))
				assert.NotContains(t, err.Error(), secret[:20], "not even the start of it")
			}
			assert.NotContains(t, err.Error(), accessToken)
		})
	}
}
