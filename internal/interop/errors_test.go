package interop_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/interop"
)

// registration returns a confidential client registered with method.
func registration(method string) interop.Client {
	return interop.Client{
		ID:           "app",
		Secret:       "app-secret",
		Method:       method,
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://127.0.0.1/other"},
		Scopes:       []string{"read"},
	}
}

// signedIn runs a whole sign-in for client and returns its token.
func signedIn(t *testing.T, srv *interop.Server, client *pkce.Client) *pkce.Token {
	t.Helper()
	f, loc := signIn(t, srv, client)
	tok, err := client.Finish(callback(context.Background(), loc), f)
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)
	return tok
}

// TestTokenEndpointRefusals makes fosite refuse token requests and checks
// that each refusal reaches the caller as the package's typed error with
// fosite's error code and status (RFC 6749 §5.2).
func TestTokenEndpointRefusals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		registered string // the method the client is registered with
		run        func(t *testing.T, srv *interop.Server, reg interop.Client) error
		code       pkce.ErrorCode
		status     int
		op         string
	}{
		{
			name:       "verifier of another flow is refused (RFC 7636 §4.6)",
			registered: interop.ClientSecretBasic,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				client := newClient(t, srv, reg)
				f, loc := signIn(t, srv, client)
				other, err := client.Start(ctx)
				require.NoError(t, err)
				_, err = client.Exchange(ctx, other, loc.Query().Get("code"))
				// fosite drops the challenge at the first attempt, so an
				// injected code that fails also fails for its own flow.
				_, again := client.Exchange(ctx, f, loc.Query().Get("code"))
				assert.ErrorIs(t, again, pkce.ErrorCode("invalid_grant"))
				return err
			},
			code: pkce.ErrorCode("invalid_grant"), status: http.StatusBadRequest, op: "code exchange",
		},
		{
			name:       "code presented a second time is refused (RFC 6749 §4.1.2)",
			registered: interop.ClientSecretBasic,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				client := newClient(t, srv, reg)
				f, loc := signIn(t, srv, client)
				first, err := client.Finish(callback(ctx, loc), f)
				require.NoError(t, err)
				_, err = client.Exchange(ctx, f, loc.Query().Get("code"))
				// RFC 6749 §4.1.2: the server SHOULD revoke what the code
				// gave; fosite does.
				status, _ := callResource(t, bearer(srv, first.AccessToken), srv)
				assert.Equal(t, http.StatusUnauthorized, status)
				return err
			},
			code: pkce.ErrorCode("invalid_grant"), status: http.StatusBadRequest, op: "code exchange",
		},
		{
			name:       "redirect_uri other than in the authorization request is refused (RFC 6749 §4.1.3)",
			registered: interop.ClientSecretBasic,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				client := newClient(t, srv, reg)
				f, loc := signIn(t, srv, client, pkce.RedirectURL(reg.RedirectURIs[1]))
				// The redirect URL is not exported: change it in the
				// stored form, as a tampered session store would.
				f = withRedirectURL(t, f, reg.RedirectURIs[0])
				return errOf(client.Finish(callback(ctx, loc), f))
			},
			code: pkce.ErrorCode("invalid_grant"), status: http.StatusBadRequest, op: "code exchange",
		},
		{
			name:       "client_secret_post for a client registered for client_secret_basic is refused (RFC 6749 §2.3)",
			registered: interop.ClientSecretBasic,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				client := newClient(t, srv, reg, pkce.WithAuthMethod(pkce.AuthSecretPost))
				f, loc := signIn(t, srv, client)
				return errOf(client.Finish(callback(ctx, loc), f))
			},
			code: pkce.ErrorCode("invalid_client"), status: http.StatusUnauthorized, op: "code exchange",
		},
		{
			name:       "client_secret_basic for a client registered for client_secret_post is refused (RFC 6749 §2.3)",
			registered: interop.ClientSecretPost,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				client := newClient(t, srv, reg, pkce.WithAuthMethod(pkce.AuthSecretBasic))
				f, loc := signIn(t, srv, client)
				return errOf(client.Finish(callback(ctx, loc), f))
			},
			code: pkce.ErrorCode("invalid_client"), status: http.StatusUnauthorized, op: "code exchange",
		},
		{
			name:       "confidential client that sends no secret is refused (RFC 6749 §3.2.1)",
			registered: interop.ClientSecretBasic,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				// The Blue Button confusion: PKCE does not replace the secret.
				public := reg
				public.Secret = ""
				client := newClient(t, srv, public, pkce.WithAuthMethod(pkce.AuthNone))
				f, loc := signIn(t, srv, client)
				return errOf(client.Finish(callback(ctx, loc), f))
			},
			code: pkce.ErrorCode("invalid_client"), status: http.StatusUnauthorized, op: "code exchange",
		},
		{
			name:       "wrong client secret is refused (RFC 6749 §5.2)",
			registered: interop.ClientSecretPost,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				wrong := reg
				wrong.Secret = "not-" + reg.Secret
				client := newClient(t, srv, wrong)
				f, loc := signIn(t, srv, client)
				return errOf(client.Finish(callback(ctx, loc), f))
			},
			code: pkce.ErrorCode("invalid_client"), status: http.StatusUnauthorized, op: "code exchange",
		},
		{
			name:       "token request sent to the authorization endpoint is refused",
			registered: interop.ClientSecretBasic,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				// The other Blue Button confusion. fosite's authorization
				// endpoint takes the POST as an authorization request
				// without client_id and answers with a JSON error.
				client := newClient(t, srv, reg)
				confused, err := pkce.New(&oauth2.Config{
					ClientID:     reg.ID,
					ClientSecret: reg.Secret,
					Endpoint:     oauth2.Endpoint{AuthURL: srv.AuthorizeURL(), TokenURL: srv.AuthorizeURL()},
					RedirectURL:  reg.RedirectURIs[0],
					Scopes:       reg.Scopes,
				}, pkce.WithHTTPClient(srv.Client()))
				require.NoError(t, err)
				f, loc := signIn(t, srv, client)
				return errOf(confused.Exchange(ctx, f, loc.Query().Get("code")))
			},
			code: pkce.ErrorCode("invalid_client"), status: http.StatusUnauthorized, op: "code exchange",
		},
		{
			name:       "revoked refresh token is refused (RFC 7009 §2.1)",
			registered: interop.ClientSecretBasic,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				client := newClient(t, srv, reg)
				tok := signedIn(t, srv, client)
				revoke(t, srv, reg, tok.RefreshToken)
				// RFC 7009 §2.1: revoking the refresh token SHOULD also
				// revoke the access tokens of the same grant; fosite does.
				status, _ := callResource(t, bearer(srv, tok.AccessToken), srv)
				assert.Equal(t, http.StatusUnauthorized, status)
				return errOf(client.Refresh(ctx, tok.RefreshToken))
			},
			code: pkce.ErrorCode("invalid_grant"), status: http.StatusBadRequest, op: "refresh",
		},
		{
			name:       "refresh token of another client is refused (RFC 6749 §6)",
			registered: interop.ClientSecretPost,
			run: func(t *testing.T, srv *interop.Server, reg interop.Client) error {
				tok := signedIn(t, srv, newClient(t, srv, reg))
				thief := reg
				thief.ID = "other-app"
				return errOf(newClient(t, srv, thief).Refresh(ctx, tok.RefreshToken))
			},
			code: pkce.ErrorCode("invalid_grant"), status: http.StatusBadRequest, op: "refresh",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := registration(tt.registered)
			other := reg
			other.ID = "other-app"
			srv := start(t, interop.Config{Clients: []interop.Client{reg, other}})

			err := tt.run(t, srv, reg)
			assertTokenError(t, err, tt.code, tt.status, tt.op)
			if tt.op == "refresh" {
				assert.ErrorIs(t, err, pkce.ErrSignInRequired, "invalid_grant on refresh means sign in again")
			}
			assert.NotContains(t, err.Error(), reg.Secret)
		})
	}
}

