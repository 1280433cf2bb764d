package pkce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/pkcekit/pkce/tolerate"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

const rpRedirect = "http://127.0.0.1:9/callback"

// rpServer starts an OpenID Provider and returns a relying party
// configured from its metadata.
func rpServer(t *testing.T, cfg pkcetest.Config, opts ...pkce.Option) (*pkcetest.Server, *pkce.Client) {
	t.Helper()
	cfg.Clients = append(cfg.Clients, pkcetest.Client{ID: "rp", Secret: "rp-secret-of-32-characters-long!", Method: pkcetest.MethodBasic,
		RedirectURIs: []string{rpRedirect}})
	cfg.Rotate = true
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), &oauth2.Config{ClientID: "rp",
		ClientSecret: "rp-secret-of-32-characters-long!", RedirectURL: rpRedirect,
		Scopes: []string{"openid", "profile", "email"}}, opts...)
	require.NoError(t, err)
	return srv, client
}

// rpSignIn runs one authorization code flow to the end.
func rpSignIn(t *testing.T, srv *pkcetest.Server, client *pkce.Client, opts ...pkce.StartOption) (*pkce.Token, error) {
	t.Helper()
	ctx := context.Background()
	flow, err := client.Start(ctx, opts...)
	require.NoError(t, err)
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	return client.Finish(req, flow)
}

// The relying-party tests of the OpenID Foundation's certification
// (Basic and Config profiles), each reproduced on pkcetest: the row's
// name is the test's.
func TestRelyingPartyCertification(t *testing.T) {
	tests := []struct {
		name    string
		cfg     pkcetest.Config
		opts    []pkce.Option
		before  func(*pkcetest.Server) // before the sign-in
		fault   pkcetest.IDTokenFault
		start   []pkce.StartOption
		wantErr string // "" for a sign-in that must succeed
	}{
		{name: "rp-id_token-sig-none", fault: pkcetest.IDTokenUnsigned, wantErr: "alg none"},
		{name: "rp-id_token-bad-sig-rs256", cfg: pkcetest.Config{IDTokenAlg: "RS256"}, fault: pkcetest.IDTokenBadSignature, wantErr: "§3.1.3.7 step 6"},
		{name: "rp-id_token-bad-sig-es256", cfg: pkcetest.Config{IDTokenAlg: "ES256"}, fault: pkcetest.IDTokenBadSignature, wantErr: "§3.1.3.7 step 6"},
		{name: "rp-id_token-issuer-mismatch", fault: pkcetest.IDTokenWrongIssuer, wantErr: "§3.1.3.7 step 2"},
		{name: "rp-id_token-aud", fault: pkcetest.IDTokenWrongAudience, wantErr: "§3.1.3.7 step 3"},
		{name: "rp-id_token-iat", fault: pkcetest.IDTokenNoIssuedAt, wantErr: "iat is missing"},
		{name: "rp-id_token-sub", fault: pkcetest.IDTokenNoSubject, wantErr: "sub is missing"},
		{name: "rp-nonce-invalid", fault: pkcetest.IDTokenWrongNonce, wantErr: "§3.1.3.7 step 11"},
		{name: "rp-id_token-kid-absent-single-jwks", fault: pkcetest.IDTokenNoKid},
		{name: "rp-id_token-kid-absent-multiple-jwks", fault: pkcetest.IDTokenNoKid,
			before: func(s *pkcetest.Server) { s.RotateSigningKey(false) }},
		{name: "rp-id_token-sig-rs256", cfg: pkcetest.Config{IDTokenAlg: "RS256"}},
		{name: "rp-id_token-sig-es256", cfg: pkcetest.Config{IDTokenAlg: "ES256"}},
		{name: "EdDSA signatures verify (RFC 8037)", cfg: pkcetest.Config{IDTokenAlg: "EdDSA"}},
		{name: "PS256 signatures verify", cfg: pkcetest.Config{IDTokenAlg: "PS256"}},
		{name: "Core §3.1.3.7 step 4: several audiences without azp", fault: pkcetest.IDTokenSeveralAudiences, wantErr: "§3.1.3.7 step 4"},
		{name: "Core §3.1.3.7 step 9: expired ID token", fault: pkcetest.IDTokenExpired, wantErr: "§3.1.3.7 step 9"},
		{name: "Core §3.1.3.3: openid asked and no id_token", fault: pkcetest.IDTokenOmitted, wantErr: "no id_token"},
		{name: "Core §3.1.3.7 step 13: max_age asked and no auth_time", fault: pkcetest.IDTokenNoAuthTime,
			start: []pkce.StartOption{pkce.Param("max_age", "300")}, wantErr: "§3.1.3.7 step 13"},
		{name: "Core §3.1.3.7 step 13: max_age met", start: []pkce.StartOption{pkce.Param("max_age", "300")}},
		{name: "Core §10.1: HS256 is refused without the opt-in", fault: pkcetest.IDTokenHS256, wantErr: "tolerate.HS256IDTokens"},
		{name: "Core §10.1: HS256 with the client secret tolerate.HS256IDTokens", fault: pkcetest.IDTokenHS256,
			opts: []pkce.Option{tolerate.HS256IDTokens()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, client := rpServer(t, tt.cfg, tt.opts...)
			if tt.before != nil {
				tt.before(srv)
			}
			srv.SetFaults(pkcetest.Faults{IDToken: tt.fault})
			tok, err := rpSignIn(t, srv, client, tt.start...)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, pkce.ErrInvalidIDToken)
				assert.ErrorContains(t, err, tt.wantErr)
				assert.ErrorContains(t, err, "OpenID Connect Core 1.0 §", "the error names the rule")
				return
			}
			require.NoError(t, err)
			claims := tok.Claims()
			require.NotNil(t, claims)
			assert.Equal(t, pkcetest.TestUser, claims.Subject)
			assert.Equal(t, srv.Issuer(), claims.Issuer)
		})
	}
}

