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
	"github.com/pkcekit/pkce/pkcetest"
)

const redirect = "http://127.0.0.1/callback"

// stack is an internal authorization server and a client registered with it.
type stack struct {
	srv    *pkcetest.Server
	client *pkce.Client
}

// newStack registers one client with the given method. When the server sends
// iss, the client expects it.
func newStack(t *testing.T, method pkcetest.AuthMethod, cfg pkcetest.Config, opts ...pkce.Option) *stack {
	t.Helper()
	secret := "secret/with+odd:chars%"
	if method == pkcetest.MethodNone {
		secret = ""
	}
	cfg.Clients = append(cfg.Clients, pkcetest.Client{ID: "app", Secret: secret, Method: method, RedirectURIs: []string{redirect}})
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	opts = append([]pkce.Option{pkce.WithAuthMethod(pkce.AuthMethod(method))}, opts...)
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
	f, err := s.client.Start(context.Background(), opts...)
	require.NoError(t, err)
	return f, authorize(t, f.URL)
}

func TestFlowEndToEnd(t *testing.T) {
	for _, method := range []pkcetest.AuthMethod{pkcetest.MethodBasic, pkcetest.MethodPost, pkcetest.MethodNone} {
		t.Run(string(method), func(t *testing.T) {
			s := newStack(t, method, pkcetest.Config{SendIssuer: true})
			f, q := s.signIn(t, pkce.Param("audience", "https://api.example"))
			tok, err := finish(context.Background(), s.client, f, q)
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
			assert.NotEmpty(t, tok.RefreshToken)
			assert.Equal(t, "openid profile", tok.Scope())
			assert.NotEmpty(t, tok.IDToken(), "openid scope brings an id_token")
			assert.Equal(t, 1, s.srv.TokenRequests())

			req := s.srv.LastTokenRequest()
			if method == pkcetest.MethodBasic {
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

func TestFinish(t *testing.T) {
	s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{})
	f, q := s.signIn(t)
	r := httptest.NewRequest(http.MethodGet, "/callback?"+q.Encode(), nil)
	tok, err := s.client.Finish(r, f)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)

	g, _ := s.signIn(t)
	bad := httptest.NewRequest(http.MethodGet, "/callback", nil)
	bad.URL.RawQuery = "code=%zz&state=" + g.State
	_, err = s.client.Finish(bad, g)
	assert.ErrorIs(t, err, pkce.ErrMalformedCallback)
	assert.Equal(t, 1, s.srv.TokenRequests())
}

// TestVerifyCallbackThenExchange is the two-step form of Finish, for
// callbacks that do not arrive as an *http.Request (v0's Finish(ctx, f, q)).
func TestVerifyCallbackThenExchange(t *testing.T) {
	s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{SendIssuer: true})
	f, q := s.signIn(t)
	code, err := s.client.VerifyCallback(context.Background(), f, q)
	require.NoError(t, err)
	assert.Equal(t, q.Get("code"), code)
	assert.Equal(t, 0, s.srv.TokenRequests(), "VerifyCallback makes no request")
	tok, err := s.client.Exchange(context.Background(), f, code)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)

	_, err = s.client.Exchange(context.Background(), f, "")
	assert.ErrorIs(t, err, pkce.ErrMalformedCallback, "an empty code is not sent")
	assert.Equal(t, 1, s.srv.TokenRequests())
}

// TestCallbackChecksBeforeTokenRequest drives real redirects of the server
// into the callback checks; none of the failures may reach the token
// endpoint.
func TestCallbackChecksBeforeTokenRequest(t *testing.T) {
	tests := []struct {
		name   string
		faults pkcetest.Faults
		edit   func(q url.Values)
		wantIs error
	}{
		{"iss differs from issuer", pkcetest.Faults{IssuerOverride: "https://evil.example"}, nil, pkce.ErrIssuerMismatch},
		{"iss missing though expected", pkcetest.Faults{OmitIssuer: true}, nil, pkce.ErrIssuerMismatch},
		{"wrong iss with wrong state is an issuer failure", pkcetest.Faults{IssuerOverride: "https://evil.example"}, func(q url.Values) { q.Set("state", "forged") }, pkce.ErrIssuerMismatch},
		{"state differs", pkcetest.Faults{}, func(q url.Values) { q.Set("state", "forged") }, pkce.ErrStateMismatch},
		{"wrong state with an error parameter is a state failure", pkcetest.Faults{AuthorizeError: "access_denied"}, func(q url.Values) { q.Set("state", "forged") }, pkce.ErrStateMismatch},
		{"server error with the right state", pkcetest.Faults{AuthorizeError: "access_denied"}, nil, pkce.ErrAccessDenied},
		{"code given twice", pkcetest.Faults{}, func(q url.Values) { q.Add("code", "other") }, pkce.ErrMalformedCallback},
		{"code removed", pkcetest.Faults{}, func(q url.Values) { q.Del("code") }, pkce.ErrMalformedCallback},
		{"iss given twice", pkcetest.Faults{}, func(q url.Values) { q.Add("iss", q.Get("iss")) }, pkce.ErrMalformedCallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{SendIssuer: true})
			s.srv.SetFaults(tt.faults)
			f, q := s.signIn(t)
			if tt.edit != nil {
				tt.edit(q)
			}
			tok, err := finish(context.Background(), s.client, f, q)
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
		faults pkcetest.Faults
		check  func(t *testing.T, tok *pkce.Token, err error)
	}{
		{"500 with an OAuth error", pkcetest.Faults{TokenStatus: 500}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrorCode("server_error"))
			var re *oauth2.RetrieveError
			assert.ErrorAs(t, err, &re)
		}},
		{"503 temporarily unavailable", pkcetest.Faults{TokenStatus: 503}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrorCode("temporarily_unavailable"))
		}},
		{"HTML body", pkcetest.Faults{HTMLBody: true}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
			assert.ErrorContains(t, err, "502")
			assert.ErrorContains(t, err, "text/html")
		}},
		{"oversized body", pkcetest.Faults{OversizeBody: 2 << 20}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
		}},
		{"slow response within the deadline", pkcetest.Faults{Delay: 50 * time.Millisecond}, func(t *testing.T, tok *pkce.Token, err error) {
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
		}},
		{"hanging response", pkcetest.Faults{Hang: true}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		}},
		{"missing token_type", pkcetest.Faults{OmitTokenType: true}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
		}},
		{"token_type mac", pkcetest.Faults{TokenType: "mac"}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
		}},
		{"token_type in lower case", pkcetest.Faults{TokenType: "bearer"}, func(t *testing.T, tok *pkce.Token, err error) {
			require.NoError(t, err)
			assert.Equal(t, "Bearer", tok.Type())
		}},
		{"expires_in as a string", pkcetest.Faults{ExpiresInString: true}, func(t *testing.T, tok *pkce.Token, err error) {
			require.NoError(t, err)
			assert.Equal(t, int64(3600), tok.ExpiresIn)
		}},
		{"negative expires_in", pkcetest.Faults{ExpiresIn: &neg}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
		}},
		{"no refresh token", pkcetest.Faults{OmitRefreshToken: true}, func(t *testing.T, tok *pkce.Token, err error) {
			require.NoError(t, err)
			assert.Empty(t, tok.RefreshToken)
		}},
		{"raw response", pkcetest.Faults{Raw: &pkcetest.RawResponse{Status: 200, ContentType: "text/html", Body: `{"access_token":"a","token_type":"Bearer"}`}}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
		}},
		{"RFC 6749 §5.1: 201 for a token", pkcetest.Faults{Raw: &pkcetest.RawResponse{Status: 201, ContentType: "application/json", Body: `{"access_token":"a","token_type":"Bearer"}`}}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
		}},
		{"RFC 8259 §4: TOKEN_TYPE next to token_type", pkcetest.Faults{Raw: &pkcetest.RawResponse{Status: 200, ContentType: "application/json", Body: `{"access_token":"AT","token_type":"Bearer","TOKEN_TYPE":"DPoP"}`}}, func(t *testing.T, _ *pkce.Token, err error) {
			assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{})
			s.srv.SetFaults(tt.faults)
			f, q := s.signIn(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			tok, err := finish(ctx, s.client, f, q)
			tt.check(t, tok, err)
			if err != nil {
				assert.NotContains(t, err.Error(), q.Get("code"))
				assert.NotContains(t, err.Error(), flowJSON(t, f)["verifier"])
			}
			assert.Equal(t, 1, s.srv.TokenRequests(), "one token request, never a retry")
		})
	}
}

