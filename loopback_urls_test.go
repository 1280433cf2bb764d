package pkce_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

func TestSignInLoopbackRedirectURI(t *testing.T) {
	tests := []struct {
		name     string
		template string
		port     string // "" for an ephemeral one
		taken    bool   // the port is held on the template's IP literal
	}{
		{name: "IPv4 literal with an ephemeral port", template: "http://127.0.0.1/callback"},
		{name: "IPv6 literal with an ephemeral port", template: "http://[::1]/callback"},
		{name: "port named in the template", template: "http://127.0.0.1:%s/callback", port: freePort(t)},
		{name: "the other IP literal when the template's port is taken on its own", template: "http://127.0.0.1:%s/callback", port: freePort(t), taken: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			template := tt.template
			if tt.port != "" {
				template = fmt.Sprintf(template, tt.port)
			}
			if tt.taken {
				ln, err := net.Listen("tcp4", "127.0.0.1:"+tt.port)
				require.NoError(t, err)
				defer ln.Close()
				v6, err := net.Listen("tcp6", "[::1]:"+tt.port)
				require.NoError(t, err, "this test needs IPv6 loopback")
				v6.Close()
			}
			srv, client := newLoopbackClient(t, pkcetest.Config{}, template)
			s := &script{}

			_, err := client.SignInLoopback(context.Background(), s.open)

			require.NoError(t, s.problem)
			require.NoError(t, err)
			u := s.redirect
			assert.Equal(t, "http", u.Scheme)
			// The template's IP literal, or the other one when that IP
			// version is unavailable; never "localhost" (RFC 8252 §8.3).
			assert.Contains(t, []string{"127.0.0.1", "::1"}, u.Hostname())
			assert.NotContains(t, []string{"", "0"}, u.Port(), "the real port is advertised")
			if tt.port != "" {
				assert.Equal(t, tt.port, u.Port())
			}
			assert.Equal(t, "/callback", u.Path)
			assert.Empty(t, u.RawQuery)
			assert.Equal(t, u.String(), srv.LastTokenRequest().Form.Get("redirect_uri"),
				"the token request repeats the advertised redirect URI")
		})
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	return port
}

func TestSignInLoopbackRefusesMisuse(t *testing.T) {
	tests := []struct {
		name     string
		redirect string
		opts     []pkce.StartOption
		nilOpen  bool
		wantIs   error
	}{
		{name: "localhost instead of the IP literal", redirect: "http://localhost/callback", wantIs: pkce.ErrInvalidConfig},
		{name: "https redirect", redirect: "https://app.example/callback", wantIs: pkce.ErrInvalidConfig},
		{name: "private-use scheme", redirect: "com.example.app:/callback", wantIs: pkce.ErrInvalidConfig},
		{name: "redirect with a query", redirect: "http://127.0.0.1/callback?app=1", wantIs: pkce.ErrInvalidConfig},
		{name: "RedirectURL option", redirect: "http://127.0.0.1/callback", opts: []pkce.StartOption{pkce.RedirectURL("http://127.0.0.1:1234/callback")}},
		{name: "no opener", redirect: "http://127.0.0.1/callback", nilOpen: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, client := newLoopbackClient(t, pkcetest.Config{}, tt.redirect)
			opened := false
			open := func(string) error { opened = true; return nil }
			if tt.nilOpen {
				open = nil
			}

			tok, err := client.SignInLoopback(context.Background(), open, tt.opts...)

			require.Error(t, err)
			assert.Nil(t, tok)
			assert.False(t, opened, "nothing is opened")
			assert.True(t, strings.HasPrefix(err.Error(), "pkce: "), err.Error())
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
				assert.Contains(t, err.Error(), "RFC 8252")
			}
		})
	}
}

// Finding 18 of issue 20: the browser is opened at a local start URL, so
// that the authorization URL (state, code challenge) never appears on a
// command line; the start URL works once, and a second visit ends the
// sign-in.
func TestSignInLoopbackKeepsTheAuthorizationURLOffTheCommandLine(t *testing.T) {
	tests := []struct {
		name   string
		visits int // of the start URL before the browser's sign-in
		wantOK bool
	}{
		{"the browser opens a start URL that redirects once", 1, true},
		{"a second visit of the start URL ends the sign-in", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, client := newLoopbackClient(t, pkcetest.Config{}, "http://127.0.0.1/callback")
			var opened string
			var first, second visit
			var authURL string
			var problem error
			open := func(startURL string) error {
				opened = startURL
				if first, problem = fetch(http.MethodGet, startURL, ""); problem != nil {
					return nil
				}
				if authURL = first.header.Get("Location"); tt.visits > 1 {
					second, problem = fetch(http.MethodGet, startURL, "")
				}
				if problem == nil {
					var back *url.URL
					if back, problem = followAuthorization(authURL); problem == nil {
						_, problem = fetch(http.MethodGet, back.String(), "")
					}
				}
				return nil
			}
			tok, err := client.SignInLoopback(context.Background(), open)
			require.NoError(t, problem)

			u, perr := url.Parse(opened)
			require.NoError(t, perr)
			assert.Equal(t, "127.0.0.1", u.Hostname())
			assert.Regexp(t, `^/start/[A-Z2-7]{52}$`, u.Path, "256 random bits in the path")
			assert.Empty(t, u.RawQuery, "no state, no challenge, no client_id in what open receives")
			assert.NotContains(t, opened, "state")
			assert.Equal(t, http.StatusFound, first.status)
			assert.Equal(t, "no-store", first.header.Get("Cache-Control"))
			q := mustQuery(t, authURL)
			assert.NotEmpty(t, q.Get("state"), "the start URL leads to the authorization URL")
			assert.NotEmpty(t, q.Get("code_challenge"))

			if tt.wantOK {
				require.NoError(t, err)
				assert.NotNil(t, tok)
				return
			}
			require.Error(t, err)
			assert.Nil(t, tok)
			assert.Contains(t, err.Error(), "visited twice")
			assert.Equal(t, http.StatusBadRequest, second.status)
			assert.Contains(t, second.body, "Sign-in failed")
		})
	}
}
