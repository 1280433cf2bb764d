package pkcetest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifierRules checks the server's own PKCE check against RFC 7636:
// the verifier's syntax (§4.1) and the S256 transformation (§4.2, §4.6).
func TestVerifierRules(t *testing.T) {
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	tests := []struct {
		name      string
		verifier  string
		challenge string // "" means computed from verifier
		ok        bool
	}{
		{name: "RFC 7636 Appendix B example", verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
			challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", ok: true},
		{name: "RFC 7636 §4.1: 43 characters is the minimum", verifier: strings.Repeat("a", 43), ok: true},
		{name: "RFC 7636 §4.1: 128 characters is the maximum", verifier: strings.Repeat("a", 128), ok: true},
		{name: "RFC 7636 §4.1: every unreserved character", verifier: unreserved, ok: true},
		{name: "RFC 7636 §4.1: 42 characters is too short", verifier: strings.Repeat("a", 42)},
		{name: "RFC 7636 §4.1: 129 characters is too long", verifier: strings.Repeat("a", 129)},
		{name: "RFC 7636 §4.1: plus is not unreserved", verifier: strings.Repeat("a", 42) + "+"},
		{name: "RFC 7636 §4.1: slash is not unreserved", verifier: strings.Repeat("a", 42) + "/"},
		{name: "RFC 7636 §4.1: space is not unreserved", verifier: strings.Repeat("a", 42) + " "},
		{name: "RFC 7636 §4.1: non-ASCII is not unreserved", verifier: strings.Repeat("a", 42) + "é"},
		{name: "RFC 7636 §4.6: a verifier of another challenge", verifier: strings.Repeat("a", 43),
			challenge: verifier(strings.Repeat("b", 43)).challenge()},
		{name: "RFC 7636 §4.6: the challenge itself (plain)", verifier: verifier(strings.Repeat("a", 43)).challenge(),
			challenge: verifier(strings.Repeat("a", 43)).challenge()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			v := verifier(tt.verifier)
			params := authParams(publicClient, v)
			if tt.challenge != "" {
				params.Set("code_challenge", tt.challenge)
			}
			code := h.code(params)

			res := h.authenticated(publicClient, codeForm(code, publicClient.RedirectURIs[0], v))

			if tt.ok {
				require.Equal(t, http.StatusOK, res.status, res.raw)
				assert.NotEmpty(t, res.str("access_token"))
				return
			}
			assertTokenError(t, res, http.StatusBadRequest, "invalid_grant")
		})
	}
}
