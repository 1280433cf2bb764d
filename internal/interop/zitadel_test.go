package interop_test

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
	"golang.org/x/text/language"

	"github.com/pkcekit/pkce"
)

// A second authorization server nobody here wrote: zitadel/oidc's OpenID
// Provider (pkg/op, OpenID certified), with the in-memory storage of its
// example server, on a loopback httptest server. Its login is scripted:
// every authorization request is signed in as the example's test user.

// zitadelOP is one running provider.
type zitadelOP struct {
	ts            *httptest.Server
	issuer        string
	tokenRequests atomic.Int64
}

const (
	zitadelWebID     = "web"
	zitadelWebSecret = "secret/with+odd:chars%"
	zitadelNativeID  = "native"
	zitadelWebRedir  = "https://app.example/callback"
	zitadelNatRedir  = "http://127.0.0.1/callback"
)

// startZitadel runs the provider with a confidential web client (Basic
// authentication, the only one the example's WebClient has) and a public
// native client (auth none, PKCE).
func startZitadel(t *testing.T) *zitadelOP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	z := &zitadelOP{issuer: "http://" + ln.Addr().String()}

	users := storage.NewUserStore(z.issuer)
	st := storage.NewStorageWithClients(users, map[string]*storage.Client{
		zitadelWebID:    storage.WebClient(zitadelWebID, zitadelWebSecret, zitadelWebRedir),
		zitadelNativeID: storage.NativeClient(zitadelNativeID, zitadelNatRedir),
	})
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:             sha256.Sum256([]byte("interop")),
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedUILocales:    []language.Tag{language.English},
	}, st, op.StaticIssuer(z.issuer), op.WithAllowInsecure(), op.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)

	username := "test-user@" + strings.Split(ln.Addr().String(), ":")[0]
	interceptor := op.NewIssuerInterceptor(provider.IssuerFromRequest)
	mux := http.NewServeMux()
	// The example clients send the browser to /login/username; the
	// scripted login checks the test user's password and hands the request
	// back to the provider, which redirects to the client.
	mux.Handle("/login/username", interceptor.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("authRequestID")
		if err := st.CheckUsernamePassword(username, "verysecure", id); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, op.AuthCallbackURL(provider)(r.Context(), id), http.StatusFound)
	}))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			z.tokenRequests.Add(1)
		}
		provider.ServeHTTP(w, r)
	}))
	z.ts = httptest.NewUnstartedServer(mux)
	z.ts.Listener.Close()
	z.ts.Listener = ln
	z.ts.Start()
	t.Cleanup(z.ts.Close)
	return z
}

// authorize plays the browser from authURL through the scripted login to
// the redirect back to the client, and returns that redirect.
func (z *zitadelOP) authorize(t *testing.T, authURL string) *url.URL {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := authURL
	for range 5 {
		resp, err := hc.Get(next)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode, "GET %s", next)
		loc, err := resp.Location()
		require.NoError(t, err)
		if !strings.HasPrefix(loc.String(), z.issuer) {
			return loc
		}
		next = loc.String()
	}
	t.Fatal("no redirect to the client after 5 steps")
	return nil
}

// zitadelProfile is a seed provider's profile as far as the example
// storage can express it.
type zitadelProfile struct {
	name     string
	clientID string
	secret   string
	redirect string
	method   pkce.AuthMethod
	scopes   []string
	params   []pkce.StartOption
}

var zitadelProfiles = []zitadelProfile{
	{name: "CMS Blue Button 2.0 (client_secret_basic)", clientID: zitadelWebID, secret: zitadelWebSecret, redirect: zitadelWebRedir,
		method: pkce.AuthSecretBasic, scopes: []string{"openid", "offline_access"}},
	{name: "Auth0 native app (public, none)", clientID: zitadelNativeID, redirect: zitadelNatRedir,
		method: pkce.AuthNone, scopes: []string{"openid", "profile", "offline_access"},
		params: []pkce.StartOption{pkce.Param("audience", "https://api.example")}},
	// The example's web client is registered for Basic, but the provider
	// takes client_secret_post from any confidential client when
	// Config.AuthMethodPost is set: it does not bind a client to one
	// method, unlike fosite.
	{name: "The Identity Hub (client_secret_post, rotating refresh)", clientID: zitadelWebID, secret: zitadelWebSecret,
		redirect: zitadelWebRedir, method: pkce.AuthSecretPost, scopes: []string{"openid", "offline_access"}},
	{name: "generic textbook (client_secret_post)", clientID: zitadelWebID, secret: zitadelWebSecret,
		redirect: zitadelWebRedir, method: pkce.AuthSecretPost, scopes: []string{"openid", "offline_access"}},
}

