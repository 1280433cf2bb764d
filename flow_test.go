package pkce

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
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
		{"basic without secret", func(c *oauth2.Config) { c.ClientSecret = "" }, []Option{WithAuthStyle(AuthClientSecretBasic)}, "needs a ClientSecret"},
		{"post without secret", func(c *oauth2.Config) { c.ClientSecret = "" }, []Option{WithAuthStyle(AuthClientSecretPost)}, "needs a ClientSecret"},
		{"none with a secret", nil, []Option{WithAuthStyle(AuthNone)}, "sends no secret"},
		{"response bound too small", nil, []Option{WithMaxResponseBytes(10)}, "max response bytes"},
		{"response bound above what x/oauth2 reads", nil, []Option{WithMaxResponseBytes(1 << 20)}, "max response bytes"},
		{"flow lifetime zero", nil, []Option{WithFlowLifetime(0)}, "flow lifetime"},
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

func TestAuthStyleFollowsConfig(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		cfg    oauth2.AuthStyle
		opt    AuthStyle
		want   AuthStyle
	}{
		{"secret defaults to Basic", "s", oauth2.AuthStyleAutoDetect, 0, AuthClientSecretBasic},
		{"no secret defaults to none", "", oauth2.AuthStyleAutoDetect, 0, AuthNone},
		{"endpoint in params with secret is post", "s", oauth2.AuthStyleInParams, 0, AuthClientSecretPost},
		{"endpoint in params without secret is none", "", oauth2.AuthStyleInParams, 0, AuthNone},
		{"endpoint in header is Basic", "s", oauth2.AuthStyleInHeader, 0, AuthClientSecretBasic},
		{"explicit choice wins over the endpoint", "s", oauth2.AuthStyleInHeader, AuthClientSecretPost, AuthClientSecretPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ClientSecret = tt.secret
			cfg.Endpoint.AuthStyle = tt.cfg
			c, err := New(cfg, WithAuthStyle(tt.opt))
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.AuthStyle())
			assert.NotEqual(t, oauth2.AuthStyleAutoDetect, c.config.Endpoint.AuthStyle, "x/oauth2 must never probe")
		})
	}
}

func TestStartBuildsAuthorizationRequest(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	c, err := New(testConfig(), WithIssuer("https://as.example"), WithClock(func() time.Time { return now }))
	require.NoError(t, err)

	f, err := c.Start(Param("audience", "https://api.example/"), Param("prompt", "consent"))
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
		"code_challenge":        f.Verifier.Challenge(),
		"code_challenge_method": "S256",
		"audience":              "https://api.example/",
		"prompt":                "consent",
	} {
		assert.Equal(t, []string{want}, q[key], key)
	}
	assert.Len(t, q, 9, "nothing else is sent")
	assert.NotContains(t, f.URL, f.Verifier.Reveal(), "the verifier never goes into the URL")
	assert.NotContains(t, f.URL, "s3cret-value")

	raw, err := b64.DecodeString(f.State)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(raw)*8, 128, "state carries at least 128 bits")
	assert.Equal(t, "https://app.example/callback", f.RedirectURL)
	assert.Equal(t, "https://as.example", f.Issuer)
	assert.Equal(t, now, f.Created)
	assert.Equal(t, now.Add(DefaultFlowLifetime), f.Expires)

	g, err := c.Start()
	require.NoError(t, err)
	assert.NotEqual(t, f.State, g.State)
	assert.NotEqual(t, f.Verifier.Reveal(), g.Verifier.Reveal())
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
		{"code_challenge_method cannot become plain", []StartOption{Param("code_challenge_method", "plain")}, nil, "cannot be overridden"},
		{"verifier cannot be put in the URL", []StartOption{Param("code_verifier", "x")}, nil, "cannot be overridden"},
		{"redirect_uri cannot be set as a param", []StartOption{Param("redirect_uri", "https://evil.example")}, nil, "cannot be overridden"},
		{"client_secret cannot be put in the URL", []StartOption{Param("client_secret", "x")}, nil, "cannot be overridden"},
		{"a key given twice", []StartOption{Param("audience", "a"), Param("audience", "b")}, nil, "given twice"},
		{"empty key", []StartOption{Param("", "a")}, nil, "empty name"},
		{"http redirect on a public host", []StartOption{RedirectURL("http://app.example/cb")}, nil, "must use https"},
	}
	c, err := New(testConfig())
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := c.Start(tt.opts...)
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
	f, err := c.Start()
	require.NoError(t, err)
	u, err := url.Parse(f.URL)
	require.NoError(t, err)
	assert.Equal(t, "acme", u.Query().Get("tenant"))
	assert.Equal(t, "code", u.Query().Get("response_type"))
}

