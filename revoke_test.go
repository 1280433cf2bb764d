package pkce_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// advertising returns cfg with the server advertising method, so that a
// discovered client picks it.
func advertising(method pkcetest.AuthMethod, cfg pkcetest.Config) pkcetest.Config {
	cfg.AuthMethodsSupported = []pkcetest.AuthMethod{method}
	return cfg
}

func TestRevoke(t *testing.T) {
	for _, method := range []pkcetest.AuthMethod{pkcetest.MethodBasic, pkcetest.MethodPost, pkcetest.MethodNone} {
		t.Run(string(method), func(t *testing.T) {
			s := newDiscoveredStack(t, method, advertising(method, pkcetest.Config{}))
			tok := s.signedIn(t)

			err := s.client.Revoke(context.Background(), tok.Token)

			require.NoError(t, err)
			req := s.srv.LastRevocationRequest()
			assert.Equal(t, tok.RefreshToken, req.Form.Get("token"))
			assert.Equal(t, "refresh_token", req.Form.Get("token_type_hint"))
			assert.Equal(t, "application/x-www-form-urlencoded", req.ContentType)
			switch method {
			case pkcetest.MethodBasic:
				// RFC 6749 §2.3.1: id and secret form-encoded before Basic.
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte("app:"+url.QueryEscape(appSecret)))
				assert.Equal(t, want, req.Authorization)
				assert.NotContains(t, req.Form, "client_secret", "the secret is sent once")
				assert.NotContains(t, req.Form, "client_id")
			case pkcetest.MethodPost:
				assert.Empty(t, req.Authorization)
				assert.Equal(t, "app", req.Form.Get("client_id"))
				assert.Equal(t, appSecret, req.Form.Get("client_secret"))
			case pkcetest.MethodNone:
				assert.Empty(t, req.Authorization)
				assert.Equal(t, "app", req.Form.Get("client_id"))
				assert.NotContains(t, req.Form, "client_secret")
			}
			_, err = s.client.Refresh(context.Background(), tok.RefreshToken)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the refresh token is revoked")
			assert.Equal(t, http.StatusUnauthorized, getResource(t, s.srv.ResourceURL(), tok.Token).StatusCode,
				"RFC 7009 §2.1: so are the access tokens of its grant")
		})
	}
}

func TestRevokeAnswers(t *testing.T) {
	raw := func(status int, contentType, body string) func(*pkce.Token) pkcetest.Faults {
		return func(*pkce.Token) pkcetest.Faults {
			return pkcetest.Faults{RevocationRaw: &pkcetest.RawResponse{Status: status, ContentType: contentType, Body: body}}
		}
	}
	tests := []struct {
		name   string
		token  func(tok *pkce.Token) *oauth2.Token // nil: tok.Token
		faults func(tok *pkce.Token) pkcetest.Faults
		check  func(t *testing.T, err error)
	}{
		{name: "RFC 7009 §2.2: an unknown token is success",
			token: func(*pkce.Token) *oauth2.Token { return &oauth2.Token{RefreshToken: "no-such-token"} },
			check: func(t *testing.T, err error) { assert.NoError(t, err) }},
		// v1: Revoke takes the token and sends the hint of what it revokes
		// (v0 sent the access token here without a hint).
		{name: "RFC 7009 §2.1: a token without a refresh token revokes its access token",
			token: func(tok *pkce.Token) *oauth2.Token { return &oauth2.Token{AccessToken: tok.AccessToken} },
			check: func(t *testing.T, err error) { assert.NoError(t, err) }},
		{name: "RFC 7009 §2.2.1: unsupported_token_type",
			faults: raw(400, "application/json", `{"error":"unsupported_token_type","error_description":"access tokens are self-contained"}`),
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrorCode("unsupported_token_type"))
				var te *pkce.OAuthError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, "revocation", te.Op)
				assert.Equal(t, 400, te.StatusCode)
				assert.Equal(t, "access tokens are self-contained", te.Description)
				var re *oauth2.RetrieveError
				require.ErrorAs(t, err, &re, "errors.As finds the *oauth2.RetrieveError")
				assert.Equal(t, "unsupported_token_type", re.ErrorCode)
				require.NotNil(t, re.Response)
				require.NotNil(t, re.Response.Request)
				assert.Empty(t, re.Response.Request.Header.Get("Authorization"), "no credentials in the error")
			}},
		{name: "RFC 7009 §2.2.1: 503 means the token may still be valid",
			faults: raw(503, "application/json", `{"error":"temporarily_unavailable"}`),
			check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrorCode("temporarily_unavailable")) }},
		{name: "RFC 6749 §5.2: invalid_client names the authentication used",
			faults: raw(401, "application/json", `{"error":"invalid_client"}`),
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrorCode("invalid_client"))
				assert.ErrorContains(t, err, "client_secret_basic")
			}},
		{name: "an HTML page from a proxy",
			faults: raw(502, "text/html", "<html><body>Bad Gateway</body></html>"),
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
				var re *pkce.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, "revocation", re.Op)
			}},
		{name: "an error status without an error member",
			faults: raw(400, "application/json", `{"message":"nope"}`),
			check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{name: "RFC 7009 §2.2: success is 200, not 204",
			faults: raw(204, "", ""),
			check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{name: "a redirect is not followed",
			faults: func(*pkce.Token) pkcetest.Faults {
				return pkcetest.Faults{RevocationRaw: &pkcetest.RawResponse{Status: 307,
					Header: http.Header{"Location": {"https://elsewhere.example/revoke"}}}}
			},
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
				assert.ErrorContains(t, err, "not followed")
			}},
		{name: "a body over the bound is an error, not cut",
			faults: raw(400, "application/json", `{"error":"invalid_request","pad":"`+strings.Repeat("x", defaultMaxResponseBytes)+`"}`),
			check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
		{name: "a server that echoes the token and the secret",
			faults: func(tok *pkce.Token) pkcetest.Faults {
				return pkcetest.Faults{RevocationRaw: &pkcetest.RawResponse{Status: 400, ContentType: "application/json",
					Body: `{"error":"invalid_request","error_description":"token ` + tok.RefreshToken + ` secret ` + appSecret + `"}`}}
			},
			check: func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrorCode("invalid_request")) }},
		{name: "RFC 8259 §4: Error next to error",
			faults: raw(400, "application/json", `{"error":"invalid_request","Error":"unsupported_token_type"}`),
			check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, pkce.ErrInvalidResponse) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{})
			tok := s.signedIn(t)
			token := tok.Token
			if tt.token != nil {
				token = tt.token(tok)
			}
			if tt.faults != nil {
				s.srv.SetFaults(tt.faults(tok))
			}

			err := s.client.Revoke(context.Background(), token)

			tt.check(t, err)
			req := s.srv.LastRevocationRequest()
			if token.RefreshToken != "" {
				assert.Equal(t, token.RefreshToken, req.Form.Get("token"))
				assert.Equal(t, "refresh_token", req.Form.Get("token_type_hint"))
			} else {
				assert.Equal(t, token.AccessToken, req.Form.Get("token"))
				assert.Equal(t, "access_token", req.Form.Get("token_type_hint"))
			}
			assert.Equal(t, 1, s.srv.RevocationRequests(), "one request, never a retry or a redirect")
			if err != nil {
				for _, secret := range []string{tok.RefreshToken, tok.AccessToken, appSecret, url.QueryEscape(appSecret)} {
					assert.NotContains(t, err.Error(), secret)
				}
			}
		})
	}
}

