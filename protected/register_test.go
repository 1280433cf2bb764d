package protected_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

func TestRegister(t *testing.T) {
	const secret = "s3cret-issued-by-the-server"
	for _, tc := range []struct {
		name   string
		method pkce.AuthMethod
		status int
		body   string
		want   *protected.Registration // nil: an error
		is     error
	}{
		{name: "a public client is registered with none (RFC 7591 §3.2.1)", method: pkce.AuthNone, status: 201,
			body: `{"client_id":"c1","token_endpoint_auth_method":"none"}`,
			want: &protected.Registration{ClientID: "c1", AuthMethod: pkce.AuthNone}},
		{name: "a confidential client keeps its secret and its expiry", method: pkce.AuthSecretBasic, status: 201,
			body: `{"client_id":"c1","client_secret":"` + secret + `","client_secret_expires_at":2000000000}`,
			want: &protected.Registration{ClientID: "c1", ClientSecret: secret, AuthMethod: pkce.AuthSecretBasic, SecretExpiresAt: time.Unix(2000000000, 0)}},
		{name: "client_secret_expires_at 0 means never", method: pkce.AuthSecretPost, status: 201,
			body: `{"client_id":"c1","client_secret":"` + secret + `","client_secret_expires_at":0}`,
			want: &protected.Registration{ClientID: "c1", ClientSecret: secret, AuthMethod: pkce.AuthSecretPost}},
		{name: "the server's auth method decides", method: pkce.AuthSecretBasic, status: 201,
			body: `{"client_id":"c1","client_secret":"` + secret + `","token_endpoint_auth_method":"client_secret_post"}`,
			want: &protected.Registration{ClientID: "c1", ClientSecret: secret, AuthMethod: pkce.AuthSecretPost}},
		{name: "a secret issued to a none client is dropped", method: pkce.AuthNone, status: 201,
			body: `{"client_id":"c1","client_secret":"` + secret + `"}`,
			want: &protected.Registration{ClientID: "c1", AuthMethod: pkce.AuthNone}},
		{name: "a complete registration answered 200 instead of 201 is accepted", method: pkce.AuthNone, status: 200,
			body: `{"client_id":"c1"}`, want: &protected.Registration{ClientID: "c1", AuthMethod: pkce.AuthNone}},
		{name: "another 2xx is not a registration", method: pkce.AuthNone, status: 202,
			body: `{"client_id":"c1"}`, is: pkce.ErrInvalidResponse},
		{name: "client_id is required", method: pkce.AuthNone, status: 201,
			body: `{"token_endpoint_auth_method":"none"}`, is: pkce.ErrInvalidResponse},
		{name: "a secret method without a secret is refused", method: pkce.AuthSecretBasic, status: 201,
			body: `{"client_id":"c1"}`, is: pkce.ErrInvalidResponse},
		{name: "an unusable auth method is refused", method: pkce.AuthNone, status: 201,
			body: `{"client_id":"c1","token_endpoint_auth_method":"tls_client_auth"}`, is: pkce.ErrInvalidResponse},
		{name: "an auth method that echoes the issued secret is refused without quoting it", method: pkce.AuthSecretBasic, status: 201,
			body: `{"client_id":"c1","client_secret":"` + secret + `","token_endpoint_auth_method":"` + secret + `"}`, is: pkce.ErrInvalidResponse},
		{name: "an expiry that is not a number is refused", method: pkce.AuthSecretBasic, status: 201,
			body: `{"client_id":"c1","client_secret":"` + secret + `","client_secret_expires_at":"soon"}`, is: pkce.ErrInvalidResponse},
		{name: "an error object is an OAuthError (RFC 7591 §3.2.2)", method: pkce.AuthNone, status: 400,
			body: `{"error":"invalid_redirect_uri","error_description":"not allowed"}`, is: pkce.ErrorCode("invalid_redirect_uri")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				json.Unmarshal(body, &sent)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			md := &pkce.Metadata{Issuer: srv.URL, AuthorizationEndpoint: srv.URL + "/a", TokenEndpoint: srv.URL + "/t",
				RegistrationEndpoint: srv.URL + "/register"}
			cm := protected.ClientMetadata{RedirectURIs: []string{"http://127.0.0.1/callback"}, TokenEndpointAuthMethod: tc.method,
				GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, ApplicationType: "native"}

			reg, err := protected.Register(context.Background(), md, cm)

			require.NotNil(t, sent, "the client metadata was posted as JSON")
			assert.Equal(t, string(tc.method), sent["token_endpoint_auth_method"], "the method is always sent explicitly")
			if tc.want == nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.is)
				assert.NotContains(t, err.Error(), secret)
				assert.NotContains(t, fmt.Sprintf("%+v", err), secret)
				return
			}
			require.NoError(t, err)
			tc.want.Issuer = srv.URL
			assert.Equal(t, tc.want, reg, "bound to the issuer it was registered with")
		})
	}
}