// TestClientCredentialEncoding sends credentials with characters that
// HTTP Basic cannot carry as they are. RFC 6749 §2.3.1 has the client
// form-urlencode id and secret before Basic; fosite decodes them with
// url.QueryUnescape, so these must succeed. "%41" would turn into "A" on a
// server that decoded twice, and ":" would split the pair on one that did
// not decode at all.
func TestClientCredentialEncoding(t *testing.T) {
	const awkward = "p/a+s:s%w%41rd x~é"
	tests := []struct {
		name string
		reg  interop.Client
	}{
		{"secret with / + : % and a space under client_secret_basic (RFC 6749 §2.3.1)", interop.Client{
			ID: "app", Secret: awkward, Method: interop.ClientSecretBasic,
		}},
		{"client id with / + : % and a space under client_secret_basic (RFC 6749 §2.3.1)", interop.Client{
			ID: awkward, Secret: "app-secret", Method: interop.ClientSecretBasic,
		}},
		{"secret with / + : % and a space under client_secret_post (RFC 6749 §2.3.1)", interop.Client{
			ID: "app", Secret: awkward, Method: interop.ClientSecretPost,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := tt.reg
			reg.RedirectURIs = []string{"http://127.0.0.1/callback"}
			reg.Scopes = []string{"read"}
			srv := start(t, interop.Config{Clients: []interop.Client{reg}})
			client := newClient(t, srv, reg)

			tok := signedIn(t, srv, client)
			next, err := client.Refresh(context.Background(), tok.RefreshToken)
			require.NoError(t, err, "the refresh grant authenticates the same way")
			assert.NotEmpty(t, next.AccessToken)
		})
	}
}

