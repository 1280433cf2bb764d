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
	"github.com/pkcekit/pkce/pkcetest"
)

// challengeOf returns the S256 challenge of f's verifier.
func challengeOf(t *testing.T, f *pkce.Flow) string {
	t.Helper()
	v, err := pkce.ParseVerifier(flowJSON(t, f)["verifier"].(string))
	require.NoError(t, err)
	return v.Challenge()
}

// createdOf returns when f was created.
func createdOf(t *testing.T, f *pkce.Flow) time.Time {
	t.Helper()
	created, err := time.Parse(time.RFC3339Nano, flowJSON(t, f)["created"].(string))
	require.NoError(t, err)
	return created
}

func TestStartPushes(t *testing.T) {
	for _, method := range []pkcetest.AuthMethod{pkcetest.MethodBasic, pkcetest.MethodPost, pkcetest.MethodNone} {
		t.Run(string(method), func(t *testing.T) {
			s := newDiscoveredStack(t, method, advertising(method, pkcetest.Config{RequirePAR: true, SendIssuer: true}))

			f, err := s.client.Start(context.Background(), pkce.Param("audience", "https://api.example"))

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
			assert.Equal(t, challengeOf(t, f), pushed.Form.Get("code_challenge"))
			assert.Equal(t, "S256", pushed.Form.Get("code_challenge_method"))
			assert.Equal(t, "https://api.example", pushed.Form.Get("audience"))
			assert.NotContains(t, pushed.Form, "code_verifier")
			switch method {
			case pkcetest.MethodBasic:
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte("app:"+url.QueryEscape(appSecret)))
				assert.Equal(t, want, pushed.Authorization)
				assert.NotContains(t, pushed.Form, "client_secret")
			case pkcetest.MethodPost:
				assert.Empty(t, pushed.Authorization)
				assert.Equal(t, appSecret, pushed.Form.Get("client_secret"))
			case pkcetest.MethodNone:
				assert.Empty(t, pushed.Authorization)
				assert.NotContains(t, pushed.Form, "client_secret")
			}

			tok, err := finish(context.Background(), s.client, f, authorize(t, f.URL))
			require.NoError(t, err)
			assert.Equal(t, "openid profile", tok.Scope())
		})
	}
}

// TestStartWhenPARIsRequired: v0's Start refused (ErrPARRequired) when
// the server requires pushed requests; v1's Start pushes. Either way no
// plain authorization request reaches the browser.
func TestStartWhenPARIsRequired(t *testing.T) {
	s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{RequirePAR: true})

	f, err := s.client.Start(context.Background())

	require.NoError(t, err)
	assert.Equal(t, 1, s.srv.PushedRequests())
	q := authURLQuery(t, f)
	assert.Equal(t, []string{"client_id", "request_uri"}, slices.Sorted(maps.Keys(q)))
	assert.NotContains(t, f.URL, "code_challenge")
}

func TestStartPushesWithTheCallersContext(t *testing.T) {
	s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{RequirePAR: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f, err := s.client.Start(ctx)
	assert.Nil(t, f)
	assert.ErrorIs(t, err, context.Canceled)
	require.True(t, noAnswer(err), "%v", err)
	assert.Contains(t, err.Error(), "pushed authorization request endpoint")
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
			s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{RequirePAR: true, RequestURILifetime: tt.requestURI}, opts...)

			f, err := s.client.Start(context.Background())

			require.NoError(t, err)
			assert.Equal(t, now, createdOf(t, f))
			assert.Equal(t, now.Add(tt.want), f.Expires)
		})
	}
}

