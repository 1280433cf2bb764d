package pkcetest_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

func TestCodeExchangePerAuthMethod(t *testing.T) {
	tests := []struct {
		name        string
		client      pkcetest.Client
		scope       string
		wantIDToken bool
	}{
		{"client_secret_basic", basicClient, "openid profile", true},
		{"client_secret_post", postClient, "openid", true},
		{"none", publicClient, "profile offline_access", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())

			res := h.tokens(tt.client, tt.scope)

			assert.Equal(t, "application/json;charset=UTF-8", res.header.Get("Content-Type"))
			assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
			assert.Equal(t, "no-cache", res.header.Get("Pragma"))
			assert.NotEmpty(t, res.str("access_token"))
			assert.Equal(t, "Bearer", res.str("token_type"))
			assert.Equal(t, float64(3600), res.body["expires_in"])
			assert.NotEmpty(t, res.str("refresh_token"))
			assert.Equal(t, tt.scope, res.str("scope"))
			assert.Equal(t, "publicid", res.str("claims"), "extension member")
			if tt.wantIDToken {
				assert.Len(t, strings.Split(res.str("id_token"), "."), 3)
			} else {
				assert.NotContains(t, res.body, "id_token")
			}
		})
	}
}

func TestCodeExchangeUsesConfiguredLifetime(t *testing.T) {
	cfg := testConfig()
	cfg.AccessTokenLifetime = 90 * time.Second
	h := start(t, cfg)

	res := h.tokens(publicClient, "profile")

	assert.Equal(t, float64(90), res.body["expires_in"])
	assert.NotContains(t, res.body, "id_token", "no openid scope")
}