func TestFlowRedactedAndSerialisable(t *testing.T) {
	c, err := New(testConfig(), WithIssuer("https://as.example"))
	require.NoError(t, err)
	f, err := c.Start()
	require.NoError(t, err)

	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, f)
		assert.NotContains(t, out, f.State, format)
		assert.NotContains(t, out, f.Verifier.Reveal(), format)
		out = fmt.Sprintf(format, *f)
		assert.NotContains(t, out, f.State, format+" of a Flow value")
		assert.NotContains(t, out, f.Verifier.Reveal(), format+" of a Flow value")
	}

	b, err := json.Marshal(f)
	require.NoError(t, err)
	var back Flow
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, f.URL, back.URL)
	assert.Equal(t, f.State, back.State)
	assert.Equal(t, f.Verifier.Reveal(), back.Verifier.Reveal())
	assert.True(t, f.Expires.Equal(back.Expires))

	code, err := c.VerifyCallback(&back, url.Values{"state": {f.State}, "code": {"abc"}, "iss": {"https://as.example"}})
	require.NoError(t, err, "a flow that went through JSON can be finished")
	assert.Equal(t, "abc", code)
}

func TestVerifyCallback(t *testing.T) {
	const issuer = "https://as.example"
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	clock := now
	c, err := New(testConfig(), WithIssuer(issuer), WithClock(func() time.Time { return clock }))
	require.NoError(t, err)

	type params = map[string][]string
	tests := []struct {
		name    string
		query   func(f *Flow) params
		later   time.Duration
		wantIs  error
		wantMsg string
	}{
		{"good callback", func(f *Flow) params {
			return params{"code": {"c0de"}, "state": {f.State}, "iss": {issuer}}
		}, 0, nil, ""},
		{"state given twice", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State, f.State}, "iss": {issuer}}
		}, 0, ErrDuplicateParameter, `parameter "state"`},
		{"code given twice", func(f *Flow) params {
			return params{"code": {"a", "b"}, "state": {f.State}, "iss": {issuer}}
		}, 0, ErrDuplicateParameter, "RFC 6749 §3.1"},
		{"iss missing", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}}
		}, 0, ErrIssuerMismatch, "no iss parameter"},
		{"iss differs from issuer", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {"https://evil.example"}}
		}, 0, ErrIssuerMismatch, "RFC 9207 §2.4"},
		{"iss differs only in case", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {"https://AS.example"}}
		}, 0, ErrIssuerMismatch, "RFC 9207 §2.4"},
		{"iss with a trailing slash", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {issuer + "/"}}
		}, 0, ErrIssuerMismatch, "RFC 9207 §2.4"},
		{"wrong iss and wrong state is an issuer failure", func(f *Flow) params {
			return params{"code": {"c"}, "state": {"forged"}, "iss": {"https://evil.example"}}
		}, 0, ErrIssuerMismatch, ""},
		{"state missing", func(f *Flow) params {
			return params{"code": {"c"}, "iss": {issuer}}
		}, 0, ErrStateMismatch, "RFC 6749 §10.12"},
		{"state differs", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State[:len(f.State)-1] + "x"}, "iss": {issuer}}
		}, 0, ErrStateMismatch, ""},
		{"wrong state with an error parameter is a state failure", func(f *Flow) params {
			return params{"error": {"access_denied"}, "state": {"forged"}, "iss": {issuer}}
		}, 0, ErrStateMismatch, ""},
		{"flow expired", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {issuer}}
		}, DefaultFlowLifetime + time.Second, ErrFlowExpired, ""},
		{"error parameter with the right state", func(f *Flow) params {
			return params{"error": {"access_denied"}, "error_description": {"user said no"}, "state": {f.State}, "iss": {issuer}}
		}, 0, ErrAccessDenied, "user said no"},
		{"error and code together is an error", func(f *Flow) params {
			return params{"error": {"server_error"}, "code": {"c"}, "state": {f.State}, "iss": {issuer}}
		}, 0, ErrServerError, "RFC 6749 §4.1.2.1"},
		{"code missing", func(f *Flow) params {
			return params{"state": {f.State}, "iss": {issuer}}
		}, 0, ErrMissingCode, "RFC 6749 §4.1.2"},
		{"code empty", func(f *Flow) params {
			return params{"code": {""}, "state": {f.State}, "iss": {issuer}}
		}, 0, ErrMissingCode, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock = now
			f, err := c.Start()
			require.NoError(t, err)
			clock = now.Add(tt.later)
			code, err := c.VerifyCallback(f, url.Values(tt.query(f)))
			if tt.wantIs == nil {
				require.NoError(t, err)
				assert.Equal(t, "c0de", code)
				return
			}
			assert.ErrorIs(t, err, tt.wantIs)
			assert.Empty(t, code)
			if tt.wantMsg != "" {
				assert.ErrorContains(t, err, tt.wantMsg)
			}
			assert.NotContains(t, err.Error(), f.State)
		})
	}
}

