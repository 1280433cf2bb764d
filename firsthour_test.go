package pkce_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
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

// The defects a user met in their first hour with the package (issue "A
// user's first hour"), each against pkcetest over real HTTP.

// firstHourServer starts a pkcetest server, plain or TLS, with one public
// client "app" registered for the loopback redirect.
func firstHourServer(t *testing.T, newServer func(pkcetest.Config) *pkcetest.Server, cfg pkcetest.Config) *pkcetest.Server {
	t.Helper()
	cfg.Clients = append(cfg.Clients, pkcetest.Client{ID: "app", Method: pkcetest.MethodNone, RedirectURIs: []string{redirect}})
	srv := newServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// handConfigured is a client of srv's "app" configured by hand, without
// metadata.
func handConfigured(t *testing.T, srv *pkcetest.Server, opts ...pkce.Option) *pkce.Client {
	t.Helper()
	c, err := pkce.New(&oauth2.Config{
		ClientID:    "app",
		Endpoint:    oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
		RedirectURL: redirect,
		Scopes:      []string{"openid", "offline_access"},
	}, opts...)
	require.NoError(t, err)
	return c
}

// signInThrough runs a whole sign-in of c at srv: pkcetest plays the
// browser and the callback goes to Finish with ctx as its context.
func signInThrough(t *testing.T, ctx context.Context, srv *pkcetest.Server, c *pkce.Client) *pkce.Token {
	t.Helper()
	f, err := c.Start(ctx)
	require.NoError(t, err)
	cb, err := srv.Authorize(ctx, f.URL)
	require.NoError(t, err)
	r, err := cb.Request(ctx)
	require.NoError(t, err)
	tok, err := c.Finish(r, f)
	require.NoError(t, err)
	return tok
}

func firstHourContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTokenSourceClientRefreshesWithTheContextsHTTPClient(t *testing.T) {
	ctx := firstHourContext(t)
	srv := firstHourServer(t, pkcetest.NewTLSServer, pkcetest.Config{})
	client := handConfigured(t, srv)
	trusting := *srv.Client() // a copy: the server's client is shared
	tok := signInThrough(t, context.WithValue(ctx, oauth2.HTTPClient, &trusting), srv, client)
	stale := *tok.Token
	stale.Expiry = time.Now().Add(-time.Minute)

	t.Run("a refresh goes through the oauth2.HTTPClient of Client's ctx", func(t *testing.T) {
		src, err := client.TokenSource(&stale)
		require.NoError(t, err)
		base := trusting
		hc := src.Client(context.WithValue(ctx, oauth2.HTTPClient, &base))
		// The request's own context carries no HTTP client: the refresh
		// must use the one Client was given, which trusts the server's
		// certificate, or fail with x509: unknown authority.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.ResourceURL(), nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, 1, srv.RefreshRequests())
	})

	t.Run("the base client's Timeout, Jar and CheckRedirect are kept", func(t *testing.T) {
		src, err := client.TokenSource(tok.Token)
		require.NoError(t, err)
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		errStop := errors.New("stop here")
		base := trusting
		base.Timeout = 7 * time.Second
		base.Jar = jar
		base.CheckRedirect = func(*http.Request, []*http.Request) error { return errStop }

		hc := src.Client(context.WithValue(ctx, oauth2.HTTPClient, &base))

		assert.Equal(t, 7*time.Second, hc.Timeout)
		assert.Same(t, jar, hc.Jar)
		require.NotNil(t, hc.CheckRedirect)
		assert.ErrorIs(t, hc.CheckRedirect(nil, nil), errStop)
	})

	t.Run("without it the refresh uses http.DefaultClient, which does not trust the server", func(t *testing.T) {
		src, err := client.TokenSource(&stale)
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.ResourceURL(), nil)
		require.NoError(t, err)
		_, err = src.Client(ctx).Do(req)
		assert.ErrorIs(t, err, pkce.ErrTryLater)
		assert.ErrorContains(t, err, "certificate")
	})
}

// acceptRecorder records the Accept header of every request, by path.
type acceptRecorder struct {
	mu     sync.Mutex
	accept map[string][]string // path -> Accept of each request, in order
}

func (a *acceptRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.accept[r.URL.Path] = append(a.accept[r.URL.Path], r.Header.Get("Accept"))
	a.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (a *acceptRecorder) at(rawURL string) []string {
	u, _ := url.Parse(rawURL)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accept[u.Path]
}

func TestEveryEndpointRequestAsksForJSON(t *testing.T) {
	ctx := firstHourContext(t)
	srv := firstHourServer(t, pkcetest.NewServer, pkcetest.Config{Rotate: true})
	rec := &acceptRecorder{accept: map[string][]string{}}
	client, err := pkce.NewFromIssuer(ctx, srv.Issuer(), &oauth2.Config{ClientID: "app", RedirectURL: redirect},
		pkce.WithHTTPClient(&http.Client{Transport: rec}), pkce.WithPushedAuthorization())
	require.NoError(t, err)

	tok := signInThrough(t, ctx, srv, client)
	_, err = client.Refresh(ctx, tok.RefreshToken)
	require.NoError(t, err)
	require.NoError(t, client.Revoke(ctx, tok.Token))

	json := "application/json"
	tests := []struct {
		name     string
		endpoint string
		want     []string
	}{
		{"code exchange and refresh: RFC 6749 §5.1 answers are JSON", srv.TokenURL(), []string{json, json}},
		{"pushed authorization request: RFC 9126 §2.2 answers are JSON", srv.PARURL(), []string{json}},
		{"revocation: RFC 7009 §2.2.1 errors are JSON", srv.RevocationURL(), []string{json}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, rec.at(tt.endpoint))
		})
	}
}

