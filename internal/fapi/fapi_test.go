package fapi_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/jose"
)

// registration returns an oidc-provider client registration for a FAPI
// 2.0 client that authenticates with key.
func registration(t *testing.T, id string, key crypto.Signer) map[string]any {
	t.Helper()
	raw, err := jose.PublicJWK(key.Public())
	require.NoError(t, err)
	var jwk map[string]any
	require.NoError(t, json.Unmarshal(raw, &jwk))
	jwk["kid"] = id + "-key"
	return map[string]any{
		"client_id":                    id,
		"token_endpoint_auth_method":   "private_key_jwt",
		"jwks":                         map[string]any{"keys": []any{jwk}},
		"redirect_uris":                []string{redirectURL},
		"grant_types":                  []string{"authorization_code", "refresh_token"},
		"response_types":               []string{"code"},
		"dpop_bound_access_tokens":     true,
		"id_token_signed_response_alg": "ES256",
	}
}

// exchange is one request the client made and the status it got.
type exchange struct {
	method, path string
	status       int
	dpopNonce    bool // the request's DPoP proof carried a nonce
}

// recorder is a transport that records every request.
type recorder struct {
	mu  sync.Mutex
	log []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	e := exchange{method: req.Method, path: req.URL.Path, status: resp.StatusCode}
	if proof := req.Header.Get("DPoP"); proof != "" {
		e.dpopNonce = claims(proof)["nonce"] != nil
	}
	r.mu.Lock()
	r.log = append(r.log, e)
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) take() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

func claims(jws string) map[string]any {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func TestFAPI2AgainstOIDCProvider(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	dpopKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clients := []struct {
		id  string
		key crypto.Signer
	}{{"es256-app", ecKey}, {"ps256-app", rsaKey}, {"eddsa-app", edKey}}
	var regs []map[string]any
	for _, c := range clients {
		regs = append(regs, registration(t, c.id, c.key))
	}
	op := startProvider(t, regs)
	ctx := context.Background()

	for _, c := range clients {
		t.Run(c.id, func(t *testing.T) {
			rec := &recorder{}
			hc := &http.Client{Transport: rec}
			client, err := pkce.NewFromIssuer(ctx, op.issuer,
				&oauth2.Config{ClientID: c.id, RedirectURL: redirectURL, Scopes: []string{"openid"}},
				pkce.WithFAPI2(), pkce.WithClientKey(c.key, c.id+"-key", ""), pkce.WithDPoP(dpopKey), pkce.WithHTTPClient(hc))
			require.NoError(t, err)
			rec.take()

			// PAR: the first push has no nonce and gets use_dpop_nonce,
			// the second carries it (RFC 9449 §8).
			f, err := client.Start(ctx)
			require.NoError(t, err)
			assert.Equal(t, []exchange{{"POST", "/request", 400, false}, {"POST", "/request", 201, true}}, rec.take())

			q := authorize(t, f.URL)
			assert.Equal(t, op.issuer, q.Get("iss"))
			tok, err := client.Finish(httptest.NewRequestWithContext(ctx, http.MethodGet, "/callback?"+q.Encode(), nil), f)
			require.NoError(t, err)
			assert.Equal(t, "DPoP", tok.TokenType)
			// The first sign-in also fetches the provider's JWK Set to
			// verify the ID token (shared by the later clients).
			var token []exchange
			for _, e := range rec.take() {
				if e.method == "POST" {
					token = append(token, e)
				}
			}
			require.NotEmpty(t, token)
			assert.Equal(t, 200, token[len(token)-1].status)
			assert.True(t, token[len(token)-1].dpopNonce)
			require.NotNil(t, tok.Claims(), "the ID token of oidc-provider verified")
			assert.Equal(t, "test-user", tok.Claims().Subject)

			// userinfo is a DPoP-protected resource of the same origin.
			src, err := client.TokenSource(tok.Token)
			require.NoError(t, err)
			resp, err := src.Client(context.WithValue(ctx, oauth2.HTTPClient, hc)).Get(op.issuer + "/me")
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.JSONEq(t, `{"sub":"test-user"}`, string(body))
			rec.take()

			// OpenID Connect: UserInfo with the DPoP-bound token (Core
			// §5.3, RFC 9449 §7), and a refresh whose ID token is held to
			// the sign-in's (Core §12.2).
			info, err := client.UserInfo(ctx, tok)
			require.NoError(t, err)
			assert.Equal(t, "test-user", info.Subject)
			rec.take()
			due := *tok.Token
			due.Expiry = time.Now().Add(-time.Minute)
			rsrc, err := client.TokenSource(&due)
			require.NoError(t, err)
			next, err := rsrc.TokenContext(ctx)
			require.NoError(t, err)
			refreshed := &pkce.Token{Token: next}
			assert.Equal(t, "DPoP", refreshed.TokenType)
			require.NotNil(t, refreshed.Claims())
			assert.Equal(t, "test-user", refreshed.Claims().Subject)

			// RP-Initiated Logout: the provider takes its own ID token as
			// id_token_hint and asks the user to confirm.
			logout, err := client.LogoutURL(refreshed.IDToken(), "", "")
			require.NoError(t, err)
			resp, err = http.Get(logout)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, "the end-session endpoint accepts the hint")

			require.NoError(t, client.Revoke(ctx, refreshed.Token))
			_, err = client.Refresh(ctx, refreshed.RefreshToken)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the revoked refresh token is gone")
		})
	}

	t.Run("the token endpoint's nonce: another replica finishes the flow", func(t *testing.T) {
		newClient := func(hc *http.Client) *pkce.Client {
			client, err := pkce.NewFromIssuer(ctx, op.issuer,
				&oauth2.Config{ClientID: "es256-app", RedirectURL: redirectURL, Scopes: []string{"openid"}},
				pkce.WithFAPI2(), pkce.WithClientKey(ecKey, "es256-app-key", ""), pkce.WithDPoP(dpopKey), pkce.WithHTTPClient(hc))
			require.NoError(t, err)
			return client
		}
		starter := newClient(http.DefaultClient)
		f, err := starter.Start(ctx)
		require.NoError(t, err)
		q := authorize(t, f.URL)

		// A second Client (another replica) has no nonce yet: the code
		// exchange gets use_dpop_nonce, and the whole request, with a
		// fresh assertion and proof, is sent again; the code survives.
		rec := &recorder{}
		finisher := newClient(&http.Client{Transport: rec})
		rec.take()
		tok, err := finisher.Finish(httptest.NewRequestWithContext(ctx, http.MethodGet, "/callback?"+q.Encode(), nil), f)
		require.NoError(t, err)
		assert.Equal(t, "DPoP", tok.TokenType)
		assert.Equal(t, []exchange{{"POST", "/token", 400, false}, {"POST", "/token", 200, true}}, rec.take())
	})

	t.Run("a resource server that asks for its own nonce", func(t *testing.T) {
		client, err := pkce.NewFromIssuer(ctx, op.issuer,
			&oauth2.Config{ClientID: "es256-app", RedirectURL: redirectURL, Scopes: []string{"openid"}},
			pkce.WithFAPI2(), pkce.WithClientKey(ecKey, "es256-app-key", ""), pkce.WithDPoP(dpopKey))
		require.NoError(t, err)
		f, err := client.Start(ctx)
		require.NoError(t, err)
		tok, err := client.Finish(httptest.NewRequestWithContext(ctx, http.MethodGet, "/callback?"+authorize(t, f.URL).Encode(), nil), f)
		require.NoError(t, err)

		rs := nonceResourceServer(t, tok.AccessToken)
		src, err := client.TokenSource(tok.Token)
		require.NoError(t, err)
		resp, err := src.Client(ctx).Post(rs.URL+"/api?x=1", "text/plain", strings.NewReader("body"))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, []int{401, 200}, rs.statuses(), "one retry with the resource server's nonce (RFC 9449 §9)")
	})
}

