package interop_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/interop"
)

// start runs a fosite server for cfg until the test ends.
func start(t *testing.T, cfg interop.Config) *interop.Server {
	t.Helper()
	srv, err := interop.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return srv
}

// methods maps fosite's registered methods to the package's.
var methods = map[string]pkce.AuthMethod{
	interop.ClientSecretBasic: pkce.AuthSecretBasic,
	interop.ClientSecretPost:  pkce.AuthSecretPost,
	interop.None:              pkce.AuthNone,
	interop.PrivateKeyJWT:     pkce.AuthPrivateKeyJWT,
}

// newClient configures the package for reg at srv: the registered
// authentication method, the first redirect URI, every registered scope.
// Later options win, so a test can pass a different WithAuthMethod.
func newClient(t *testing.T, srv *interop.Server, reg interop.Client, opts ...pkce.Option) *pkce.Client {
	t.Helper()
	opts = append([]pkce.Option{pkce.WithAuthMethod(methods[reg.Method]), pkce.WithHTTPClient(srv.Client())}, opts...)
	client, err := pkce.New(&oauth2.Config{
		ClientID:     reg.ID,
		ClientSecret: reg.Secret,
		Endpoint:     oauth2.Endpoint{AuthURL: srv.AuthorizeURL(), TokenURL: srv.TokenURL()},
		RedirectURL:  reg.RedirectURIs[0],
		Scopes:       reg.Scopes,
	}, opts...)
	require.NoError(t, err)
	return client
}

// signIn starts a flow and plays the browser: it sends the authorization
// request and returns the redirect back to the client, unfollowed.
func signIn(t *testing.T, srv *interop.Server, client *pkce.Client, opts ...pkce.StartOption) (*pkce.Flow, *url.URL) {
	t.Helper()
	f, err := client.Start(context.Background(), opts...)
	require.NoError(t, err)
	browser := &http.Client{
		Transport:     srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := browser.Get(f.URL)
	require.NoError(t, err)
	resp.Body.Close()
	// fosite answers 303 See Other, which RFC 6749 §4.1.2 allows as well
	// as the 302 of its examples.
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "authorization request refused")
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return f, loc
}

// callback is the request the browser would make to the redirect URI.
func callback(ctx context.Context, loc *url.URL) *http.Request {
	return httptest.NewRequestWithContext(ctx, http.MethodGet, loc.RequestURI(), nil)
}

// withoutQuery is loc as registered: the redirect URI without the
// parameters the server added.
func withoutQuery(loc *url.URL) string {
	u := *loc
	u.RawQuery = ""
	return u.String()
}

// callResource calls the protected resource with hc, which must add the
// bearer token, and decodes a successful answer.
func callResource(t *testing.T, hc *http.Client, srv *interop.Server) (int, interop.Resource) {
	t.Helper()
	resp, err := hc.Get(srv.ResourceURL())
	require.NoError(t, err)
	defer resp.Body.Close()
	var res interop.Resource
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	}
	return resp.StatusCode, res
}

// bearer is an HTTP client for srv that sends accessToken (RFC 6750 §2.1).
func bearer(srv *interop.Server, accessToken string) *http.Client {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	return oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}))
}

// assertTokenError checks that err is the package's typed error for an
// RFC 6749 §5.2 error response with the given code, status and operation,
// and that the *oauth2.RetrieveError behind it agrees.
func assertTokenError(t *testing.T, err error, code pkce.ErrorCode, status int, op string) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, code)
	var oauthErr *pkce.OAuthError
	if assert.ErrorAs(t, err, &oauthErr) {
		assert.Equal(t, string(code), oauthErr.Code)
		assert.Equal(t, status, oauthErr.StatusCode)
		assert.Equal(t, op, oauthErr.Op)
	}
	var re *oauth2.RetrieveError
	if assert.ErrorAs(t, err, &re) {
		assert.Equal(t, string(code), re.ErrorCode)
		if assert.NotNil(t, re.Response) {
			assert.Equal(t, status, re.Response.StatusCode)
		}
	}
}

// revokingClient is newClient with the server's revocation endpoint,
// which the package takes from metadata (RFC 8414 §2).
func revokingClient(t *testing.T, srv *interop.Server, reg interop.Client) *pkce.Client {
	t.Helper()
	return newClient(t, srv, reg, pkce.WithMetadata(&pkce.Metadata{
		Issuer:                srv.Issuer(),
		AuthorizationEndpoint: srv.AuthorizeURL(),
		TokenEndpoint:         srv.TokenURL(),
		RevocationEndpoint:    srv.RevocationURL(),
	}))
}

// revoke revokes a refresh token with the package, as a client of reg.
func revoke(t *testing.T, srv *interop.Server, reg interop.Client, refreshToken string) {
	t.Helper()
	require.NoError(t, revokingClient(t, srv, reg).Revoke(context.Background(), &oauth2.Token{RefreshToken: refreshToken}))
}

// errOf keeps only the error of a call that is expected to fail.
func errOf(_ *pkce.Token, err error) error { return err }