func TestRPKeyRotation(t *testing.T) {
	t.Run("rp-key-rotation-op-sign-key", func(t *testing.T) {
		srv, client := rpServer(t, pkcetest.Config{})
		_, err := rpSignIn(t, srv, client)
		require.NoError(t, err, "the first sign-in caches the keys")
		srv.RotateSigningKey(true)
		_, err = rpSignIn(t, srv, client)
		assert.NoError(t, err, "a token signed with a new key makes the client fetch the keys again")
	})
	t.Run("rp-key-rotation-op-sign-key without kid: a key that no longer verifies refetches", func(t *testing.T) {
		srv, client := rpServer(t, pkcetest.Config{})
		srv.SetFaults(pkcetest.Faults{IDToken: pkcetest.IDTokenNoKid})
		_, err := rpSignIn(t, srv, client)
		require.NoError(t, err)
		srv.RotateSigningKey(true)
		_, err = rpSignIn(t, srv, client)
		assert.NoError(t, err)
		assert.Equal(t, int64(2), srv.JWKSRequests())
	})
	t.Run("an unknown kid refetches at most once per interval", func(t *testing.T) {
		now := time.Now()
		srv, client := rpServer(t, pkcetest.Config{}, pkce.WithClock(func() time.Time { return now }))
		_, err := rpSignIn(t, srv, client)
		require.NoError(t, err)
		srv.RotateSigningKey(true)
		_, err = rpSignIn(t, srv, client)
		require.NoError(t, err, "the first unknown kid is fetched")
		srv.RotateSigningKey(true)
		_, err = rpSignIn(t, srv, client)
		assert.ErrorContains(t, err, "no RS256 key", "a second unknown kid within the interval is not fetched")
		now = now.Add(31 * time.Second)
		_, err = rpSignIn(t, srv, client)
		assert.NoError(t, err, "after the interval the set is fetched again")
	})
	t.Run("clients of one issuer share its keys, and cached keys cost no request", func(t *testing.T) {
		srv, client := rpServer(t, pkcetest.Config{})
		_, err := rpSignIn(t, srv, client)
		require.NoError(t, err)
		require.Equal(t, int64(1), srv.JWKSRequests())
		other, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), &oauth2.Config{ClientID: "rp",
			ClientSecret: "rp-secret-of-32-characters-long!", RedirectURL: rpRedirect, Scopes: []string{"openid"}})
		require.NoError(t, err)
		_, err = rpSignIn(t, srv, other)
		require.NoError(t, err)
		_, err = rpSignIn(t, srv, client)
		require.NoError(t, err)
		assert.Equal(t, int64(1), srv.JWKSRequests())
	})
	t.Run("a flood of unknown kids costs one request per interval", func(t *testing.T) {
		now := time.Now()
		srv, client := rpServer(t, pkcetest.Config{}, pkce.WithClock(func() time.Time { return now }))
		_, err := rpSignIn(t, srv, client)
		require.NoError(t, err)
		srv.RotateSigningKey(true)
		for range 5 {
			_, err = rpSignIn(t, srv, client)
		}
		require.NoError(t, err)
		srv.RotateSigningKey(true)
		for range 5 {
			_, err = rpSignIn(t, srv, client)
			assert.Error(t, err)
		}
		assert.Equal(t, int64(2), srv.JWKSRequests(), "the first fetch, and one for the first unknown kid")
	})
}

