package servercheck_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/servercheck"
)

const redirectURI = "http://127.0.0.1:9/callback"

// newTarget starts a pkcetest server that keeps every rule the checks
// test, with a client of each authentication method, and returns the
// configuration that checks it. change, if not nil, changes the server's
// configuration first.
func newTarget(t *testing.T, change func(*pkcetest.Config)) (*pkcetest.Server, servercheck.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cfg := pkcetest.Config{
		Clients: []pkcetest.Client{
			{ID: "public-app", Method: pkcetest.MethodNone, RedirectURIs: []string{redirectURI}},
			{ID: "basic-app", Secret: "basic-secret-1234", Method: pkcetest.MethodBasic, RedirectURIs: []string{redirectURI}},
			{ID: "post-app", Secret: "post-secret-5678", Method: pkcetest.MethodPost, RedirectURIs: []string{redirectURI}},
			{ID: "jwt-app", Key: key.Public(), Method: pkcetest.MethodPrivateKeyJWT, RedirectURIs: []string{redirectURI}},
		},
		SendIssuer: true,
		Rotate:     true,
	}
	if change != nil {
		change(&cfg)
	}
	srv := pkcetest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv, servercheck.Config{
		Issuer: srv.Issuer(),
		Clients: []servercheck.Registration{
			{ID: "public-app", Method: servercheck.AuthNone, RedirectURI: redirectURI},
			{ID: "basic-app", Secret: "basic-secret-1234", Method: servercheck.AuthSecretBasic, RedirectURI: redirectURI},
			{ID: "post-app", Secret: "post-secret-5678", Method: servercheck.AuthSecretPost, RedirectURI: redirectURI},
			{ID: "jwt-app", Key: key, Method: servercheck.AuthPrivateKeyJWT, RedirectURI: redirectURI},
		},
		SignIn: servercheck.FollowRedirects(srv.Client()),
	}
}

func outcomes(rep *servercheck.Report, want servercheck.Outcome) []string {
	var out []string
	for _, res := range rep.Results {
		if res.Outcome == want {
			out = append(out, res.Name)
		}
	}
	return out
}

func TestPkcetestPassesEveryCheck(t *testing.T) {
	_, cfg := newTarget(t, nil)
	rep, err := servercheck.Check(context.Background(), cfg)
	require.NoError(t, err)
	require.Len(t, rep.Results, len(servercheck.Names()))
	for _, res := range rep.Results {
		assert.Equal(t, servercheck.Pass, res.Outcome, "%s: %s", res.Name, res.Why)
	}
	assert.False(t, rep.MustFailed())
}