func (p zitadelProfile) client(t *testing.T, z *zitadelOP, opts ...pkce.Option) *pkce.Client {
	t.Helper()
	opts = append([]pkce.Option{pkce.WithAuthMethod(p.method)}, opts...)
	client, err := pkce.NewFromIssuer(context.Background(), z.issuer, &oauth2.Config{
		ClientID: p.clientID, ClientSecret: p.secret, RedirectURL: p.redirect, Scopes: p.scopes,
	}, opts...)
	require.NoError(t, err)
	return client
}

func (p zitadelProfile) signIn(t *testing.T, z *zitadelOP, client *pkce.Client) (*pkce.Token, error) {
	t.Helper()
	ctx := context.Background()
	flow, err := client.Start(ctx, p.params...)
	require.NoError(t, err)
	loc := z.authorize(t, flow.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	require.NoError(t, err)
	return client.Finish(req, flow)
}

func TestZitadelProfiles(t *testing.T) {
	for _, p := range zitadelProfiles {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			z := startZitadel(t)
			client := p.client(t, z)
			md := client.Metadata()
			assert.Equal(t, z.issuer, md.Issuer, "discovery: the OpenID Connect document")
			assert.Equal(t, z.issuer+"/revoke", md.RevocationEndpoint)

			tok, err := p.signIn(t, z, client)
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
			assert.NotEmpty(t, tok.IDToken())
			require.NotEmpty(t, tok.RefreshToken, "offline_access brings a refresh token")
			assert.Equal(t, 1, int(z.tokenRequests.Load()))
			assert.Equal(t, http.StatusOK, userinfo(t, z, tok.AccessToken), "the provider honours the access token")

			refreshed, err := client.Refresh(ctx, tok.RefreshToken)
			require.NoError(t, err)
			assert.NotEqual(t, tok.RefreshToken, refreshed.RefreshToken, "the refresh token rotates")
			assert.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
			assert.Equal(t, http.StatusOK, userinfo(t, z, refreshed.AccessToken))

			_, err = client.Refresh(ctx, tok.RefreshToken)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the replaced refresh token is refused")
			assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))

			require.NoError(t, client.Revoke(ctx, refreshed.Token), "RFC 7009 revocation of the refresh token")
			_, err = client.Refresh(ctx, refreshed.RefreshToken)
			assert.ErrorIs(t, err, pkce.ErrSignInRequired, "the revoked refresh token is refused")
		})
	}
}

func TestZitadelRefusals(t *testing.T) {
	web := zitadelProfiles[0]
	native := zitadelProfiles[1]
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, z *zitadelOP) error
		// wantIs is what the error matches; tokenRequests how many token
		// requests were made.
		wantIs        error
		tokenRequests int
	}{
		{name: "reused code", tokenRequests: 2, wantIs: pkce.ErrorCode("invalid_grant"), run: func(t *testing.T, z *zitadelOP) error {
			client := native.client(t, z)
			flow, err := client.Start(context.Background())
			require.NoError(t, err)
			loc := z.authorize(t, flow.URL)
			code := loc.Query().Get("code")
			_, err = client.Exchange(context.Background(), flow, code)
			require.NoError(t, err)
			_, err = client.Exchange(context.Background(), flow, code)
			return err
		}},
		{name: "wrong client secret", tokenRequests: 1, wantIs: pkce.ErrorCode("invalid_client"), run: func(t *testing.T, z *zitadelOP) error {
			wrong := web
			wrong.secret = "not-the-secret"
			_, err := wrong.signIn(t, z, wrong.client(t, z))
			return err
		}},
		{name: "WithIssuer against a server without RFC 9207 iss", tokenRequests: 0, wantIs: pkce.ErrIssuerMismatch,
			run: func(t *testing.T, z *zitadelOP) error {
				_, err := native.signIn(t, z, native.client(t, z, pkce.WithIssuer(z.issuer)))
				return err
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			z := startZitadel(t)
			err := tt.run(t, z)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.wantIs)
			assert.Equal(t, tt.tokenRequests, int(z.tokenRequests.Load()))
		})
	}
}

// userinfo calls the provider's userinfo endpoint with accessToken.
func userinfo(t *testing.T, z *zitadelOP, accessToken string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, z.issuer+"/userinfo", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}