// resourceServer is a small resource server that demands its own DPoP
// nonce first, as RFC 9449 §9 lets it, then checks that the proof carries
// it, names the request and hashes the token.
type resourceServer struct {
	*httptest.Server
	mu  sync.Mutex
	got []int
}

func (rs *resourceServer) statuses() []int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]int(nil), rs.got...)
}

func nonceResourceServer(t *testing.T, accessToken string) *resourceServer {
	const nonce = "rs-nonce.1"
	rs := &resourceServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := func(code int) {
			rs.mu.Lock()
			rs.got = append(rs.got, code)
			rs.mu.Unlock()
			w.WriteHeader(code)
		}
		body, _ := io.ReadAll(r.Body)
		c := claims(r.Header.Get("DPoP"))
		sum := sha256.Sum256([]byte(accessToken))
		switch {
		case r.Header.Get("Authorization") != "DPoP "+accessToken || c == nil || string(body) != "body":
			status(http.StatusBadRequest)
		case c["nonce"] != nonce:
			w.Header().Set("WWW-Authenticate", `DPoP algs="ES256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
			w.Header().Set("DPoP-Nonce", nonce)
			status(http.StatusUnauthorized)
		case c["htm"] != "POST" || c["htu"] != "http://"+r.Host+"/api" || c["ath"] != base64.RawURLEncoding.EncodeToString(sum[:]):
			status(http.StatusForbidden)
		default:
			status(http.StatusOK)
		}
	}))
	t.Cleanup(rs.Close)
	return rs
}
