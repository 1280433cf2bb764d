package pkce_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// TestRefreshErrorsAreClassified runs the classes against the internal
// server; TestRefreshErrorClasses has the whole table.
func TestRefreshErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *stack, rt string)
		class error
		code  pkce.ErrorCode
	}{
		{"revoked refresh token: sign in again", func(s *stack, rt string) { s.srv.RevokeRefreshToken(rt) }, pkce.ErrSignInRequired, pkce.ErrorCode("invalid_grant")},
		{"503 is transient", func(s *stack, _ string) { s.srv.SetFaults(pkcetest.Faults{TokenStatus: 503}) }, pkce.ErrTryLater, pkce.ErrorCode("temporarily_unavailable")},
		{"500 is transient", func(s *stack, _ string) { s.srv.SetFaults(pkcetest.Faults{TokenStatus: 500}) }, pkce.ErrTryLater, pkce.ErrorCode("server_error")},
		{"429 is transient", func(s *stack, _ string) {
			s.srv.SetFaults(pkcetest.Faults{Raw: &pkcetest.RawResponse{Status: 429, ContentType: "application/json", Body: `{"error":"slow_down"}`}})
		}, pkce.ErrTryLater, "slow_down"},
		{"HTML from a proxy is transient", func(s *stack, _ string) { s.srv.SetFaults(pkcetest.Faults{HTMLBody: true}) }, pkce.ErrTryLater, ""},
		// v1: the client was rejected, not the grant (v0: sign-in required).
		{"invalid_client rejects the client", func(s *stack, _ string) {
			s.srv.SetFaults(pkcetest.Faults{Raw: &pkcetest.RawResponse{Status: 401, ContentType: "application/json", Body: `{"error":"invalid_client"}`}})
		}, pkce.ErrClientRejected, pkce.ErrorCode("invalid_client")},
		{"unauthorized_client rejects the client", func(s *stack, _ string) {
			s.srv.SetFaults(pkcetest.Faults{Raw: &pkcetest.RawResponse{Status: 400, ContentType: "application/json", Body: `{"error":"unauthorized_client"}`}})
		}, pkce.ErrClientRejected, pkce.ErrorCode("unauthorized_client")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true})
			tok := s.signedIn(t)
			tt.setup(s, tok.RefreshToken)
			_, err := s.client.Refresh(context.Background(), tok.RefreshToken)
			require.Error(t, err)
			assertOneClass(t, err, tt.class)
			if tt.code != "" {
				assert.ErrorIs(t, err, tt.code)
				var oe *pkce.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "refresh", oe.Op)
			}
			assert.NotContains(t, err.Error(), tok.RefreshToken)
		})
	}
	t.Run("a network error is transient", func(t *testing.T) {
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{})
		tok := s.signedIn(t)
		s.srv.Close()
		_, err := s.client.Refresh(context.Background(), tok.RefreshToken)
		assertOneClass(t, err, pkce.ErrTryLater)
		assert.True(t, noAnswer(err), "%v", err)
	})
	t.Run("no refresh token is terminal", func(t *testing.T) {
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{})
		_, err := s.client.Refresh(context.Background(), "")
		assertOneClass(t, err, pkce.ErrSignInRequired)
		assert.Equal(t, 0, s.srv.RefreshRequests())
	})
	t.Run("a rotated-away refresh token is refused", func(t *testing.T) {
		s := newStack(t, pkcetest.MethodBasic, pkcetest.Config{Rotate: true})
		tok := s.signedIn(t)
		_, err := s.client.Refresh(context.Background(), tok.RefreshToken)
		require.NoError(t, err)
		_, err = s.client.Refresh(context.Background(), tok.RefreshToken)
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
		assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))
	})
}

// hangingEndpoint is a token endpoint that answers nothing until the
// request ends or the test is over.
func hangingEndpoint(t *testing.T) *tokenEndpoint {
	done := make(chan struct{})
	te := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	t.Cleanup(func() { close(done) }) // before te.Close, which waits for the handler
	return te
}

