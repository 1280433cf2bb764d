package pkce_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// echoRequest returns what a logging transport would print of r, and
// records the values it sent in *sent.
func echoRequest(r *http.Request, sent *[]string) string {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
	}
	for _, vs := range r.Header {
		*sent = append(*sent, vs...)
	}
	v, _ := url.ParseQuery(string(b))
	for _, k := range []string{"client_secret", "refresh_token", "otp", "mfa_token"} {
		*sent = append(*sent, v[k]...)
	}
	return fmt.Sprintf("%s %s %v %s", r.Method, r.URL, r.Header, b)
}

// TestSecretsNotEchoed: what a transport says of the request it was given,
// in an error or a panic, reaches no error of the package with the
// request's secrets in it.
func TestSecretsNotEchoed(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, sent *[]string) error
	}{
		{"a transport panicking with the request during a TokenSource refresh", func(t *testing.T, sent *[]string) error {
			ws := newWireServer(t)
			hc := &http.Client{Transport: transportFunc(func(r *http.Request) (*http.Response, error) {
				panic("refused " + echoRequest(r, sent))
			})}
			c := wireClient(t, ws, pkce.AuthSecretPost, pkce.WithHTTPClient(hc))
			ts, err := c.TokenSource(&oauth2.Token{AccessToken: "AT-echo-1", RefreshToken: "RT-echo-1", Expiry: time.Now().Add(-time.Hour)})
			require.NoError(t, err)
			_, err = ts.Token()
			return err
		}},
		{"a transport error echoing a UserInfo request (OpenID Connect Core §5.3.1)", func(t *testing.T, sent *[]string) error {
			srv, client := rpServer(t, pkcetest.Config{})
			tok, err := rpSignIn(t, srv, client)
			require.NoError(t, err)
			hc := &http.Client{Transport: transportFunc(func(r *http.Request) (*http.Response, error) {
				return nil, fmt.Errorf("refused %s", echoRequest(r, sent))
			})}
			_, err = client.UserInfo(context.WithValue(ctx, oauth2.HTTPClient, hc), tok)
			return err
		}},
		{"the second factor of an MFA grant", func(t *testing.T, sent *[]string) error {
			ws := newWireServer(t)
			hc := &http.Client{Transport: transportFunc(func(r *http.Request) (*http.Response, error) {
				return nil, fmt.Errorf("refused %s", echoRequest(r, sent))
			})}
			c := wireClient(t, ws, pkce.AuthSecretBasic, pkce.WithHTTPClient(hc))
			_, err := c.Grant(ctx, url.Values{"grant_type": {"http://auth0.com/oauth/grant-type/mfa-otp"},
				"mfa_token": {"the-mfa-token-1"}, "otp": {"492713"}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent []string
			err := tt.run(t, &sent)
			checkNoEcho(t, err, sent)
		})
	}
}
