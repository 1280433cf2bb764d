package seal_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/seal"
)

const cookieName = "pkce-login"

// callbackWith returns the callback request cb with cookie c, as the
// browser sends it.
func callbackWith(t *testing.T, cb *pkcetest.Callback, c *http.Cookie) *http.Request {
	t.Helper()
	req, err := cb.Request(context.Background())
	require.NoError(t, err)
	if c != nil {
		req.AddCookie(c)
	}
	return req
}

// flip changes one character in the middle of a cookie value, keeping it
// base64url.
func flip(v string) string {
	b := []byte(v)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// Every way a flow cookie can be wrong is refused before any token
// request, each with its own error; a good cookie finishes the flow once.
func TestFlowCookie(t *testing.T) {
	ctx := context.Background()
	oldKey, curKey := newKey("old"), newKey("cur")
	keys := newKeys(t, curKey, oldKey)
	tests := []struct {
		name string
		// cookie turns the flow's good cookie (sealed by keys, or by
		// sealer when set) into what the browser sends.
		sealer *seal.Keys
		flow   func(f *pkce.Flow)
		cookie func(c *http.Cookie) *http.Cookie
		want   error
	}{
		{name: "a good cookie finishes the flow"},
		{name: "a cookie sealed with an older key still opens", sealer: newKeys(t, oldKey)},
		{name: "a tampered value is refused", cookie: func(c *http.Cookie) *http.Cookie {
			c.Value = flip(c.Value)
			return c
		}, want: seal.ErrTampered},
		{name: "a truncated value is refused", cookie: func(c *http.Cookie) *http.Cookie {
			c.Value = c.Value[:len(c.Value)-3]
			return c
		}, want: seal.ErrTampered},
		{name: "a value that is not base64url is refused", cookie: func(c *http.Cookie) *http.Cookie {
			c.Value = "%%" + c.Value
			return c
		}, want: seal.ErrTampered},
		{name: "an expired cookie is refused", flow: func(f *pkce.Flow) { f.Expires = time.Now().Add(-time.Second) }, want: seal.ErrExpired},
		{name: "a cookie from another purpose is refused", cookie: func(c *http.Cookie) *http.Cookie {
			c.Name = cookieName
			return c
		}, sealer: nil, want: seal.ErrWrongPurpose},
		{name: "a cookie sealed with a retired key is refused", sealer: newKeys(t, newKey("retired")), want: seal.ErrUnknownKey},
		{name: "a cookie sealed with another secret under the same ID is refused", sealer: newKeys(t, newKey("cur")), want: seal.ErrTampered},
		{name: "no cookie is refused", cookie: func(*http.Cookie) *http.Cookie { return nil }, want: http.ErrNoCookie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := authServer(t)
			client := oauthClient(t, srv, pkce.WithStore(pkce.NewMemoryStore()))
			flow, err := client.Start(ctx)
			require.NoError(t, err)
			cb, err := srv.Authorize(ctx, flow.URL)
			require.NoError(t, err)
			if tt.flow != nil {
				tt.flow(flow)
			}
			sealer := keys
			if tt.sealer != nil {
				sealer = tt.sealer
			}
			name := cookieName
			if tt.want == seal.ErrWrongPurpose {
				name = "another-purpose"
			}
			c, err := sealer.FlowCookie(name, flow)
			require.NoError(t, err)
			if tt.cookie != nil {
				c = tt.cookie(c)
			}

			opened, err := keys.OpenFlow(callbackWith(t, cb, c), cookieName)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				assert.Nil(t, opened)
				assert.Zero(t, srv.TokenRequests(), "token requests")
				return
			}
			require.NoError(t, err)
			tok, err := client.Finish(callbackWith(t, cb, c), opened)
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
		})
	}
}

// The cookie survives a success: the Client's Store refuses its replay.
func TestFlowCookieReplayedAfterSuccess(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t, newKey("k1"))
	srv := authServer(t)
	store := pkce.NewMemoryStore()
	client := oauthClient(t, srv, pkce.WithStore(store))
	flow, err := client.Start(ctx)
	require.NoError(t, err)
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	c, err := keys.FlowCookie(cookieName, flow)
	require.NoError(t, err)

	first, err := keys.OpenFlow(callbackWith(t, cb, c), cookieName)
	require.NoError(t, err)
	_, err = client.Finish(callbackWith(t, cb, c), first)
	require.NoError(t, err)

	// Another replica, with the same keys and store, gets the replay.
	replica := oauthClient(t, srv, pkce.WithStore(store))
	again, err := keys.OpenFlow(callbackWith(t, cb, c), cookieName)
	require.NoError(t, err, "the cookie itself still opens")
	_, err = replica.Finish(callbackWith(t, cb, c), again)
	assert.ErrorIs(t, err, pkce.ErrFlowFinished)
	assert.Equal(t, 1, srv.TokenRequests(), "the replay made no token request")
}

func TestFlowCookieAttributes(t *testing.T) {
	keys := newKeys(t, newKey("k1"))
	tests := []struct {
		name     string
		redirect string
		secure   bool
	}{
		{"Secure with an https redirect URI", "https://app.example/cb", true},
		{"not Secure with a loopback http redirect URI, where it would not come back", "http://127.0.0.1:8080/cb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := pkce.New(&oauth2.Config{ClientID: "c", RedirectURL: tt.redirect,
				Endpoint: oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"}})
			require.NoError(t, err)
			flow, err := client.Start(context.Background())
			require.NoError(t, err)
			c, err := keys.FlowCookie(cookieName, flow)
			require.NoError(t, err)
			assert.True(t, c.HttpOnly, "HttpOnly")
			assert.Equal(t, tt.secure, c.Secure, "Secure")
			assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
			assert.Equal(t, flow.Expires.Unix(), c.Expires.Unix(), "the cookie expires with the flow")
			assert.NoError(t, c.Valid())
			assert.Less(t, len(c.String()), 4096)

			var stored struct{ Verifier, State string }
			b, err := json.Marshal(flow)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &stored))
			storetest.AssertNoSecrets(t, []byte(c.Value), stored.Verifier, stored.State)
			assert.False(t, strings.Contains(c.String(), stored.Verifier))
		})
	}
}

func TestFlowCookieMisuse(t *testing.T) {
	keys := newKeys(t, newKey("k1"))
	_, err := keys.FlowCookie(cookieName, nil)
	assert.Error(t, err, "a nil flow")
	_, err = keys.FlowCookie(cookieName, &pkce.Flow{})
	assert.Error(t, err, "a zero flow")
}