func TestRPClaims(t *testing.T) {
	srv, client := rpServer(t, pkcetest.Config{})
	tok, err := rpSignIn(t, srv, client)
	require.NoError(t, err)
	claims := tok.Claims()
	require.NotNil(t, claims)
	assert.Equal(t, pkcetest.TestUserName, claims.Name, "Core §5.1: name")
	assert.Equal(t, pkcetest.TestUserEmail, claims.Email, "Core §5.1: email")
	assert.True(t, claims.EmailVerified, "Core §5.1: email_verified")
	assert.Equal(t, []string{"rp"}, claims.Audience)
	var own struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	require.NoError(t, claims.Decode(&own))
	assert.Equal(t, pkcetest.TestUserName, own.Name, "Decode reads any claim into the application's struct")
	assert.Equal(t, pkcetest.TestUserEmail, pkce.Token{Token: tok.Token}.Claims().Email, "the claims travel with the *oauth2.Token")
}

func TestRPNonceInTheFlow(t *testing.T) {
	srv, client := rpServer(t, pkcetest.Config{})
	ctx := context.Background()
	flow, err := client.Start(ctx)
	require.NoError(t, err)
	u, err := url.Parse(flow.URL)
	require.NoError(t, err)
	nonce := u.Query().Get("nonce")
	assert.Len(t, nonce, 43, "Core §3.1.2.1: a nonce of 256 random bits")
	assert.NotContains(t, fmt.Sprintf("%v", flow), nonce, "a printed flow hides the nonce")

	b, err := json.Marshal(flow)
	require.NoError(t, err)
	var stored pkce.Flow
	require.NoError(t, json.Unmarshal(b, &stored))
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	tok, err := client.Finish(req, &stored)
	require.NoError(t, err, "the stored flow keeps the nonce")
	assert.NotNil(t, tok.Claims())

	_, err = client.Start(ctx, pkce.Param("nonce", "mine"))
	assert.ErrorContains(t, err, "nonce", "the package sets the nonce")
	_, err = client.Start(ctx, pkce.Param("max_age", "-1"))
	assert.ErrorContains(t, err, "max_age")
}

func TestRPWithoutOpenID(t *testing.T) {
	srv, client := rpServer(t, pkcetest.Config{})
	srv.SetFaults(pkcetest.Faults{TokenTemplate: `{"access_token":{{json .AccessToken}},"token_type":"Bearer","expires_in":3600,` +
		`"id_token":"eyJhbGciOiJub25lIn0.e30."}`})
	tok, err := rpSignIn(t, srv, client, pkce.Scopes("profile"))
	require.NoError(t, err, "Core §3.1.3.7 applies to OpenID Connect requests; an ID token to another request is ignored")
	assert.Nil(t, tok.Claims())
}

