package fapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// TestTransportAgainstOIDCProvider runs the protected-API Transport with
// the client options of a FAPI 2.0 client (PAR, private_key_jwt, DPoP)
// against oidc-provider, for an API that publishes its metadata (RFC
// 9728) and asks for its own DPoP nonce (RFC 9449 §9).
func TestTransportAgainstOIDCProvider(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dpopKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	op := startProvider(t, []map[string]any{registration(t, "api-app", key)})

	const nonce = "api-nonce.1"
	var (
		mu       sync.Mutex
		statuses []int
	)
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/api" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"resource": api.URL + "/api", "authorization_servers": []string{op.issuer},
				"scopes_supported": []string{"openid"}})
			return
		}
		status := func(code int) {
			mu.Lock()
			statuses = append(statuses, code)
			mu.Unlock()
			w.WriteHeader(code)
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
		c := claims(r.Header.Get("DPoP"))
		sum := sha256.Sum256([]byte(token))
		switch {
		case !ok || c == nil:
			w.Header().Set("WWW-Authenticate", `DPoP algs="ES256", Bearer resource_metadata="`+api.URL+`/.well-known/oauth-protected-resource/api"`)
			status(http.StatusUnauthorized)
		case c["nonce"] != nonce:
			w.Header().Set("WWW-Authenticate", `DPoP algs="ES256", error="use_dpop_nonce"`)
			w.Header().Set("DPoP-Nonce", nonce)
			status(http.StatusUnauthorized)
		case c["htm"] != "GET" || c["htu"] != api.URL+"/api" || c["ath"] != base64.RawURLEncoding.EncodeToString(sum[:]):
			status(http.StatusForbidden)
		default:
			status(http.StatusOK)
		}
	}))
	defer api.Close()

	rec := &recorder{}
	tr := &protected.Transport{
		HTTPClient:  &http.Client{Transport: rec},
		RedirectURL: redirectURL,
		SignIn: func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
			f, err := c.Start(ctx)
			if err != nil {
				return nil, err
			}
			q := authorize(t, f.URL)
			return c.Finish(httptest.NewRequestWithContext(ctx, http.MethodGet, "/callback?"+q.Encode(), nil), f)
		},
		PreRegistered: func(iss string) *protected.Registration {
			return &protected.Registration{Issuer: iss, ClientID: "api-app", AuthMethod: pkce.AuthPrivateKeyJWT}
		},
		Options: []pkce.Option{pkce.WithFAPI2(), pkce.WithClientKey(key, "api-app-key", ""), pkce.WithDPoP(dpopKey)},
	}
	resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/api")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []int{401, 401, 200}, statuses, "no token, then the API's nonce, then the proof with it")

	var paths []string
	for _, e := range rec.take() {
		paths = append(paths, e.method+" "+e.path)
	}
	assert.Contains(t, paths, "POST /request", "the authorization request was pushed (PAR, FAPI 2.0)")
	assert.Contains(t, paths, "POST /token")
}
