package pkce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func testConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     "app",
		ClientSecret: "s3cret-value",
		Endpoint: oauth2.Endpoint{
			AuthURL:  "https://as.example/authorize",
			TokenURL: "https://as.example/token",
		},
		RedirectURL: "https://app.example/callback",
		Scopes:      []string{"openid", "profile"},
	}
}

func TestNewChecksConfig(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*oauth2.Config)
		opts    []Option
		wantErr string // "" means accepted
	}{
		{"https endpoints", nil, nil, ""},
		{"http on 127.0.0.1", func(c *oauth2.Config) {
			c.Endpoint.AuthURL, c.Endpoint.TokenURL = "http://127.0.0.1:8080/a", "http://127.0.0.1:8080/t"
		}, nil, ""},
		{"http on [::1]", func(c *oauth2.Config) { c.Endpoint.TokenURL = "http://[::1]:9/t" }, nil, ""},
		{"http on localhost", func(c *oauth2.Config) { c.Endpoint.TokenURL = "http://localhost:9/t" }, nil, ""},
		{"private-use redirect scheme of a native app", func(c *oauth2.Config) { c.RedirectURL = "com.example.app:/cb" }, nil, ""},
		{"loopback http redirect", func(c *oauth2.Config) { c.RedirectURL = "http://127.0.0.1:5000/cb" }, nil, ""},
		{"nil config", nil, nil, "oauth2.Config is nil"},
		{"client id missing", func(c *oauth2.Config) { c.ClientID = "" }, nil, "ClientID is empty"},
		{"auth URL missing", func(c *oauth2.Config) { c.Endpoint.AuthURL = "" }, nil, "AuthURL is empty"},
		{"token URL missing", func(c *oauth2.Config) { c.Endpoint.TokenURL = "" }, nil, "TokenURL is empty"},
		{"token URL relative", func(c *oauth2.Config) { c.Endpoint.TokenURL = "/token" }, nil, "not an absolute URL"},
		{"token URL plain http on a public host", func(c *oauth2.Config) { c.Endpoint.TokenURL = "http://as.example/token" }, nil, "must use https"},
		{"auth URL plain http on a public host", func(c *oauth2.Config) { c.Endpoint.AuthURL = "http://as.example/a" }, nil, "RFC 6749 §3.1"},
		{"auth URL with a fragment", func(c *oauth2.Config) { c.Endpoint.AuthURL = "https://as.example/a#x" }, nil, "fragment"},
		{"auth URL already setting state", func(c *oauth2.Config) { c.Endpoint.AuthURL = "https://as.example/a?state=x" }, nil, `sets "state"`},
		{"redirect URL missing", func(c *oauth2.Config) { c.RedirectURL = "" }, nil, "RedirectURL is empty"},
		{"redirect URL with a fragment", func(c *oauth2.Config) { c.RedirectURL = "https://app.example/cb#f" }, nil, "RFC 6749 §3.1.2"},
		{"redirect URL plain http on a public host", func(c *oauth2.Config) { c.RedirectURL = "http://app.example/cb" }, nil, "RFC 8252 §7.3"},
		{"issuer plain http on a public host", nil, []Option{WithIssuer("http://as.example")}, "must use https"},
		{"issuer with a query", nil, []Option{WithIssuer("https://as.example/?tenant=a")}, "RFC 8414 §2"},
		{"basic without secret", func(c *oauth2.Config) { c.ClientSecret = "" }, []Option{WithAuthMethod(AuthSecretBasic)}, "needs a ClientSecret"},
		{"post without secret", func(c *oauth2.Config) { c.ClientSecret = "" }, []Option{WithAuthMethod(AuthSecretPost)}, "needs a ClientSecret"},
		{"none with a secret", nil, []Option{WithAuthMethod(AuthNone)}, "sends no secret"},
		{"unknown auth method", nil, []Option{WithAuthMethod("tls_client_auth")}, "unknown auth method"},
		{"private_key_jwt without a key", func(c *oauth2.Config) { c.ClientSecret = "" }, []Option{WithAuthMethod(AuthPrivateKeyJWT)}, "needs the client's key"},
		{"response bound too small", nil, []Option{WithMaxResponseBytes(10)}, "max response bytes"},
		// v1: the bound may now go up to 16 MiB (it was capped at 1 MiB,
		// what x/oauth2 reads, before the package read bodies itself).
		{"response bound of 1 MiB", nil, []Option{WithMaxResponseBytes(1 << 20)}, ""},
		{"response bound of 16 MiB", nil, []Option{WithMaxResponseBytes(16 << 20)}, ""},
		{"response bound above 16 MiB", nil, []Option{WithMaxResponseBytes(16<<20 + 1)}, "max response bytes"},
		{"flow lifetime zero", nil, []Option{WithFlowLifetime(0)}, "flow lifetime"},
		{"flow lifetime negative", nil, []Option{WithFlowLifetime(-time.Minute)}, "flow lifetime"},
		{"nil option", nil, []Option{nil}, "option 0 is nil"},
		{"nil option after a good one", nil, []Option{WithIssuer("https://as.example"), nil}, "option 1 is nil"},
		{"nil HTTP client", nil, []Option{WithHTTPClient(nil)}, "nil *http.Client"},
		{"nil store", nil, []Option{WithStore(nil)}, "nil Store"},
		{"nil metadata", nil, []Option{WithMetadata(nil)}, "nil metadata"},
		{"empty token type", nil, []Option{withTokenTypes("")}, "empty token type"},
		{"revocation URL plain http on a public host", nil, []Option{WithRevocationURL("http://as.example/revoke")}, "must use https"},
		{"scope with a space", func(c *oauth2.Config) { c.Scopes = []string{"openid profile"} }, nil, "RFC 6749 §3.3"},
		{"empty scope", func(c *oauth2.Config) { c.Scopes = []string{""} }, nil, "RFC 6749 §3.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.edit != nil {
				tt.edit(cfg)
			}
			if tt.name == "nil config" {
				cfg = nil
			}
			c, err := New(cfg, tt.opts...)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.NotNil(t, c)
				return
			}
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, tt.wantErr)
			if cfg != nil {
				assert.NotContains(t, err.Error(), "s3cret-value")
			}
		})
	}
}