func TestEachFaultFailsTheCheckOfItsRule(t *testing.T) {
	tests := []struct {
		name   string
		faults pkcetest.Faults
		config func(*pkcetest.Config)
		fails  []string
	}{
		{name: "RFC 8414 §3: metadata only at the OpenID Connect path",
			faults: pkcetest.Faults{HideOAuthMetadata: true},
			fails:  []string{"RFC 8414 §3: metadata is served at the RFC 8414 well-known URI, without a redirect"}},
		{name: "RFC 8414 §3: metadata behind a redirect",
			faults: pkcetest.Faults{MetadataRedirectToSlash: true},
			fails:  []string{"RFC 8414 §3: metadata is served at the RFC 8414 well-known URI, without a redirect"}},
		{name: "RFC 8414 §3.2: metadata as an HTML page",
			faults: pkcetest.Faults{MetadataHTML: true},
			fails:  []string{"RFC 8414 §3.2: metadata is answered 200 with a JSON object"}},
		{name: "RFC 8414 §3.3: another issuer in the metadata",
			faults: pkcetest.Faults{MetadataIssuer: "https://other.example"},
			fails:  []string{"RFC 8414 §3.3: the metadata's issuer is identical to the issuer identifier"}},
		{name: "RFC 8414 §2: response_types_supported missing",
			faults: pkcetest.Faults{MetadataOmit: []string{"response_types_supported"}},
			fails:  []string{"RFC 8414 §2: the metadata has the required members"}},
		{name: "RFC 9700 §2.1.1: S256 not advertised",
			faults: pkcetest.Faults{MetadataWithoutS256: true},
			fails:  []string{"RFC 9700 §2.1.1: the metadata lists S256 in code_challenge_methods_supported"}},
		{name: "RFC 6749 §4.1.2: state altered",
			faults: pkcetest.Faults{AlterState: true},
			fails:  []string{"RFC 6749 §4.1.2: state is returned unchanged"}},
		{name: "RFC 9207 §2: iss advertised but not sent",
			faults: pkcetest.Faults{OmitIssuer: true},
			fails:  []string{"RFC 9207 §2: iss on the authorization response is the issuer identifier"}},
		{name: "RFC 9207 §2: iss names another issuer",
			faults: pkcetest.Faults{IssuerOverride: "https://other.example"},
			fails:  []string{"RFC 9207 §2: iss on the authorization response is the issuer identifier"}},
		{name: "RFC 9700 §4.1.3: redirect_uri compared by prefix",
			faults: pkcetest.Faults{LooseRedirectMatch: true},
			fails:  []string{"RFC 9700 §4.1.3: a redirect_uri that is not registered exactly is refused"}},
		{name: "RFC 6749 §5.1: tokens answered 201",
			faults: pkcetest.Faults{TokenSuccessStatus: 201},
			fails:  []string{"RFC 6749 §5.1: tokens are answered 200 with a JSON object"}},
		{name: "RFC 6749 §5.1: no token_type",
			faults: pkcetest.Faults{OmitTokenType: true},
			fails:  []string{"RFC 6749 §5.1: the token answer has token_type"}},
		{name: "RFC 6749 §5.1: no Cache-Control: no-store",
			faults: pkcetest.Faults{OmitNoStore: true},
			fails:  []string{"RFC 6749 §5.1: the token answer has Cache-Control: no-store"}},
		{name: "RFC 6749 §4.1.2: a code redeemed twice",
			faults: pkcetest.Faults{ReusableCodes: true},
			fails:  []string{"RFC 6749 §4.1.2: a code used twice is refused"}},
		{name: "RFC 9700 §2.1.1: a code redeemed without code_verifier",
			faults: pkcetest.Faults{AcceptMissingVerifier: true},
			fails:  []string{"RFC 9700 §2.1.1: a code is refused without its code_verifier"}},
		{name: "RFC 7636 §4.6: a code redeemed with any code_verifier",
			faults: pkcetest.Faults{AcceptAnyVerifier: true},
			fails: []string{"RFC 7636 §4.6: a wrong code_verifier is refused with invalid_grant",
				"RFC 7636 §4.6: the S256 code_challenge sent as a plain code_verifier is refused"}},
		{name: "RFC 7636 §4.6: a code redeemed with its challenge as a plain verifier",
			faults: pkcetest.Faults{AcceptChallengeAsVerifier: true},
			fails:  []string{"RFC 7636 §4.6: the S256 code_challenge sent as a plain code_verifier is refused"}},
		{name: "RFC 9700 §2.1.1: a code_verifier accepted without code_challenge",
			faults: pkcetest.Faults{AcceptVerifierWithoutChallenge: true},
			fails:  []string{"RFC 9700 §2.1.1: a code_verifier is refused when the authorization request had no code_challenge"}},
		{name: "RFC 6749 §4.1.3: a code redeemed by another client",
			faults: pkcetest.Faults{CodeNotBoundToClient: true},
			fails:  []string{"RFC 6749 §4.1.3: a code is refused to another client"}},
		{name: "RFC 6749 §4.1.3: a code redeemed with another redirect_uri",
			faults: pkcetest.Faults{CodeNotBoundToRedirectURI: true},
			fails:  []string{"RFC 6749 §4.1.3: a code is refused with another redirect_uri"}},
		{name: "RFC 6749 §5.2: errors answered 200",
			faults: pkcetest.Faults{ErrorsAs200: true},
			fails: []string{"RFC 6749 §5.2: an error is answered with status 400",
				"RFC 6749 §5.2: failed Basic authentication is answered 401 with WWW-Authenticate"}},
		{name: "RFC 6749 §5.1 and §5.2: answers form-encoded",
			faults: pkcetest.Faults{FormEncodedBody: true},
			fails: []string{"RFC 6749 §5.1: tokens are answered 200 with a JSON object",
				"RFC 6749 §5.2: an error is answered as a JSON object with an error member"}},
		{name: "RFC 6749 §4.1.3: any client secret accepted",
			faults: pkcetest.Faults{AcceptAnySecret: true},
			fails: []string{"RFC 6749 §5.2: failed Basic authentication is answered 401 with WWW-Authenticate",
				"RFC 6749 §4.1.3: a confidential client with wrong credentials is refused"}},
		{name: "RFC 9700 §4.14.2: refresh tokens of public clients not rotated",
			config: func(c *pkcetest.Config) { c.Rotate = false },
			fails:  []string{"RFC 9700 §4.14.2: a public client's refresh token is rotated or sender-constrained"}},
		{name: "RFC 9700 §4.14.2: a rotated refresh token accepted",
			faults: pkcetest.Faults{KeepRotatedRefreshTokens: true},
			fails:  []string{"RFC 9700 §4.14.2: a rotated refresh token is refused"}},
		{name: "RFC 9700 §4.14.2: reuse of a rotated refresh token not detected",
			faults: pkcetest.Faults{NoRefreshReuseDetection: true},
			fails:  []string{"RFC 9700 §4.14.2: using a rotated refresh token revokes the active one"}},
		{name: "RFC 7009 §2.2: an unknown token answered 400",
			faults: pkcetest.Faults{RevocationRaw: &pkcetest.RawResponse{Status: 400, ContentType: "application/json", Body: `{"error":"invalid_request"}`}},
			fails:  []string{"RFC 7009 §2.2: revoking an unknown token is answered 200"}},
		{name: "RFC 7009 §2.1: revocation answered 200 but not done",
			faults: pkcetest.Faults{IgnoreRevocation: true},
			fails:  []string{"RFC 7009 §2.1: a revoked refresh token is refused"}},
		{name: "RFC 9126 §2.2: pushed request answered without expires_in",
			faults: pkcetest.Faults{PARRaw: &pkcetest.RawResponse{Status: 201, ContentType: "application/json", Body: `{"request_uri":"urn:ietf:params:oauth:request_uri:x"}`}},
			fails:  []string{"RFC 9126 §2.2: a pushed request is answered 201 with request_uri and expires_in"}},
		{name: "RFC 9126 §4: a request_uri used twice",
			faults: pkcetest.Faults{ReusableRequestURI: true},
			fails:  []string{"RFC 9126 §4: a request_uri is used once"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cfg := newTarget(t, tt.config)
			srv.SetFaults(tt.faults)
			rep, err := servercheck.Check(context.Background(), cfg)
			require.NoError(t, err)
			for _, name := range tt.fails {
				require.Contains(t, servercheck.Names(), name)
			}
			if !assert.ElementsMatch(t, tt.fails, outcomes(rep, servercheck.Fail)) {
				for _, res := range rep.Results {
					if res.Outcome == servercheck.Fail {
						t.Logf("%s: %s", res.Name, res.Why)
					}
				}
			}
		})
	}
}
