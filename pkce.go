package pkce

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// methodS256 is the only code_challenge_method this package sends.
// RFC 7636 §4.2 also defines "plain", which offers no protection when the
// authorization request is observed; it is never sent.
const methodS256 = "S256"

// Verifier lengths allowed by RFC 7636 §4.1.
const (
	minVerifierLength = 43
	maxVerifierLength = 128
)

// challengeLength is the length of BASE64URL(SHA256(x)) without padding.
const challengeLength = 43

var b64 = base64.RawURLEncoding

// A Verifier is a PKCE code verifier (RFC 7636 §4.1) together with its S256
// challenge.
//
// The verifier is a secret until the code exchange: its String and Format
// methods print a redacted form, so a Verifier can be printed, logged or
// wrapped in an error without leaking. Use Reveal for the raw value.
//
// The zero Verifier is not valid; get one from NewVerifier or ParseVerifier.
// A Flow keeps its Verifier and serialises it with the flow.
type Verifier struct {
	// buf holds the verifier followed by its challenge, so that creating a
	// Verifier costs one allocation.
	buf string
	n   int
}

// NewVerifier returns a verifier made of 32 bytes from crypto/rand, encoded
// as 43 base64url characters, the length RFC 7636 §7.1 recommends.
func NewVerifier() Verifier {
	var raw [32]byte
	rand.Read(raw[:]) // never returns an error; it crashes the program instead
	var out [minVerifierLength + challengeLength]byte
	b64.Encode(out[:minVerifierLength], raw[:])
	return withChallenge(out[:], minVerifierLength)
}

// ParseVerifier checks a verifier supplied by the caller against RFC 7636
// §4.1: 43 to 128 characters from [A-Za-z0-9-._~]. The error names the rule
// that failed and never contains the verifier itself.
func ParseVerifier(s string) (Verifier, error) {
	if err := checkVerifier(s); err != nil {
		return Verifier{}, err
	}
	var out [maxVerifierLength + challengeLength]byte
	copy(out[:], s)
	return withChallenge(out[:len(s)], len(s)), nil
}

func checkVerifier(s string) error {
	if len(s) < minVerifierLength || len(s) > maxVerifierLength {
		return fmt.Errorf("%w: it has %d characters; RFC 7636 §4.1 requires %d to %d",
			errInvalidVerifier, len(s), minVerifierLength, maxVerifierLength)
	}
	for i := 0; i < len(s); i++ {
		if !isUnreserved(s[i]) {
			return fmt.Errorf("%w: character %d is outside [A-Za-z0-9-._~] (RFC 7636 §4.1)",
				errInvalidVerifier, i+1)
		}
	}
	return nil
}

// isUnreserved reports whether c is an unreserved URI character
// (RFC 3986 §2.3), the alphabet of verifiers.
func isUnreserved(c byte) bool { return uriClass[c]&unreserved != 0 }

// uriClass holds, for each byte, the classes it belongs to, so that the
// loops over verifiers, states and form values test one table entry a
// byte.
var uriClass = func() (t [256]uint8) {
	for c := range t {
		b := byte(c)
		if 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_' {
			t[c] = unreserved | base64URL
		}
	}
	t['.'], t['~'] = unreserved, unreserved
	return t
}()

const (
	unreserved = 1 << iota // RFC 3986 §2.3
	base64URL              // RFC 4648 §5, without padding
)

// withChallenge appends the S256 challenge of buf[:n] to buf and makes the
// single string a Verifier keeps. buf must have room for the challenge.
func withChallenge(buf []byte, n int) Verifier {
	sum := sha256.Sum256(buf[:n])
	buf = buf[:n+challengeLength]
	b64.Encode(buf[n:], sum[:])
	return Verifier{buf: string(buf), n: n}
}

// Reveal returns the verifier itself, for the token request. Do not log it.
func (v Verifier) Reveal() string { return v.buf[:v.n] }

// Challenge returns the S256 code challenge, BASE64URL(SHA256(verifier))
// as RFC 7636 §4.2 defines it. It is safe to publish.
func (v Verifier) Challenge() string { return v.buf[v.n:] }

// isZero reports whether v is the zero Verifier.
func (v Verifier) isZero() bool { return v.buf == "" }

// describe returns a redacted form.
func (v Verifier) describe() string {
	if v.isZero() {
		return "pkce.Verifier(empty)"
	}
	return "pkce.Verifier(redacted)"
}

// Format prints the redacted form for every verb, %#v included.
func (v Verifier) Format(f fmt.State, _ rune) { fmt.Fprint(f, v.describe()) }
