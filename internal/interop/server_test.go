package interop_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/interop"
)

// TestServerRequiresS256 checks the test server itself with hand-made
// authorization requests: PKCE is required and only S256 is accepted
// (RFC 7636 §4.4.1), so the profile tests cannot pass without the
// package's challenge.
func TestServerRequiresS256(t *testing.T) {
	v := pkce.NewVerifier()
	tests := []struct {
		name      string
		challenge url.Values
		wantError string // "" when a code is expected
	}{
		{"S256 challenge gets a code", url.Values{"code_challenge": {v.Challenge()}, "code_challenge_method": {"S256"}}, ""},
		{"missing challenge is invalid_request (RFC 7636 §4.4.1)", url.Values{}, "invalid_request"},
		{"plain challenge is invalid_request (RFC 7636 §4.4.1)", url.Values{"code_challenge": {v.Reveal()}, "code_challenge_method": {"plain"}}, "invalid_request"},
		{"challenge without a method defaults to plain and is invalid_request (RFC 7636 §4.3)", url.Values{"code_challenge": {v.Reveal()}}, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := registration(interop.ClientSecretBasic)
			srv := start(t, interop.Config{Clients: []interop.Client{reg}})
			q := url.Values{
				"response_type": {"code"},
				"client_id":     {reg.ID},
				"redirect_uri":  {reg.RedirectURIs[0]},
				"state":         {"a-state-long-enough"},
			}
			for k, vs := range tt.challenge {
				q[k] = vs
			}
			loc := redirectOf(t, srv, srv.AuthorizeURL()+"?"+q.Encode())
			if tt.wantError == "" {
				assert.NotEmpty(t, loc.Query().Get("code"))
				assert.Empty(t, loc.Query().Get("error"))
			} else {
				assert.Equal(t, tt.wantError, loc.Query().Get("error"))
				assert.Empty(t, loc.Query().Get("code"))
			}
		})
	}
}

// redirectOf sends an authorization request and returns where fosite
// redirects the browser.
func redirectOf(t *testing.T, srv *interop.Server, authURL string) *url.URL {
	t.Helper()
	browser := &http.Client{
		Transport:     srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := browser.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return loc
}

// TestServerPaths checks that each profile's endpoints are served at
// exactly their paths, so that a client configured with the wrong one
// fails.
func TestServerPaths(t *testing.T) {
	srv := start(t, interop.Config{
		AuthorizePath: "/contoso/oauth2/v1/auth/",
		TokenPath:     "/contoso/oauth2/v1/token/",
	})
	tests := []struct {
		name   string
		path   string
		status int
	}{
		{"token endpoint at its path answers a GET with an OAuth error", "/contoso/oauth2/v1/token/", http.StatusBadRequest},
		{"token endpoint without its trailing slash is not found", "/contoso/oauth2/v1/token", http.StatusNotFound},
		{"another tenant is not found", "/fabrikam/oauth2/v1/token/", http.StatusNotFound},
		{"default path is not served when a profile sets its own", "/token", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := srv.Client().Get(srv.Issuer() + tt.path)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}
}
