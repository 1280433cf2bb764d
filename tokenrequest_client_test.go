package pkce_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// Attacks on how a token request uses the caller's HTTP client (see
// tokenrequest_attack_test.go).

// TestTokenRequestNoRedirect: a token endpoint that answers 307 or 308
// gets an error, and the redirect's target sees nothing, whatever HTTP
// client the caller chose (RFC 6749 §3.2 does not let credentials move).
func TestTokenRequestNoRedirect(t *testing.T) {
	clients := []struct {
		name string
		with func(ctx context.Context) (context.Context, []pkce.Option)
	}{
		{"http.DefaultClient", func(ctx context.Context) (context.Context, []pkce.Option) { return ctx, nil }},
		{"a client that follows redirects, in the context", func(ctx context.Context) (context.Context, []pkce.Option) {
			return context.WithValue(ctx, oauth2.HTTPClient, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}), nil
		}},
		{"a client with a jar and a timeout", func(ctx context.Context) (context.Context, []pkce.Option) {
			return ctx, []pkce.Option{pkce.WithHTTPClient(&http.Client{Jar: newJar(t), Timeout: 1 << 40})}
		}},
	}
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, hc := range clients {
			t.Run(fmt.Sprint(status)+"/"+hc.name, func(t *testing.T) {
				target := newWireServer(t)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					// A hostile server echoes the request in the target.
					http.Redirect(w, r, target.URL+"/token?"+r.Header.Get("Authorization")+"&rt="+r.FormValue("refresh_token"), status)
				}))
				t.Cleanup(srv.Close)
				ctx, opts := hc.with(context.Background())
				c, err := pkce.New(&oauth2.Config{ClientID: oddID, ClientSecret: oddSecret, RedirectURL: redirect,
					Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token"}}, opts...)
				require.NoError(t, err)
				_, err = c.Refresh(ctx, "the-refresh-token-0")
				require.Error(t, err)
				assert.Empty(t, target.all(), "the redirect was not followed")
				assert.NotContains(t, err.Error(), "the-refresh-token-0")
				assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(oddID)+":"+url.QueryEscape(oddSecret))))
			})
		}
	}
}

// A closeTracker is a response body that records its closing.
type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

// TestTokenRequestOddTransports: whatever the caller's transport answers,
// the token request fails with an error, never a panic, whether the
// request goes to the transport directly or through an http.Client (a
// client with a timeout).
func TestTokenRequestOddTransports(t *testing.T) {
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name      string
		transport func(body *closeTracker) http.RoundTripper
		want      string
		closes    bool // the package closes the body it does not read
	}{
		{"neither a response nor an error is an error", func(*closeTracker) http.RoundTripper {
			return transportFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
		}, "", false},
		{"a response without a body is an empty answer", func(*closeTracker) http.RoundTripper {
			return transportFunc(func(*http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: jsonHeader}, nil
			})
		}, "an empty body", false},
		{"a response without a header is not JSON", func(*closeTracker) http.RoundTripper {
			return transportFunc(func(*http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(goodBody))}, nil
			})
		}, "application/json", false},
		{"a response without a status is not an answer", func(*closeTracker) http.RoundTripper {
			return transportFunc(func(*http.Request) (*http.Response, error) {
				return &http.Response{Header: jsonHeader, Body: io.NopCloser(strings.NewReader(goodBody))}, nil
			})
		}, "an error status", false},
		{"a response with an error is the error", func(body *closeTracker) http.RoundTripper {
			return transportFunc(func(*http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: jsonHeader, Body: body}, errors.New("broken pipe")
			})
		}, "broken pipe", true},
	}
	for _, tc := range tests {
		for _, timeout := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/timeout %v", tc.name, timeout), func(t *testing.T) {
				ws := newWireServer(t)
				body := &closeTracker{Reader: strings.NewReader(goodBody)}
				hc := &http.Client{Transport: tc.transport(body)}
				if timeout {
					hc.Timeout = 1 << 40
				}
				c := wireClient(t, ws, pkce.AuthSecretBasic, pkce.WithHTTPClient(hc))
				var err error
				require.NotPanics(t, func() { _, err = c.Refresh(context.Background(), "RT-0") })
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				assert.ErrorIs(t, err, pkce.ErrTryLater, "a broken transport is a passing fault")
				if tc.closes && !timeout { // http.Client itself leaves such a body open
					assert.True(t, body.closed, "the body is closed")
				}
			})
		}
	}
}

// TestTokenRequestClientTimeout: the caller's http.Client.Timeout still
// bounds a token request to a server that never answers.
func TestTokenRequestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token"}},
		pkce.WithHTTPClient(&http.Client{Timeout: 50 * time.Millisecond}))
	require.NoError(t, err)
	_, err = c.Refresh(context.Background(), "RT-0")
	require.Error(t, err)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "the client's timeout ended it: %v", err)
	assert.Contains(t, err.Error(), "Client.Timeout", "the client's timeout, not the package's default deadline")
}

