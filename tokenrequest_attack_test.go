package pkce_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/pkcekit/pkce"
)

// Attacks on the token request the package builds itself (transport.go,
// form.go): what goes on the wire, how the caller's HTTP client is used,
// and what an error may say.

// Credentials with every byte class that form-encoding and HTTP Basic
// treat specially (RFC 6749 §2.3.1, Appendix B).
const (
	oddID     = "app id+/:%é"
	oddSecret = "s e+c/r:e%t é"
)

// A wireServer serves a token, a PAR and a revocation endpoint and keeps
// every request as sent.
type wireServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []wireRequest
}

type wireRequest struct {
	method, path string
	header       http.Header
	body         string
}

func (r wireRequest) form(t *testing.T) url.Values {
	t.Helper()
	v, err := url.ParseQuery(r.body)
	require.NoError(t, err)
	return v
}

func newWireServer(t *testing.T) *wireServer {
	t.Helper()
	ws := &wireServer{}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ws.mu.Lock()
		ws.reqs = append(ws.reqs, wireRequest{r.Method, r.URL.Path, r.Header.Clone(), string(b)})
		ws.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/par":
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}`)
		case "/revoke":
		default:
			io.WriteString(w, goodBody)
		}
	}))
	t.Cleanup(ws.Close)
	return ws
}

func (ws *wireServer) all() []wireRequest {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return slices.Clone(ws.reqs)
}

func (ws *wireServer) last(t *testing.T) wireRequest {
	t.Helper()
	all := ws.all()
	require.NotEmpty(t, all, "the server saw no request")
	return all[len(all)-1]
}

func (ws *wireServer) metadata() *pkce.Metadata {
	return &pkce.Metadata{Issuer: ws.URL, AuthorizationEndpoint: ws.URL + "/authorize", TokenEndpoint: ws.URL + "/token",
		RevocationEndpoint: ws.URL + "/revoke", PushedAuthorizationRequestEndpoint: ws.URL + "/par"}
}

// wireClient is a Client of ws with oddID and, for the secret methods,
// oddSecret.
func wireClient(t *testing.T, ws *wireServer, m pkce.AuthMethod, opts ...pkce.Option) *pkce.Client {
	t.Helper()
	cfg := &oauth2.Config{ClientID: oddID, RedirectURL: redirect}
	switch m {
	case pkce.AuthSecretBasic, pkce.AuthSecretPost:
		cfg.ClientSecret = oddSecret
	case pkce.AuthPrivateKeyJWT:
		opts = append(opts, pkce.WithClientKey(ecKey, "key-1", ""))
	}
	c, err := pkce.New(cfg, append([]pkce.Option{pkce.WithMetadata(ws.metadata()), pkce.WithAuthMethod(m)}, opts...)...)
	require.NoError(t, err)
	return c
}

// basicCredentials decodes an Authorization header as RFC 6749 §2.3.1
// says a server must: base64, split at the first colon, then each part
// form-decoded.
func basicCredentials(t *testing.T, h http.Header) (id, secret string, ok bool) {
	t.Helper()
	v, found := strings.CutPrefix(h.Get("Authorization"), "Basic ")
	if !found {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	require.NoError(t, err)
	user, pass, found := strings.Cut(string(raw), ":")
	require.True(t, found, "user-pass has a colon (RFC 7617 §2)")
	id, err = url.QueryUnescape(user)
	require.NoError(t, err)
	secret, err = url.QueryUnescape(pass)
	require.NoError(t, err)
	return id, secret, true
}

var allMethods = []pkce.AuthMethod{pkce.AuthSecretBasic, pkce.AuthSecretPost, pkce.AuthNone, pkce.AuthPrivateKeyJWT}

// TestTokenRequestWireMembers: every request with client authentication
// carries exactly the grant's members and the method's, each once, and a
// Basic header that decodes to the id and secret (RFC 6749 §2.3.1).
func TestTokenRequestWireMembers(t *testing.T) {
	ctx := context.Background()
	grants := []struct {
		name string
		path string
		opts []pkce.Option
		send func(t *testing.T, c *pkce.Client) url.Values // what the grant must send
	}{
		{"code exchange: code, verifier and redirect_uri (RFC 6749 §4.1.3)", "/token", nil,
			func(t *testing.T, c *pkce.Client) url.Values {
				f, err := c.Start(ctx)
				require.NoError(t, err)
				_, err = c.Exchange(ctx, f, testCode)
				require.NoError(t, err)
				return url.Values{"grant_type": {"authorization_code"}, "code": {testCode},
					"code_verifier": {flowJSON(t, f)["verifier"].(string)}, "redirect_uri": {redirect}}
			}},
		{"code exchange with one resource sends it (RFC 8707 §2.2)", "/token", []pkce.Option{pkce.WithResource("https://api.example/a")},
			func(t *testing.T, c *pkce.Client) url.Values {
				f, err := c.Start(ctx)
				require.NoError(t, err)
				_, err = c.Exchange(ctx, f, testCode)
				require.NoError(t, err)
				return url.Values{"grant_type": {"authorization_code"}, "code": {testCode}, "resource": {"https://api.example/a"},
					"code_verifier": {flowJSON(t, f)["verifier"].(string)}, "redirect_uri": {redirect}}
			}},
		{"code exchange with several resources sends none (RFC 8707 §2.2)", "/token",
			[]pkce.Option{pkce.WithResource("https://api.example/a"), pkce.WithResource("https://api.example/b")},
			func(t *testing.T, c *pkce.Client) url.Values {
				f, err := c.Start(ctx)
				require.NoError(t, err)
				_, err = c.Exchange(ctx, f, testCode)
				require.NoError(t, err)
				return url.Values{"grant_type": {"authorization_code"}, "code": {testCode},
					"code_verifier": {flowJSON(t, f)["verifier"].(string)}, "redirect_uri": {redirect}}
			}},
		{"refresh: the refresh token alone (RFC 6749 §6)", "/token", nil,
			func(t *testing.T, c *pkce.Client) url.Values {
				_, err := c.Refresh(ctx, "RT-0 +/=")
				require.NoError(t, err)
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"RT-0 +/="}}
			}},
		{"refresh with scopes joins them (RFC 6749 §6)", "/token", nil,
			func(t *testing.T, c *pkce.Client) url.Values {
				_, err := c.Refresh(ctx, "RT-0", "read", "write:all")
				require.NoError(t, err)
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"RT-0"}, "scope": {"read write:all"}}
			}},
		{"refresh sends every resource in order (RFC 8707 §2.2)", "/token",
			[]pkce.Option{pkce.WithResource("https://api.example/b"), pkce.WithResource("https://api.example/a")},
			func(t *testing.T, c *pkce.Client) url.Values {
				_, err := c.Refresh(ctx, "RT-0")
				require.NoError(t, err)
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"RT-0"},
					"resource": {"https://api.example/b", "https://api.example/a"}}
			}},
		{"another grant sends the caller's members, repeated ones in order", "/token", []pkce.Option{pkce.WithResource("https://api.example/a")},
			func(t *testing.T, c *pkce.Client) url.Values {
				p := url.Values{"grant_type": {"urn:example:grant"}, "username": {"ann é"}, "audience": {"z", "a&b=c"}}
				_, err := c.Grant(ctx, p)
				require.NoError(t, err)
				p["resource"] = []string{"https://api.example/a"}
				return p
			}},
		{"revocation of a refresh token (RFC 7009 §2.1)", "/revoke", nil,
			func(t *testing.T, c *pkce.Client) url.Values {
				require.NoError(t, c.Revoke(ctx, &oauth2.Token{AccessToken: "AT", RefreshToken: "RT-9"}))
				return url.Values{"token": {"RT-9"}, "token_type_hint": {"refresh_token"}}
			}},
	}
	for _, g := range grants {
		for _, m := range allMethods {
			t.Run(g.name+"/"+string(m), func(t *testing.T) {
				ws := newWireServer(t)
				c := wireClient(t, ws, m, g.opts...)
				want := g.send(t, c)
				r := ws.last(t)
				require.Equal(t, g.path, r.path)
				assert.Equal(t, http.MethodPost, r.method)
				got := r.form(t)
				id, secret, basic := basicCredentials(t, r.header)
				switch m {
				case pkce.AuthSecretBasic:
					require.True(t, basic, "HTTP Basic")
					assert.Equal(t, oddID, id)
					assert.Equal(t, oddSecret, secret)
				case pkce.AuthSecretPost:
					want["client_id"], want["client_secret"] = []string{oddID}, []string{oddSecret}
				case pkce.AuthNone:
					want["client_id"] = []string{oddID}
				case pkce.AuthPrivateKeyJWT:
					require.Len(t, got["client_assertion"], 1)
					want["client_id"], want["client_assertion"] = []string{oddID}, got["client_assertion"]
					want["client_assertion_type"] = []string{"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
				}
				if m != pkce.AuthSecretBasic {
					assert.False(t, basic, "no Authorization header")
				}
				assert.Equal(t, want, got)
				assert.Equal(t, "application/x-www-form-urlencoded", r.header.Get("Content-Type"))
			})
		}
	}
}

// TestPushedRequestWireMembers: a pushed authorization request carries
// client_id once with every method, the secret once in one place, and no
// member twice (RFC 9126 §2.1).
func TestPushedRequestWireMembers(t *testing.T) {
	for _, m := range allMethods {
		t.Run(string(m), func(t *testing.T) {
			ws := newWireServer(t)
			c := wireClient(t, ws, m, pkce.WithPushedAuthorization())
			_, err := c.Start(context.Background())
			require.NoError(t, err)
			r := ws.last(t)
			require.Equal(t, "/par", r.path)
			got := r.form(t)
			for k, v := range got {
				assert.Len(t, v, 1, "%s is sent once", k)
			}
			assert.Equal(t, []string{oddID}, got["client_id"])
			id, secret, basic := basicCredentials(t, r.header)
			assert.Equal(t, m == pkce.AuthSecretBasic, basic, "HTTP Basic")
			if basic {
				assert.Equal(t, oddID, id)
				assert.Equal(t, oddSecret, secret)
			}
			assert.Equal(t, m == pkce.AuthSecretPost, got.Has("client_secret"))
			assert.Equal(t, m == pkce.AuthPrivateKeyJWT, got.Has("client_assertion"))
		})
	}
}

// TestTokenRequestBytesMatchOAuth2: for the methods golang.org/x/oauth2
// knows, the package sends byte for byte the body and Authorization header
// x/oauth2 sends for the same grant, as it did when x/oauth2 sent them.
func TestTokenRequestBytesMatchOAuth2(t *testing.T) {
	ctx := context.Background()
	styles := map[pkce.AuthMethod]oauth2.AuthStyle{
		pkce.AuthSecretBasic: oauth2.AuthStyleInHeader, pkce.AuthSecretPost: oauth2.AuthStyleInParams, pkce.AuthNone: oauth2.AuthStyleInParams,
	}
	for _, m := range []pkce.AuthMethod{pkce.AuthSecretBasic, pkce.AuthSecretPost, pkce.AuthNone} {
		t.Run(string(m), func(t *testing.T) {
			ws := newWireServer(t)
			c := wireClient(t, ws, m, pkce.WithResource("https://api.example/a"))
			secret := ""
			if m != pkce.AuthNone {
				secret = oddSecret
			}
			ctx := context.WithValue(ctx, oauth2.HTTPClient, ws.Client())

			f, err := c.Start(ctx)
			require.NoError(t, err)
			_, err = c.Exchange(ctx, f, "a code/+ =")
			require.NoError(t, err)
			ours := ws.last(t)
			x := &oauth2.Config{ClientID: oddID, ClientSecret: secret, RedirectURL: redirect,
				Endpoint: oauth2.Endpoint{TokenURL: ws.URL + "/token", AuthStyle: styles[m]}}
			_, err = x.Exchange(ctx, "a code/+ =", oauth2.VerifierOption(flowJSON(t, f)["verifier"].(string)),
				oauth2.SetAuthURLParam("resource", "https://api.example/a"))
			require.NoError(t, err)
			theirs := ws.last(t)
			assert.Equal(t, theirs.body, ours.body, "code exchange body")
			assert.Equal(t, theirs.header.Get("Authorization"), ours.header.Get("Authorization"))

			_, err = c.Refresh(ctx, "RT/+ =", "a", "b")
			require.NoError(t, err)
			ours = ws.last(t)
			cc := clientcredentials.Config{ClientID: oddID, ClientSecret: secret, TokenURL: ws.URL + "/token", Scopes: []string{"a", "b"},
				AuthStyle: styles[m], EndpointParams: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"RT/+ ="},
					"resource": {"https://api.example/a"}}}
			_, err = cc.Token(ctx)
			require.NoError(t, err)
			theirs = ws.last(t)
			assert.Equal(t, theirs.body, ours.body, "refresh body")
			assert.Equal(t, theirs.header.Get("Authorization"), ours.header.Get("Authorization"))
		})
	}
}

// A transportFunc is an http.RoundTripper made of a function.
type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTokenRequestSecretsNotInErrors: a transport whose error echoes the
// whole request (headers and body), as logging and proxy transports do,
// does not carry the client secret, the Basic header, the code, the
// verifier, the refresh token, the client assertion or the DPoP proof
// into the package's error, in %v, %+v or slog output (THREATS.md,
// promise 2).
func TestTokenRequestSecretsNotInErrors(t *testing.T) {
	ctx := context.Background()
	calls := []struct {
		name string
		call func(c *pkce.Client, f *pkce.Flow) error
	}{
		{"code exchange", func(c *pkce.Client, f *pkce.Flow) error {
			_, err := c.Exchange(ctx, f, "the-secret-code-1")
			return err
		}},
		{"refresh", func(c *pkce.Client, _ *pkce.Flow) error { _, err := c.Refresh(ctx, "the-refresh-token-1"); return err }},
		{"another grant", func(c *pkce.Client, _ *pkce.Flow) error {
			_, err := c.Grant(ctx, url.Values{"grant_type": {"password"}, "username": {"ann"}, "password": {"the-password-1"}})
			return err
		}},
		{"revocation", func(c *pkce.Client, _ *pkce.Flow) error {
			return c.Revoke(ctx, &oauth2.Token{RefreshToken: "the-refresh-token-2"})
		}},
		{"pushed authorization request", nil},
	}
	clients := []struct {
		name string
		hc   func(rt http.RoundTripper) *http.Client
	}{
		{"a client handing the request to its transport", func(rt http.RoundTripper) *http.Client { return &http.Client{Transport: rt} }},
		{"a client with a timeout", func(rt http.RoundTripper) *http.Client { return &http.Client{Transport: rt, Timeout: 1 << 40} }},
	}
	for _, m := range allMethods {
		for _, hcOf := range clients {
			for _, tc := range calls {
				t.Run(string(m)+"/"+hcOf.name+"/"+tc.name, func(t *testing.T) {
					ws := newWireServer(t)
					var sent []string
					echo := transportFunc(func(r *http.Request) (*http.Response, error) {
						b, _ := io.ReadAll(r.Body)
						for _, vs := range r.Header {
							sent = append(sent, vs...)
						}
						v, _ := url.ParseQuery(string(b))
						for _, k := range []string{"client_secret", "code", "code_verifier", "refresh_token", "client_assertion", "token", "password", "state"} {
							sent = append(sent, v[k]...)
						}
						return nil, fmt.Errorf("refused %s %v with body %s", r.URL, r.Header, b)
					})
					opts := []pkce.Option{pkce.WithDPoP(ec2Key), pkce.WithHTTPClient(hcOf.hc(echo))}
					if tc.call == nil {
						_, err := wireClient(t, ws, m, append(opts, pkce.WithPushedAuthorization())...).Start(ctx)
						checkNoEcho(t, err, sent)
						return
					}
					c := wireClient(t, ws, m, opts...)
					f, err := c.Start(ctx)
					require.NoError(t, err)
					checkNoEcho(t, tc.call(c, f), sent)
				})
			}
		}
	}
}

// checkNoEcho asserts that err, in every form an application prints it,
// holds none of the values sent.
func checkNoEcho(t *testing.T, err error, sent []string) {
	t.Helper()
	require.Error(t, err)
	require.NotEmpty(t, sent)
	var logged strings.Builder
	slogTo(&logged).Error("failed", "err", err)
	var leaked []string
	for _, text := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), logged.String()} {
		assert.Contains(t, text, "refused", "the transport's error is kept")
		for _, s := range sent {
			if len(s) < 8 || s == "application/json" || s == "application/x-www-form-urlencoded" {
				continue
			}
			for _, form := range []string{s, url.QueryEscape(s), strings.TrimPrefix(s, "Basic ")} {
				if strings.Contains(text, form) {
					leaked = append(leaked, form)
				}
			}
		}
	}
	assert.Empty(t, leaked, "in %s", err)
}

// slogTo returns a logger writing text and JSON lines to w.
func slogTo(w io.Writer) *slog.Logger {
	text, js := slog.NewTextHandler(w, nil), slog.NewJSONHandler(w, nil)
	return slog.New(bothHandlers{text, js})
}

type bothHandlers [2]slog.Handler

func (h bothHandlers) Enabled(context.Context, slog.Level) bool { return true }
func (h bothHandlers) Handle(ctx context.Context, r slog.Record) error {
	return errors.Join(h[0].Handle(ctx, r), h[1].Handle(ctx, r))
}
func (h bothHandlers) WithAttrs(a []slog.Attr) slog.Handler {
	return bothHandlers{h[0].WithAttrs(a), h[1].WithAttrs(a)}
}
func (h bothHandlers) WithGroup(n string) slog.Handler {
	return bothHandlers{h[0].WithGroup(n), h[1].WithGroup(n)}
}

func newJar(t *testing.T) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return jar
}
