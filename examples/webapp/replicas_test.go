package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce/pkcetest"
)

// A sign-in that starts on one replica finishes on the next behind a
// round-robin proxy, and the finished flow is refused on every other
// replica, even one that still holds it: the replicas share the Store in
// which a flow's state is claimed, and the tokens.
func TestWebappReplicas(t *testing.T) {
	proxy := httptest.NewUnstartedServer(nil)
	redirect := "http://" + proxy.Listener.Addr().String() + "/callback"
	as := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{
			ID: "webapp", Secret: "webapp-secret", Method: pkcetest.MethodBasic,
			RedirectURIs: []string{redirect},
		}},
		SendIssuer: true,
		Rotate:     true,
	})
	t.Cleanup(as.Close)
	apps, err := newReplicas(config{
		OAuth2: &oauth2.Config{
			ClientID:     "webapp",
			ClientSecret: "webapp-secret",
			Endpoint:     oauth2.Endpoint{AuthURL: as.AuthURL(), TokenURL: as.TokenURL()},
			RedirectURL:  redirect,
			Scopes:       []string{"openid", "profile"},
		},
		ResourceURL: as.ResourceURL(),
	}, 3)
	require.NoError(t, err)
	var targets []*url.URL
	for _, a := range apps {
		srv := httptest.NewServer(a.routes())
		t.Cleanup(srv.Close)
		u, err := url.Parse(srv.URL)
		require.NoError(t, err)
		targets = append(targets, u)
	}
	proxy.Config.Handler = roundRobin(targets)
	proxy.Start()
	t.Cleanup(proxy.Close)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// get fetches target, checks which replica served it, if the proxy
	// did, and returns the response with its body read.
	get := func(t *testing.T, client *http.Client, target, replica string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(target)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, replica, resp.Header.Get("X-Replica"), "the replica that served %s", target)
		return resp, string(body)
	}

	resp, _ := get(t, browser, proxy.URL+"/login?next=/me", "0")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loginID := jarSession(t, jar, proxy.URL)
	pending := apps[0].sessions.get(context.Background(), loginID).pending
	require.NotNil(t, pending, "replica 0 keeps the flow in the session")
	resp, _ = get(t, browser, resp.Header.Get("Location"), "")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	callback := resp.Header.Get("Location")

	t.Run("the callback on replica 1 signs in", func(t *testing.T) {
		resp, _ := get(t, browser, callback, "1")
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, "/me", resp.Header.Get("Location"))
		assert.Equal(t, 1, as.TokenRequests())
	})
	t.Run("replica 2 refuses the finished flow, though it holds a copy", func(t *testing.T) {
		// What a session store that hands a flow out twice, or a stolen
		// copy of the login session, would give replica 2.
		copyJar, err := cookiejar.New(nil)
		require.NoError(t, err)
		id, err := apps[2].sessions.create(context.Background(), &session{pending: pending}, time.Now().Add(time.Minute))
		require.NoError(t, err)
		u, err := url.Parse(proxy.URL)
		require.NoError(t, err)
		copyJar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: id, Path: "/"}})
		other := *browser
		other.Jar = copyJar

		resp, body := get(t, &other, callback, "2")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "completed already")
		assert.Equal(t, 1, as.TokenRequests(), "the refused callback made no token request")
	})
	t.Run("a replay on replica 0 goes home, signed in", func(t *testing.T) {
		resp, _ := get(t, browser, callback, "0")
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, "/", resp.Header.Get("Location"))
		assert.Equal(t, 1, as.TokenRequests())
	})
	t.Run("replica 1 serves /me with the stored token", func(t *testing.T) {
		resp, body := get(t, browser, proxy.URL+"/me", "1")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, body, "test-user")
	})
}

// jarSession returns the session cookie the jar holds for target.
func jarSession(t *testing.T, jar http.CookieJar, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	for _, c := range jar.Cookies(u) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	require.FailNow(t, "no session cookie")
	return ""
}
