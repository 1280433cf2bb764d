package pkce_test

import (
	"context"
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/authserver"
)

// browse plays the browser on a flow's URL and returns the redirect back.
func browse(t *testing.T, f *pkce.Flow) url.Values {
	t.Helper()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(f.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return loc.Query()
}

func TestStartContextPushes(t *testing.T) {
	for _, method := range []authserver.AuthMethod{authserver.MethodBasic, authserver.MethodPost, authserver.MethodNone} {
		t.Run(string(method), func(t *testing.T) {
			s := newDiscoveredStack(t, method, advertising(method, authserver.Config{RequirePAR: true, SendIssuer: true}))

			f, err := s.client.StartContext(context.Background(), pkce.Param("audience", "https://api.example"))

			require.NoError(t, err)
			// RFC 9126 §4: the browser URL carries client_id and request_uri only.
			u, err := url.Parse(f.URL)
			require.NoError(t, err)
			assert.Equal(t, s.srv.AuthURL(), u.Scheme+"://"+u.Host+u.Path)
			q := u.Query()
			assert.Equal(t, []string{"client_id", "request_uri"}, slices.Sorted(maps.Keys(q)))
			assert.Equal(t, "app", q.Get("client_id"))
			assert.True(t, strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:"))

			pushed := s.srv.LastPushedRequest()
			assert.Equal(t, 1, s.srv.PushedRequests())
			assert.Equal(t, "code", pushed.Form.Get("response_type"))
			assert.Equal(t, "app", pushed.Form.Get("client_id"), "RFC 9126 §2.1: client_id is pushed with every method")
			assert.Equal(t, redirect, pushed.Form.Get("redirect_uri"))
			assert.Equal(t, "openid profile", pushed.Form.Get("scope"))
			assert.Equal(t, f.State, pushed.Form.Get("state"))
			assert.Equal(t, f.Verifier.Challenge(), pushed.Form.Get("code_challenge"))
			assert.Equal(t, "S256", pushed.Form.Get("code_challenge_method"))
			assert.Equal(t, "https://api.example", pushed.Form.Get("audience"))
			assert.NotContains(t, pushed.Form, "code_verifier")
			switch method {
			case authserver.MethodBasic:
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte("app:"+url.QueryEscape(appSecret)))
				assert.Equal(t, want, pushed.Authorization)
				assert.NotContains(t, pushed.Form, "client_secret")
			case authserver.MethodPost:
				assert.Empty(t, pushed.Authorization)
				assert.Equal(t, appSecret, pushed.Form.Get("client_secret"))
			case authserver.MethodNone:
				assert.Empty(t, pushed.Authorization)
				assert.NotContains(t, pushed.Form, "client_secret")
			}

			tok, err := s.client.Finish(context.Background(), f, browse(t, f))
			require.NoError(t, err)
			assert.Equal(t, "openid profile", tok.Scope())
		})
	}
}

func TestStartWhenPARIsRequired(t *testing.T) {
	s := newDiscoveredStack(t, authserver.MethodBasic, authserver.Config{RequirePAR: true})

	f, err := s.client.Start()

	assert.Nil(t, f)
	assert.ErrorIs(t, err, pkce.ErrPARRequired)
	assert.ErrorContains(t, err, "StartContext")
	assert.Equal(t, 0, s.srv.PushedRequests())
}

func TestPushedFlowExpiry(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		requestURI time.Duration
		opts       []pkce.Option
		want       time.Duration
	}{
		{"RFC 9126 §2.2: the request_uri expires before the flow", 30 * time.Second, nil, 30 * time.Second},
		{"the flow lifetime is shorter than the request_uri", 10 * time.Minute, []pkce.Option{pkce.WithFlowLifetime(time.Minute)}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]pkce.Option{pkce.WithClock(func() time.Time { return now })}, tt.opts...)
			s := newDiscoveredStack(t, authserver.MethodBasic, authserver.Config{RequirePAR: true, RequestURILifetime: tt.requestURI}, opts...)

			f, err := s.client.StartContext(context.Background())

			require.NoError(t, err)
			assert.Equal(t, now, f.Created)
			assert.Equal(t, now.Add(tt.want), f.Expires)
		})
	}
}

