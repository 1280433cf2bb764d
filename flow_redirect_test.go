package pkce_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// TestStoredFlowRedirectIsTheClients: a stored flow travels through
// storage the application may not fully control. Unless the flow was
// started with RedirectURL, its redirect URL must be the client's own;
// for a loopback redirect any port is the client's (RFC 8252 §7.3). A
// flow started with RedirectURL keeps the URL given, held to the rules
// of New. A refused flow makes no token request.
func TestStoredFlowRedirectIsTheClients(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	clientWith := func(t *testing.T, redirect string) *pkce.Client {
		c, err := pkce.New(&oauth2.Config{
			ClientID:     "app id",
			ClientSecret: testSecret,
			Endpoint:     oauth2.Endpoint{AuthURL: te.URL + "/authorize", TokenURL: te.URL + "/token"},
			RedirectURL:  redirect,
		})
		require.NoError(t, err)
		return c
	}
	tests := []struct {
		name     string
		client   string             // the client's RedirectURL
		start    []pkce.StartOption // given to Start
		stored   string             // the redirect_url written into the stored flow; "" keeps it
		accepted bool
	}{
		{"the client's own redirect is accepted", "https://app.example/callback", nil, "", true},
		{"another https redirect of the same form is refused", "https://app.example/callback", nil, "https://evil.example/callback", false},
		{"another path on the client's host is refused", "https://app.example/callback", nil, "https://app.example/other", false},
		{"another port on an https redirect is refused", "https://app.example/callback", nil, "https://app.example:8443/callback", false},
		{"a query added to the client's redirect is refused", "https://app.example/callback", nil, "https://app.example/callback?next=x", false},
		{"a loopback redirect may carry any port", "http://127.0.0.1/callback", nil, "http://127.0.0.1:53172/callback", true},
		{"a loopback redirect's port may be dropped", "http://127.0.0.1:8080/callback", nil, "http://127.0.0.1/callback", true},
		{"another loopback path is refused", "http://127.0.0.1/callback", nil, "http://127.0.0.1:53172/other", false},
		{"another loopback host is refused", "http://127.0.0.1/callback", nil, "http://[::1]:53172/callback", false},
		{"https in place of a loopback http redirect is refused", "http://127.0.0.1/callback", nil, "https://127.0.0.1:53172/callback", false},
		{"a redirect given at Start is kept", "https://app.example/callback", []pkce.StartOption{pkce.RedirectURL("https://app.example/tenant/callback")}, "", true},
		{"a redirect given at Start is still held to the rules of New", "https://app.example/callback", []pkce.StartOption{pkce.RedirectURL("https://app.example/tenant/callback")}, "http://evil.example/callback", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := clientWith(t, tt.client)
			started, err := c.Start(ctx, tt.start...)
			require.NoError(t, err)
			m := flowJSON(t, started)
			if tt.stored != "" {
				m["redirect_url"] = tt.stored
			}
			f := flowFromJSON(t, m)
			before := te.count()
			tok, err := finish(ctx, c, f, url.Values{"state": {f.State}, "code": {testCode}})
			if !tt.accepted {
				assert.Nil(t, tok)
				assertInvalidFlow(t, err)
				assert.Equal(t, before, te.count(), "no token request for an altered redirect")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "AT-1", tok.AccessToken)
			assert.Equal(t, []string{m["redirect_url"].(string)}, te.last(t).form["redirect_uri"], "the redirect of the authorization request is sent again")
		})
	}
}