// TestRefreshErrorClasses has a row for every case of each line of the
// table of refresh failures (V1_MIGRATION.md, doc.go): every error of
// Client.Refresh and of a TokenSource matches exactly one of
// ErrSignInRequired, ErrTryLater and ErrClientRejected.
func TestRefreshErrorClasses(t *testing.T) {
	// refresh calls Client.Refresh against a token endpoint answering h.
	refresh := func(h http.HandlerFunc) func(t *testing.T) error {
		return func(t *testing.T) error {
			te := newTokenEndpoint(t, h)
			tok, err := clientFor(t, te, testSecret).Refresh(context.Background(), "old-refresh")
			assert.Nil(t, tok)
			assert.Equal(t, 1, te.count(), "one request, never a retry")
			return err
		}
	}
	// fromSource asks a TokenSource holding an expired token, whose token
	// endpoint answers h.
	fromSource := func(h http.HandlerFunc, opts ...pkce.SourceOption) func(t *testing.T) error {
		return func(t *testing.T) error {
			te := newTokenEndpoint(t, h)
			_, err := source(t, clientFor(t, te, testSecret), expiredToken(), opts...).Token()
			return err
		}
	}
	goodToken := jsonResponse(200, `{"access_token":"new-access","token_type":"Bearer","expires_in":3600}`)
	oauthError := func(status int, code string) http.HandlerFunc {
		return jsonResponse(status, `{"error":"`+code+`"}`)
	}
	// again refreshes "old-refresh" twice, gap apart, against a token
	// endpoint answering first and then second; with servedBetween,
	// another refresh token of the client is refreshed in between.
	again := func(first, second http.HandlerFunc, gap time.Duration, servedBetween bool) func(t *testing.T) error {
		return func(t *testing.T) error {
			var te *tokenEndpoint
			n := 0
			te = newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case te.last(t).form.Get("refresh_token") != "old-refresh":
					goodToken(w, r)
				case n == 0:
					n++
					first(w, r)
				default:
					second(w, r)
				}
			})
			clock := newFakeClock()
			c := clientFor(t, te, testSecret, pkce.WithClock(clock.Now))
			_, err := c.Refresh(context.Background(), "old-refresh")
			require.Error(t, err)
			require.NotErrorIs(t, err, pkce.ErrSignInRequired, "one answer")
			if servedBetween {
				_, err := c.Refresh(context.Background(), "another-users-refresh")
				require.NoError(t, err)
			}
			clock.Advance(gap)
			_, err = c.Refresh(context.Background(), "old-refresh")
			return err
		}
	}
	// storedInTokens asks a Tokens whose store holds value for the subject.
	storedInTokens := func(value string) func(t *testing.T) error {
		return func(t *testing.T) error {
			te := newTokenEndpoint(t, goodToken)
			store := pkce.NewMemoryStore()
			_, err := store.SaveToken(context.Background(), "alice", nil, []byte(value))
			require.NoError(t, err)
			tokens, err := clientFor(t, te, testSecret).Tokens(store)
			require.NoError(t, err)
			_, err = tokens.Source(context.Background(), "alice")
			assert.Equal(t, 0, te.count())
			return err
		}
	}
	malformedError := jsonResponse(400, `{"error":"temporarily_unavailable","ERROR":"invalid_grant"}`)
	tests := []struct {
		name  string
		run   func(t *testing.T) error
		want  error
		also  error // matched too, when set
		cause bool  // errors.As finds an *OAuthError, *ResponseError, or is a request without an answer
	}{
		// Status 5xx, 408, 429 (with or without an error object): try later.
		{name: "5xx: 500 with invalid_grant", run: refresh(oauthError(500, "invalid_grant")), want: pkce.ErrTryLater, also: pkce.ErrorCode("invalid_grant"), cause: true},
		{name: "5xx: 500 with invalid_client", run: refresh(oauthError(500, "invalid_client")), want: pkce.ErrTryLater, also: pkce.ErrorCode("invalid_client"), cause: true},
		{name: "5xx: 502 with an HTML page", run: refresh(rawResponse(502, "text/html", htmlPage)), want: pkce.ErrTryLater, also: pkce.ErrInvalidResponse, cause: true},
		{name: "5xx: 503 with an empty body", run: refresh(rawResponse(503, "", "")), want: pkce.ErrTryLater, cause: true},
		{name: "5xx: 504 with temporarily_unavailable", run: refresh(oauthError(504, "temporarily_unavailable")), want: pkce.ErrTryLater, cause: true},
		{name: "408 with invalid_grant", run: refresh(oauthError(408, "invalid_grant")), want: pkce.ErrTryLater, cause: true},
		{name: "408 with an empty body", run: refresh(rawResponse(408, "", "")), want: pkce.ErrTryLater, cause: true},
		{name: "429 with slow_down", run: refresh(oauthError(429, "slow_down")), want: pkce.ErrTryLater, also: pkce.ErrorCode("slow_down"), cause: true},
		{name: "429 with an empty body", run: refresh(rawResponse(429, "", "")), want: pkce.ErrTryLater, cause: true},

		// Error object invalid_grant: sign in again.
		{name: "invalid_grant at 400", run: refresh(oauthError(400, "invalid_grant")), want: pkce.ErrSignInRequired, also: pkce.ErrorCode("invalid_grant"), cause: true},
		{name: "invalid_grant at 401", run: refresh(oauthError(401, "invalid_grant")), want: pkce.ErrSignInRequired, also: pkce.ErrorCode("invalid_grant"), cause: true},
		{name: "invalid_grant at 200", run: refresh(oauthError(200, "invalid_grant")), want: pkce.ErrSignInRequired, also: pkce.ErrorCode("invalid_grant"), cause: true},

		// invalid_client, unauthorized_client, unsupported_grant_type: the client is rejected.
		{name: "invalid_client", run: refresh(oauthError(401, "invalid_client")), want: pkce.ErrClientRejected, also: pkce.ErrorCode("invalid_client"), cause: true},
		{name: "unauthorized_client", run: refresh(oauthError(400, "unauthorized_client")), want: pkce.ErrClientRejected, also: pkce.ErrorCode("unauthorized_client"), cause: true},
		{name: "unsupported_grant_type", run: refresh(oauthError(400, "unsupported_grant_type")), want: pkce.ErrClientRejected, also: pkce.ErrorCode("unsupported_grant_type"), cause: true},

		// The same client rejection again, another refresh served: sign in again.
		{name: "client rejection again after the back-off, another refresh served between", run: again(oauthError(400, "unauthorized_client"), oauthError(400, "unauthorized_client"), time.Second, true), want: pkce.ErrSignInRequired, also: pkce.ErrorCode("unauthorized_client"), cause: true},
		{name: "client rejection again after the back-off, nothing else served", run: again(oauthError(401, "invalid_client"), oauthError(401, "invalid_client"), time.Minute, false), want: pkce.ErrClientRejected, also: pkce.ErrorCode("invalid_client"), cause: true},

		// The same 4xx code again after the back-off: sign in again.
		{name: "the same 4xx code again after the back-off, another refresh served between", run: again(oauthError(400, "invalid_request"), oauthError(400, "invalid_request"), time.Second, true), want: pkce.ErrSignInRequired, also: pkce.ErrorCode("invalid_request"), cause: true},
		{name: "the same 4xx code again after the back-off, nothing else served", run: again(oauthError(400, "invalid_request"), oauthError(400, "invalid_request"), time.Minute, false), want: pkce.ErrTryLater, also: pkce.ErrorCode("invalid_request"), cause: true},
		{name: "the same 4xx code persisting 10 minutes, nothing else served", run: again(oauthError(400, "invalid_request"), oauthError(400, "invalid_request"), 10*time.Minute, false), want: pkce.ErrSignInRequired, also: pkce.ErrorCode("invalid_request"), cause: true},
		{name: "the same client rejection persisting 10 minutes, nothing else served", run: again(oauthError(400, "unauthorized_client"), oauthError(400, "unauthorized_client"), time.Hour, false), want: pkce.ErrClientRejected, cause: true},
		{name: "the same 4xx code again within the back-off", run: again(oauthError(400, "invalid_request"), oauthError(400, "invalid_request"), 500*time.Millisecond, true), want: pkce.ErrTryLater, also: pkce.ErrorCode("invalid_request"), cause: true},
		{name: "another 4xx code the second time", run: again(oauthError(400, "invalid_request"), oauthError(400, "invalid_scope"), time.Hour, true), want: pkce.ErrTryLater, also: pkce.ErrorCode("invalid_scope"), cause: true},
		{name: "the same 5xx again after the back-off", run: again(oauthError(503, "temporarily_unavailable"), oauthError(503, "temporarily_unavailable"), time.Hour, true), want: pkce.ErrTryLater, cause: true},

		// A malformed answer: try later, however often.
		{name: "malformed answer: error and ERROR at 400", run: refresh(malformedError), want: pkce.ErrTryLater, also: pkce.ErrInvalidResponse, cause: true},
		{name: "malformed answer: error and ERROR at 400, again after the back-off", run: again(malformedError, malformedError, time.Hour, true), want: pkce.ErrTryLater, also: pkce.ErrInvalidResponse, cause: true},

		// Tokens: a tombstone or a value that does not decode: sign in again.
		{name: "Tokens: the stored refresh token was refused before", run: storedInTokens(`{"dead":true}`), want: pkce.ErrSignInRequired},
		{name: "Tokens: the stored value does not decode", run: storedInTokens(`{"access_token":"at","refresh_to`), want: pkce.ErrSignInRequired},

		// Any other code: try later.
		{name: "other code: invalid_request", run: refresh(oauthError(400, "invalid_request")), want: pkce.ErrTryLater, also: pkce.ErrorCode("invalid_request"), cause: true},
		{name: "other code: invalid_scope", run: refresh(oauthError(400, "invalid_scope")), want: pkce.ErrTryLater, also: pkce.ErrorCode("invalid_scope"), cause: true},
		{name: "other code: access_denied", run: refresh(oauthError(400, "access_denied")), want: pkce.ErrTryLater, also: pkce.ErrAccessDenied, cause: true},
		{name: "other code: server_error at 400", run: refresh(oauthError(400, "server_error")), want: pkce.ErrTryLater, also: pkce.ErrorCode("server_error"), cause: true},
		{name: "other code: temporarily_unavailable at 400", run: refresh(oauthError(400, "temporarily_unavailable")), want: pkce.ErrTryLater, also: pkce.ErrorCode("temporarily_unavailable"), cause: true},
		{name: "other code: unknown", run: refresh(oauthError(400, "made_up_code")), want: pkce.ErrTryLater, also: pkce.ErrorCode("made_up_code"), cause: true},

		// 4xx (not 408/429) without an error object: sign in again.
		{name: "4xx without an error object: 400 empty body", run: refresh(rawResponse(400, "", "")), want: pkce.ErrSignInRequired, cause: true},
		{name: "4xx without an error object: 401 HTML", run: refresh(rawResponse(401, "text/html", htmlPage)), want: pkce.ErrSignInRequired, also: pkce.ErrInvalidResponse, cause: true},
		{name: "4xx without an error object: 400 JSON without error", run: refresh(jsonResponse(400, `{"message":"unknown refresh token"}`)), want: pkce.ErrSignInRequired, also: pkce.ErrInvalidResponse, cause: true},
		{name: "4xx without an error object: 404 text", run: refresh(rawResponse(404, "text/plain", "not found")), want: pkce.ErrSignInRequired, cause: true},
		{name: "4xx without an error object: 400 page over the response bound", run: refresh(rawResponse(400, "text/html", strings.Repeat(htmlPage, (600<<10)/len(htmlPage)))), want: pkce.ErrSignInRequired, also: pkce.ErrInvalidResponse, cause: true},

		// 2xx malformed, 3xx, network error, timeout: try later.
		{name: "2xx malformed: access_token missing", run: refresh(jsonResponse(200, `{"token_type":"Bearer"}`)), want: pkce.ErrTryLater, also: pkce.ErrInvalidResponse, cause: true},
		{name: "2xx malformed: HTML", run: refresh(rawResponse(200, "text/html", htmlPage)), want: pkce.ErrTryLater, also: pkce.ErrInvalidResponse, cause: true},
		{name: "2xx malformed: 201", run: refresh(jsonResponse(201, `{"access_token":"a","token_type":"Bearer"}`)), want: pkce.ErrTryLater, also: pkce.ErrInvalidResponse, cause: true},
		{name: "2xx malformed: Access_Token next to access_token", run: refresh(jsonResponse(200, `{"access_token":"a","Access_Token":"b","token_type":"Bearer"}`)), want: pkce.ErrTryLater, also: pkce.ErrInvalidResponse, cause: true},
		{name: "3xx: 302", run: refresh(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/token", http.StatusFound)
		}), want: pkce.ErrTryLater, also: pkce.ErrInvalidResponse, cause: true},
		{name: "network error: connection refused", run: func(t *testing.T) error {
			te := newTokenEndpoint(t, goodToken)
			c := clientFor(t, te, testSecret)
			te.Close()
			_, err := c.Refresh(context.Background(), "old-refresh")
			return err
		}, want: pkce.ErrTryLater, cause: true},
		{name: "network error: reset connection", run: refresh(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}), want: pkce.ErrTryLater, cause: true},
		{name: "timeout: the caller's deadline", run: func(t *testing.T) error {
			te := hangingEndpoint(t)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := clientFor(t, te, testSecret).Refresh(ctx, "old-refresh")
			return err
		}, want: pkce.ErrTryLater, also: context.DeadlineExceeded, cause: true},
		{name: "timeout: the source's refresh timeout", run: func(t *testing.T) error {
			te := hangingEndpoint(t)
			_, err := source(t, clientFor(t, te, testSecret), expiredToken(), pkce.WithRefreshTimeout(100*time.Millisecond)).Token()
			return err
		}, want: pkce.ErrTryLater, also: context.DeadlineExceeded, cause: true},

		// No refresh token, signed out: sign in again.
		{name: "no refresh token: Refresh", run: func(t *testing.T) error {
			te := newTokenEndpoint(t, goodToken)
			_, err := clientFor(t, te, testSecret).Refresh(context.Background(), "")
			assert.Equal(t, 0, te.count())
			return err
		}, want: pkce.ErrSignInRequired},
		{name: "no refresh token: TokenSource", run: func(t *testing.T) error {
			te := newTokenEndpoint(t, goodToken)
			tok := expiredToken()
			tok.RefreshToken = ""
			_, err := source(t, clientFor(t, te, testSecret), tok).Token()
			assert.Equal(t, 0, te.count())
			return err
		}, want: pkce.ErrSignInRequired},
		{name: "no token at all: TokenSource", run: func(t *testing.T) error {
			te := newTokenEndpoint(t, goodToken)
			_, err := source(t, clientFor(t, te, testSecret), nil).Token()
			assert.Equal(t, 0, te.count())
			return err
		}, want: pkce.ErrSignInRequired},
		{name: "signed out", run: func(t *testing.T) error {
			te := newTokenEndpoint(t, goodToken)
			src := source(t, clientFor(t, te, testSecret), expiredToken())
			assert.ErrorIs(t, src.SignOut(context.Background()), pkce.ErrInvalidConfig, "no revocation endpoint; the token is forgotten all the same")
			_, err := src.Token()
			assert.Equal(t, 0, te.count())
			return err
		}, want: pkce.ErrSignInRequired},

		// OnRefresh failure or panic, caller's context done, refresh overdue: try later.
		{name: "OnRefresh fails", run: fromSource(goodToken, pkce.OnRefresh(func(context.Context, *pkce.Token) error {
			return errors.New("disk full")
		})), want: pkce.ErrTryLater},
		{name: "OnRefresh panics", run: fromSource(goodToken, pkce.OnRefresh(func(context.Context, *pkce.Token) error {
			panic("hook bug")
		})), want: pkce.ErrTryLater},
		{name: "the caller's context is done", run: func(t *testing.T) error {
			te := hangingEndpoint(t)
			src := source(t, clientFor(t, te, testSecret), expiredToken())
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := src.TokenContext(ctx)
			return err
		}, want: pkce.ErrTryLater, also: context.Canceled},
		{name: "the refresh is overdue: a hook that ignores its context", run: func(t *testing.T) error {
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			return fromSource(goodToken, pkce.WithRefreshTimeout(300*time.Millisecond), pkce.OnRefresh(func(context.Context, *pkce.Token) error {
				<-release
				return nil
			}))(t)
		}, want: pkce.ErrTryLater},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run(t)
			assertOneClass(t, err, tt.want)
			if tt.also != nil {
				assert.ErrorIs(t, err, tt.also)
			}
			if tt.cause {
				var oe *pkce.OAuthError
				var re *pkce.ResponseError
				assert.True(t, errors.As(err, &oe) || errors.As(err, &re) || noAnswer(err), "errors.As finds the cause of %v", err)
			}
			if err != nil {
				assert.NotContains(t, err.Error(), "old-refresh")
				assert.NotContains(t, err.Error(), testSecret)
			}
		})
	}
}
