package pkce_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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

// newLoopbackClient registers a public native client whose redirect is
// the loopback template, as RFC 8252 §7.3 has it registered.
func newLoopbackClient(t *testing.T, cfg pkcetest.Config, redirectURL string, opts ...pkce.Option) (*pkcetest.Server, *pkce.Client) {
	t.Helper()
	cfg.Clients = append(cfg.Clients, pkcetest.Client{
		ID:           "native",
		Method:       pkcetest.MethodNone,
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback"},
	})
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	if cfg.SendIssuer {
		opts = append(opts, pkce.WithIssuer(srv.Issuer()))
	}
	client, err := pkce.New(&oauth2.Config{
		ClientID:    "native",
		Endpoint:    oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
		RedirectURL: redirectURL,
		Scopes:      []string{"openid", "offline_access"},
	}, opts...)
	require.NoError(t, err)
	return srv, client
}

// A visit is one answer the scripted browser got from the receiver.
type visit struct {
	status int
	header http.Header
	body   string
}

// A strayRequest is sent to the receiver before the real redirect.
// "{state}" in target is replaced by the flow's state.
type strayRequest struct {
	method string
	target string // path and query
	host   string // Host header; "" for the receiver's own
	want   int    // status
}

// A script plays the person's browser as the opener: it sends the stray
// requests, follows the authorization URL to the server's redirect and
// visits it on the receiver. It never calls t, because SignInLoopback may
// run it on another goroutine.
type script struct {
	strays []strayRequest
	edit   func(q url.Values) // changes the redirect before the visit
	away   bool               // the person never comes back
	then   func()             // runs after the visits, e.g. a cancel
	err    error              // what open returns

	authURL  string
	redirect *url.URL // the redirect_uri of the authorization request
	got      []visit  // answers to the strays, in order
	final    *visit   // answer to the redirect
	problem  error    // something in the script itself went wrong
}

func (s *script) open(authURL string) error {
	s.problem = s.play(authURL)
	if s.then != nil {
		s.then()
	}
	return s.err
}

func (s *script) play(startURL string) error {
	authURL, err := startAt(startURL)
	if err != nil {
		return err
	}
	s.authURL = authURL
	u, err := url.Parse(authURL)
	if err != nil {
		return err
	}
	if s.redirect, err = url.Parse(u.Query().Get("redirect_uri")); err != nil {
		return err
	}
	origin := s.redirect.Scheme + "://" + s.redirect.Host
	for _, r := range s.strays {
		v, err := fetch(r.method, origin+strings.ReplaceAll(r.target, "{state}", u.Query().Get("state")), r.host)
		if err != nil {
			return err
		}
		s.got = append(s.got, v)
	}
	if s.away {
		return nil
	}
	back, err := followAuthorization(authURL)
	if err != nil {
		return err
	}
	if s.edit != nil {
		q := back.Query()
		s.edit(q)
		back.RawQuery = q.Encode()
	}
	v, err := fetch(http.MethodGet, back.String(), "")
	if err != nil {
		return err
	}
	s.final = &v
	return nil
}

// startAt visits the start URL SignInLoopback opens and returns the
// authorization URL it redirects to.
func startAt(startURL string) (string, error) {
	v, err := fetch(http.MethodGet, startURL, "")
	if err != nil {
		return "", err
	}
	if v.status != http.StatusFound {
		return "", fmt.Errorf("the start URL answered %d, not a redirect", v.status)
	}
	return v.header.Get("Location"), nil
}