func TestRevocationWithRevocationURLAndNoMetadata(t *testing.T) {
	ctx := firstHourContext(t)
	srv := firstHourServer(t, pkcetest.NewServer, pkcetest.Config{})
	client := handConfigured(t, srv, pkce.WithRevocationURL(srv.RevocationURL()))
	require.Nil(t, client.Metadata(), "configured by hand")

	tests := []struct {
		name    string
		signOut func(t *testing.T, tok *pkce.Token) error
	}{
		{"Client.Revoke uses WithRevocationURL", func(t *testing.T, tok *pkce.Token) error {
			return client.Revoke(ctx, tok.Token)
		}},
		{"TokenSource.SignOut uses WithRevocationURL", func(t *testing.T, tok *pkce.Token) error {
			src, err := client.TokenSource(tok.Token)
			require.NoError(t, err)
			return src.SignOut(ctx)
		}},
		{"Tokens.SignOut uses WithRevocationURL", func(t *testing.T, tok *pkce.Token) error {
			tokens, err := client.Tokens(pkce.NewMemoryStore())
			require.NoError(t, err)
			require.NoError(t, tokens.Save(ctx, "user-1", tok))
			return tokens.SignOut(ctx, "user-1")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := signInThrough(t, ctx, srv, client)
			before := srv.RevocationRequests()

			require.NoError(t, tt.signOut(t, tok))

			assert.Equal(t, before+1, srv.RevocationRequests())
			assert.Equal(t, tok.RefreshToken, srv.LastRevocationRequest().Form.Get("token"))
			_, err := client.Refresh(ctx, tok.RefreshToken)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the refresh token is revoked")
		})
	}
}

func TestCallbackErrorsSayWhatIsWrong(t *testing.T) {
	ctx := firstHourContext(t)
	srv := firstHourServer(t, pkcetest.NewServer, pkcetest.Config{SendIssuer: true})
	client := handConfigured(t, srv, pkce.WithIssuer(srv.Issuer()))

	tests := []struct {
		name       string
		callback   func(q url.Values) url.Values
		want       error
		says       []string
		doesNotSay []string
	}{
		{
			name:     "an empty query is what response_mode=fragment or form_post leaves",
			callback: func(url.Values) url.Values { return url.Values{} },
			want:     pkce.ErrMalformedCallback,
			says:     []string{"fragment", "form_post"},
			// Not blamed on the first check that happens to look.
			doesNotSay: []string{"iss", "does not match"},
		},
		{
			name: "a missing state says no state, not a mismatch",
			callback: func(q url.Values) url.Values {
				q.Del("state")
				return q
			},
			want:       pkce.ErrStateMismatch,
			says:       []string{"no state"},
			doesNotSay: []string{"does not match"},
		},
		{
			name: "a forged error without state says no state",
			callback: func(q url.Values) url.Values {
				return url.Values{"error": {"access_denied"}, "iss": q["iss"]}
			},
			want:       pkce.ErrStateMismatch,
			says:       []string{"no state"},
			doesNotSay: []string{"does not match"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := client.Start(ctx)
			require.NoError(t, err)
			cb, err := srv.Authorize(ctx, f.URL)
			require.NoError(t, err)
			before := srv.TokenRequests()

			_, err = finish(ctx, client, f, tt.callback(cb.Params))

			var cbErr *pkce.CallbackError
			require.ErrorAs(t, err, &cbErr)
			assert.ErrorIs(t, err, tt.want)
			for _, s := range tt.says {
				assert.Contains(t, err.Error(), s)
			}
			for _, s := range tt.doesNotSay {
				assert.NotContains(t, err.Error(), s)
			}
			assert.Equal(t, before, srv.TokenRequests(), "no token request")
		})
	}
}

