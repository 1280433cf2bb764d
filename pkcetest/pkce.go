package pkcetest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// methodS256 is the only code_challenge_method the server accepts; "plain"
// exists for clients that cannot hash (RFC 7636 §4.2), which no test
// should need.
const methodS256 = "S256"

// This file checks PKCE on its own, without the client package's code, so
// that a bug there cannot hide behind the same bug here.

// validVerifier reports whether v has the syntax RFC 7636 §4.1 requires:
// 43 to 128 characters from [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isUnreserved(v[i]) {
			return false
		}
	}
	return true
}

func isUnreserved(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}

// validS256Challenge reports whether c has the shape of
// BASE64URL(SHA256(verifier)): 43 characters of the unpadded base64url
// alphabet (RFC 7636 §4.2, Appendix A).
func validS256Challenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !('A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// verifierMatches reports whether BASE64URL-ENCODE(SHA256(ASCII(verifier)))
// equals challenge (RFC 7636 §4.6), comparing in constant time so that
// timing does not reveal how much of a guess was right.
func verifierMatches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	computed := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(computed), []byte(challenge)) == 1
}