func fetch(method, target, host string) (visit, error) {
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		return visit{}, err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := browser.Do(req)
	if err != nil {
		return visit{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return visit{resp.StatusCode, resp.Header, string(body)}, err
}

// assertClosed checks that nothing listens on the redirect's port any more
// (RFC 8252 §8.3).
func assertClosed(t *testing.T, redirect *url.URL) {
	t.Helper()
	if redirect == nil {
		return
	}
	conn, err := net.Dial("tcp", redirect.Host)
	if err == nil {
		conn.Close()
	}
	assert.Error(t, err, "the receiver still listens on %s", redirect.Host)
}

func TestSignInLoopback(t *testing.T) {
	tests := []struct {
		name       string
		faults     pkcetest.Faults
		strays     []strayRequest
		edit       func(q url.Values)
		wantIs     error
		wantStatus int
		wantPage   string
	}{
		{
			name:       "matching redirect finishes the flow",
			wantStatus: http.StatusOK,
			wantPage:   "You can close this tab",
		},
		{
			name: "stray requests do not end the flow",
			strays: []strayRequest{
				{http.MethodGet, "/favicon.ico", "", http.StatusNotFound},
				{http.MethodGet, "/other?state={state}", "", http.StatusNotFound},
				{http.MethodGet, "/callback", "", http.StatusBadRequest},
				{http.MethodGet, "/callback?state=wrong&code=stolen", "", http.StatusBadRequest},
				{http.MethodGet, "/callback?code=stolen", "", http.StatusBadRequest},
				{http.MethodPost, "/callback?state={state}&code=stolen", "", http.StatusMethodNotAllowed},
			},
			wantStatus: http.StatusOK,
			wantPage:   "You can close this tab",
		},
		{
			name: "forged error without state does not abort the sign-in",
			strays: []strayRequest{
				{http.MethodGet, "/callback?error=access_denied&error_description=forged", "", http.StatusBadRequest},
				{http.MethodGet, "/callback?error=access_denied&state=forged", "", http.StatusBadRequest},
			},
			wantStatus: http.StatusOK,
			wantPage:   "You can close this tab",
		},
		{
			name: "right state under another host name is refused (DNS rebinding)",
			strays: []strayRequest{
				{http.MethodGet, "/callback?state={state}&code=stolen", "rebind.example:80", http.StatusBadRequest},
			},
			wantStatus: http.StatusOK,
			wantPage:   "You can close this tab",
		},
		{
			name:       "error with the right state ends the sign-in",
			faults:     pkcetest.Faults{AuthorizeError: "access_denied"},
			wantIs:     pkce.ErrAccessDenied,
			wantStatus: http.StatusBadRequest,
			wantPage:   "Sign-in failed",
		},
		{
			name:       "iss of another server ends the sign-in",
			faults:     pkcetest.Faults{IssuerOverride: "https://evil.example"},
			wantIs:     pkce.ErrIssuerMismatch,
			wantStatus: http.StatusBadRequest,
			wantPage:   "Sign-in failed",
		},
		{
			name:       "redirect without code ends the sign-in",
			edit:       func(q url.Values) { q.Del("code") },
			wantIs:     pkce.ErrMalformedCallback,
			wantStatus: http.StatusBadRequest,
			wantPage:   "Sign-in failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, client := newLoopbackClient(t, pkcetest.Config{SendIssuer: true}, "http://127.0.0.1/callback")
			srv.SetFaults(tt.faults)
			s := &script{strays: tt.strays, edit: tt.edit}

			tok, err := client.SignInLoopback(context.Background(), s.open, pkce.Param("audience", "https://api.example"))

			require.NoError(t, s.problem)
			require.Len(t, s.got, len(tt.strays))
			for i, r := range tt.strays {
				assert.Equal(t, r.want, s.got[i].status, "%s %s", r.method, r.target)
			}
			require.NotNil(t, s.final, "the browser reached the receiver")
			assert.Equal(t, tt.wantStatus, s.final.status)
			assert.Contains(t, s.final.body, tt.wantPage)
			assertClosed(t, s.redirect)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
				assert.Nil(t, tok)
				assert.Zero(t, srv.TokenRequests(), "no token request after a failed callback check")
				return
			}
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
			assert.NotEmpty(t, tok.RefreshToken)
			assert.Equal(t, 1, srv.TokenRequests(), "the flow is finished exactly once")
			assert.Equal(t, "https://api.example", mustQuery(t, s.authURL).Get("audience"))
		})
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Query()
}

func TestSignInLoopbackGivesUp(t *testing.T) {
	errNoBrowser := errors.New("no browser")
	tests := []struct {
		name     string
		lifetime time.Duration
		timeout  time.Duration
		script   func(cancel context.CancelFunc) *script
		opened   bool
		wantIs   error
	}{
		{
			name:    "ctx deadline passes while the person is away",
			timeout: 200 * time.Millisecond,
			script:  func(context.CancelFunc) *script { return &script{away: true} },
			opened:  true,
			wantIs:  context.DeadlineExceeded,
		},
		{
			name:   "ctx cancelled before the call",
			script: func(cancel context.CancelFunc) *script { cancel(); return &script{away: true} },
			wantIs: context.Canceled,
		},
		{
			name:   "ctx cancelled while waiting",
			script: func(cancel context.CancelFunc) *script { return &script{away: true, then: cancel} },
			opened: true,
			wantIs: context.Canceled,
		},
		{
			name: "wrong state does not finish the flow before the cancel",
			script: func(cancel context.CancelFunc) *script {
				return &script{
					away:   true,
					strays: []strayRequest{{http.MethodGet, "/callback?state=wrong&code=stolen", "", http.StatusBadRequest}},
					then:   cancel,
				}
			},
			opened: true,
			wantIs: context.Canceled,
		},
		{
			name:     "flow expires while the person is away",
			lifetime: 100 * time.Millisecond,
			script:   func(context.CancelFunc) *script { return &script{away: true} },
			opened:   true,
			wantIs:   pkce.ErrFlowExpired,
		},
		{
			name:   "opener fails",
			script: func(context.CancelFunc) *script { return &script{away: true, err: errNoBrowser} },
			opened: true,
			wantIs: errNoBrowser,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []pkce.Option
			if tt.lifetime > 0 {
				opts = append(opts, pkce.WithFlowLifetime(tt.lifetime))
			}
			srv, client := newLoopbackClient(t, pkcetest.Config{}, "http://127.0.0.1/callback", opts...)
			ctx, cancel := context.WithCancel(context.Background())
			if tt.timeout > 0 {
				ctx, cancel = context.WithTimeout(context.Background(), tt.timeout)
			}
			defer cancel()
			s := tt.script(cancel)

			tok, err := client.SignInLoopback(ctx, s.open)

			require.NoError(t, s.problem)
			assert.Equal(t, tt.opened, s.authURL != "", "open called")
			for i, r := range s.strays {
				assert.Equal(t, r.want, s.got[i].status, "%s %s", r.method, r.target)
			}
			assert.ErrorIs(t, err, tt.wantIs)
			assert.True(t, strings.HasPrefix(err.Error(), "pkce: "), err.Error())
			assert.Nil(t, tok)
			assert.Zero(t, srv.TokenRequests())
			assertClosed(t, s.redirect)
		})
	}
}

func TestSignInLoopbackRunsAgain(t *testing.T) {
	_, client := newLoopbackClient(t, pkcetest.Config{}, "http://127.0.0.1/callback")

	t.Run("one after another", func(t *testing.T) {
		for range 2 {
			s := &script{}
			tok, err := client.SignInLoopback(context.Background(), s.open)
			require.NoError(t, s.problem)
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
			assertClosed(t, s.redirect)
		}
	})

	t.Run("at the same time", func(t *testing.T) {
		const n = 3
		scripts := make([]*script, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			scripts[i] = &script{}
			wg.Go(func() {
				_, errs[i] = client.SignInLoopback(context.Background(), scripts[i].open)
			})
		}
		wg.Wait()
		ports := map[string]bool{}
		for i := range n {
			require.NoError(t, scripts[i].problem)
			assert.NoError(t, errs[i])
			ports[scripts[i].redirect.Host] = true
		}
		assert.Len(t, ports, n, "each call listens on its own port")
	})
}
