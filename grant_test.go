package pkce_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
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

// machineServer is a pkcetest server with a confidential client "svc"
// (client_secret_basic) and a private_key_jwt client "signer" with ecKey.
func machineServer(t *testing.T, cfg pkcetest.Config) *pkcetest.Server {
	t.Helper()
	cfg.SendIssuer = true
	cfg.Clients = append(cfg.Clients,
		pkcetest.Client{ID: "svc", Secret: "svc-secret", Method: pkcetest.MethodBasic},
		pkcetest.Client{ID: "signer", Key: ecKey.Public(), Method: pkcetest.MethodPrivateKeyJWT},
		pkcetest.Client{ID: "public", Method: pkcetest.MethodNone})
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

func tokenClient(t *testing.T, srv *pkcetest.Server, cfg oauth2.Config, opts ...pkce.Option) *pkce.Client {
	t.Helper()
	cfg.Endpoint = oauth2.Endpoint{TokenURL: srv.TokenURL()}
	c, err := pkce.NewTokenClient(&cfg, append([]pkce.Option{pkce.WithIssuer(srv.Issuer())}, opts...)...)
	require.NoError(t, err)
	return c
}

var clientCredentials = url.Values{"grant_type": {"client_credentials"}}

func TestGrantAuthenticatesAndAddsScopeAndResource(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		cfg   oauth2.Config
		opts  []pkce.Option
		check func(t *testing.T, srv *pkcetest.Server)
	}{
		{"client_secret_basic sends the secret in the Authorization header only",
			oauth2.Config{ClientID: "svc", ClientSecret: "svc-secret"}, nil,
			func(t *testing.T, srv *pkcetest.Server) {
				req := srv.LastTokenRequest()
				assert.Contains(t, req.Authorization, "Basic ")
				assert.False(t, req.Form.Has("client_secret"))
			}},
		{"private_key_jwt signs an assertion for the issuer",
			oauth2.Config{ClientID: "signer"}, []pkce.Option{pkce.WithClientKey(ecKey, "", "")},
			func(t *testing.T, srv *pkcetest.Server) {
				assert.Equal(t, srv.Issuer(), srv.LastAssertionClaims()["aud"])
				assert.Empty(t, srv.LastTokenRequest().Authorization)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := machineServer(t, pkcetest.Config{})
			cfg := tt.cfg
			cfg.Scopes = []string{"invoices", "reports"}
			c := tokenClient(t, srv, cfg, append(tt.opts, pkce.WithResource("https://api.example/"))...)
			tok, err := c.Grant(ctx, clientCredentials)
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
			assert.Empty(t, tok.RefreshToken, "no refresh token (RFC 6749 §4.4.3)")
			assert.Equal(t, "invoices reports", tok.Scope())
			form := srv.LastTokenRequest().Form
			assert.Equal(t, "client_credentials", form.Get("grant_type"))
			assert.Equal(t, "invoices reports", form.Get("scope"), "the client's scope")
			assert.Equal(t, []string{"https://api.example/"}, form["resource"], "the client's resource (RFC 8707)")
			tt.check(t, srv)
		})
	}
}

func TestGrantParamsWinOverTheClients(t *testing.T) {
	srv := machineServer(t, pkcetest.Config{})
	c := tokenClient(t, srv, oauth2.Config{ClientID: "svc", ClientSecret: "svc-secret", Scopes: []string{"wide"}},
		pkce.WithResource("https://api.example/"))
	_, err := c.Grant(context.Background(), url.Values{"grant_type": {"client_credentials"}, "scope": {"narrow"},
		"resource": {"https://other.example/"}})
	require.NoError(t, err)
	form := srv.LastTokenRequest().Form
	assert.Equal(t, "narrow", form.Get("scope"))
	assert.Equal(t, []string{"https://other.example/"}, form["resource"])
}