func TestPushingOnRequest(t *testing.T) {
	t.Run("WithPushedAuthorization pushes where the server does not require it", func(t *testing.T) {
		s := newDiscoveredStack(t, authserver.MethodBasic, authserver.Config{}, pkce.WithPushedAuthorization())
		f, err := s.client.StartContext(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, s.srv.PushedRequests())
		_, err = s.client.Finish(context.Background(), f, browse(t, f))
		assert.NoError(t, err)
		_, err = s.client.Start()
		assert.ErrorIs(t, err, pkce.ErrPARRequired, "the client said it pushes")
	})
	t.Run("without it StartContext is Start", func(t *testing.T) {
		s := newDiscoveredStack(t, authserver.MethodBasic, authserver.Config{})
		f, err := s.client.StartContext(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 0, s.srv.PushedRequests())
		assert.Contains(t, f.URL, "code_challenge_method=S256")
	})
	t.Run("WithPushedAuthorization needs metadata", func(t *testing.T) {
		_, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: redirect,
			Endpoint: oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"}},
			pkce.WithPushedAuthorization())
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	})
	t.Run("WithPushedAuthorization needs a PAR endpoint", func(t *testing.T) {
		_, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: redirect}, pkce.WithPushedAuthorization(),
			pkce.WithMetadata(&pkce.Metadata{Issuer: "https://as.example",
				AuthorizationEndpoint: "https://as.example/authorize", TokenEndpoint: "https://as.example/token"}),
			pkce.WithAuthStyle(pkce.AuthNone))
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
		assert.ErrorContains(t, err, "pushed_authorization_request_endpoint")
	})
	t.Run("request_uri cannot be pushed", func(t *testing.T) {
		s := newDiscoveredStack(t, authserver.MethodBasic, authserver.Config{RequirePAR: true})
		_, err := s.client.StartContext(context.Background(), pkce.Param("request_uri", "urn:x"))
		assert.ErrorContains(t, err, "RFC 9126 §2.1")
		assert.Equal(t, 0, s.srv.PushedRequests())
	})
	t.Run("RFC 9126 §5: a plain request to a server that requires pushing", func(t *testing.T) {
		srv, oc := startRegistered(t, authserver.MethodBasic, authserver.Config{RequirePAR: true})
		md, err := pkce.Discover(context.Background(), srv.Issuer())
		require.NoError(t, err)
		md.RequirePushedAuthorizationRequests = false // stale metadata
		client, err := pkce.New(oc, pkce.WithMetadata(md))
		require.NoError(t, err)
		s := &stack{srv, client}
		f, q := s.signIn(t)
		_, err = client.Finish(context.Background(), f, q)
		assert.ErrorIs(t, err, pkce.ErrInvalidRequest)
		assert.ErrorContains(t, err, "RFC 9126")
	})
}

func TestPushErrors(t *testing.T) {
	raw := func(status int, contentType, body string) authserver.Faults {
		return authserver.Faults{PARRaw: &authserver.RawResponse{Status: status, ContentType: contentType, Body: body}}
	}
	const ok = `{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}`
	tests := []struct {
		name   string
		faults authserver.Faults
		check  func(t *testing.T, err error)
	}{
		{"RFC 9126 §2.3: an error response is a TokenError",
			raw(400, "application/json", `{"error":"invalid_request","error_description":"audience is not allowed"}`),
			func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrInvalidRequest)
				var te *pkce.TokenError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, "pushed_authorization_request", te.Grant)
				assert.Equal(t, "audience is not allowed", te.Description)
				var re *oauth2.RetrieveError
				assert.ErrorAs(t, err, &re)
			}},
		{"RFC 9126 §2.3: invalid_client names the authentication used",
			raw(401, "application/json", `{"error":"invalid_client"}`),
			func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrInvalidClient)
				assert.ErrorContains(t, err, "client_secret_basic")
			}},
		{"RFC 9126 §2.3: 429 too many requests",
			raw(429, "application/json", `{"error":"slow_down"}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrorCode("slow_down")) }},
		{"RFC 9126 §2.2: success is 201, not 200", raw(200, "application/json", ok),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrUnexpectedStatus) }},
		{"an HTML page", raw(201, "text/html", "<html>hello</html>"),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrNotJSON) }},
		{"RFC 9126 §2.2: JSON not labelled application/json", raw(201, "text/plain", ok),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrContentType) }},
		{"RFC 9126 §2.2: request_uri missing", raw(201, "application/json", `{"expires_in":60}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrMalformedResponse) }},
		{"RFC 9126 §2.2: expires_in missing", raw(201, "application/json", `{"request_uri":"urn:x"}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrExpiresIn) }},
		{"RFC 9126 §2.2: expires_in must be positive", raw(201, "application/json", `{"request_uri":"urn:x","expires_in":0}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrExpiresIn) }},
		{"a body over the bound is an error, not cut",
			raw(201, "application/json", `{"request_uri":"urn:x","expires_in":60,"pad":"`+strings.Repeat("x", pkce.DefaultMaxResponseBytes)+`"}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrResponseTooLarge) }},
		{"a redirect is not followed",
			authserver.Faults{PARRaw: &authserver.RawResponse{Status: 307, Header: http.Header{"Location": {"https://elsewhere.example/par"}}}},
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrUnexpectedStatus) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDiscoveredStack(t, authserver.MethodBasic, authserver.Config{RequirePAR: true})
			s.srv.SetFaults(tt.faults)

			f, err := s.client.StartContext(context.Background())

			assert.Nil(t, f)
			tt.check(t, err)
			assert.Equal(t, 1, s.srv.PushedRequests(), "one request, never a retry or a redirect")
			assert.NotContains(t, err.Error(), appSecret)
			assert.NotContains(t, err.Error(), s.srv.LastPushedRequest().Form.Get("state"))
		})
	}
}
