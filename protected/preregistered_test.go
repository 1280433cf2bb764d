package protected_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/protected"
)

// A pre-registered client secret goes only to the server that issued it
// (THREATS.md, promise 2): without its Issuer, the server a remote API
// names would receive it with the token request.
func TestPreRegisteredSecretGoesOnlyToItsIssuer(t *testing.T) {
	srv := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, Clients: []pkcetest.Client{
		{ID: "public", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback"}},
		{ID: "confidential", Secret: "pre-registered-secret", Method: pkcetest.MethodBasic, RedirectURIs: []string{"http://127.0.0.1/callback"}},
	}})
	defer srv.Close()
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/api" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"resource": api.URL + "/api", "authorization_servers": []string{srv.Issuer()}})
			return
		}
		check, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, srv.ResourceURL(), nil)
		check.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := http.DefaultClient.Do(check)
		if err != nil || resp.StatusCode != http.StatusOK {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		resp.Body.Close()
		fmt.Fprint(w, "ok")
	}))
	defer api.Close()

	tests := []struct {
		name   string
		reg    func(issuer string) *protected.Registration
		wantOK bool
	}{
		{"a secret without its issuer is refused before any token request",
			func(string) *protected.Registration {
				return &protected.Registration{ClientID: "confidential", ClientSecret: "pre-registered-secret"}
			}, false},
		{"a secret with its issuer is used with that server",
			func(issuer string) *protected.Registration {
				return &protected.Registration{Issuer: issuer, ClientID: "confidential", ClientSecret: "pre-registered-secret"}
			}, true},
		{"a public client may leave the issuer to the resource",
			func(string) *protected.Registration { return &protected.Registration{ClientID: "public"} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.TokenRequests()
			tr := &protected.Transport{SignIn: protected.HeadlessSignIn(nil), PreRegistered: tt.reg}
			resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/api")
			if !tt.wantOK {
				require.Error(t, err)
				assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
				assert.ErrorContains(t, err, "Registration.Issuer")
				assert.NotContains(t, err.Error(), "pre-registered-secret")
				assert.Equal(t, before, srv.TokenRequests(), "no token request carried the secret")
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "ok", string(body))
		})
	}
}