func TestRevokeNeedsAnEndpoint(t *testing.T) {
	s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{}) // configured without metadata
	tok := s.signedIn(t)
	err := s.client.Revoke(context.Background(), tok.Token)
	assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	assert.ErrorContains(t, err, "revocation_endpoint")
	assert.Equal(t, 0, s.srv.RevocationRequests())
}

func TestRevokeNeedsAToken(t *testing.T) {
	s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{})
	for name, tok := range map[string]*oauth2.Token{"nil": nil, "empty": {}, "type only": {TokenType: "Bearer"}} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, s.client.Revoke(context.Background(), tok))
		})
	}
	assert.Equal(t, 0, s.srv.RevocationRequests())
}

// TestWithRevocationURL: v1 lets a client configured by hand, or whose
// metadata lacks revocation_endpoint, name the endpoint; when the metadata
// lists one, the two must be equal.
func TestWithRevocationURL(t *testing.T) {
	t.Run("a client configured by hand", func(t *testing.T) {
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{})
		client, err := pkce.New(&oauth2.Config{ClientID: "app", ClientSecret: "secret/with+odd:chars%", RedirectURL: redirect,
			Endpoint: oauth2.Endpoint{AuthURL: s.srv.AuthURL(), TokenURL: s.srv.TokenURL()}},
			pkce.WithRevocationURL(s.srv.RevocationURL()))
		require.NoError(t, err)
		s.client = client
		tok := s.signedIn(t)
		require.NoError(t, client.Revoke(context.Background(), tok.Token))
		assert.Equal(t, 1, s.srv.RevocationRequests())
		assert.Equal(t, tok.RefreshToken, s.srv.LastRevocationRequest().Form.Get("token"))
	})
	md := func(revocation string) *pkce.Metadata {
		return &pkce.Metadata{Issuer: "https://as.example", AuthorizationEndpoint: "https://as.example/authorize",
			TokenEndpoint: "https://as.example/token", RevocationEndpoint: revocation}
	}
	cfg := func() *oauth2.Config { return &oauth2.Config{ClientID: "app", RedirectURL: "https://app.example/cb"} }
	t.Run("metadata without revocation_endpoint", func(t *testing.T) {
		_, err := pkce.New(cfg(), pkce.WithMetadata(md("")), pkce.WithRevocationURL("https://as.example/revoke"))
		assert.NoError(t, err)
	})
	t.Run("equal to the metadata's", func(t *testing.T) {
		_, err := pkce.New(cfg(), pkce.WithMetadata(md("https://as.example/revoke")), pkce.WithRevocationURL("https://as.example/revoke"))
		assert.NoError(t, err)
	})
	t.Run("different from the metadata's", func(t *testing.T) {
		_, err := pkce.New(cfg(), pkce.WithMetadata(md("https://as.example/revoke")), pkce.WithRevocationURL("https://other.example/revoke"))
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	})
	t.Run("plain http on a public host", func(t *testing.T) {
		_, err := pkce.New(cfg(), pkce.WithMetadata(md("")), pkce.WithRevocationURL("http://as.example/revoke"))
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	})
}