// TestCallbackAgainstFosite checks fosite's redirects against the
// package's callback checks: RFC 9207 iss, which the test server adds to
// success and error redirects, and error responses (RFC 6749 §4.1.2.1).
// No failing callback may reach the token endpoint.
func TestCallbackAgainstFosite(t *testing.T) {
	const evil = "https://sso.evil.example"
	tests := []struct {
		name     string
		send     bool   // the server sends iss
		override string // what it sends instead of its issuer
		start    []pkce.StartOption
		check    func(t *testing.T, err error)
	}{
		{
			name: "iss equals the issuer (RFC 9207 §2.4)", send: true,
			check: func(t *testing.T, err error) { assert.NoError(t, err) },
		},
		{
			name: "iss differs from the issuer (RFC 9207 §2.4)", send: true, override: evil,
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrIssuerMismatch)
				var cbErr *pkce.CallbackError
				if assert.ErrorAs(t, err, &cbErr) {
					assert.Equal(t, "iss", cbErr.Param)
					assert.Equal(t, "RFC 9207 §2.4", cbErr.Rule)
					assert.Contains(t, cbErr.Problem, `"`+evil+`"`, "names the iss received")
				}
			},
		},
		{
			name: "iss missing though the client expects it (RFC 9207 §2.4)", send: false,
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrIssuerMismatch)
				var cbErr *pkce.CallbackError
				if assert.ErrorAs(t, err, &cbErr) {
					assert.Equal(t, "iss", cbErr.Param)
					assert.Equal(t, "RFC 9207 §2.4", cbErr.Rule)
					assert.Contains(t, cbErr.Problem, "no iss", "says that iss is missing")
				}
			},
		},
		{
			name: "iss differs on an error redirect, which is then not believed (RFC 9207 §2.4)", send: true, override: evil,
			start: []pkce.StartOption{pkce.Scopes("admin")},
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrIssuerMismatch)
				assert.NotErrorIs(t, err, pkce.ErrorCode("invalid_scope"))
			},
		},
		{
			name: "scope the client may not ask for comes back as invalid_scope (RFC 6749 §4.1.2.1)", send: true,
			start: []pkce.StartOption{pkce.Scopes("admin")},
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrorCode("invalid_scope"))
				var authErr *pkce.OAuthError
				if assert.ErrorAs(t, err, &authErr) {
					assert.Equal(t, "authorization", authErr.Op)
					assert.Equal(t, "invalid_scope", authErr.Code)
					assert.Zero(t, authErr.StatusCode, "no HTTP status on a redirect")
					assert.NotEmpty(t, authErr.Description)
				}
			},
		},
		{
			name: "audience the client may not ask for comes back as invalid_request (RFC 6749 §4.1.2.1)", send: true,
			start: []pkce.StartOption{pkce.Param("audience", "other:api")},
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, pkce.ErrorCode("invalid_request"))
				var authErr *pkce.OAuthError
				if assert.ErrorAs(t, err, &authErr) {
					assert.Equal(t, "authorization", authErr.Op)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := registration(interop.ClientSecretBasic)
			reg.Audience = []string{"pagero:api"}
			srv := start(t, interop.Config{Clients: []interop.Client{reg}, SendIssuer: tt.send, IssuerOverride: tt.override})
			client := newClient(t, srv, reg, pkce.WithIssuer(srv.Issuer()))

			f, loc := signIn(t, srv, client, tt.start...)
			assert.Equal(t, f.State, loc.Query().Get("state"), "fosite returns the state on errors too")
			_, err := client.Finish(callback(context.Background(), loc), f)
			tt.check(t, err)
			wantRequests := 0
			if err == nil {
				wantRequests = 1
			}
			assert.Equal(t, wantRequests, srv.TokenRequests())
		})
	}
}

// withRedirectURL returns f with its redirect URL replaced, through the
// JSON form in which applications store flows.
func withRedirectURL(t *testing.T, f *pkce.Flow, redirectURL string) *pkce.Flow {
	t.Helper()
	b, err := json.Marshal(f)
	require.NoError(t, err)
	var members map[string]any
	require.NoError(t, json.Unmarshal(b, &members))
	require.Contains(t, members, "redirect_url")
	members["redirect_url"] = redirectURL
	b, err = json.Marshal(members)
	require.NoError(t, err)
	var tampered pkce.Flow
	require.NoError(t, json.Unmarshal(b, &tampered))
	return &tampered
}