func TestFormPostEndToEnd(t *testing.T) {
	ctx := firstHourContext(t)
	srv := firstHourServer(t, pkcetest.NewServer, pkcetest.Config{SendIssuer: true})
	formPost := handConfigured(t, srv, pkce.WithIssuer(srv.Issuer()), pkce.WithFormPost())
	query := handConfigured(t, srv, pkce.WithIssuer(srv.Issuer()))

	// authorize starts a flow of c and returns what pkcetest's browser
	// would send to the redirect endpoint.
	authorize := func(t *testing.T, c *pkce.Client) (*pkce.Flow, *pkcetest.Callback) {
		f, err := c.Start(ctx)
		require.NoError(t, err)
		cb, err := srv.Authorize(ctx, f.URL)
		require.NoError(t, err)
		return f, cb
	}
	asPost := func(t *testing.T, cb *pkcetest.Callback) *http.Request {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL.Scheme+"://"+cb.URL.Host+cb.URL.Path,
			strings.NewReader(cb.Params.Encode()))
		require.NoError(t, err)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}

	t.Run("WithFormPost asks for response_mode=form_post and Finish takes the POST", func(t *testing.T) {
		f, cb := authorize(t, formPost)
		assert.Equal(t, "form_post", srv.LastAuthorizationRequest().Get("response_mode"))
		require.True(t, cb.FormPost, "the server answered with a form to post")
		r, err := cb.Request(ctx)
		require.NoError(t, err)
		require.Equal(t, http.MethodPost, r.Method)

		tok, err := formPost.Finish(r, f)

		require.NoError(t, err)
		assert.NotEmpty(t, tok.AccessToken)
	})

	t.Run("WithFormPost refuses a GET callback", func(t *testing.T) {
		f, cb := authorize(t, formPost)
		before := srv.TokenRequests()

		_, err := finish(ctx, formPost, f, cb.Params)

		assert.ErrorIs(t, err, pkce.ErrMalformedCallback)
		assert.ErrorContains(t, err, "form_post")
		assert.Equal(t, before, srv.TokenRequests(), "no token request")
	})

	t.Run("without WithFormPost a POST callback is refused", func(t *testing.T) {
		f, cb := authorize(t, query)
		require.False(t, cb.FormPost)
		before := srv.TokenRequests()

		_, err := query.Finish(asPost(t, cb), f)

		assert.ErrorIs(t, err, pkce.ErrMalformedCallback)
		assert.ErrorContains(t, err, "WithFormPost")
		assert.Equal(t, before, srv.TokenRequests(), "no token request")
	})

	t.Run("SignInLoopback refuses a WithFormPost client before opening anything", func(t *testing.T) {
		opened := false
		_, err := formPost.SignInLoopback(ctx, func(string) error { opened = true; return nil })

		require.Error(t, err)
		assert.ErrorContains(t, err, "WithFormPost")
		assert.False(t, opened)
	})
}

func TestNilArgumentsAndEmptyOptions(t *testing.T) {
	ctx := firstHourContext(t)
	srv := firstHourServer(t, pkcetest.NewServer, pkcetest.Config{})
	client := handConfigured(t, srv)
	cfg := &oauth2.Config{
		ClientID:    "app",
		Endpoint:    oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
		RedirectURL: redirect,
	}

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"New refuses a nil config", func(t *testing.T) {
			_, err := pkce.New(nil)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
		}},
		{"New refuses a nil Option", func(t *testing.T) {
			_, err := pkce.New(cfg, nil)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
		}},
		{"NewFromIssuer refuses a nil Option", func(t *testing.T) {
			_, err := pkce.NewFromIssuer(ctx, srv.Issuer(), &oauth2.Config{ClientID: "app", RedirectURL: redirect}, nil)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
		}},
		{"Start refuses a nil StartOption", func(t *testing.T) {
			_, err := client.Start(ctx, nil)
			assert.Error(t, err)
		}},
		{"TokenSource refuses a nil SourceOption", func(t *testing.T) {
			_, err := client.TokenSource(&oauth2.Token{AccessToken: "a"}, nil)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
		}},
		{"Tokens refuses a nil Store", func(t *testing.T) {
			_, err := client.Tokens(nil)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
		}},
		{"a TokenSource from a nil token says sign-in required", func(t *testing.T) {
			src, err := client.TokenSource(nil)
			require.NoError(t, err)
			_, err = src.TokenContext(ctx)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired)
		}},
		{"Finish refuses a nil request", func(t *testing.T) {
			f, err := client.Start(ctx)
			require.NoError(t, err)
			_, err = client.Finish(nil, f)
			assert.ErrorIs(t, err, pkce.ErrMalformedCallback)
		}},
		{"Finish refuses a nil flow", func(t *testing.T) {
			_, err := client.Finish(callbackRequest(ctx, url.Values{"code": {"c"}}), nil)
			assert.ErrorIs(t, err, pkce.ErrInvalidFlow)
		}},
		{"Scopes() with no scope sends no scope parameter (RFC 6749 §3.3)", func(t *testing.T) {
			f, err := client.Start(ctx, pkce.Scopes())
			require.NoError(t, err)
			u, err := url.Parse(f.URL)
			require.NoError(t, err)
			assert.NotContains(t, u.Query(), "scope")
			// and the server grants its default scope
			tok := func() *pkce.Token {
				cb, err := srv.Authorize(ctx, f.URL)
				require.NoError(t, err)
				tok, err := finish(ctx, client, f, cb.Params)
				require.NoError(t, err)
				return tok
			}()
			assert.NotEmpty(t, tok.AccessToken)
		}},
		{"Revoke refuses a nil token", func(t *testing.T) {
			c := handConfigured(t, srv, pkce.WithRevocationURL(srv.RevocationURL()))
			assert.Error(t, c.Revoke(ctx, nil))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t) // a panic fails the test too
		})
	}
}
