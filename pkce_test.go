package pkce

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewVerifier(t *testing.T) {
	v := NewVerifier()
	require.False(t, v.isZero())
	assert.Len(t, v.Reveal(), 43, "32 random bytes encode to 43 characters (RFC 7636 §4.1)")
	assert.NoError(t, checkVerifier(v.Reveal()))
	assert.NotEqual(t, v.Reveal(), NewVerifier().Reveal(), "two verifiers must differ")
}

func TestChallengeIsS256(t *testing.T) {
	// The example of RFC 7636 Appendix B.
	v, err := ParseVerifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
	require.NoError(t, err)
	assert.Equal(t, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", v.Challenge())

	for range 20 {
		v := NewVerifier()
		sum := sha256.Sum256([]byte(v.Reveal()))
		assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), v.Challenge())
	}
}

func TestParseVerifier(t *testing.T) {
	valid := strings.Repeat("a", 43)
	tests := []struct {
		name     string
		in       string
		wantRule string // "" means valid
	}{
		{"43 unreserved characters", valid, ""},
		{"128 characters", strings.Repeat("Z", 128), ""},
		{"every unreserved character", "ABCXYZabcxyz0189-._~" + strings.Repeat("q", 23), ""},
		{"42 characters are too few", valid[:42], "it has 42 characters"},
		{"129 characters are too many", strings.Repeat("a", 129), "it has 129 characters"},
		{"empty", "", "it has 0 characters"},
		{"plus is outside the charset", valid[:10] + "+" + valid[11:], "character 11 is outside"},
		{"slash is outside the charset", "/" + valid[1:], "character 1 is outside"},
		{"padding is outside the charset", valid[:42] + "=", "character 43 is outside"},
		{"space is outside the charset", valid[:20] + " " + valid[21:], "character 21 is outside"},
		{"non-ASCII is outside the charset", valid[:41] + "é", "character 42 is outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseVerifier(tt.in)
			if tt.wantRule == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.in, v.Reveal())
				return
			}
			assert.ErrorIs(t, err, errInvalidVerifier)
			assert.ErrorContains(t, err, tt.wantRule)
			assert.ErrorContains(t, err, "RFC 7636 §4.1")
			if len(tt.in) >= minSecret {
				assert.NotContains(t, err.Error(), tt.in, "the error must not quote the verifier")
			}
		})
	}
}

func TestVerifierRedacted(t *testing.T) {
	v := NewVerifier()
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		out := fmt.Sprintf(format, v)
		assert.NotContains(t, out, v.Reveal(), format)
		assert.Contains(t, out, "redacted", format)
	}
	assert.NotContains(t, fmt.Sprint(struct{ V Verifier }{v}), v.Reveal())
}

// TestVerifierJSON: a Verifier has no JSON form of its own (v1 dropped
// MarshalText), so it cannot leak through encoding/json; a Flow carries it,
// and checks it on the way back in.
func TestVerifierJSON(t *testing.T) {
	v := NewVerifier()
	b, err := json.Marshal(struct{ V Verifier }{v})
	require.NoError(t, err)
	assert.NotContains(t, string(b), v.Reveal(), "encoding/json does not reach the verifier")

	f := Flow{State: strings.Repeat("s", stateLength), verifier: v, redirectURL: "https://app.example/callback"}
	b, err = json.Marshal(f)
	require.NoError(t, err)
	var back Flow
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, v.Reveal(), back.verifier.Reveal())
	assert.Equal(t, v.Challenge(), back.verifier.Challenge())

	err = json.Unmarshal([]byte(`{"state":"s","verifier":"too-short"}`), &back)
	assert.ErrorIs(t, err, errInvalidVerifier, "a stored verifier is checked on the way back in")
}
