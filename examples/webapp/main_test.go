package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// testApp is the app served by httptest against an internal authorization
// server, and a browser with a cookie jar.
type testApp struct {
	as      *pkcetest.Server
	app     *app
	srv     *httptest.Server
	browser *http.Client
	logs    *logBuffer

	mu        sync.Mutex
	callbacks []*url.URL // redirects to /callback the browser followed
}

func startApp(t *testing.T, tls bool, opts ...pkce.Option) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	scheme := "http"
	if tls {
		scheme = "https"
	}
	redirect := scheme + "://" + srv.Listener.Addr().String() + "/callback"
	as := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{
			ID: "webapp", Secret: "webapp-secret", Method: pkcetest.MethodBasic,
			RedirectURIs: []string{redirect},
		}},
		SendIssuer: true,
	})
	t.Cleanup(as.Close)
	logs := &logBuffer{}
	a, err := newApp(config{
		OAuth2: &oauth2.Config{
			ClientID:     "webapp",
			ClientSecret: "webapp-secret",
			Endpoint:     oauth2.Endpoint{AuthURL: as.AuthURL(), TokenURL: as.TokenURL()},
			RedirectURL:  redirect,
			Scopes:       []string{"openid", "profile"},
		},
		Options:      append([]pkce.Option{pkce.WithIssuer(as.Issuer())}, opts...),
		StartOptions: []pkce.StartOption{pkce.Param("audience", "https://api.example")},
		ResourceURL:  as.ResourceURL(),
		Log:          slog.New(slog.NewJSONHandler(logs, nil)),
	})
	require.NoError(t, err)
	srv.Config.Handler = a.routes()
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)

	ta := &testApp{as: as, app: a, srv: srv, logs: logs}
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := *srv.Client()
	browser.Jar = jar
	browser.Timeout = 30 * time.Second
	browser.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/callback" {
			ta.mu.Lock()
			ta.callbacks = append(ta.callbacks, req.URL)
			ta.mu.Unlock()
		}
		return nil
	}
	ta.browser = &browser
	return ta
}

// get fetches path (or an absolute URL) and returns the final response
// with its body read.
func (ta *testApp) get(t *testing.T, target string) (*http.Response, string) {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = ta.srv.URL + target
	}
	resp, err := ta.browser.Get(target)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// noFollow is the browser that stops at the first response.
func (ta *testApp) noFollow() *http.Client {
	c := *ta.browser
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func TestWebappSignIn(t *testing.T) {
	ta := startApp(t, false)

	resp, body := ta.get(t, "/login?next=/me")

	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "/me", resp.Request.URL.Path, "back where sign-in started")
	assert.Contains(t, body, "test-user")
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Len(t, ta.callbacks, 1)
	assert.Equal(t, 1, ta.as.TokenRequests())

	// Signed in: /me works again with the session's token source.
	resp, body = ta.get(t, "/me")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "test-user")
	assert.Equal(t, 1, ta.as.TokenRequests())
}

func TestWebappKeepsNextOutOfState(t *testing.T) {
	ta := startApp(t, false)
	resp, err := ta.noFollow().Get(ta.srv.URL + "/login?next=/me%3Ftab%3Dkeys")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	authURL, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, ta.as.AuthURL(), authURL.Scheme+"://"+authURL.Host+authURL.Path)
	assert.NotContains(t, authURL.RawQuery, "tab", "the app's data stays on the server")
	assert.Len(t, authURL.Query().Get("state"), 43, "state is the flow's random value only")

	resp, _ = ta.get(t, authURL.String())
	assert.Equal(t, "/me", resp.Request.URL.Path)
	assert.Equal(t, "tab=keys", resp.Request.URL.RawQuery)
}

func TestWebappReplayedCallback(t *testing.T) {
	tests := []struct {
		name       string
		signOut    bool // sign out before the replay
		otherJar   bool // replay in another browser
		wantStatus int
		wantPath   string
		wantBody   string
	}{
		{name: "replayed while signed in goes home", wantStatus: http.StatusOK, wantPath: "/", wantBody: "Signed in as <strong>test-user</strong>"},
		{name: "replayed after sign-out finds no sign-in in progress", signOut: true, wantStatus: http.StatusBadRequest, wantPath: "/callback", wantBody: "used already"},
		{name: "replayed in another browser finds no sign-in in progress", otherJar: true, wantStatus: http.StatusBadRequest, wantPath: "/callback", wantBody: "No sign-in is in progress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := startApp(t, false)
			_, body := ta.get(t, "/login?next=/me")
			require.Contains(t, body, "test-user")
			require.Len(t, ta.callbacks, 1)
			if tt.signOut {
				resp, err := ta.browser.Post(ta.srv.URL+"/logout", "", nil)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
			}
			if tt.otherJar {
				jar, err := cookiejar.New(nil)
				require.NoError(t, err)
				ta.browser.Jar = jar
			}

			resp, body := ta.get(t, ta.callbacks[0].String())

			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Equal(t, tt.wantPath, resp.Request.URL.Path)
			assert.Contains(t, body, tt.wantBody)
			assert.Equal(t, 1, ta.as.TokenRequests(), "the replay made no token request")
		})
	}
}

