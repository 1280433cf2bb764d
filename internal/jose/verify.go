package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// HS256 is the HMAC algorithm of RFC 7518 §3.2, which package pkce
// accepts for ID tokens only when the application opts in (OpenID Connect
// Core §10.1).
const HS256 = "HS256"

// maxCompact bounds the compact serialisations Parse reads: an ID token
// is a few kilobytes, and the bound keeps a hostile one from costing more
// than a token response may.
const maxCompact = 64 << 10

// A JWS is a compact JWS (RFC 7515 §7.1) whose signature has not been
// checked yet. Nothing in it may be trusted before Verify or VerifyHMAC
// succeeds.
type JWS struct {
	Alg     string // the alg header
	Kid     string // the kid header, or ""
	Typ     string // the typ header, or ""
	Payload []byte // the decoded payload

	input string // BASE64URL(header) "." BASE64URL(payload), what was signed
	sig   []byte
}

type header struct {
	Alg  *string         `json:"alg"`
	Kid  *string         `json:"kid"`
	Typ  *string         `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// Parse splits and decodes a compact JWS. It refuses a JWE (five parts),
// an unsecured JWS (alg none, RFC 7518 §3.6) and any crit header, since no
// extension is understood here (RFC 7515 §4.1.11).
func Parse(s string) (*JWS, error) {
	if len(s) > maxCompact {
		return nil, fmt.Errorf("the JWS is longer than %d bytes", maxCompact)
	}
	i := strings.IndexByte(s, '.')
	j := strings.LastIndexByte(s, '.')
	if i < 0 || i == j || strings.IndexByte(s[i+1:j], '.') >= 0 {
		return nil, errors.New("not a compact JWS of three parts (RFC 7515 §7.1)")
	}
	hb, err := b64.DecodeString(s[:i])
	if err != nil {
		return nil, errors.New("the header is not unpadded base64url (RFC 7515 §2)")
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil || hb[0] != '{' {
		return nil, errors.New("the header is not a JSON object (RFC 7515 §4)")
	}
	switch {
	case h.Alg == nil || *h.Alg == "":
		return nil, errors.New("the header has no alg (RFC 7515 §4.1.1)")
	case *h.Alg == "none":
		return nil, errors.New("alg none: the JWS is unsigned, which is never accepted (RFC 7518 §3.6)")
	case h.Crit != nil:
		return nil, errors.New("the header has crit, and no extension is understood here (RFC 7515 §4.1.11)")
	}
	p, err := b64.DecodeString(s[i+1 : j])
	if err != nil {
		return nil, errors.New("the payload is not unpadded base64url (RFC 7515 §2)")
	}
	sig, err := b64.DecodeString(s[j+1:])
	if err != nil || len(sig) == 0 {
		return nil, errors.New("the signature is empty or not unpadded base64url (RFC 7515 §2)")
	}
	out := &JWS{Alg: *h.Alg, Payload: p, input: s[:j], sig: sig}
	if h.Kid != nil {
		out.Kid = *h.Kid
	}
	if h.Typ != nil {
		out.Typ = *h.Typ
	}
	return out, nil
}

// Fits reports whether a key of pub's type can verify alg: RSA for RS256
// and PS256, ECDSA on the curve of ES256, ES384 or ES512, Ed25519 for
// EdDSA (RFC 7518 §3.1, RFC 8037 §3.1).
func Fits(alg string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return alg == RS256 || alg == PS256
	case *ecdsa.PublicKey:
		switch alg {
		case ES256:
			return k.Curve == elliptic.P256()
		case ES384:
			return k.Curve == elliptic.P384()
		case ES512:
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == EdDSA
	}
	return false
}

var errBadSignature = errors.New("the signature does not verify")

// Verify checks the signature with pub. The key must fit the JWS's alg
// (see Fits): a key is never used with another algorithm than its own.
func (j *JWS) Verify(pub crypto.PublicKey) error {
	if !Fits(j.Alg, pub) {
		return fmt.Errorf("alg %q does not fit a key of type %s", clipAlg(j.Alg), keyType(pub))
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		d := sha256.Sum256([]byte(j.input))
		var err error
		if j.Alg == RS256 {
			err = rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], j.sig)
		} else {
			// RFC 7518 §3.5: the salt is as long as the hash.
			err = rsa.VerifyPSS(k, crypto.SHA256, d[:], j.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		if err != nil {
			return errBadSignature
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		// RFC 7518 §3.4: R and S as fixed-size big-endian integers.
		if len(j.sig) != 2*size {
			return fmt.Errorf("an %s signature has %d bytes (R||S, RFC 7518 §3.4), not %d", j.Alg, 2*size, len(j.sig))
		}
		r, s := new(big.Int).SetBytes(j.sig[:size]), new(big.Int).SetBytes(j.sig[size:])
		if !ecdsa.Verify(k, digest(hashOf(j.Alg), []byte(j.input)), r, s) {
			return errBadSignature
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(k, []byte(j.input), j.sig) {
			return errBadSignature
		}
	}
	return nil
}

// VerifyHMAC checks an HS256 signature with secret (RFC 7518 §3.2), in
// constant time.
func (j *JWS) VerifyHMAC(secret []byte) error {
	if j.Alg != HS256 {
		return fmt.Errorf("alg %q is not HS256", clipAlg(j.Alg))
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(j.input))
	if !hmac.Equal(m.Sum(nil), j.sig) {
		return errBadSignature
	}
	return nil
}

func hashOf(alg string) crypto.Hash {
	switch alg {
	case ES384:
		return crypto.SHA384
	case ES512:
		return crypto.SHA512
	}
	return crypto.SHA256
}

func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "OKP Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// clipAlg keeps a hostile alg header short in messages.
func clipAlg(alg string) string {
	if len(alg) > 20 {
		return alg[:20] + "..."
	}
	return alg
}
