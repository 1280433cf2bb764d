package pkce_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// dpopStack is a pkcetest server with DPoP and a public client, and a
// Client for it with the DPoP key ecKey.
func dpopStack(t *testing.T, cfg pkcetest.Config, opts ...pkce.Option) (*pkcetest.Server, *pkce.Client) {
	t.Helper()
	cfg.Clients = append(cfg.Clients, pkcetest.Client{ID: "app", Method: pkcetest.MethodNone, RedirectURIs: []string{redirect}})
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	client, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(),
		&oauth2.Config{ClientID: "app", RedirectURL: redirect, Scopes: []string{"openid"}},
		append([]pkce.Option{pkce.WithDPoP(ecKey)}, opts...)...)
	require.NoError(t, err)
	return srv, client
}

func get(t *testing.T, hc *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := hc.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDPoPEndToEndWithNonces(t *testing.T) {
	srv, client := dpopStack(t, pkcetest.Config{DPoP: true, DPoPNonce: true, SendIssuer: true})
	ctx := context.Background()

	f, err := client.Start(ctx)
	require.NoError(t, err)
	u, err := url.Parse(f.URL)
	require.NoError(t, err)
	jkt := u.Query().Get("dpop_jkt")
	assert.Len(t, jkt, 43, "dpop_jkt binds the code to the key (RFC 9449 §10)")

	tok, err := finish(ctx, client, f, authorize(t, f.URL))
	require.NoError(t, err)
	assert.Equal(t, "DPoP", tok.TokenType)
	assert.Equal(t, 1, srv.DPoPNonceRefusals(), "the token endpoint asked for a nonce once")
	assert.Equal(t, 2, srv.TokenRequests(), "the exchange was sent again with the nonce (RFC 9449 §8)")
	proof := srv.LastDPoPProofClaims()
	assert.Equal(t, "POST", proof["htm"])
	assert.Equal(t, srv.TokenURL(), proof["htu"])
	assert.NotEmpty(t, proof["nonce"])
	assert.NotContains(t, proof, "ath", "no ath at the token endpoint")

	src, err := client.TokenSource(tok.Token)
	require.NoError(t, err)
	hc := src.Client(ctx)
	status, body := get(t, hc, srv.ResourceURL()+"?q=1")
	require.Equal(t, http.StatusOK, status, body)
	proof = srv.LastDPoPProofClaims()
	assert.Equal(t, "GET", proof["htm"])
	assert.Equal(t, srv.ResourceURL(), proof["htu"], "htu has no query (RFC 9449 §4.2)")
	sum := sha256.Sum256([]byte(tok.AccessToken))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), proof["ath"])
	assert.Equal(t, 1, srv.DPoPNonceRefusals(), "the nonce of the token endpoint's answer serves the same origin")

	// The server rotates its nonce: the resource answers 401
	// use_dpop_nonce and the client retries once (RFC 9449 §9).
	srv.RotateDPoPNonce()
	status, body = get(t, hc, srv.ResourceURL())
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, 2, srv.DPoPNonceRefusals())

	// The refresh token of a public client is bound to the key (RFC 9449 §5).
	refreshed, err := client.Refresh(ctx, tok.RefreshToken)
	require.NoError(t, err)
	assert.Equal(t, "DPoP", refreshed.TokenType)

	other, err := pkce.NewFromIssuer(ctx, srv.Issuer(), &oauth2.Config{ClientID: "app", RedirectURL: redirect}, pkce.WithDPoP(ec2Key))
	require.NoError(t, err)
	_, err = other.Refresh(ctx, refreshed.RefreshToken)
	assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"), "another key cannot use the bound refresh token")
}