// TestTokenRequestClientJar: a caller's cookie jar sends its cookies to
// the token endpoint and keeps those it sets, as an http.Client does.
func TestTokenRequestClientJar(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ck, err := r.Cookie("lb"); err == nil {
			got = ck.Value
		}
		http.SetCookie(w, &http.Cookie{Name: "affinity", Value: "node-2"})
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, goodBody)
	}))
	t.Cleanup(srv.Close)
	jar := newJar(t)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	jar.SetCookies(u, []*http.Cookie{{Name: "lb", Value: "node-1"}})
	c, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token"}},
		pkce.WithHTTPClient(&http.Client{Jar: jar}))
	require.NoError(t, err)
	_, err = c.Refresh(context.Background(), "RT-0")
	require.NoError(t, err)
	assert.Equal(t, "node-1", got, "the jar's cookie was sent")
	names := []string{}
	for _, ck := range jar.Cookies(u) {
		names = append(names, ck.Name)
	}
	assert.Contains(t, names, "affinity", "the answer's cookie was kept")
}

// TestTokenRequestCancelled: cancelling the caller's context while the
// server holds the request ends it with context.Canceled, with and
// without an http.Client between the package and the transport.
func TestTokenRequestCancelled(t *testing.T) {
	for _, timeout := range []time.Duration{0, 1 << 40} {
		t.Run(fmt.Sprintf("client timeout %v", timeout), func(t *testing.T) {
			arrived, release := make(chan struct{}, 1), make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { close(release) })
			c, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: redirect,
				Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token"}},
				pkce.WithHTTPClient(&http.Client{Timeout: timeout}))
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-arrived
				cancel()
			}()
			_, err = c.Refresh(ctx, "RT-0")
			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, err, pkce.ErrTryLater)
		})
	}
}

// TestTokenRequestTransportPanicInTokenSource: a transport that panics
// during a TokenSource's refresh gives the caller an error; the process
// goes on (the source recovers its own refresh, source.go).
func TestTokenRequestTransportPanicInTokenSource(t *testing.T) {
	ws := newWireServer(t)
	hc := &http.Client{Transport: transportFunc(func(*http.Request) (*http.Response, error) { panic("transport bug") })}
	c := wireClient(t, ws, pkce.AuthSecretBasic, pkce.WithHTTPClient(hc))
	ts, err := c.TokenSource(&oauth2.Token{AccessToken: "AT", RefreshToken: "RT-0", Expiry: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	var tokErr error
	require.NotPanics(t, func() { _, tokErr = ts.Token() })
	assert.ErrorIs(t, tokErr, pkce.ErrTryLater)
}

// TestTokenRequestURLWithUserinfo: a token URL with userinfo keeps what an
// http.Client does with it (HTTP Basic from the URL when the request has
// no Authorization of its own), client_secret_basic's header wins over it,
// the DPoP proof's htu leaves it out, and no error shows its password.
func TestTokenRequestURLWithUserinfo(t *testing.T) {
	const password = "pw-in-the-url-1"
	for _, m := range []pkce.AuthMethod{pkce.AuthSecretBasic, pkce.AuthNone} {
		t.Run(string(m), func(t *testing.T) {
			ws := newWireServer(t)
			u, err := url.Parse(ws.URL)
			require.NoError(t, err)
			tokenURL := "http://u:" + password + "@" + u.Host + "/token"
			cfg := &oauth2.Config{ClientID: oddID, RedirectURL: redirect,
				Endpoint: oauth2.Endpoint{AuthURL: ws.URL + "/authorize", TokenURL: tokenURL}}
			if m == pkce.AuthSecretBasic {
				cfg.ClientSecret = oddSecret
			}
			c, err := pkce.New(cfg, pkce.WithAuthMethod(m), pkce.WithDPoP(ec2Key))
			require.NoError(t, err)
			_, err = c.Refresh(context.Background(), "RT-0")
			require.NoError(t, err)
			r := ws.last(t)
			id, secret, ok := basicCredentials(t, r.header)
			require.True(t, ok)
			if m == pkce.AuthSecretBasic {
				assert.Equal(t, oddID, id)
				assert.Equal(t, oddSecret, secret)
			} else {
				assert.Equal(t, "u", id)
				assert.Equal(t, password, secret)
			}
			_, claims := claimsOf(t, r.header.Get("DPoP"))
			assert.Equal(t, ws.URL+"/token", claims["htu"])

			ws.Close()
			_, err = c.Refresh(context.Background(), "RT-0")
			require.Error(t, err)
			assert.NotContains(t, err.Error(), password)
		})
	}
}
