package pkcetest_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

const (
	jwtBearerGrant     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
	idTokenType        = "urn:ietf:params:oauth:token-type:id_token"
	idJAGType          = "urn:ietf:params:oauth:token-type:id-jag"
)

func TestClientCredentialsGrant(t *testing.T) {
	h := start(t, testConfig())
	t.Run("a confidential client gets a token and no refresh token", func(t *testing.T) {
		res := h.authenticated(basicClient, url.Values{"grant_type": {"client_credentials"}, "scope": {"invoices"}})
		require.Equal(t, http.StatusOK, res.status, res.raw)
		assert.NotEmpty(t, res.str("access_token"))
		assert.Equal(t, "Bearer", res.str("token_type"))
		assert.Equal(t, "invoices", res.str("scope"))
		assert.NotContains(t, res.body, "refresh_token", "RFC 6749 §4.4.3")
		assert.Equal(t, 1, h.srv.ClientCredentialsRequests())
	})
	t.Run("a public client is refused", func(t *testing.T) {
		res := h.authenticated(publicClient, url.Values{"grant_type": {"client_credentials"}})
		assertTokenError(t, res, http.StatusBadRequest, "unauthorized_client")
		assert.Equal(t, 1, h.srv.ClientCredentialsRequests(), "refusals are not counted")
	})
	t.Run("a wrong secret is refused", func(t *testing.T) {
		res := h.post(url.Values{"grant_type": {"client_credentials"}}, basicAuth(basicClient.ID, "wrong"))
		assertTokenError(t, res, http.StatusUnauthorized, "invalid_client")
	})
}

// claimsOf decodes a JWT's claims.
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestJWTBearerGrant(t *testing.T) {
	platform := pkcetest.NewServer(pkcetest.Config{})
	t.Cleanup(platform.Close)
	cfg := testConfig()
	cfg.AssertionIssuers = map[string]crypto.PublicKey{platform.Issuer(): platform.AssertionKey()}
	h := start(t, cfg)
	exp := time.Now().Add(time.Minute).Unix()
	tests := []struct {
		name      string
		assertion func() string
		code      string // "" for success
	}{
		{"a trusted issuer's assertion for this server", func() string {
			return platform.SignAssertion("", map[string]any{"iss": platform.Issuer(), "sub": "w", "aud": h.srv.Issuer(), "exp": exp})
		}, ""},
		{"the server's own assertion", func() string {
			return h.srv.SignAssertion("", map[string]any{"iss": h.srv.Issuer(), "sub": "w", "aud": h.srv.Issuer(), "exp": exp})
		}, ""},
		{"an untrusted issuer", func() string {
			return platform.SignAssertion("", map[string]any{"iss": "https://other.example", "sub": "w", "aud": h.srv.Issuer(), "exp": exp})
		}, "invalid_grant"},
		{"signed by another key", func() string {
			return h.srv.SignAssertion("", map[string]any{"iss": platform.Issuer(), "sub": "w", "aud": h.srv.Issuer(), "exp": exp})
		}, "invalid_grant"},
		{"another audience", func() string {
			return platform.SignAssertion("", map[string]any{"iss": platform.Issuer(), "sub": "w", "aud": "https://other.example", "exp": exp})
		}, "invalid_grant"},
		{"expired", func() string {
			return platform.SignAssertion("", map[string]any{"iss": platform.Issuer(), "sub": "w", "aud": h.srv.Issuer(), "exp": time.Now().Add(-time.Hour).Unix()})
		}, "invalid_grant"},
		{"no sub", func() string {
			return platform.SignAssertion("", map[string]any{"iss": platform.Issuer(), "aud": h.srv.Issuer(), "exp": exp})
		}, "invalid_grant"},
		{"no assertion", func() string { return "" }, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.authenticated(publicClient, url.Values{"grant_type": {jwtBearerGrant}, "assertion": {tt.assertion()}})
			if tt.code == "" {
				require.Equal(t, http.StatusOK, res.status, res.raw)
				assert.NotEmpty(t, res.str("access_token"))
				return
			}
			assertTokenError(t, res, http.StatusBadRequest, tt.code)
		})
	}
}

func TestIdentityAssertionGrant(t *testing.T) {
	idp := start(t, testConfig())
	cfg := testConfig()
	cfg.AssertionIssuers = map[string]crypto.PublicKey{idp.srv.Issuer(): idp.srv.AssertionKey()}
	as := start(t, cfg)
	idToken := idp.srv.SignAssertion("", map[string]any{"iss": idp.srv.Issuer(), "sub": "alice", "aud": basicClient.ID,
		"exp": time.Now().Add(time.Hour).Unix()})
	exchange := func(c pkcetest.Client, edit func(url.Values)) tokenResult {
		form := url.Values{"grant_type": {tokenExchangeGrant}, "subject_token": {idToken}, "subject_token_type": {idTokenType},
			"requested_token_type": {idJAGType}, "audience": {as.srv.Issuer()}, "resource": {"https://mcp.example/mcp"}}
		if edit != nil {
			edit(form)
		}
		return idp.authenticated(c, form)
	}

	res := exchange(basicClient, nil)
	require.Equal(t, http.StatusOK, res.status, res.raw)
	assert.Equal(t, "N_A", res.str("token_type"), "RFC 8693 §2.2.1")
	assert.Equal(t, idJAGType, res.str("issued_token_type"))
	jag := res.str("access_token")
	c := claimsOf(t, jag)
	assert.Equal(t, as.srv.Issuer(), c["aud"])
	assert.Equal(t, "alice", c["sub"])
	assert.Equal(t, basicClient.ID, c["client_id"])
	assert.Equal(t, "https://mcp.example/mcp", c["resource"])

	t.Run("the grant buys a token for its client", func(t *testing.T) {
		res := as.authenticated(basicClient, url.Values{"grant_type": {jwtBearerGrant}, "assertion": {jag}})
		require.Equal(t, http.StatusOK, res.status, res.raw)
		assert.Equal(t, "Bearer", res.str("token_type"))
	})
	t.Run("and not for another client", func(t *testing.T) {
		res := as.authenticated(postClient, url.Values{"grant_type": {jwtBearerGrant}, "assertion": {jag}})
		assertTokenError(t, res, http.StatusBadRequest, "invalid_grant")
	})
	refusals := []struct {
		name   string
		client pkcetest.Client
		edit   func(url.Values)
		code   string
	}{
		{"an ID token for another client", postClient, nil, "invalid_grant"},
		{"no audience", basicClient, func(f url.Values) { f.Del("audience") }, "invalid_request"},
		{"another requested type", basicClient, func(f url.Values) {
			f.Set("requested_token_type", "urn:ietf:params:oauth:token-type:access_token")
		}, "invalid_request"},
		{"an access token as subject", basicClient, func(f url.Values) {
			f.Set("subject_token_type", "urn:ietf:params:oauth:token-type:access_token")
		}, "invalid_request"},
		{"two resources", basicClient, func(f url.Values) { f.Add("resource", "https://other.example/") }, "invalid_target"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res := exchange(tt.client, tt.edit)
			assertTokenError(t, res, http.StatusBadRequest, tt.code)
		})
	}
}