func TestClientAuthenticationRejections(t *testing.T) {
	basicHeader := func(raw string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(raw)))
		}
	}
	tests := []struct {
		name   string
		client pkcetest.Client // whose code is exchanged
		form   url.Values
		edit   func(*http.Request)
		// wantChallenge: a WWW-Authenticate Basic challenge because the
		// request used the Authorization header (RFC 6749 §5.2).
		wantChallenge bool
	}{
		{name: "basic client with wrong secret", client: basicClient,
			edit: basicAuth(basicClient.ID, "wrong"), wantChallenge: true},
		{name: "basic client with unknown id", client: basicClient,
			edit: basicAuth("nobody", basicClient.Secret), wantChallenge: true},
		{name: "basic credentials not form-urlencoded", client: basicClient,
			edit: basicHeader(basicClient.ID + ":" + basicClient.Secret), wantChallenge: true},
		{name: "basic credentials without colon", client: basicClient,
			edit: basicHeader("basic%3Aclient"), wantChallenge: true},
		{name: "basic credentials not base64", client: basicClient,
			edit: func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, wantChallenge: true},
		{name: "authorization scheme other than Basic", client: basicClient,
			edit: func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }, wantChallenge: true},
		{name: "basic client also sends client_secret in body", client: basicClient,
			form: url.Values{"client_secret": {basicClient.Secret}}, edit: basicAuth(basicClient.ID, basicClient.Secret), wantChallenge: true},
		{name: "basic client with different client_id in body", client: basicClient,
			form: url.Values{"client_id": {postClient.ID}}, edit: basicAuth(basicClient.ID, basicClient.Secret), wantChallenge: true},
		{name: "basic client sends credentials in body", client: basicClient,
			form: url.Values{"client_id": {basicClient.ID}, "client_secret": {basicClient.Secret}}},
		{name: "post client uses Basic", client: postClient,
			edit: basicAuth(postClient.ID, postClient.Secret), wantChallenge: true},
		{name: "post client with wrong secret", client: postClient,
			form: url.Values{"client_id": {postClient.ID}, "client_secret": {"wrong"}}},
		{name: "post client without secret", client: postClient,
			form: url.Values{"client_id": {postClient.ID}}},
		{name: "post client uses Basic and body", client: postClient,
			form: url.Values{"client_id": {postClient.ID}, "client_secret": {postClient.Secret}},
			edit: basicAuth(postClient.ID, postClient.Secret), wantChallenge: true},
		{name: "public client sends a secret", client: publicClient,
			form: url.Values{"client_id": {publicClient.ID}, "client_secret": {"anything"}}},
		{name: "public client uses Basic with empty secret", client: publicClient,
			edit: basicAuth(publicClient.ID, ""), wantChallenge: true},
		{name: "unknown client_id in body", client: publicClient,
			form: url.Values{"client_id": {"nobody"}}},
		{name: "no client identification", client: publicClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			v := newVerifier()
			form := codeForm(h.code(authParams(tt.client, v)), tt.client.RedirectURIs[0], v)
			for k, vs := range tt.form {
				form[k] = vs
			}

			res := h.post(form, tt.edit)

			assertTokenError(t, res, http.StatusUnauthorized, "invalid_client")
			if tt.wantChallenge {
				assert.Equal(t, `Basic realm="pkcetest"`, res.header.Get("WWW-Authenticate"))
			} else {
				assert.Empty(t, res.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestCodeGrantRejections(t *testing.T) {
	other := newVerifier()
	tests := []struct {
		name string
		edit func(form url.Values, v verifier)
		want string
	}{
		{"code missing", func(f url.Values, _ verifier) { f.Del("code") }, "invalid_request"},
		{"code unknown", func(f url.Values, _ verifier) { f.Set("code", "not-a-code") }, "invalid_grant"},
		{"redirect_uri missing", func(f url.Values, _ verifier) { f.Del("redirect_uri") }, "invalid_grant"},
		{"redirect_uri differs", func(f url.Values, _ verifier) { f.Set("redirect_uri", "https://app.example/other") }, "invalid_grant"},
		{"code_verifier missing", func(f url.Values, _ verifier) { f.Del("code_verifier") }, "invalid_grant"},
		{"code_verifier of another challenge", func(f url.Values, _ verifier) { f.Set("code_verifier", string(other)) }, "invalid_grant"},
		{"code_verifier is the challenge (plain)", func(f url.Values, v verifier) { f.Set("code_verifier", v.challenge()) }, "invalid_grant"},
		{"code_verifier too short", func(f url.Values, v verifier) { f.Set("code_verifier", string(v)[:42]) }, "invalid_grant"},
		{"grant_type missing", func(f url.Values, _ verifier) { f.Del("grant_type") }, "invalid_request"},
		{"grant_type unsupported", func(f url.Values, _ verifier) { f.Set("grant_type", "password") }, "unsupported_grant_type"},
		{"parameter repeated", func(f url.Values, v verifier) { f.Add("code_verifier", string(v)) }, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			v := newVerifier()
			form := codeForm(h.code(authParams(postClient, v)), postClient.RedirectURIs[0], v)
			tt.edit(form, v)

			res := h.authenticated(postClient, form)

			assertTokenError(t, res, http.StatusBadRequest, tt.want)
		})
	}
}

func TestCodeBoundToClient(t *testing.T) {
	h := start(t, testConfig())
	v := newVerifier()
	code := h.code(authParams(postClient, v))

	res := h.authenticated(publicClient, codeForm(code, postClient.RedirectURIs[0], v))
	assertTokenError(t, res, http.StatusBadRequest, "invalid_grant")

	res = h.authenticated(postClient, codeForm(code, postClient.RedirectURIs[0], v))
	assert.Equal(t, http.StatusOK, res.status, "the rightful client can still use the code: %s", res.raw)
}

func TestCodeExpires(t *testing.T) {
	tests := []struct {
		name    string
		elapsed time.Duration
		ok      bool
	}{
		{"used within its lifetime", 59 * time.Second, true},
		{"used at its expiry", time.Minute, false},
		{"used after its expiry", 2 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			clk := newClock()
			h.srv.SetNow(clk.now)
			v := newVerifier()
			code := h.code(authParams(publicClient, v))
			clk.advance(tt.elapsed)

			res := h.authenticated(publicClient, codeForm(code, publicClient.RedirectURIs[0], v))

			if tt.ok {
				assert.Equal(t, http.StatusOK, res.status, res.raw)
			} else {
				assertTokenError(t, res, http.StatusBadRequest, "invalid_grant")
			}
		})
	}
}

func TestCodeReplayRevokesTokens(t *testing.T) {
	h := start(t, testConfig())
	v := newVerifier()
	form := codeForm(h.code(authParams(postClient, v)), postClient.RedirectURIs[0], v)
	first := h.authenticated(postClient, form)
	require.Equal(t, http.StatusOK, first.status, first.raw)
	require.Equal(t, http.StatusOK, h.userinfo(first.str("access_token")).status)

	second := h.authenticated(postClient, form)

	assertTokenError(t, second, http.StatusBadRequest, "invalid_grant")
	assert.Equal(t, http.StatusUnauthorized, h.userinfo(first.str("access_token")).status, "access token revoked")
	refreshed := h.authenticated(postClient, refreshForm(first.str("refresh_token")))
	assertTokenError(t, refreshed, http.StatusBadRequest, "invalid_grant")
}

func TestTokenRequestFormat(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string // appended to the token URL
		body       string
		contentTyp string
		wantStatus int
	}{
		{"GET is not allowed", http.MethodGet, "", "", "", http.StatusMethodNotAllowed},
		{"body is JSON", http.MethodPost, "", `{"grant_type":"authorization_code"}`, "application/json", http.StatusBadRequest},
		{"content type missing", http.MethodPost, "", "grant_type=authorization_code", "", http.StatusBadRequest},
		{"parameters in the URI", http.MethodPost, "?client_secret=x", "grant_type=authorization_code", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"body is not a valid form", http.MethodPost, "", "grant_type=%zz", "application/x-www-form-urlencoded", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			req, err := http.NewRequest(tt.method, h.srv.TokenURL()+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			if tt.contentTyp != "" {
				req.Header.Set("Content-Type", tt.contentTyp)
			}

			res := h.do(req)

			assertTokenError(t, res, tt.wantStatus, "invalid_request")
		})
	}
}

func TestTokenRequestRecording(t *testing.T) {
	h := start(t, testConfig())
	assert.Zero(t, h.srv.LastTokenRequest())

	tok := h.tokens(basicClient, "openid")
	last := h.srv.LastTokenRequest()
	assert.Equal(t, "authorization_code", last.Form.Get("grant_type"))
	assert.False(t, last.Form.Has("client_secret"))
	assert.True(t, strings.HasPrefix(last.Authorization, "Basic "))
	assert.Equal(t, "application/x-www-form-urlencoded", last.ContentType)

	last.Form.Set("grant_type", "changed")
	assert.Equal(t, "authorization_code", h.srv.LastTokenRequest().Form.Get("grant_type"), "a copy is returned")

	h.post(url.Values{"grant_type": {"client_credentials"}}, nil) // rejected
	h.authenticated(basicClient, refreshForm(tok.str("refresh_token")))
	h.authenticated(basicClient, refreshForm("unknown")) // rejected

	assert.Equal(t, 4, h.srv.TokenRequests())
	assert.Equal(t, 2, h.srv.RefreshRequests())
	assert.Equal(t, "unknown", h.srv.LastTokenRequest().Form.Get("refresh_token"))
}