func TestFlowIsSingleUse(t *testing.T) {
	c, err := New(testConfig())
	require.NoError(t, err)
	f, err := c.Start()
	require.NoError(t, err)
	q := url.Values{"code": {"c"}, "state": {f.State}}

	// A forged callback does not use the flow up.
	_, err = c.VerifyCallback(f, url.Values{"code": {"c"}, "state": {"forged"}})
	require.ErrorIs(t, err, ErrStateMismatch)

	_, err = c.VerifyCallback(f, q)
	require.NoError(t, err)
	_, err = c.VerifyCallback(f, q)
	assert.ErrorIs(t, err, ErrFlowFinished)

	var copied Flow
	b, err := json.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &copied))
	_, err = c.VerifyCallback(&copied, q)
	assert.ErrorIs(t, err, ErrFlowFinished, "a copy of a finished flow is finished too")

	g, err := c.Start()
	require.NoError(t, err)
	_, err = c.VerifyCallback(g, url.Values{"error": {"access_denied"}, "state": {g.State}})
	require.ErrorIs(t, err, ErrAccessDenied)
	_, err = c.VerifyCallback(g, url.Values{"code": {"c"}, "state": {g.State}})
	assert.ErrorIs(t, err, ErrFlowFinished, "an error response ends the flow too")
}

func TestFinishedFlowsForgetExpiredStates(t *testing.T) {
	var ff finishedFlows
	now := time.Now()
	for i := range 1000 {
		require.True(t, ff.claim(fmt.Sprint("s", i), now.Add(time.Minute), now))
	}
	later := now.Add(2 * time.Minute)
	for i := range 1000 {
		require.True(t, ff.claim(fmt.Sprint("t", i), later.Add(time.Minute), later))
	}
	assert.LessOrEqual(t, len(ff.expires), 1000+64, "expired states are swept")
	assert.False(t, ff.claim("t5", later, later))
}

func TestVerifyCallbackRejectsEmptyFlow(t *testing.T) {
	c, err := New(testConfig())
	require.NoError(t, err)
	for name, f := range map[string]*Flow{"nil flow": nil, "zero flow": {}, "flow without verifier": {State: "s", RedirectURL: "https://app.example/cb"}} {
		t.Run(name, func(t *testing.T) {
			_, err := c.VerifyCallback(f, url.Values{"state": {"s"}, "code": {"c"}})
			assert.ErrorIs(t, err, ErrInvalidFlow)
		})
	}
}

func TestClientRedactsSecret(t *testing.T) {
	c, err := New(testConfig())
	require.NoError(t, err)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(format, c), "s3cret-value", format)
	}
	assert.True(t, strings.Contains(c.String(), "client_secret_basic"))
}