func TestTokenSourceSignOut(t *testing.T) {
	t.Run("revokes the refresh token and forgets the token", func(t *testing.T) {
		s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true})
		tok := s.signedIn(t)
		src := source(t, s.client, tok.Token)
		_, err := src.Token()
		require.NoError(t, err)

		require.NoError(t, src.SignOut(context.Background()))

		req := s.srv.LastRevocationRequest()
		assert.Equal(t, tok.RefreshToken, req.Form.Get("token"))
		assert.Equal(t, "refresh_token", req.Form.Get("token_type_hint"))
		for range 3 {
			got, err := src.Token()
			assert.Nil(t, got)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired)
		}
		assert.Equal(t, 1, s.srv.TokenRequests(), "only the code exchange; no refresh after sign-out")
		assert.Equal(t, 1, s.srv.RevocationRequests())
		assert.Equal(t, http.StatusUnauthorized, getResource(t, s.srv.ResourceURL(), tok.Token).StatusCode)
		assert.NoError(t, src.SignOut(context.Background()), "a second sign-out has nothing to revoke")
		assert.Equal(t, 1, s.srv.RevocationRequests())
	})

	t.Run("without a refresh token the access token is revoked", func(t *testing.T) {
		s := newDiscoveredStack(t, pkcetest.MethodPost, advertising(pkcetest.MethodPost, pkcetest.Config{}))
		tok := s.signedIn(t)
		access := *tok.Token
		access.RefreshToken = ""
		src := source(t, s.client, &access)

		require.NoError(t, src.SignOut(context.Background()))

		req := s.srv.LastRevocationRequest()
		assert.Equal(t, tok.AccessToken, req.Form.Get("token"))
		assert.Equal(t, "access_token", req.Form.Get("token_type_hint"))
		assert.Equal(t, http.StatusUnauthorized, getResource(t, s.srv.ResourceURL(), tok.Token).StatusCode)
	})

	t.Run("a refresh in flight is waited for and its token revoked", func(t *testing.T) {
		clock := newFakeClock()
		s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true}, pkce.WithClock(clock.Now))
		tok := s.signedIn(t)
		inHook := make(chan *pkce.Token, 1)
		release := make(chan struct{})
		src := source(t, s.client, expired(tok, clock), pkce.OnRefresh(func(_ context.Context, next *pkce.Token) error {
			inHook <- next
			<-release
			return nil
		}))
		waiter := make(chan error, 1)
		go func() {
			_, err := src.Token()
			waiter <- err
		}()
		rotated := <-inHook // the refresh has redeemed the old refresh token

		signedOut := make(chan error, 1)
		go func() { signedOut <- src.SignOut(context.Background()) }()
		// SignOut marks the source at once, then waits for the refresh;
		// until then Token fails fast without joining the refresh.
		require.Eventually(t, func() bool {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := src.TokenContext(ctx)
			return errors.Is(err, pkce.ErrSignInRequired)
		}, 5*time.Second, time.Millisecond)
		close(release)

		require.NoError(t, <-signedOut)
		assert.ErrorIs(t, <-waiter, pkce.ErrSignInRequired, "the refreshed token is not handed out")
		assert.Equal(t, rotated.RefreshToken, s.srv.LastRevocationRequest().Form.Get("token"), "the newest refresh token is revoked")
		_, err := s.client.Refresh(context.Background(), rotated.RefreshToken)
		assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))
		assert.Equal(t, 1, s.srv.RevocationRequests())
	})

	t.Run("a failed revocation still forgets the token", func(t *testing.T) {
		s := newDiscoveredStack(t, pkcetest.MethodBasic, pkcetest.Config{})
		tok := s.signedIn(t)
		src := source(t, s.client, tok.Token)
		s.srv.SetFaults(pkcetest.Faults{RevocationRaw: &pkcetest.RawResponse{Status: 503, ContentType: "application/json",
			Body: `{"error":"temporarily_unavailable"}`}})

		err := src.SignOut(context.Background())

		assert.ErrorIs(t, err, pkce.ErrorCode("temporarily_unavailable"))
		_, err = src.Token()
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
	})

	t.Run("no revocation endpoint still forgets the token", func(t *testing.T) {
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{})
		tok := s.signedIn(t)
		src := source(t, s.client, tok.Token)

		err := src.SignOut(context.Background())

		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
		_, err = src.Token()
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
		assert.Equal(t, 1, s.srv.TokenRequests())
	})
}
