package pkce

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
)

// MethodS256 is the only code_challenge_method this package produces or
// accepts. RFC 7636 §4.2 also defines "plain", which offers no protection
// when the authorization request is observed; it is never sent.
const MethodS256 = "S256"

// Verifier lengths allowed by RFC 7636 §4.1.
const (
	MinVerifierLength = 43
	MaxVerifierLength = 128
)

// challengeLength is the length of BASE64URL(SHA256(x)) without padding.
const challengeLength = 43

var b64 = base64.RawURLEncoding

// ErrInvalidVerifier is matched by errors.Is for every verifier that breaks
// RFC 7636 §4.1. The wrapping error says which rule failed.
var ErrInvalidVerifier = errors.New("pkce: invalid code verifier")

// A Verifier is a PKCE code verifier (RFC 7636 §4.1) together with its S256
// challenge.
//
// The verifier is a secret until the code exchange: its String, Format and
// LogValue methods print a redacted form, so a Verifier can be logged or
// wrapped in an error without leaking. Use Reveal for the raw value.
// MarshalText does write the raw value, so that a pending Flow survives a
// round trip through a session store; treat such storage as secret.
//
// The zero Verifier is not valid; get one from NewVerifier or ParseVerifier.
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
	var out [MinVerifierLength + challengeLength]byte
	b64.Encode(out[:MinVerifierLength], raw[:])
	return withChallenge(out[:], MinVerifierLength)
}

// NewVerifierLength returns a random verifier of n characters, where n is
// between 43 and 128 (RFC 7636 §4.1).
func NewVerifierLength(n int) (Verifier, error) {
	if n < MinVerifierLength || n > MaxVerifierLength {
		return Verifier{}, fmt.Errorf("%w: length %d is outside %d..%d (RFC 7636 §4.1)",
			ErrInvalidVerifier, n, MinVerifierLength, MaxVerifierLength)
	}
	raw := make([]byte, b64.DecodedLen(n)+1)
	rand.Read(raw)
	out := make([]byte, b64.EncodedLen(len(raw)), b64.EncodedLen(len(raw))+challengeLength)
	b64.Encode(out, raw)
	return withChallenge(out[:n:n+challengeLength], n), nil
}

// ParseVerifier checks a verifier supplied by the caller against RFC 7636
// §4.1: 43 to 128 characters from [A-Za-z0-9-._~]. The error names the rule
// that failed and never contains the verifier itself.
func ParseVerifier(s string) (Verifier, error) {
	if err := checkVerifier(s); err != nil {
		return Verifier{}, err
	}
	var out [MaxVerifierLength + challengeLength]byte
	copy(out[:], s)
	return withChallenge(out[:len(s)], len(s)), nil
}

func checkVerifier(s string) error {
	if len(s) < MinVerifierLength || len(s) > MaxVerifierLength {
		return fmt.Errorf("%w: it has %d characters; RFC 7636 §4.1 requires %d to %d",
			ErrInvalidVerifier, len(s), MinVerifierLength, MaxVerifierLength)
	}
	for i := 0; i < len(s); i++ {
		if !isUnreserved(s[i]) {
			return fmt.Errorf("%w: character %d is outside [A-Za-z0-9-._~] (RFC 7636 §4.1)",
				ErrInvalidVerifier, i+1)
		}
	}
	return nil
}

// isUnreserved reports whether c is an unreserved URI character
// (RFC 3986 §2.3), the alphabet of verifiers.
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

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

// IsZero reports whether v is the zero Verifier.
func (v Verifier) IsZero() bool { return v.buf == "" }

// String returns a redacted form.
func (v Verifier) String() string {
	if v.IsZero() {
		return "pkce.Verifier(empty)"
	}
	return "pkce.Verifier(redacted)"
}

// Format prints the redacted form for every verb, %#v included.
func (v Verifier) Format(f fmt.State, _ rune) { fmt.Fprint(f, v.String()) }

// LogValue implements slog.LogValuer with the redacted form.
func (v Verifier) LogValue() slog.Value { return slog.StringValue(v.String()) }

// MarshalText writes the raw verifier, so a pending Flow can be stored.
func (v Verifier) MarshalText() ([]byte, error) {
	if v.IsZero() {
		return nil, nil
	}
	return []byte(v.Reveal()), nil
}

// UnmarshalText parses a stored verifier with the rules of ParseVerifier.
func (v *Verifier) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*v = Verifier{}
		return nil
	}
	p, err := ParseVerifier(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// MatchChallenge reports whether verifier is a valid RFC 7636 §4.1 verifier
// whose S256 challenge is challenge. The comparison takes the same time
// whatever the challenge, so an authorization server (or a test of one) can
// use it on attacker-supplied input. It implements the check of RFC 7636
// §4.6 for the S256 method only.
func MatchChallenge(verifier, challenge string) bool {
	if checkVerifier(verifier) != nil {
		return false
	}
	var buf [MaxVerifierLength]byte
	sum := sha256.Sum256(buf[:copy(buf[:], verifier)])
	var want [challengeLength]byte
	b64.Encode(want[:], sum[:])
	// ConstantTimeCompare returns early only on a length difference,
	// which reveals nothing: every S256 challenge has 43 characters.
	return subtle.ConstantTimeCompare(want[:], []byte(challenge)) == 1
}