func TestPushingOnRequest(t *testing.T) {
	t.Run("WithPushedAuthorization pushes where the server does not require it", func(t *testing.T) {
		s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{}, pkce.WithPushedAuthorization())
		f, err := s.client.Start(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, s.srv.PushedRequests())
		_, err = finish(context.Background(), s.client, f, authorize(t, f.URL))
		assert.NoError(t, err)
		g, err := s.client.Start(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2, s.srv.PushedRequests(), "every Start pushes")
		assert.Contains(t, authURLQuery(t, g), "request_uri")
	})
	t.Run("without it Start makes no request", func(t *testing.T) {
		s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{})
		f, err := s.client.Start(context.Background())
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
			pkce.WithAuthMethod(pkce.AuthNone))
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
		assert.ErrorContains(t, err, "pushed_authorization_request_endpoint")
	})
	t.Run("request_uri cannot be pushed", func(t *testing.T) {
		s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{RequirePAR: true})
		_, err := s.client.Start(context.Background(), pkce.Param("request_uri", "urn:x"))
		// v1: request_uri is reserved for every request, so Param refuses
		// it (v0 refused it when pushing, citing RFC 9126 §2.1).
		assert.ErrorContains(t, err, `"request_uri" is set by the package`)
		assert.Equal(t, 0, s.srv.PushedRequests())
	})
	t.Run("RFC 9126 §5: a plain request to a server that requires pushing", func(t *testing.T) {
		srv, oc := startRegistered(t, pkcetest.MethodBasic, pkcetest.Config{RequirePAR: true})
		md, err := pkce.Discover(context.Background(), srv.Issuer())
		require.NoError(t, err)
		md.RequirePushedAuthorizationRequests = false // stale metadata
		client, err := pkce.New(oc, pkce.WithMetadata(md))
		require.NoError(t, err)
		s := &stack{srv, client}
		f, q := s.signIn(t)
		_, err = finish(context.Background(), client, f, q)
		assert.ErrorIs(t, err, pkce.ErrorCode("invalid_request"))
		assert.ErrorContains(t, err, "RFC 9126")
	})
}

func TestPushErrors(t *testing.T) {
	raw := func(status int, contentType, body string) pkcetest.Faults {
		return pkcetest.Faults{PARRaw: &pkcetest.RawResponse{Status: status, ContentType: contentType, Body: body}}
	}
	const ok = `{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}`
	tests := []struct {
		name   string
		faults pkcetest.Faults
		check  func(t *testing.T, err error)
	}{
		{"RFC 9126 §2.3: an error response is an OAuthError",
			raw(400, "application/json", `{"error":"invalid_request","error_description":"audience is not allowed"}`),
			func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrorCode("invalid_request"))
				var te *pkce.OAuthError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, "pushed authorization request", te.Op)
				assert.Equal(t, "audience is not allowed", te.Description)
				var re *oauth2.RetrieveError
				assert.ErrorAs(t, err, &re)
			}},
		{"RFC 9126 §2.3: invalid_client names the authentication used",
			raw(401, "application/json", `{"error":"invalid_client"}`),
			func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrorCode("invalid_client"))
				assert.ErrorContains(t, err, "client_secret_basic")
			}},
		{"RFC 9126 §2.3: 429 too many requests",
			raw(429, "application/json", `{"error":"slow_down"}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrorCode("slow_down")) }},
		{"RFC 9126 §2.2: success is 201, not 200", raw(200, "application/json", ok),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{"an HTML page", raw(201, "text/html", "<html>hello</html>"),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{"RFC 9126 §2.2: JSON not labelled application/json", raw(201, "text/plain", ok),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{"RFC 9126 §2.2: request_uri missing", raw(201, "application/json", `{"expires_in":60}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{"RFC 9126 §2.2: expires_in missing", raw(201, "application/json", `{"request_uri":"urn:x"}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{"RFC 9126 §2.2: expires_in must be positive", raw(201, "application/json", `{"request_uri":"urn:x","expires_in":0}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{"RFC 9126 §2.2: expires_in negative", raw(201, "application/json", `{"request_uri":"urn:x","expires_in":-60}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{"RFC 8259 §4: Request_Uri next to request_uri", raw(201, "application/json", `{"request_uri":"urn:x","Request_Uri":"urn:y","expires_in":60}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{"a body over the bound is an error, not cut",
			raw(201, "application/json", `{"request_uri":"urn:x","expires_in":60,"pad":"`+strings.Repeat("x", defaultMaxResponseBytes)+`"}`),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{"a redirect is not followed",
			pkcetest.Faults{PARRaw: &pkcetest.RawResponse{Status: 307, Header: http.Header{"Location": {"https://elsewhere.example/par"}}}},
			func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{RequirePAR: true})
			s.srv.SetFaults(tt.faults)

			f, err := s.client.Start(context.Background())

			assert.Nil(t, f)
			tt.check(t, err)
			assert.Equal(t, 1, s.srv.PushedRequests(), "one request, never a retry or a redirect")
			assert.NotContains(t, err.Error(), appSecret)
			assert.NotContains(t, err.Error(), s.srv.LastPushedRequest().Form.Get("state"))
		})
	}
}
