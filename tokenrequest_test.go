package pkce_test

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// TestTokenRequestForm pins the form of every token request the package
// builds: exactly the grant's parameters and the client's
// authentication, each once, POSTed as a form that asks for JSON.
func TestTokenRequestForm(t *testing.T) {
	auths := []struct {
		method pkce.AuthMethod
		secret string
		keys   []string // what the authentication adds to the body
		basic  bool
	}{
		{pkce.AuthSecretBasic, testSecret, nil, true},
		{pkce.AuthSecretPost, testSecret, []string{"client_id", "client_secret"}, false},
		{pkce.AuthNone, "", []string{"client_id"}, false},
	}
	grants := []struct {
		name string
		keys []string
		send func(t *testing.T, c *pkce.Client) (url.Values, error)
	}{
		{"code exchange sends code, verifier and redirect_uri (RFC 6749 §4.1.3, RFC 7636 §4.5)",
			[]string{"code", "code_verifier", "grant_type", "redirect_uri"},
			func(t *testing.T, c *pkce.Client) (url.Values, error) {
				_, _, err := exchange(t, c)
				return url.Values{"grant_type": {"authorization_code"}, "code": {testCode}}, err
			}},
		{"refresh sends the refresh token alone (RFC 6749 §6)",
			[]string{"grant_type", "refresh_token"},
			func(t *testing.T, c *pkce.Client) (url.Values, error) {
				_, err := c.Refresh(context.Background(), "RT-0")
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"RT-0"}}, err
			}},
		{"refresh with scopes joins them with spaces (RFC 6749 §3.3)",
			[]string{"grant_type", "refresh_token", "scope"},
			func(t *testing.T, c *pkce.Client) (url.Values, error) {
				_, err := c.Refresh(context.Background(), "RT-0", "read", "write")
				return url.Values{"grant_type": {"refresh_token"}, "scope": {"read write"}}, err
			}},
		{"another grant sends its own parameters once",
			[]string{"grant_type", "username"},
			func(t *testing.T, c *pkce.Client) (url.Values, error) {
				_, err := c.Grant(context.Background(), url.Values{"grant_type": {"urn:example:grant"}, "username": {"ann"}})
				return url.Values{"grant_type": {"urn:example:grant"}, "username": {"ann"}}, err
			}},
	}
	for _, g := range grants {
		for _, a := range auths {
			t.Run(g.name+"/"+string(a.method), func(t *testing.T) {
				te := newTokenEndpoint(t, jsonResponse(200, goodBody))
				c := clientFor(t, te, a.secret, pkce.WithAuthMethod(a.method))
				want, err := g.send(t, c)
				require.NoError(t, err)
				require.Equal(t, 1, te.count(), "one request, no probing")
				r := te.last(t)
				assert.Equal(t, slices.Sorted(slices.Values(append(slices.Clone(g.keys), a.keys...))), slices.Sorted(maps.Keys(r.form)))
				for k, v := range r.form {
					assert.Len(t, v, 1, "%s is sent once", k)
				}
				for k, v := range want {
					assert.Equal(t, v, r.form[k], k)
				}
				_, _, basic := (&http.Request{Header: r.header}).BasicAuth()
				assert.Equal(t, a.basic, basic, "HTTP Basic")
				assert.Equal(t, "application/x-www-form-urlencoded", r.header.Get("Content-Type"))
				assert.Equal(t, "application/json", r.header.Get("Accept"))
			})
		}
	}
}
