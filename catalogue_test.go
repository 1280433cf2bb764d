package pkce_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// badInput is one thing a real server or an attacker can send. The same
// rows, by name and rule, make the section "What the package rejects, and
// why" of docs/errors.md; TestCatalogueIsInErrorsGuide keeps the two
// together.
type badInput struct {
	name string
	rule string
	// Exactly one of token and callback is set.
	token    http.HandlerFunc
	callback func(f *pkce.Flow) url.Values
	timeout  time.Duration // for the token request; default 5 s
	wantIs   error
	wantAs   func(error) bool
}

// noAnswer reports the error of a request that got no complete answer
// (the connection failed, or the context ended first): none of the
// package's answer types, and a message that says so.
func noAnswer(err error) bool {
	return err != nil && !as[*pkce.ResponseError](err) && !as[*pkce.OAuthError](err) &&
		strings.HasPrefix(err.Error(), "pkce: request to the ")
}

func as[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

const catalogueIssuer = "https://as.example"

const htmlPage = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

func tokenJSON(members string) http.HandlerFunc {
	return jsonResponse(200, `{"access_token":"a","token_type":"Bearer"`+members+`}`)
}

var catalogue = []badInput{
	// Token endpoint: RFC 6749 §5.1 (success) and §5.2 (error).
	{name: "truncated JSON", rule: "RFC 6749 §5.1", token: jsonResponse(200, `{"access_token":"a","token_type":"Bea`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "JSON array instead of an object", rule: "RFC 6749 §5.1", token: jsonResponse(200, `[{"access_token":"a"}]`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "JSON null", rule: "RFC 6749 §5.1", token: jsonResponse(200, `null`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "empty body", rule: "RFC 6749 §5.1", token: jsonResponse(200, ``), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "access_token as a number", rule: "RFC 6749 §5.1", token: jsonResponse(200, `{"access_token":42,"token_type":"Bearer"}`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "empty access_token", rule: "RFC 6749 §5.1", token: jsonResponse(200, `{"access_token":"","token_type":"Bearer"}`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "access_token missing", rule: "RFC 6749 §5.1", token: jsonResponse(200, `{"token_type":"Bearer"}`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "token_type missing", rule: "RFC 6749 §5.1", token: jsonResponse(200, `{"access_token":"a"}`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "token_type mac", rule: "RFC 6749 §7.1, RFC 6750", token: jsonResponse(200, `{"access_token":"a","token_type":"mac"}`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "token_type DPoP", rule: "RFC 9449 §5, RFC 6750", token: jsonResponse(200, `{"access_token":"a","token_type":"DPoP"}`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "expires_in -1", rule: "RFC 6749 §5.1", token: tokenJSON(`,"expires_in":-1`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "expires_in 1e400", rule: "RFC 6749 §5.1", token: tokenJSON(`,"expires_in":1e400`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: `expires_in "abc"`, rule: "RFC 6749 §5.1", token: tokenJSON(`,"expires_in":"abc"`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "expires_in 3600.5", rule: "RFC 6749 §5.1", token: tokenJSON(`,"expires_in":3600.5`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "expires_in beyond 2^31-1", rule: "RFC 6749 §5.1", token: tokenJSON(`,"expires_in":4294967296`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "refresh_token not a string", rule: "RFC 6749 §5.1", token: tokenJSON(`,"refresh_token":{}`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "scope not a string", rule: "RFC 6749 §3.3, §5.1", token: tokenJSON(`,"scope":["a"]`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "200 with an error member", rule: "RFC 6749 §5.2", token: jsonResponse(200, `{"error":"invalid_grant","error_description":"code expired"}`), wantIs: pkce.ErrorCode("invalid_grant"), wantAs: as[*pkce.OAuthError]},
	{name: "400 with an HTML body", rule: "RFC 6749 §5.2", token: rawResponse(400, "text/html", htmlPage), wantIs: pkce.ErrInvalidResponse, wantAs: as[*oauth2.RetrieveError]},
	{name: "500 with an empty body", rule: "RFC 6749 §5.2", token: rawResponse(500, "", ""), wantIs: pkce.ErrInvalidResponse, wantAs: as[*oauth2.RetrieveError]},
	{name: "400 JSON without an error member", rule: "RFC 6749 §5.2", token: jsonResponse(400, `{"message":"nope"}`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "302 from the token endpoint", rule: "RFC 6749 §5.1, §5.2", token: func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example/token", http.StatusFound)
	}, wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "body over the size bound", rule: "package bound (WithMaxResponseBytes)", token: tokenJSON(`,"pad":"` + strings.Repeat("x", 5000) + `"`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "response that never ends", rule: "context deadline", timeout: 200 * time.Millisecond, token: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		io.WriteString(w, `{"access_token":`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}, wantIs: context.DeadlineExceeded, wantAs: noAnswer},
	{name: "reset connection", rule: "transport", token: func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}, wantIs: nil, wantAs: noAnswer},
	{name: "JSON labelled text/html", rule: "RFC 6749 §5.1", token: rawResponse(200, "text/html", `{"access_token":"a","token_type":"Bearer"}`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "form body labelled form-urlencoded", rule: "RFC 6749 §5.1", token: rawResponse(200, "application/x-www-form-urlencoded", `access_token=a&token_type=Bearer`), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},
	{name: "HTML labelled application/json", rule: "RFC 6749 §5.1", token: jsonResponse(200, htmlPage), wantIs: pkce.ErrInvalidResponse, wantAs: as[*pkce.ResponseError]},

	// The redirect back to the client: RFC 6749 §4.1.2, RFC 9207.
	{name: "two state values", rule: "RFC 6749 §3.1", callback: func(f *pkce.Flow) url.Values {
		return url.Values{"state": {f.State, f.State}, "code": {"c"}, "iss": {catalogueIssuer}}
	}, wantIs: pkce.ErrMalformedCallback, wantAs: as[*pkce.CallbackError]},
	{name: "iss missing", rule: "RFC 9207 §2.4", callback: func(f *pkce.Flow) url.Values {
		return url.Values{"state": {f.State}, "code": {"c"}}
	}, wantIs: pkce.ErrIssuerMismatch, wantAs: as[*pkce.CallbackError]},
	{name: "iss with different case", rule: "RFC 9207 §2.4", callback: func(f *pkce.Flow) url.Values {
		return url.Values{"state": {f.State}, "code": {"c"}, "iss": {strings.ToUpper(catalogueIssuer)}}
	}, wantIs: pkce.ErrIssuerMismatch, wantAs: as[*pkce.CallbackError]},
	{name: "iss with a trailing slash", rule: "RFC 9207 §2.4", callback: func(f *pkce.Flow) url.Values {
		return url.Values{"state": {f.State}, "code": {"c"}, "iss": {catalogueIssuer + "/"}}
	}, wantIs: pkce.ErrIssuerMismatch, wantAs: as[*pkce.CallbackError]},
	{name: "state that does not match", rule: "RFC 6749 §10.12", callback: func(f *pkce.Flow) url.Values {
		return url.Values{"state": {"forged"}, "code": {"c"}, "iss": {catalogueIssuer}}
	}, wantIs: pkce.ErrStateMismatch, wantAs: as[*pkce.CallbackError]},
	{name: "forged error without the state", rule: "RFC 6749 §10.12", callback: func(f *pkce.Flow) url.Values {
		return url.Values{"error": {"access_denied"}, "iss": {catalogueIssuer}}
	}, wantIs: pkce.ErrStateMismatch, wantAs: as[*pkce.CallbackError]},
	{name: "empty code", rule: "RFC 6749 §4.1.2", callback: func(f *pkce.Flow) url.Values {
		return url.Values{"state": {f.State}, "code": {""}, "iss": {catalogueIssuer}}
	}, wantIs: pkce.ErrMalformedCallback, wantAs: as[*pkce.CallbackError]},
}

func TestBadInputCatalogue(t *testing.T) {
	for _, tt := range catalogue {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			switch {
			case tt.token != nil:
				te := newTokenEndpoint(t, tt.token)
				c := clientFor(t, te, testSecret, pkce.WithMaxResponseBytes(2048))
				f, startErr := c.Start(context.Background())
				require.NoError(t, startErr)
				timeout := tt.timeout
				if timeout == 0 {
					timeout = 5 * time.Second
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				var tok *pkce.Token
				tok, err = c.Exchange(ctx, f, testCode)
				assert.Nil(t, tok)
				assert.Equal(t, 1, te.count(), "one request, never a retry")
				require.Error(t, err)
				assert.NotContains(t, err.Error(), flowJSON(t, f)["verifier"])
			case tt.callback != nil:
				c, newErr := pkce.New(&oauth2.Config{
					ClientID:    "app",
					Endpoint:    oauth2.Endpoint{AuthURL: catalogueIssuer + "/authorize", TokenURL: catalogueIssuer + "/token"},
					RedirectURL: "https://app.example/callback",
				}, pkce.WithIssuer(catalogueIssuer))
				require.NoError(t, newErr)
				f, startErr := c.Start(context.Background())
				require.NoError(t, startErr)
				var code string
				code, err = c.VerifyCallback(context.Background(), f, tt.callback(f))
				assert.Empty(t, code)
				require.Error(t, err)
				assert.NotContains(t, err.Error(), f.State)
			default:
				t.Fatal("row sets neither token nor callback")
			}
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.True(t, tt.wantAs(err), "typed error, got %T: %v", err, err)
			assertNoSecret(t, err.Error())
		})
	}
}

// TestCatalogueIsInErrorsGuide checks that each row has its line in the
// table of the errors guide, with its rule.
func TestCatalogueIsInErrorsGuide(t *testing.T) {
	guide, err := os.ReadFile(filepath.Join("docs", "errors.md"))
	require.NoError(t, err)
	_, section, found := strings.Cut(string(guide), "## What the package rejects, and why")
	require.True(t, found, "the section of docs/errors.md is missing")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, tt := range catalogue {
		line := "| " + tt.name + " | " + tt.rule + " |"
		assert.Contains(t, section, line)
	}
}
