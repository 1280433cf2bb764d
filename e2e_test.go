package pkce_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/authserver"
)

const redirect = "http://127.0.0.1/callback"

// stack is an internal authorization server and a client registered with it.
type stack struct {
	srv    *authserver.Server
	client *pkce.Client
}

// newStack registers one client with the given method. When the server sends
// iss, the client expects it.
func newStack(t *testing.T, method authserver.AuthMethod, cfg authserver.Config, opts ...pkce.Option) *stack {
	t.Helper()
	secret := "secret/with+odd:chars%"
	if method == authserver.MethodNone {
		secret = ""
	}
	cfg.Clients = append(cfg.Clients, authserver.Client{ID: "app", Secret: secret, Method: method, RedirectURIs: []string{redirect}})
	srv := authserver.Start(cfg)
	t.Cleanup(srv.Close)
	style := map[authserver.AuthMethod]pkce.AuthStyle{
		authserver.MethodBasic: pkce.AuthClientSecretBasic,
		authserver.MethodPost:  pkce.AuthClientSecretPost,
		authserver.MethodNone:  pkce.AuthNone,
	}[method]
	opts = append([]pkce.Option{pkce.WithAuthStyle(style)}, opts...)
	if cfg.SendIssuer {
		opts = append(opts, pkce.WithIssuer(srv.Issuer()))
	}
	client, err := pkce.New(&oauth2.Config{
		ClientID:     "app",
		ClientSecret: secret,
		Endpoint:     oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
		RedirectURL:  redirect,
		Scopes:       []string{"openid", "profile"},
	}, opts...)
	require.NoError(t, err)
	return &stack{srv, client}
}

// signIn starts a flow and plays the browser up to the redirect back.
func (s *stack) signIn(t *testing.T, opts ...pkce.StartOption) (*pkce.Flow, url.Values) {
	t.Helper()
	f, err := s.client.Start(opts...)
	require.NoError(t, err)
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(f.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return f, loc.Query()
}

func TestFlowEndToEnd(t *testing.T) {
	for _, method := range []authserver.AuthMethod{authserver.MethodBasic, authserver.MethodPost, authserver.MethodNone} {
		t.Run(string(method), func(t *testing.T) {
			s := newStack(t, method, authserver.Config{SendIssuer: true})
			f, q := s.signIn(t, pkce.Param("audience", "https://api.example"))
			tok, err := s.client.Finish(context.Background(), f, q)
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
			assert.NotEmpty(t, tok.RefreshToken)
			assert.Equal(t, "openid profile", tok.Scope())
			assert.NotEmpty(t, tok.IDToken(), "openid scope brings an id_token")
			assert.Equal(t, 1, s.srv.TokenRequests())

			req := s.srv.LastTokenRequest()
			if method == authserver.MethodBasic {
				assert.NotEmpty(t, req.Authorization)
			} else {
				assert.Empty(t, req.Authorization)
			}

			resp := getResource(t, s.srv.ResourceURL(), tok.Token)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

func getResource(t *testing.T, resource string, tok *oauth2.Token) *http.Response {
	t.Helper()
	resp, err := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(tok)).Get(resource)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func TestFinishRequest(t *testing.T) {
	s := newStack(t, authserver.MethodBasic, authserver.Config{})
	f, q := s.signIn(t)
	r := httptest.NewRequest(http.MethodGet, "/callback?"+q.Encode(), nil)
	tok, err := s.client.FinishRequest(r, f)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)

	g, _ := s.signIn(t)
	bad := httptest.NewRequest(http.MethodGet, "/callback", nil)
	bad.URL.RawQuery = "code=%zz&state=" + g.State
	_, err = s.client.FinishRequest(bad, g)
	assert.ErrorIs(t, err, pkce.ErrMalformedCallback)
}

// TestCallbackChecksBeforeTokenRequest drives real redirects of the server
// into the callback checks; none of the failures may reach the token
// endpoint.
func TestCallbackChecksBeforeTokenRequest(t *testing.T) {
	tests := []struct {
		name   string
		faults authserver.Faults
		edit   func(q url.Values)
		wantIs error
	}{
		{"iss differs from issuer", authserver.Faults{IssuerOverride: "https://evil.example"}, nil, pkce.ErrIssuerMismatch},
		{"iss missing though expected", authserver.Faults{OmitIssuer: true}, nil, pkce.ErrIssuerMismatch},
		{"wrong iss with wrong state is an issuer failure", authserver.Faults{IssuerOverride: "https://evil.example"}, func(q url.Values) { q.Set("state", "forged") }, pkce.ErrIssuerMismatch},
		{"state differs", authserver.Faults{}, func(q url.Values) { q.Set("state", "forged") }, pkce.ErrStateMismatch},
		{"wrong state with an error parameter is a state failure", authserver.Faults{AuthorizeError: "access_denied"}, func(q url.Values) { q.Set("state", "forged") }, pkce.ErrStateMismatch},
		{"server error with the right state", authserver.Faults{AuthorizeError: "access_denied"}, nil, pkce.ErrAccessDenied},
		{"code given twice", authserver.Faults{}, func(q url.Values) { q.Add("code", "other") }, pkce.ErrDuplicateParameter},
		{"code removed", authserver.Faults{}, func(q url.Values) { q.Del("code") }, pkce.ErrMissingCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, authserver.MethodBasic, authserver.Config{SendIssuer: true})
			s.srv.SetFaults(tt.faults)
			f, q := s.signIn(t)
			if tt.edit != nil {
				tt.edit(q)
			}
			tok, err := s.client.Finish(context.Background(), f, q)
			assert.Nil(t, tok)
			assert.ErrorIs(t, err, tt.wantIs)
			assert.Equal(t, 0, s.srv.TokenRequests(), "no token request after a failed callback")
		})
	}
}

// TestServerFaults runs the whole flow against each fault switch of the
// internal server.
func TestServerFaults(t *testing.T) {
	neg := -5
	tests := []struct {
		name   string
		faults authserver.Faults
		check  func(t *testing.T, tok *pkce.Token, err error)
	}{
		{"500 with an OAuth error", authserver.Faults{TokenStatus: 500}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrServerError)
			var re *oauth2.RetrieveError
			assert.ErrorAs(t, err, &re)
		}},
		{"503 temporarily unavailable", authserver.Faults{TokenStatus: 503}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrTemporarilyUnavailable)
		}},
		{"HTML body", authserver.Faults{HTMLBody: true}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrNotJSON)
			assert.ErrorContains(t, err, "502")
			assert.ErrorContains(t, err, "text/html")
		}},
		{"oversized body", authserver.Faults{OversizeBody: 2 << 20}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrResponseTooLarge)
		}},
		{"slow response within the deadline", authserver.Faults{Delay: 50 * time.Millisecond}, func(t *testing.T, tok *pkce.Token, err error) {
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
		}},
		{"hanging response", authserver.Faults{Hang: true}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		}},
		{"missing token_type", authserver.Faults{OmitTokenType: true}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrTokenType)
		}},
		{"token_type mac", authserver.Faults{TokenType: "mac"}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrTokenType)
		}},
		{"token_type in lower case", authserver.Faults{TokenType: "bearer"}, func(t *testing.T, tok *pkce.Token, err error) {
			require.NoError(t, err)
			assert.Equal(t, "Bearer", tok.Type())
		}},
		{"expires_in as a string", authserver.Faults{ExpiresInString: true}, func(t *testing.T, tok *pkce.Token, err error) {
			require.NoError(t, err)
			assert.Equal(t, int64(3600), tok.ExpiresIn)
		}},
		{"negative expires_in", authserver.Faults{ExpiresIn: &neg}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrExpiresIn)
		}},
		{"no refresh token", authserver.Faults{OmitRefreshToken: true}, func(t *testing.T, tok *pkce.Token, err error) {
			require.NoError(t, err)
			assert.Empty(t, tok.RefreshToken)
		}},
		{"raw response", authserver.Faults{Raw: &authserver.RawResponse{Status: 200, ContentType: "text/html", Body: `{"access_token":"a","token_type":"Bearer"}`}}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrContentType)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, authserver.MethodBasic, authserver.Config{})
			s.srv.SetFaults(tt.faults)
			f, q := s.signIn(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			tok, err := s.client.Finish(ctx, f, q)
			tt.check(t, tok, err)
			if err != nil {
				assert.NotContains(t, err.Error(), q.Get("code"))
				assert.NotContains(t, err.Error(), f.Verifier.Reveal())
			}
			assert.Equal(t, 1, s.srv.TokenRequests(), "one token request, never a retry")
		})
	}
}