func TestVerifyIDToken(t *testing.T) {
	srv, client := rpServer(t, pkcetest.Config{})
	ctx := context.Background()
	flow, err := client.Start(ctx)
	require.NoError(t, err)
	u, err := url.Parse(flow.URL)
	require.NoError(t, err)
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	tok, err := client.Finish(req, flow)
	require.NoError(t, err)

	claims, err := client.VerifyIDToken(ctx, tok.IDToken(), u.Query().Get("nonce"))
	require.NoError(t, err)
	assert.Equal(t, pkcetest.TestUser, claims.Subject)
	_, err = client.VerifyIDToken(ctx, tok.IDToken(), "")
	assert.ErrorContains(t, err, "§3.1.3.7 step 11", "the nonce of the request must be given")

	handMade, err := pkce.New(&oauth2.Config{ClientID: "rp", RedirectURL: rpRedirect,
		Endpoint: oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}})
	require.NoError(t, err)
	_, err = handMade.VerifyIDToken(ctx, tok.IDToken(), "")
	assert.ErrorIs(t, err, pkce.ErrInvalidConfig, "a client without the issuer's keys cannot verify")
}

// THREATS: a provider that signs what it likes cannot make the client
// quote a secret of the request or the answer in an error.
func TestRPErrorsKeepSecretsAHostileProviderEchoes(t *testing.T) {
	const secret = "rp-secret-of-32-characters-long!"
	for _, claim := range []string{"iss", "azp", "aud"} {
		t.Run(claim, func(t *testing.T) {
			srv, client := rpServer(t, pkcetest.Config{})
			srv.SetFaults(pkcetest.Faults{IDTokenClaims: map[string]any{claim: secret}})
			_, err := rpSignIn(t, srv, client)
			require.ErrorIs(t, err, pkce.ErrInvalidIDToken)
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, fmt.Sprintf("%+v", err), secret)
		})
	}
}

// THREATS, careless application: a token whose ID token was never
// verified does not come back from the store with claims.
func TestStoredTokenHasClaimsOnlyWhenVerified(t *testing.T) {
	srv, rp := rpServer(t, pkcetest.Config{})
	ctx := context.Background()
	handMade, err := pkce.New(&oauth2.Config{ClientID: "rp", ClientSecret: "rp-secret-of-32-characters-long!", RedirectURL: rpRedirect,
		Scopes: []string{"openid"}, Endpoint: oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()}})
	require.NoError(t, err)
	for _, tt := range []struct {
		name       string
		client     *pkce.Client
		wantClaims bool
	}{
		{"a relying party's verified sign-in keeps its claims", rp, true},
		{"a client without the provider's keys stores no claims", handMade, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := rpSignIn(t, srv, tt.client)
			require.NoError(t, err)
			require.NotEmpty(t, tok.IDToken())
			tokens, err := tt.client.Tokens(pkce.NewMemoryStore())
			require.NoError(t, err)
			require.NoError(t, tokens.Save(ctx, "alice", tok))
			src, err := tokens.Source(ctx, "alice")
			require.NoError(t, err)
			got, err := src.TokenContext(ctx)
			require.NoError(t, err)
			assert.Equal(t, tt.wantClaims, pkce.Token{Token: got}.Claims() != nil)
		})
	}
}

// THREATS, careless application: a stored flow whose nonce was removed
// does not skip the ID token check.
func TestRPStoredFlowWithoutItsNonce(t *testing.T) {
	srv, client := rpServer(t, pkcetest.Config{})
	ctx := context.Background()
	flow, err := client.Start(ctx)
	require.NoError(t, err)
	b, err := json.Marshal(flow)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Contains(t, m, "nonce")
	delete(m, "nonce")
	b, err = json.Marshal(m)
	require.NoError(t, err)
	var altered pkce.Flow
	require.NoError(t, json.Unmarshal(b, &altered))
	srv.SetFaults(pkcetest.Faults{IDToken: pkcetest.IDTokenUnsigned})
	cb, err := srv.Authorize(ctx, flow.URL)
	require.NoError(t, err)
	req, err := cb.Request(ctx)
	require.NoError(t, err)
	_, err = client.Finish(req, &altered)
	assert.ErrorIs(t, err, pkce.ErrInvalidFlow)
}