func TestDPoPBindsPushedRequests(t *testing.T) {
	srv, client := dpopStack(t, pkcetest.Config{DPoP: true, DPoPNonce: true, RequirePAR: true})
	ctx := context.Background()
	f, err := client.Start(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, srv.PushedRequests(), "the push was sent again with the nonce")
	assert.Equal(t, srv.PARURL(), srv.LastDPoPProofClaims()["htu"])
	tok, err := finish(ctx, client, f, authorize(t, f.URL))
	require.NoError(t, err)
	assert.Equal(t, "DPoP", tok.TokenType)
	assert.Equal(t, 1, srv.DPoPNonceRefusals(), "the PAR answer's nonce served the token request")

	// The code is bound to the key of the push: another key cannot
	// redeem it.
	g, err := client.Start(ctx)
	require.NoError(t, err)
	other, err := pkce.NewFromIssuer(ctx, srv.Issuer(), &oauth2.Config{ClientID: "app", RedirectURL: redirect}, pkce.WithDPoP(ec2Key))
	require.NoError(t, err)
	_, err = finish(ctx, other, g, authorize(t, g.URL))
	assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"))
}

func TestDPoPTokenTypes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		serverHas bool
		opts      []pkce.Option
		wantType  string
		wantErr   string
	}{
		{"a server that ignores DPoP issues Bearer, used as Bearer", false, nil, "Bearer", ""},
		{"WithDPoPRequired refuses a Bearer answer (RFC 9449 §5)", false, []pkce.Option{pkce.WithDPoPRequired()}, "", "DPoP is required"},
		{"a DPoP server issues DPoP", true, []pkce.Option{pkce.WithDPoPRequired()}, "DPoP", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, client := dpopStack(t, pkcetest.Config{DPoP: tc.serverHas}, tc.opts...)
			f, err := client.Start(context.Background())
			require.NoError(t, err)
			tok, err := finish(context.Background(), client, f, authorize(t, f.URL))
			if tc.wantErr != "" {
				assert.ErrorIs(t, err, pkce.ErrInvalidResponse)
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantType, tok.TokenType)
			src, err := client.TokenSource(tok.Token)
			require.NoError(t, err)
			status, body := get(t, src.Client(context.Background()), srv.ResourceURL())
			assert.Equal(t, http.StatusOK, status, body)
		})
	}

	t.Run("a DPoP token without a key is refused (RFC 9449 §5)", func(t *testing.T) {
		srv := pkcetest.NewServer(pkcetest.Config{DPoP: true, Clients: []pkcetest.Client{{ID: "app", Method: pkcetest.MethodNone, RedirectURIs: []string{redirect}}}})
		t.Cleanup(srv.Close)
		withKey, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), &oauth2.Config{ClientID: "app", RedirectURL: redirect}, pkce.WithDPoP(ecKey))
		require.NoError(t, err)
		f, err := withKey.Start(context.Background())
		require.NoError(t, err)
		tok, err := finish(context.Background(), withKey, f, authorize(t, f.URL))
		require.NoError(t, err)

		withoutKey, err := pkce.NewFromIssuer(context.Background(), srv.Issuer(), &oauth2.Config{ClientID: "app", RedirectURL: redirect})
		require.NoError(t, err)
		src, err := withoutKey.TokenSource(tok.Token)
		require.NoError(t, err)
		_, err = src.Client(context.Background()).Get(srv.ResourceURL())
		assert.ErrorContains(t, err, "WithDPoP")
		_, err = withoutKey.Refresh(context.Background(), tok.RefreshToken)
		assert.ErrorIs(t, err, pkce.ErrorCode("invalid_grant"), "the bound refresh token needs a proof")
	})
}

func TestDPoPConfig(t *testing.T) {
	md := &pkce.Metadata{Issuer: "https://as.example", AuthorizationEndpoint: "https://as.example/a", TokenEndpoint: "https://as.example/t",
		DPoPSigningAlgValuesSupported: []string{"ES256"}}
	cfg := &oauth2.Config{ClientID: "app", RedirectURL: "https://app.example/cb"}
	for _, tc := range []struct {
		name    string
		opts    []pkce.Option
		problem string
	}{
		{"a key whose algorithm the server does not list (RFC 9449 §5.1)", []pkce.Option{pkce.WithMetadata(md), pkce.WithDPoP(edKey)}, "dpop_signing_alg_values_supported"},
		{"WithDPoPRequired without a key", []pkce.Option{pkce.WithMetadata(md), pkce.WithDPoPRequired()}, "needs a DPoP key"},
		{"a nil key", []pkce.Option{pkce.WithMetadata(md), pkce.WithDPoP(nil)}, "nil key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pkce.New(cfg, tc.opts...)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.ErrorContains(t, err, tc.problem)
		})
	}
}