func TestServerRefusesWhatTheClientGotWrong(t *testing.T) {
	t.Run("public client against a confidential registration", func(t *testing.T) {
		// The Blue Button confusion: leaving the secret out gets invalid_client.
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{})
		public, err := pkce.New(&oauth2.Config{
			ClientID:    "app",
			Endpoint:    oauth2.Endpoint{AuthURL: s.srv.AuthURL(), TokenURL: s.srv.TokenURL()},
			RedirectURL: redirect,
		})
		require.NoError(t, err)
		s.client = public
		f, q := s.signIn(t)
		_, err = finish(context.Background(), public, f, q)
		assert.ErrorIs(t, err, pkce.ErrorCode("invalid_client"))
		assert.ErrorContains(t, err, "registered the client as confidential")
	})
	t.Run("a code presented twice", func(t *testing.T) {
		s := newStack(t, pkcetest.MethodPost, pkcetest.Config{})
		f, q := s.signIn(t)
		_, err := finish(context.Background(), s.client, f, q)
		require.NoError(t, err)
		_, err = s.client.Exchange(context.Background(), f, q.Get("code"))
		assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))
		var tokErr *pkce.OAuthError
		require.True(t, errors.As(err, &tokErr))
		assert.Equal(t, "code exchange", tokErr.Op)
		assert.Equal(t, http.StatusBadRequest, tokErr.StatusCode)
	})
	t.Run("a verifier from another flow", func(t *testing.T) {
		s := newStack(t, pkcetest.MethodNone, pkcetest.Config{})
		_, q := s.signIn(t)
		other, _ := s.signIn(t)
		_, err := s.client.Exchange(context.Background(), other, q.Get("code"))
		assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))
	})
}