func TestServerRefusesWhatTheClientGotWrong(t *testing.T) {
	t.Run("public client against a confidential registration", func(t *testing.T) {
		// The Blue Button confusion: leaving the secret out gets invalid_client.
		s := newStack(t, authserver.MethodBasic, authserver.Config{})
		public, err := pkce.New(&oauth2.Config{
			ClientID:    "app",
			Endpoint:    oauth2.Endpoint{AuthURL: s.srv.AuthURL(), TokenURL: s.srv.TokenURL()},
			RedirectURL: redirect,
		})
		require.NoError(t, err)
		s.client = public
		f, q := s.signIn(t)
		_, err = public.Finish(context.Background(), f, q)
		assert.ErrorIs(t, err, pkce.ErrInvalidClient)
		assert.ErrorContains(t, err, "registered the client as confidential")
	})
	t.Run("a code presented twice", func(t *testing.T) {
		s := newStack(t, authserver.MethodPost, authserver.Config{})
		f, q := s.signIn(t)
		_, err := s.client.Finish(context.Background(), f, q)
		require.NoError(t, err)
		_, err = s.client.Exchange(context.Background(), f, q.Get("code"))
		assert.ErrorIs(t, err, pkce.ErrInvalidGrant)
		var tokErr *pkce.TokenError
		require.True(t, errors.As(err, &tokErr))
		assert.Equal(t, "authorization_code", tokErr.Grant)
	})
	t.Run("a verifier from another flow", func(t *testing.T) {
		s := newStack(t, authserver.MethodNone, authserver.Config{})
		_, q := s.signIn(t)
		other, _ := s.signIn(t)
		_, err := s.client.Exchange(context.Background(), other, q.Get("code"))
		assert.ErrorIs(t, err, pkce.ErrInvalidGrant)
	})
}
