package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// world is an authorization server, the backend registered with it, and
// a browser with a cookie jar that stops at every redirect.
type world struct {
	srv     *pkcetest.Server
	app     *httptest.Server
	browser *http.Client
}

func newWorld(t *testing.T, cfg pkcetest.Config) *world { return newReplicas(t, cfg, 1) }

// newReplicas is a world whose backend runs as several replicas.
func newReplicas(t *testing.T, cfg pkcetest.Config, replicas int) *world {
	t.Helper()
	cfg.Clients = []pkcetest.Client{{
		ID: "backend", Secret: "backend-secret", Method: pkcetest.MethodBasic,
		RedirectURIs: []string{"http://127.0.0.1/callback"}, // any loopback port
	}}
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	// The redirect URL names the backend's port, so listen first.
	app := httptest.NewUnstartedServer(nil)
	t.Cleanup(app.Close)
	// Replicas behind one address, taking requests in turn, as behind a
	// load balancer: they share the Store and the sealing key, nothing
	// else.
	keys, err := sealKeys("")
	require.NoError(t, err)
	store := pkce.NewMemoryStore()
	var backends []http.Handler
	for range max(replicas, 1) {
		b, err := newBackend(context.Background(), srv.Issuer(), keys, store, &oauth2.Config{
			ClientID:     "backend",
			ClientSecret: "backend-secret",
			RedirectURL:  "http://" + app.Listener.Addr().String() + "/callback",
			Scopes:       []string{"openid", "profile"},
		}, srv.ResourceURL())
		require.NoError(t, err)
		backends = append(backends, b)
	}
	var turn atomic.Int64
	app.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backends[int(turn.Add(1)-1)%len(backends)].ServeHTTP(w, r)
	})
	app.Start()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &world{srv: srv, app: app, browser: browser}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// get GETs path on the backend and returns the status, Location and body.
func (w *world) get(t *testing.T, path string) (int, string, string) {
	t.Helper()
	return w.do(t, http.MethodGet, w.app.URL+path)
}

func (w *world) do(t *testing.T, method, url string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, url, nil)
	require.NoError(t, err)
	resp, err := w.browser.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// signIn goes through /login, the authorization server and /callback, and
// returns where the backend sends the browser next.
func (w *world) signIn(t *testing.T, browser pkcetest.Browser) (int, string) {
	t.Helper()
	ctx := testContext(t)
	status, authURL, _ := w.get(t, "/login")
	require.Equal(t, http.StatusFound, status)
	require.True(t, strings.HasPrefix(authURL, w.srv.AuthURL()+"?"), authURL)
	cb, err := browser.Authorize(ctx, authURL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	resp, err := w.browser.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func TestSignInThenCallTheAPI(t *testing.T) {
	w := newWorld(t, pkcetest.Config{SendIssuer: true})

	status, next := w.signIn(t, pkcetest.Browser{})
	require.Equal(t, http.StatusFound, status)
	assert.Equal(t, "/me", next)

	status, _, body := w.get(t, "/me")
	require.Equal(t, http.StatusOK, status, body)
	var me map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &me))
	assert.Equal(t, pkcetest.TestUser, me["sub"])
	assert.Equal(t, "openid profile", me["scope"])
	assert.Equal(t, 1, w.srv.TokenRequests(), "one code exchange; /me needs no refresh")

	assert.Equal(t, "Basic", strings.Fields(w.srv.LastTokenRequest().Authorization)[0],
		"the confidential client authenticates with its secret")
}

func TestMeNeedsASignIn(t *testing.T) {
	w := newWorld(t, pkcetest.Config{})

	status, _, _ := w.get(t, "/me")

	assert.Equal(t, http.StatusUnauthorized, status)
}

func TestCallbackWithoutLoginIsRefused(t *testing.T) {
	w := newWorld(t, pkcetest.Config{})

	status, _, _ := w.get(t, "/callback?code=forged&state=forged")

	assert.Equal(t, http.StatusBadRequest, status)
	assert.Zero(t, w.srv.TokenRequests())
}

func TestDeclinedSignIn(t *testing.T) {
	w := newWorld(t, pkcetest.Config{Consent: true})

	status, _ := w.signIn(t, pkcetest.Browser{Deny: true})

	assert.Equal(t, http.StatusForbidden, status)
	assert.Zero(t, w.srv.TokenRequests())
	status, _, _ = w.get(t, "/me")
	assert.Equal(t, http.StatusUnauthorized, status)
}

func TestLogoutRevokesTheToken(t *testing.T) {
	w := newWorld(t, pkcetest.Config{})
	status, _ := w.signIn(t, pkcetest.Browser{})
	require.Equal(t, http.StatusFound, status)

	status, _, _ = w.do(t, http.MethodPost, w.app.URL+"/logout")

	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, 1, w.srv.RevocationRequests())
	assert.NotEmpty(t, w.srv.LastRevocationRequest().Form.Get("token"))
	status, _, _ = w.get(t, "/me")
	assert.Equal(t, http.StatusUnauthorized, status)
}

// Sign-in needs no session store: the replica that gets the callback is
// not the one that started the flow, and the flow cookie is all it needs.
func TestCallbackAtAnotherReplica(t *testing.T) {
	w := newReplicas(t, pkcetest.Config{SendIssuer: true}, 2)

	status, next := w.signIn(t, pkcetest.Browser{}) // /login on one, /callback on the other

	require.Equal(t, http.StatusFound, status)
	assert.Equal(t, "/me", next)
	status, _, body := w.get(t, "/me")
	assert.Equal(t, http.StatusOK, status, body)
}

// The flow cookie and the callback, sent again after the sign-in, are
// refused without a second token request: the Store recorded the flow as
// finished, even though the browser still has the cookie.
func TestCallbackReplayIsRefused(t *testing.T) {
	w := newReplicas(t, pkcetest.Config{SendIssuer: true}, 2)
	ctx := testContext(t)
	status, authURL, _ := w.get(t, "/login")
	require.Equal(t, http.StatusFound, status)
	appURL, err := url.Parse(w.app.URL)
	require.NoError(t, err)
	flowCookies := w.browser.Jar.Cookies(appURL)
	cb, err := pkcetest.Browser{}.Authorize(ctx, authURL)
	require.NoError(t, err)
	first, err := cb.Request(ctx)
	require.NoError(t, err)
	resp, err := w.browser.Do(first)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, 1, w.srv.TokenRequests())

	replay, err := cb.Request(ctx)
	require.NoError(t, err)
	for _, c := range flowCookies {
		replay.AddCookie(c)
	}
	resp, err = http.DefaultClient.Do(replay) // an attacker's client, with the old cookie
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, 1, w.srv.TokenRequests(), "the replay made no token request")
}

// A flow cookie altered by the browser is refused before any token
// request.
func TestTamperedFlowCookieIsRefused(t *testing.T) {
	w := newWorld(t, pkcetest.Config{SendIssuer: true})
	ctx := testContext(t)
	status, authURL, _ := w.get(t, "/login")
	require.Equal(t, http.StatusFound, status)
	appURL, err := url.Parse(w.app.URL)
	require.NoError(t, err)
	cookies := w.browser.Jar.Cookies(appURL)
	require.Len(t, cookies, 1)
	cb, err := pkcetest.Browser{}.Authorize(ctx, authURL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	v := []byte(cookies[0].Value)
	v[len(v)/2] ^= 1
	req.AddCookie(&http.Cookie{Name: cookies[0].Name, Value: string(v)})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Zero(t, w.srv.TokenRequests())
}