func TestWebappRefusesExpiredFlow(t *testing.T) {
	const lifetime = 200 * time.Millisecond
	ta := startApp(t, false, pkce.WithFlowLifetime(lifetime))
	resp, err := ta.noFollow().Get(ta.srv.URL + "/login?next=/me")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)

	time.Sleep(lifetime + 100*time.Millisecond) // the person took too long
	resp, body := ta.get(t, resp.Header.Get("Location"))

	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "/callback", resp.Request.URL.Path)
	assert.Contains(t, body, "expired")
	assert.Zero(t, ta.as.TokenRequests())
}

func TestWebappCallbackErrors(t *testing.T) {
	tests := []struct {
		name          string
		edit          func(q url.Values)
		wantStatus    int
		wantBody      string
		tokenRequests int
	}{
		{"person declined", func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, http.StatusForbidden, "You declined", 0},
		{"error code is escaped", func(q url.Values) { q.Del("code"); q.Set("error", "<script>alert(1)</script>") }, http.StatusBadRequest, "&lt;script&gt;", 0},
		{"server's error_description is shown", func(q url.Values) {
			q.Del("code")
			q.Set("error", "invalid_scope")
			q.Set("error_description", "the scope admin is not granted")
		}, http.StatusBadRequest, "<dd>the scope admin is not granted</dd>", 0},
		{"error_description is escaped", func(q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "<script>alert(1)</script>")
		}, http.StatusForbidden, "&lt;script&gt;alert(1)&lt;/script&gt;", 0},
		{"state of another flow", func(q url.Values) { q.Set("state", "forged") }, http.StatusBadRequest, "does not belong to this sign-in", 0},
		{"issuer of another server", func(q url.Values) { q.Set("iss", "https://evil.example") }, http.StatusBadRequest, "does not belong to this sign-in", 0},
		{"no code", func(q url.Values) { q.Del("code") }, http.StatusBadRequest, "does not belong to this sign-in", 0},
		{"code refused by the token endpoint", func(q url.Values) { q.Set("code", "forged") }, http.StatusBadGateway, "did not issue a token", 1},
		{"token endpoint's error_description is shown", func(q url.Values) { q.Set("code", "forged") }, http.StatusBadGateway, "<dd>the authorization code is unknown</dd>", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := startApp(t, false)
			browser := ta.noFollow()
			resp, err := browser.Get(ta.srv.URL + "/login?next=/me")
			require.NoError(t, err)
			resp.Body.Close()
			resp, err = browser.Get(resp.Header.Get("Location"))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode)
			back, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			genuine := back.String()
			q := back.Query()
			tt.edit(q)
			back.RawQuery = q.Encode()

			resp, body := ta.get(t, back.String())

			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Contains(t, body, tt.wantBody)
			assert.NotContains(t, body, "<script")

			// The pending flow was taken out at the first callback.
			resp, body = ta.get(t, genuine)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, body, "No sign-in is in progress")
			assert.Equal(t, tt.tokenRequests, ta.as.TokenRequests())
		})
	}
}

func TestWebappSessionCookie(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "served over http", true: "served over https"}[tls]
		t.Run(name, func(t *testing.T) {
			ta := startApp(t, tls)
			browser := ta.noFollow()

			login, err := browser.Get(ta.srv.URL + "/login?next=/me")
			require.NoError(t, err)
			login.Body.Close()
			authorize, err := browser.Get(login.Header.Get("Location"))
			require.NoError(t, err)
			authorize.Body.Close()
			callback, err := browser.Get(authorize.Header.Get("Location"))
			require.NoError(t, err)
			callback.Body.Close()
			require.Equal(t, http.StatusSeeOther, callback.StatusCode)

			var ids []string
			for _, resp := range []*http.Response{login, callback} {
				cookies := resp.Cookies()
				require.Len(t, cookies, 1)
				c := cookies[0]
				assert.Equal(t, sessionCookie, c.Name)
				assert.True(t, c.HttpOnly, "HttpOnly")
				assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
				assert.Equal(t, "/", c.Path)
				assert.Equal(t, tls, c.Secure, "Secure exactly when served over https")
				assert.GreaterOrEqual(t, len(c.Value), 43, "256 random bits")
				ids = append(ids, c.Value)
			}
			assert.NotEqual(t, ids[0], ids[1], "the session identifier changes at sign-in")
		})
	}
}

func TestWebappRefusesOpenRedirect(t *testing.T) {
	tests := []struct {
		name string
		next string
	}{
		{"absolute URL", "https://evil.example/"},
		{"scheme-relative URL", "//evil.example/"},
		{"backslash read as a slash", "/\\evil.example/"},
		{"tab dropped by browsers", "/\t/evil.example/"},
		{"javascript URL", "javascript:alert(1)"},
		{"relative path", "me"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := startApp(t, false)
			resp, err := ta.noFollow().Get(ta.srv.URL + "/login?next=" + url.QueryEscape(tt.next))
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)

			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Contains(t, string(body), "must be a path on this site")
			assert.Empty(t, resp.Cookies(), "no sign-in was started")
		})
	}
}

func TestWebappMeAndLogout(t *testing.T) {
	ta := startApp(t, false)
	browser := ta.noFollow()

	resp, err := browser.Get(ta.srv.URL + "/me")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "not signed in yet")
	assert.Equal(t, "/login?next=/me", resp.Header.Get("Location"))

	_, body := ta.get(t, "/login?next=/me")
	require.Contains(t, body, "test-user")

	resp, err = browser.Post(ta.srv.URL+"/logout", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)

	resp, err = browser.Get(ta.srv.URL + "/me")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "signed out")
	assert.Equal(t, "/login?next=/me", resp.Header.Get("Location"))
}
