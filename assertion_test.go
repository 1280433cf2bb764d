package pkce_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// Keys made once: RSA generation is slow.
var (
	ecKey, _    = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2Key, _   = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _     = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _   = rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ = ed25519.GenerateKey(rand.Reader)
)

// keyStack is a pkcetest server with one private_key_jwt client whose
// public key is pub, and the server's metadata.
func keyStack(t *testing.T, pub crypto.PublicKey, cfg pkcetest.Config) (*pkcetest.Server, *oauth2.Config) {
	t.Helper()
	cfg.Clients = append(cfg.Clients, pkcetest.Client{ID: "app", Method: pkcetest.MethodPrivateKeyJWT, Key: pub, RedirectURIs: []string{redirect}})
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv, &oauth2.Config{ClientID: "app", RedirectURL: redirect, Scopes: []string{"openid", "offline_access"}}
}

// claimsOf decodes the payload of a compact JWS without checking it.
func claimsOf(t *testing.T, jws string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(jws, ".")
	require.Len(t, parts, 3)
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, dst))
	}
	return header, claims
}

func TestPrivateKeyJWTAtEveryEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  string
		want string
	}{
		{"ES256 for a P-256 key", ecKey, "", "ES256"},
		{"PS256 for an RSA key", rsaKey, "", "PS256"},
		{"EdDSA for an Ed25519 key", edKey, "", "EdDSA"},
		{"RS256 when asked, for older servers", rsaKey, "RS256", "RS256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cfg := keyStack(t, tc.key.Public(), pkcetest.Config{SendIssuer: true, RequirePAR: true})
			ctx := context.Background()
			client, err := pkce.NewFromIssuer(ctx, srv.Issuer(), cfg, pkce.WithClientKey(tc.key, "key-1", tc.alg))
			require.NoError(t, err)

			// PAR, then the code exchange.
			f, err := client.Start(ctx)
			require.NoError(t, err)
			pushed := srv.LastPushedRequest()
			assert.Equal(t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", pushed.Form.Get("client_assertion_type"))
			assert.Empty(t, pushed.Authorization, "no Basic header")
			assert.NotContains(t, pushed.Form, "client_secret")
			tok, err := finish(ctx, client, f, authorize(t, f.URL))
			require.NoError(t, err)
			exchange := srv.LastTokenRequest()

			tok2, err := client.Refresh(ctx, tok.RefreshToken)
			require.NoError(t, err)
			refresh := srv.LastTokenRequest()
			require.NoError(t, client.Revoke(ctx, tok2.Token))
			revoke := srv.LastRevocationRequest()

			jtis := map[string]bool{}
			for _, req := range []pkcetest.TokenRequest{pushed, exchange, refresh, revoke} {
				assertion := req.Form.Get("client_assertion")
				require.NotEmpty(t, assertion)
				header, claims := claimsOf(t, assertion)
				assert.Equal(t, tc.want, header["alg"])
				assert.Equal(t, "key-1", header["kid"])
				assert.Equal(t, "app", claims["iss"], "iss is the client id (RFC 7523 §3)")
				assert.Equal(t, "app", claims["sub"], "sub is the client id (RFC 7523 §3)")
				assert.Equal(t, srv.Issuer(), claims["aud"], "aud is the issuer, one string (RFC 7523bis)")
				assert.Equal(t, float64(60), claims["exp"].(float64)-claims["iat"].(float64), "short-lived")
				jti, _ := claims["jti"].(string)
				assert.GreaterOrEqual(t, len(jti), 22)
				assert.False(t, jtis[jti], "every assertion has its own jti")
				jtis[jti] = true
			}
		})
	}
}