func TestAuthMethodFollowsConfig(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		cfg    oauth2.AuthStyle
		opt    AuthMethod // "": no WithAuthMethod
		want   AuthMethod
	}{
		{"secret defaults to Basic", "s", oauth2.AuthStyleAutoDetect, "", AuthSecretBasic},
		{"no secret defaults to none", "", oauth2.AuthStyleAutoDetect, "", AuthNone},
		{"endpoint in params with secret is post", "s", oauth2.AuthStyleInParams, "", AuthSecretPost},
		{"endpoint in params without secret is none", "", oauth2.AuthStyleInParams, "", AuthNone},
		{"endpoint in header is Basic", "s", oauth2.AuthStyleInHeader, "", AuthSecretBasic},
		{"explicit choice wins over the endpoint", "s", oauth2.AuthStyleInHeader, AuthSecretPost, AuthSecretPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ClientSecret = tt.secret
			cfg.Endpoint.AuthStyle = tt.cfg
			var opts []Option
			if tt.opt != "" {
				opts = append(opts, WithAuthMethod(tt.opt))
			}
			c, err := New(cfg, opts...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.authMethod)
			assert.NotEqual(t, oauth2.AuthStyleAutoDetect, c.config.Endpoint.AuthStyle, "x/oauth2 must never probe")
		})
	}
}

func TestStartBuildsAuthorizationRequest(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	c, err := New(testConfig(), WithIssuer("https://as.example"), WithClock(func() time.Time { return now }))
	require.NoError(t, err)

	f, err := c.Start(context.Background(), Param("audience", "https://api.example/"), Param("prompt", "consent"))
	require.NoError(t, err)
	u, err := url.Parse(f.URL)
	require.NoError(t, err)
	assert.Equal(t, "https://as.example/authorize", u.Scheme+"://"+u.Host+u.Path)
	q := u.Query()
	for key, want := range map[string]string{
		"response_type":         "code",
		"client_id":             "app",
		"redirect_uri":          "https://app.example/callback",
		"scope":                 "openid profile",
		"state":                 f.State,
		"code_challenge":        f.verifier.Challenge(),
		"code_challenge_method": "S256",
		"audience":              "https://api.example/",
		"prompt":                "consent",
	} {
		assert.Equal(t, []string{want}, q[key], key)
	}
	assert.Len(t, q, 9, "nothing else is sent")
	assert.NotContains(t, f.URL, f.verifier.Reveal(), "the verifier never goes into the URL")
	assert.NotContains(t, f.URL, "s3cret-value")

	raw, err := b64.DecodeString(f.State)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(raw)*8, 128, "state carries at least 128 bits")
	assert.Equal(t, "https://app.example/callback", f.redirectURL)
	assert.Equal(t, "https://as.example", f.issuer)
	assert.Equal(t, now, f.created)
	assert.Equal(t, now.Add(defaultFlowLifetime), f.Expires)

	g, err := c.Start(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, f.State, g.State)
	assert.NotEqual(t, f.verifier.Reveal(), g.verifier.Reveal())
}

func TestStartOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []StartOption
		check   func(t *testing.T, q url.Values)
		wantErr string
	}{
		{"scopes replace the configured ones", []StartOption{Scopes("offline_access", "read")}, func(t *testing.T, q url.Values) {
			assert.Equal(t, "offline_access read", q.Get("scope"))
		}, ""},
		{"no scopes leaves scope out", []StartOption{Scopes()}, func(t *testing.T, q url.Values) {
			assert.NotContains(t, q, "scope")
		}, ""},
		{"redirect for a loopback port", []StartOption{RedirectURL("http://127.0.0.1:49152/cb")}, func(t *testing.T, q url.Values) {
			assert.Equal(t, "http://127.0.0.1:49152/cb", q.Get("redirect_uri"))
		}, ""},
		{"values are escaped", []StartOption{Param("login_hint", "a b&c=d")}, func(t *testing.T, q url.Values) {
			assert.Equal(t, "a b&c=d", q.Get("login_hint"))
		}, ""},
		{"state cannot be overridden", []StartOption{Param("state", "x")}, nil, `"state" is set by the package`},
		{"code_challenge_method cannot become plain", []StartOption{Param("code_challenge_method", "plain")}, nil, "is set by the package"},
		{"verifier cannot be put in the URL", []StartOption{Param("code_verifier", "x")}, nil, "is set by the package"},
		{"redirect_uri cannot be set as a param", []StartOption{Param("redirect_uri", "https://evil.example")}, nil, "is set by the package"},
		{"client_secret cannot be put in the URL", []StartOption{Param("client_secret", "x")}, nil, "is set by the package"},
		{"response_type cannot be overridden", []StartOption{Param("response_type", "token")}, nil, "is set by the package"},
		{"response_mode is reserved (v1)", []StartOption{Param("response_mode", "fragment")}, nil, "is set by the package"},
		{"request_uri is reserved (v1)", []StartOption{Param("request_uri", "urn:x")}, nil, "is set by the package"},
		{"a key given twice", []StartOption{Param("audience", "a"), Param("audience", "b")}, nil, "given twice"},
		{"empty key", []StartOption{Param("", "a")}, nil, "empty name"},
		{"http redirect on a public host", []StartOption{RedirectURL("http://app.example/cb")}, nil, "must use https"},
		{"redirect with a fragment", []StartOption{RedirectURL("https://app.example/cb#x")}, nil, "RFC 6749 §3.1.2"},
		{"RFC 6749 §3.3: scope with a space", []StartOption{Scopes("openid profile")}, nil, "RFC 6749 §3.3"},
		{"RFC 6749 §3.3: empty scope", []StartOption{Scopes("")}, nil, "RFC 6749 §3.3"},
		{"RFC 6749 §3.3: scope with a quote", []StartOption{Scopes(`say"hi"`)}, nil, "RFC 6749 §3.3"},
		{"RFC 6749 §3.3: scope with a backslash", []StartOption{Scopes(`a\b`)}, nil, "RFC 6749 §3.3"},
		{"RFC 6749 §3.3: scope with a non-ASCII character", []StartOption{Scopes("lecture-é")}, nil, "RFC 6749 §3.3"},
		{"nil option", []StartOption{nil}, nil, "option 0 is nil"},
	}
	c, err := New(testConfig())
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := c.Start(context.Background(), tt.opts...)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				assert.Nil(t, f)
				return
			}
			require.NoError(t, err)
			u, err := url.Parse(f.URL)
			require.NoError(t, err)
			tt.check(t, u.Query())
		})
	}
}

func TestStartKeepsAuthURLQuery(t *testing.T) {
	cfg := testConfig()
	cfg.Endpoint.AuthURL = "https://as.example/authorize?tenant=acme"
	c, err := New(cfg)
	require.NoError(t, err)
	f, err := c.Start(context.Background())
	require.NoError(t, err)
	u, err := url.Parse(f.URL)
	require.NoError(t, err)
	assert.Equal(t, "acme", u.Query().Get("tenant"))
	assert.Equal(t, "code", u.Query().Get("response_type"))
}

