package pkce_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkcekit/pkce/tolerate"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// hs256 signs claims with the relying party's secret (OpenID Connect Core
// §10.1), as a provider that lets users set claims of their own would.
func hs256(claims string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	m := hmac.New(sha256.New, []byte("rp-secret-of-32-characters-long!"))
	m.Write([]byte(input))
	return input + "." + enc.EncodeToString(m.Sum(nil))
}

// encoding/json matches member names in any case and keeps the last: a
// claim a user may set at the provider, named "SUB" or "Nonce", must not
// stand in for the provider's own sub or nonce (RFC 7519 §4: a JWT with
// duplicate claim names is rejected).
func TestIDTokenWithACaseVariantOrDuplicateClaimIsRefused(t *testing.T) {
	srv, client := rpServer(t, pkcetest.Config{}, tolerate.HS256IDTokens())
	now := time.Now().Unix()
	base := fmt.Sprintf(`"iss":%q,"aud":"rp","exp":%d,"iat":%d`, srv.Issuer(), now+300, now)
	tests := []struct {
		name   string
		claims string
	}{
		{"a case-variant sub set by the user", `{` + base + `,"sub":"alice","nonce":"n","SUB":"mallory"}`},
		{"a case-variant nonce", `{` + base + `,"sub":"alice","nonce":"other","Nonce":"n"}`},
		{"a duplicate sub", `{` + base + `,"sub":"alice","nonce":"n","sub":"mallory"}`},
		{"a case-variant aud", `{` + base + `,"sub":"alice","nonce":"n","AUD":"rp"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := client.VerifyIDToken(context.Background(), hs256(tt.claims), "n")
			require.Error(t, err, "claims read: %+v", claims)
			assert.ErrorIs(t, err, pkce.ErrInvalidIDToken)
		})
	}
	claims, err := client.VerifyIDToken(context.Background(), hs256(`{`+base+`,"sub":"alice","nonce":"n"}`), "n")
	require.NoError(t, err, "the same token without the variant verifies")
	assert.Equal(t, "alice", claims.Subject)
}

// A backend that verifies ID tokens sent by apps (VerifyIDToken) gets
// tokens from anyone: while the issuer's JWK Set cannot be fetched, a
// flood of tokens must not become a flood of requests to the issuer.
func TestIDTokenFloodWhileTheKeySetFailsIsRateLimited(t *testing.T) {
	var fetches atomic.Int64
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(jwks.Close)
	client, err := pkce.New(&oauth2.Config{ClientID: "rp", RedirectURL: rpRedirect},
		pkce.WithMetadata(&pkce.Metadata{Issuer: jwks.URL, AuthorizationEndpoint: jwks.URL + "/authorize",
			TokenEndpoint: jwks.URL + "/token", JWKSURI: jwks.URL + "/jwks"}))
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	for i := range 5 {
		raw := enc.EncodeToString([]byte(fmt.Sprintf(`{"alg":"RS256","kid":"made-up-%d"}`, i))) + "." +
			enc.EncodeToString([]byte(`{"sub":"x"}`)) + "." + enc.EncodeToString([]byte("sig"))
		_, err := client.VerifyIDToken(context.Background(), raw, "")
		require.Error(t, err)
	}
	assert.Equal(t, int64(1), fetches.Load(), "one fetch of the failing set for five tokens")
}

// A caller whose context ends while another caller's fetch of the JWK
// Set hangs returns then, not when the hung fetch ends.
func TestIDTokenCallerDoesNotWaitOutAnotherCallersSlowKeyFetch(t *testing.T) {
	var fetches atomic.Int64
	gate := make(chan struct{})
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		<-gate
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(jwks.Close)
	t.Cleanup(func() { close(gate) })
	client, err := pkce.New(&oauth2.Config{ClientID: "rp", RedirectURL: rpRedirect},
		pkce.WithMetadata(&pkce.Metadata{Issuer: jwks.URL, AuthorizationEndpoint: jwks.URL + "/authorize",
			TokenEndpoint: jwks.URL + "/token", JWKSURI: jwks.URL + "/jwks"}))
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	raw := enc.EncodeToString([]byte(`{"alg":"RS256","kid":"k"}`)) + "." +
		enc.EncodeToString([]byte(`{"sub":"x"}`)) + "." + enc.EncodeToString([]byte("sig"))
	go client.VerifyIDToken(context.Background(), raw, "") //nolint:errcheck // the hung caller
	require.Eventually(t, func() bool { return fetches.Load() == 1 }, 10*time.Second, time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := client.VerifyIDToken(ctx, raw, "")
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the caller waited for another caller's hung fetch")
	}
}