func TestGrantRefusesWhatIsNotItsToSend(t *testing.T) {
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"grant_type missing", url.Values{"scope": {"a"}}, "needs a grant_type"},
		{"authorization code has Exchange", url.Values{"grant_type": {"authorization_code"}, "code": {"c"}}, "use Exchange"},
		{"refresh has Refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r"}}, "use Refresh"},
		{"client_id is the client's", url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}}, "client_id"},
		{"client_secret is the client's", url.Values{"grant_type": {"client_credentials"}, "client_secret": {"x"}}, "client_secret"},
		{"client_assertion is the client's", url.Values{"grant_type": {"client_credentials"}, "client_assertion": {"x"}}, "client_assertion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := machineServer(t, pkcetest.Config{})
			c := tokenClient(t, srv, oauth2.Config{ClientID: "svc", ClientSecret: "svc-secret"})
			_, err := c.Grant(context.Background(), tt.params)
			require.Error(t, err)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, srv.TokenRequests(), "nothing was sent")
		})
	}
}

// jwt returns an unsigned-looking JWT with claims, enough for the
// client's own checks.
func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("signature-secret"))
}

func TestGrantErrorsKeepTheServersCodeAndNoAssertion(t *testing.T) {
	// A hostile server echoes the whole request body in its refusal.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"bad assertion ` + r.PostForm.Encode() + `"}`))
	}))
	t.Cleanup(srv.Close)
	assertion := jwt(`{"sub":"workload","aud":"` + srv.URL + `/token"}`)
	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "wl", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}})
	require.NoError(t, err)
	_, err = c.Grant(context.Background(), url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}})
	var oe *pkce.OAuthError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "invalid_grant", oe.Code)
	assert.Equal(t, "token request", oe.Op)
	assert.NotContains(t, err.Error(), assertion)
	assert.NotContains(t, err.Error(), url.QueryEscape(assertion))
	assert.NotContains(t, oe.Description, assertion)
}

func TestGrantWithDPoPAndNonce(t *testing.T) {
	srv := machineServer(t, pkcetest.Config{DPoP: true, DPoPNonce: true})
	c := tokenClient(t, srv, oauth2.Config{ClientID: "svc", ClientSecret: "svc-secret"}, pkce.WithDPoP(ec2Key))
	tok, err := c.Grant(context.Background(), clientCredentials)
	require.NoError(t, err)
	assert.Equal(t, "DPoP", tok.TokenType, "the token is bound to the key (RFC 9449 §5)")
	assert.Equal(t, 1, srv.DPoPNonceRefusals(), "the server asked for its nonce once")
	assert.Equal(t, 2, srv.TokenRequests(), "sent again with the nonce (RFC 9449 §8)")
}

func TestNewTokenClient(t *testing.T) {
	srv := machineServer(t, pkcetest.Config{})
	t.Run("needs no authorization endpoint nor redirect", func(t *testing.T) {
		c := tokenClient(t, srv, oauth2.Config{ClientID: "svc", ClientSecret: "svc-secret"})
		_, err := c.Grant(context.Background(), clientCredentials)
		assert.NoError(t, err)
	})
	t.Run("makes no authorization requests", func(t *testing.T) {
		c := tokenClient(t, srv, oauth2.Config{ClientID: "public"})
		_, err := c.Start(context.Background())
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // bounds a regression only
		defer cancel()
		_, err = c.SignInLoopback(ctx, func(string) error {
			t.Error("no browser may be opened")
			return nil
		})
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	})
	t.Run("refuses a RedirectURL", func(t *testing.T) {
		_, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "svc", RedirectURL: redirect,
			Endpoint: oauth2.Endpoint{TokenURL: srv.TokenURL()}})
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	})
	t.Run("still needs a token endpoint", func(t *testing.T) {
		_, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "svc"})
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	})
	t.Run("still refuses plain http off loopback", func(t *testing.T) {
		_, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "svc", Endpoint: oauth2.Endpoint{TokenURL: "http://as.example/token"}})
		assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	})
}

