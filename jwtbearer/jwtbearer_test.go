package jwtbearer_test

import (
	"context"
	"crypto"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/jwtbearer"
	"github.com/pkcekit/pkce/pkcetest"
)

// A workload's platform (a pkcetest server standing for the CI system or
// cloud that issues identity tokens) and an authorization server that
// trusts it, with the workload registered as a public client.
func workloadStack(t *testing.T) (platform, as *pkcetest.Server, c *pkce.Client) {
	t.Helper()
	platform = pkcetest.NewServer(pkcetest.Config{})
	t.Cleanup(platform.Close)
	as = pkcetest.NewServer(pkcetest.Config{
		SendIssuer:       true,
		Clients:          []pkcetest.Client{{ID: "build-agent", Method: pkcetest.MethodNone}},
		AssertionIssuers: map[string]crypto.PublicKey{platform.Issuer(): platform.AssertionKey()},
	})
	t.Cleanup(as.Close)
	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "build-agent", Endpoint: oauth2.Endpoint{TokenURL: as.TokenURL()}},
		pkce.WithIssuer(as.Issuer()))
	require.NoError(t, err)
	return platform, as, c
}

func TestWorkloadIdentityToken(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	tests := []struct {
		name     string
		claims   func(platform, as *pkcetest.Server) map[string]any
		wantCode string // "" for a token; "not sent" when the client keeps it
	}{
		{"a token from the trusted platform for this server is accepted",
			func(p, as *pkcetest.Server) map[string]any {
				return map[string]any{"iss": p.Issuer(), "sub": "repo:acme/app", "aud": as.Issuer(), "exp": now.Add(time.Minute).Unix()}
			}, ""},
		{"a token for another audience is not shown to this server",
			func(p, as *pkcetest.Server) map[string]any {
				return map[string]any{"iss": p.Issuer(), "sub": "repo:acme/app", "aud": "https://wrong.example", "exp": now.Add(time.Minute).Unix()}
			}, "not sent"},
		{"an expired token is refused",
			func(p, as *pkcetest.Server) map[string]any {
				return map[string]any{"iss": p.Issuer(), "sub": "repo:acme/app", "aud": as.Issuer(), "exp": now.Add(-time.Hour).Unix()}
			}, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			platform, as, c := workloadStack(t)
			assertion := platform.SignAssertion("", tt.claims(platform, as))
			tok, err := jwtbearer.Token(ctx, c, assertion)
			switch tt.wantCode {
			case "":
				require.NoError(t, err)
				assert.NotEmpty(t, tok.AccessToken)
			case "not sent":
				require.Error(t, err)
				assert.Contains(t, err.Error(), "not sent")
				assert.NotContains(t, err.Error(), assertion)
				assert.Zero(t, as.TokenRequests(), "a server the assertion is not for never sees it (RFC 7523 §3)")
				return
			default:
				var oe *pkce.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, tt.wantCode, oe.Code)
				assert.NotContains(t, err.Error(), assertion)
			}
			form := as.LastTokenRequest().Form
			assert.Equal(t, jwtbearer.GrantType, form.Get("grant_type"))
			assert.Equal(t, assertion, form.Get("assertion"))
			assert.Equal(t, 1, as.TokenRequests(), "one request, never retried (RFC 7523 §3.1)")
		})
	}
}

func TestTokenRefusesAnEmptyAssertion(t *testing.T) {
	_, as, c := workloadStack(t)
	_, err := jwtbearer.Token(context.Background(), c, "")
	assert.Error(t, err)
	assert.Zero(t, as.TokenRequests())
}