func TestFlowRedactedAndSerialisable(t *testing.T) {
	c, err := New(testConfig(), WithIssuer("https://as.example"))
	require.NoError(t, err)
	f, err := c.Start(context.Background())
	require.NoError(t, err)

	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, f)
		assert.NotContains(t, out, f.State, format)
		assert.NotContains(t, out, f.verifier.Reveal(), format)
		out = fmt.Sprintf(format, *f)
		assert.NotContains(t, out, f.State, format+" of a Flow value")
		assert.NotContains(t, out, f.verifier.Reveal(), format+" of a Flow value")
	}

	b, err := json.Marshal(f)
	require.NoError(t, err)
	var back Flow
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, f.URL, back.URL)
	assert.Equal(t, f.State, back.State)
	assert.Equal(t, f.verifier.Reveal(), back.verifier.Reveal())
	assert.Equal(t, f.redirectURL, back.redirectURL)
	assert.Equal(t, f.issuer, back.issuer)
	assert.True(t, f.created.Equal(back.created))
	assert.True(t, f.Expires.Equal(back.Expires))

	code, err := c.VerifyCallback(context.Background(), &back, url.Values{"state": {f.State}, "code": {"abc"}, "iss": {"https://as.example"}})
	require.NoError(t, err, "a flow that went through JSON can be finished")
	assert.Equal(t, "abc", code)
}

func TestFlowIsSingleUse(t *testing.T) {
	ctx := context.Background()
	c, err := New(testConfig())
	require.NoError(t, err)
	f, err := c.Start(ctx)
	require.NoError(t, err)
	q := url.Values{"code": {"c"}, "state": {f.State}}

	// A forged callback does not use the flow up.
	_, err = c.VerifyCallback(ctx, f, url.Values{"code": {"c"}, "state": {"forged"}})
	require.ErrorIs(t, err, ErrStateMismatch)

	_, err = c.VerifyCallback(ctx, f, q)
	require.NoError(t, err)
	_, err = c.VerifyCallback(ctx, f, q)
	assert.ErrorIs(t, err, ErrFlowFinished)

	var copied Flow
	b, err := json.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &copied))
	_, err = c.VerifyCallback(ctx, &copied, q)
	assert.ErrorIs(t, err, ErrFlowFinished, "a copy of a finished flow is finished too")

	g, err := c.Start(ctx)
	require.NoError(t, err)
	_, err = c.VerifyCallback(ctx, g, url.Values{"error": {"access_denied"}, "state": {g.State}})
	require.ErrorIs(t, err, ErrAccessDenied)
	_, err = c.VerifyCallback(ctx, g, url.Values{"code": {"c"}, "state": {g.State}})
	assert.ErrorIs(t, err, ErrFlowFinished, "an error response ends the flow too")
}

func TestFlowIsSingleUseAcrossClientsSharingAStore(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore()
	a, err := New(testConfig(), WithStore(store))
	require.NoError(t, err)
	b, err := New(testConfig(), WithStore(store))
	require.NoError(t, err)
	other, err := New(testConfig())
	require.NoError(t, err)

	f, err := a.Start(ctx)
	require.NoError(t, err)
	q := url.Values{"code": {"c"}, "state": {f.State}}
	_, err = b.VerifyCallback(ctx, f, q)
	require.NoError(t, err, "a replica sharing the store finishes the flow")
	_, err = a.VerifyCallback(ctx, f, q)
	assert.ErrorIs(t, err, ErrFlowFinished, "and then no replica sharing the store finishes it again")
	_, err = other.VerifyCallback(ctx, f, q)
	assert.NoError(t, err, "a Client with its own in-memory store does not see the claim (documented)")
}

// failingStore fails every Claim.
type failingStore struct{ Store }

func (failingStore) Claim(context.Context, string, time.Duration) (bool, error) {
	return false, fmt.Errorf("store unreachable")
}

func TestFlowIsNotFinishedWhenTheStoreFails(t *testing.T) {
	c, err := New(testConfig(), WithStore(failingStore{NewMemoryStore()}))
	require.NoError(t, err)
	f, err := c.Start(context.Background())
	require.NoError(t, err)
	code, err := c.VerifyCallback(context.Background(), f, url.Values{"code": {"c"}, "state": {f.State}})
	assert.Empty(t, code)
	assert.ErrorContains(t, err, "store unreachable")
	assert.ErrorContains(t, err, "not finished")
}

func TestClientRedactsSecret(t *testing.T) {
	c, err := New(testConfig())
	require.NoError(t, err)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(format, c), "s3cret-value", format)
	}
	assert.Contains(t, fmt.Sprint(c), "client_secret_basic")
}
