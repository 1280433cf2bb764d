package pkce_test

import (
	"context"
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

// refreshNow returns a source whose token is due for refresh.
func refreshNow(t *testing.T, client *pkce.Client, tok *pkce.Token) *pkce.TokenSource {
	t.Helper()
	tok.Expiry = time.Now().Add(-time.Minute)
	src, err := client.TokenSource(tok.Token)
	require.NoError(t, err)
	return src
}

func TestRPRefresh(t *testing.T) {
	t.Run("Core §12.2: a refreshed ID token is verified and its claims kept", func(t *testing.T) {
		srv, client := rpServer(t, pkcetest.Config{})
		tok, err := rpSignIn(t, srv, client)
		require.NoError(t, err)
		next, err := refreshNow(t, client, tok).TokenContext(context.Background())
		require.NoError(t, err)
		claims := pkce.Token{Token: next}.Claims()
		require.NotNil(t, claims)
		assert.Equal(t, pkcetest.TestUser, claims.Subject)
		assert.Empty(t, claims.Nonce, "no nonce on refresh")
		assert.NotEqual(t, tok.IDToken(), pkce.Token{Token: next}.IDToken())
	})
	t.Run("Core §12.2: another sub on refresh means sign in again", func(t *testing.T) {
		srv, client := rpServer(t, pkcetest.Config{})
		tok, err := rpSignIn(t, srv, client)
		require.NoError(t, err)
		srv.SetFaults(pkcetest.Faults{IDToken: pkcetest.IDTokenOtherSubject})
		_, err = refreshNow(t, client, tok).TokenContext(context.Background())
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
		assert.ErrorIs(t, err, pkce.ErrInvalidIDToken)
		assert.ErrorContains(t, err, "§12.2")
	})
	t.Run("Core §12.2: a bad signature on refresh means sign in again", func(t *testing.T) {
		srv, client := rpServer(t, pkcetest.Config{})
		tok, err := rpSignIn(t, srv, client)
		require.NoError(t, err)
		srv.SetFaults(pkcetest.Faults{IDToken: pkcetest.IDTokenBadSignature})
		_, err = refreshNow(t, client, tok).TokenContext(context.Background())
		assert.ErrorIs(t, err, pkce.ErrSignInRequired)
		assert.ErrorContains(t, err, "§3.1.3.7 step 6")
	})
	t.Run("Core §12.2: a refresh answer without an ID token keeps the sign-in's", func(t *testing.T) {
		srv, client := rpServer(t, pkcetest.Config{})
		tok, err := rpSignIn(t, srv, client)
		require.NoError(t, err)
		srv.SetFaults(pkcetest.Faults{IDToken: pkcetest.IDTokenOmitted})
		next, err := refreshNow(t, client, tok).TokenContext(context.Background())
		require.NoError(t, err)
		assert.Equal(t, tok.IDToken(), pkce.Token{Token: next}.IDToken())
		assert.Equal(t, pkcetest.TestUser, pkce.Token{Token: next}.Claims().Subject)
	})
	t.Run("Tokens keep the claims through the store", func(t *testing.T) {
		srv, client := rpServer(t, pkcetest.Config{})
		tok, err := rpSignIn(t, srv, client)
		require.NoError(t, err)
		tokens, err := client.Tokens(pkce.NewMemoryStore())
		require.NoError(t, err)
		tok.Expiry = time.Now().Add(-time.Minute)
		require.NoError(t, tokens.Save(context.Background(), "alice", tok))
		src, err := tokens.Source(context.Background(), "alice")
		require.NoError(t, err)
		srv.SetFaults(pkcetest.Faults{IDToken: pkcetest.IDTokenOtherSubject})
		_, err = src.TokenContext(context.Background())
		assert.ErrorIs(t, err, pkce.ErrInvalidIDToken, "the stored sign-in's sub is compared")
	})
}

func TestRPUserInfo(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		wantErr string
	}{
		{"rp-userinfo-bearer-header", "", ""},
		{"rp-userinfo-bad-sub-claim", "someone-else", "§5.3.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, client := rpServer(t, pkcetest.Config{})
			tok, err := rpSignIn(t, srv, client)
			require.NoError(t, err)
			srv.SetFaults(pkcetest.Faults{UserInfoSubject: tt.subject})
			claims, err := client.UserInfo(context.Background(), tok)
			if tt.wantErr != "" {
				assert.ErrorIs(t, err, pkce.ErrInvalidIDToken)
				assert.ErrorContains(t, err, tt.wantErr)
				assert.NotContains(t, err.Error(), tok.AccessToken)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, pkcetest.TestUserName, claims.Name)
		})
	}
	t.Run("UserInfo needs a verified sign-in", func(t *testing.T) {
		_, client := rpServer(t, pkcetest.Config{})
		_, err := client.UserInfo(context.Background(), &pkce.Token{Token: &oauth2.Token{AccessToken: "at"}})
		assert.ErrorContains(t, err, "§5.3.2")
	})
}

func TestRPLogout(t *testing.T) {
	srv, client := rpServer(t, pkcetest.Config{})
	tok, err := rpSignIn(t, srv, client)
	require.NoError(t, err)
	logout, err := client.LogoutURL(tok.IDToken(), rpRedirect, "after-logout")
	require.NoError(t, err)
	u, err := url.Parse(logout)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(logout, srv.EndSessionURL()+"?"))
	assert.Equal(t, tok.IDToken(), u.Query().Get("id_token_hint"), "RP-Initiated Logout 1.0 §2: id_token_hint")

	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(logout)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "the provider accepts the request")
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "after-logout", back.Query().Get("state"), "RP-Initiated Logout 1.0 §3: state comes back")

	_, err = client.LogoutURL(tok.IDToken(), "http://evil.example/", "")
	assert.ErrorIs(t, err, pkce.ErrInvalidConfig, "post_logout_redirect_uri follows the redirect URL rules")
	_, err = client.LogoutURL("", "", "s")
	assert.ErrorIs(t, err, pkce.ErrInvalidConfig, "state without a post_logout_redirect_uri")

}
