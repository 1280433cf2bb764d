package pkce

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestOAuth2Behaviours pins what the package relies on in
// golang.org/x/oauth2 (see transport.go), so that a release that changes
// one of them fails here rather than in users' sign-ins.
func TestOAuth2Behaviours(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		send  func(ctx context.Context) error
		check func(t *testing.T, req *http.Request, form url.Values)
	}{
		{
			name: "the client in the context under oauth2.HTTPClient sends the code exchange",
			send: func(ctx context.Context) error {
				cfg := &oauth2.Config{ClientID: "app", Endpoint: oauth2.Endpoint{TokenURL: "https://as.example/token", AuthStyle: oauth2.AuthStyleInParams}}
				_, err := cfg.Exchange(ctx, "code", oauth2.VerifierOption("verifier"))
				return err
			},
			check: func(t *testing.T, req *http.Request, form url.Values) {
				assert.Equal(t, "https://as.example/token", req.URL.String())
				assert.Equal(t, "authorization_code", form.Get("grant_type"))
				assert.Equal(t, "verifier", form.Get("code_verifier"))
			},
		},
		{
			name: "clientcredentials sends EndpointParams over its own grant_type",
			send: func(ctx context.Context) error {
				cc := clientcredentials.Config{ClientID: "app", TokenURL: "https://as.example/token", AuthStyle: oauth2.AuthStyleInParams,
					Scopes:         []string{"read"},
					EndpointParams: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}}}
				_, err := cc.Token(ctx)
				return err
			},
			check: func(t *testing.T, _ *http.Request, form url.Values) {
				assert.Equal(t, []string{"refresh_token"}, form["grant_type"], "one grant_type, ours")
				assert.Equal(t, "rt", form.Get("refresh_token"))
				assert.Equal(t, "read", form.Get("scope"))
			},
		},
		{
			name: "AuthStyleInParams without a secret sends client_id alone, as auth none needs",
			send: func(ctx context.Context) error {
				cfg := &oauth2.Config{ClientID: "app", Endpoint: oauth2.Endpoint{TokenURL: "https://as.example/token", AuthStyle: oauth2.AuthStyleInParams}}
				_, err := cfg.Exchange(ctx, "code")
				return err
			},
			check: func(t *testing.T, req *http.Request, form url.Values) {
				assert.Equal(t, "app", form.Get("client_id"))
				assert.NotContains(t, form, "client_secret")
				assert.Empty(t, req.Header.Get("Authorization"))
			},
		},
		{
			name: "AuthStyleInHeader form-encodes the id and secret before Basic (RFC 6749 §2.3.1)",
			send: func(ctx context.Context) error {
				cfg := &oauth2.Config{ClientID: "a b", ClientSecret: "s/+:", Endpoint: oauth2.Endpoint{TokenURL: "https://as.example/token", AuthStyle: oauth2.AuthStyleInHeader}}
				_, err := cfg.Exchange(ctx, "code")
				return err
			},
			check: func(t *testing.T, req *http.Request, form url.Values) {
				id, secret, ok := req.BasicAuth()
				require.True(t, ok)
				assert.Equal(t, url.QueryEscape("a b"), id)
				assert.Equal(t, url.QueryEscape("s/+:"), secret)
				assert.NotContains(t, form, "client_secret")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *http.Request
			var form url.Values
			hc := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
				body, err := io.ReadAll(req.Body)
				require.NoError(t, err)
				form, err = url.ParseQuery(string(body))
				require.NoError(t, err)
				got = req
				// What the recording transport does once it has the
				// answer: x/oauth2 must end the call with that error.
				return nil, errRecorded
			})}
			err := tc.send(context.WithValue(ctx, oauth2.HTTPClient, hc))
			require.NotNil(t, got, "x/oauth2 used the client from the context")
			assert.ErrorIs(t, err, errRecorded, "x/oauth2 returns the transport's error")
			tc.check(t, got, form)
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