func TestPrivateKeyJWTConfig(t *testing.T) {
	md := func(mod func(*pkce.Metadata)) *pkce.Metadata {
		m := &pkce.Metadata{Issuer: "https://as.example", AuthorizationEndpoint: "https://as.example/authorize",
			TokenEndpoint: "https://as.example/token", TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"}}
		if mod != nil {
			mod(m)
		}
		return m
	}
	base := func(secret string) *oauth2.Config {
		return &oauth2.Config{ClientID: "app", ClientSecret: secret, RedirectURL: "https://app.example/cb"}
	}
	for _, tc := range []struct {
		name    string
		cfg     *oauth2.Config
		opts    []pkce.Option
		problem string
	}{
		{"a key and a secret: one authentication per request (RFC 6749 §2.3)", base("s3cret"),
			[]pkce.Option{pkce.WithMetadata(md(nil)), pkce.WithClientKey(ecKey, "", "")}, "both a ClientSecret and a client key"},
		{"metadata without private_key_jwt", base(""),
			[]pkce.Option{pkce.WithMetadata(md(func(m *pkce.Metadata) { m.TokenEndpointAuthMethodsSupported = []string{"client_secret_basic"} })), pkce.WithClientKey(ecKey, "", "")},
			"lacks private_key_jwt"},
		{"an algorithm the server does not list", base(""),
			[]pkce.Option{pkce.WithMetadata(md(func(m *pkce.Metadata) { m.TokenEndpointAuthSigningAlgValuesSupported = []string{"PS256"} })), pkce.WithClientKey(ecKey, "", "")},
			"token_endpoint_auth_signing_alg_values_supported"},
		{"an algorithm that does not fit the key", base(""),
			[]pkce.Option{pkce.WithMetadata(md(nil)), pkce.WithClientKey(ecKey, "", "PS256")}, "does not fit"},
		{"a nil key", base(""), []pkce.Option{pkce.WithMetadata(md(nil)), pkce.WithClientKey(nil, "", "")}, "nil key"},
		{"a key with another auth method", base(""),
			[]pkce.Option{pkce.WithMetadata(md(nil)), pkce.WithClientKey(ecKey, "", ""), pkce.WithAuthMethod(pkce.AuthNone)}, "use AuthPrivateKeyJWT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pkce.New(tc.cfg, tc.opts...)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.ErrorContains(t, err, tc.problem)
		})
	}

	t.Run("RSA keys sign RS256 when the server lists only RS256", func(t *testing.T) {
		srv, cfg := keyStack(t, rsaKey.Public(), pkcetest.Config{})
		m, err := pkce.Discover(context.Background(), srv.Issuer())
		require.NoError(t, err)
		m.TokenEndpointAuthSigningAlgValuesSupported = []string{"RS256"}
		client, err := pkce.New(cfg, pkce.WithMetadata(m), pkce.WithClientKey(rsaKey, "", ""))
		require.NoError(t, err)
		f, err := client.Start(context.Background())
		require.NoError(t, err)
		_, err = finish(context.Background(), client, f, authorize(t, f.URL))
		require.NoError(t, err)
		header, _ := claimsOf(t, srv.LastTokenRequest().Form.Get("client_assertion"))
		assert.Equal(t, "RS256", header["alg"])
	})

	t.Run("without an issuer, aud is the token endpoint", func(t *testing.T) {
		srv, cfg := keyStack(t, ecKey.Public(), pkcetest.Config{})
		cfg.Endpoint = oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}
		client, err := pkce.New(cfg, pkce.WithClientKey(ecKey, "", ""))
		require.NoError(t, err)
		f, err := client.Start(context.Background())
		require.NoError(t, err)
		_, err = finish(context.Background(), client, f, authorize(t, f.URL))
		require.NoError(t, err)
		assert.Equal(t, srv.TokenURL(), srv.LastAssertionClaims()["aud"])
	})
}

func TestPrivateKeyJWTWrongKeyIsInvalidClient(t *testing.T) {
	srv, cfg := keyStack(t, ec2Key.Public(), pkcetest.Config{})
	client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), cfg, pkce.WithClientKey(ecKey, "", ""))
	require.NoError(t, err)
	f, err := client.Start(context.Background())
	require.NoError(t, err)
	_, err = finish(context.Background(), client, f, authorize(t, f.URL))
	assert.ErrorIs(t, err, pkce.ErrorCode("invalid_client"))
	assert.ErrorContains(t, err, "private_key_jwt")
}

func TestKeysArePrintedRedacted(t *testing.T) {
	client, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: "https://app.example/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "https://as.example/a", TokenURL: "https://as.example/t"}},
		pkce.WithIssuer("https://as.example"), pkce.WithClientKey(ecKey, "k", ""), pkce.WithDPoP(ec2Key))
	require.NoError(t, err)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, client)
		assert.Contains(t, out, "client key: redacted")
		assert.Contains(t, out, "dpop key: redacted")
		for _, k := range []*ecdsa.PrivateKey{ecKey, ec2Key} {
			d, err := k.Bytes()
			require.NoError(t, err)
			assert.NotContains(t, out, base64.RawURLEncoding.EncodeToString(d))
			assert.NotContains(t, out, fmt.Sprintf("%x", d))
		}
	}
}

func TestAssertionsAndProofsStayOutOfErrors(t *testing.T) {
	var assertion, proof string
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		assertion, proof = r.PostForm.Get("client_assertion"), r.Header.Get("DPoP")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request",
			"error_description": "bad assertion " + assertion + " and proof " + proof})
	}))
	t.Cleanup(echo.Close)
	client, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: echo.URL + "/authorize", TokenURL: echo.URL + "/token"}},
		pkce.WithClientKey(ecKey, "", ""), pkce.WithDPoP(ec2Key))
	require.NoError(t, err)
	_, err = client.Refresh(context.Background(), "refresh-token-value")
	require.Error(t, err)
	require.NotEmpty(t, assertion)
	require.NotEmpty(t, proof)
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), string(re.Body), re.ErrorDescription} {
		assert.NotContains(t, text, assertion)
		assert.NotContains(t, text, proof)
		assert.NotContains(t, text, "refresh-token-value")
	}
}