func TestGrantHonoursTheCallersDeadline(t *testing.T) {
	srv := machineServer(t, pkcetest.Config{})
	srv.SetFaults(pkcetest.Faults{Hang: true})
	c := tokenClient(t, srv, oauth2.Config{ClientID: "svc", ClientSecret: "svc-secret"})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Grant(ctx, clientCredentials)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

func TestGrantSendsAnAssertionOnlyToAServerItNames(t *testing.T) {
	const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	srv := machineServer(t, pkcetest.Config{})
	tests := []struct {
		name      string
		assertion func(srv *pkcetest.Server) string
		sent      bool
	}{
		{"aud is the issuer", func(srv *pkcetest.Server) string { return jwt(`{"aud":"` + srv.Issuer() + `"}`) }, true},
		{"aud lists the token endpoint", func(srv *pkcetest.Server) string {
			return jwt(`{"aud":["https://other.example","` + srv.TokenURL() + `"]}`)
		}, true},
		{"aud is another server", func(*pkcetest.Server) string { return jwt(`{"aud":"https://other.example"}`) }, false},
		{"aud missing", func(*pkcetest.Server) string { return jwt(`{"sub":"w"}`) }, false},
		{"not a JWT", func(*pkcetest.Server) string { return "opaque-assertion" }, false},
		{"claims not JSON", func(*pkcetest.Server) string { return "a.bm90IGpzb24.c" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.TokenRequests()
			c := tokenClient(t, srv, oauth2.Config{ClientID: "public"})
			_, err := c.Grant(context.Background(), url.Values{"grant_type": {jwtBearer}, "assertion": {tt.assertion(srv)}})
			if tt.sent {
				// pkcetest trusts no issuer here: the server refuses it, after it was sent.
				assert.Equal(t, before+1, srv.TokenRequests())
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "not sent")
			assert.Equal(t, before, srv.TokenRequests(), "nothing was sent")
		})
	}
}

// An assertion must not ride to a server it does not name: not as a
// second assertion value behind one that names the server, and not with
// a second, case-variant or duplicate aud that a parser taking the first
// member reads as another server (RFC 7523 §3 item 3).
func TestGrantSendsNoSmuggledAssertionToAServerItDoesNotName(t *testing.T) {
	const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	srv := machineServer(t, pkcetest.Config{})
	good := jwt(`{"aud":"` + srv.Issuer() + `"}`)
	tests := []struct {
		name       string
		assertions []string
	}{
		{"a second assertion for another server", []string{good, jwt(`{"aud":"https://other.example"}`)}},
		{"a duplicate aud naming another server first", []string{jwt(`{"aud":"https://other.example","aud":"` + srv.Issuer() + `"}`)}},
		{"a case-variant aud naming another server", []string{jwt(`{"Aud":"https://other.example","aud":"` + srv.Issuer() + `"}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.TokenRequests()
			c := tokenClient(t, srv, oauth2.Config{ClientID: "public"})
			_, err := c.Grant(context.Background(), url.Values{"grant_type": {jwtBearer}, "assertion": tt.assertions})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "not sent")
			assert.Equal(t, before, srv.TokenRequests(), "nothing was sent")
		})
	}
}

// A hostile server that echoes the request in its refusal must not get a
// device code (RFC 8628 §3.4) or a CIBA auth_req_id (OpenID Connect CIBA
// §10.1), credentials of their grants, into the error.
func TestGrantErrorsKeepNoDeviceCodeOrAuthReqID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"bad ` + r.PostForm.Encode() + `"}`))
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, grantType, param string
	}{
		{"device code", "urn:ietf:params:oauth:grant-type:device_code", "device_code"},
		{"CIBA auth_req_id", "urn:openid:params:grant-type:ciba", "auth_req_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const secret = "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"
			c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "dev", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}})
			require.NoError(t, err)
			_, err = c.Grant(context.Background(), url.Values{"grant_type": {tt.grantType}, tt.param: {secret}})
			var oe *pkce.OAuthError
			require.ErrorAs(t, err, &oe)
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, fmt.Sprintf("%+v", oe), secret)
		})
	}
}
