// Package jose writes JSON Web Signatures in the compact serialisation
// (RFC 7515 §7.1) and public JSON Web Keys (RFC 7517) with their
// thumbprints (RFC 7638), for package pkce's client assertions
// (RFC 7523) and DPoP proofs (RFC 9449). It signs only: verifying is the
// servers' job, and the package's tests verify with code written
// separately.
//
// It uses the standard library alone. ECDSA signatures are written in the
// fixed-size r||s form of RFC 7518 §3.4, not the ASN.1 form that
// crypto.Signer returns.
package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1) a Signer can use.
const (
	ES256 = "ES256"
	ES384 = "ES384"
	ES512 = "ES512"
	PS256 = "PS256"
	RS256 = "RS256"
	EdDSA = "EdDSA"
)

var b64 = base64.RawURLEncoding

// A Signer signs JWS with one key and one algorithm. It is safe for
// concurrent use when its crypto.Signer is.
type Signer struct {
	key    crypto.Signer
	alg    string
	hash   crypto.Hash // zero for EdDSA, which signs the message itself
	opts   crypto.SignerOpts
	ecSize int // bytes of r and of s for ECDSA, else 0
	jwk    []byte
}

// DefaultAlg returns the algorithm this package uses for pub when none is
// chosen: ES256, ES384 or ES512 by curve, PS256 for RSA, EdDSA for
// Ed25519.
func DefaultAlg(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ES256, nil
		case elliptic.P384():
			return ES384, nil
		case elliptic.P521():
			return ES512, nil
		}
		return "", errors.New("the ECDSA curve is not P-256, P-384 or P-521")
	case *rsa.PublicKey:
		return PS256, nil
	case ed25519.PublicKey:
		return EdDSA, nil
	}
	return "", fmt.Errorf("keys of type %T are not supported; use ECDSA, RSA or Ed25519", pub)
}

// NewSigner returns a Signer for key with alg, or with DefaultAlg when alg
// is "". It fails when alg does not fit the key, and for RSA keys shorter
// than 2048 bits (RFC 7518 §3.3, §3.5).
func NewSigner(key crypto.Signer, alg string) (*Signer, error) {
	if key == nil {
		return nil, errors.New("the key is nil")
	}
	pub := key.Public()
	def, err := DefaultAlg(pub)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = def
	}
	s := &Signer{key: key, alg: alg}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if alg != def {
			return nil, fmt.Errorf("algorithm %q does not fit an ECDSA key on %s; use %s", alg, k.Curve.Params().Name, def)
		}
		s.ecSize = (k.Curve.Params().BitSize + 7) / 8
		s.hash = map[string]crypto.Hash{ES256: crypto.SHA256, ES384: crypto.SHA384, ES512: crypto.SHA512}[alg]
		s.opts = s.hash
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("the RSA key has %d bits; at least 2048 are needed (RFC 7518 §3.3)", k.N.BitLen())
		}
		switch alg {
		case PS256:
			s.hash = crypto.SHA256
			s.opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256} // RFC 7518 §3.5
		case RS256:
			s.hash = crypto.SHA256
			s.opts = crypto.SHA256
		default:
			return nil, fmt.Errorf("algorithm %q does not fit an RSA key; use PS256 or RS256", alg)
		}
	case ed25519.PublicKey:
		if alg != EdDSA {
			return nil, fmt.Errorf("algorithm %q does not fit an Ed25519 key; use EdDSA", alg)
		}
		s.opts = crypto.Hash(0)
	}
	if s.jwk, err = PublicJWK(pub); err != nil {
		return nil, err
	}
	return s, nil
}

// Alg returns the JWS algorithm, the value of the alg header.
func (s *Signer) Alg() string { return s.alg }

// JWK returns the public key as a JSON Web Key with only its required
// members, in the order of RFC 7638 §3.2. The caller must not change it.
func (s *Signer) JWK() []byte { return s.jwk }

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// Sign returns the compact serialisation of a JWS (RFC 7515 §7.1) with
// the protected header and payload given as JSON objects.
func (s *Signer) Sign(header, payload []byte) (string, error) {
	hl, pl := b64.EncodedLen(len(header)), b64.EncodedLen(len(payload))
	sigLen := 2 * s.ecSize
	if sigLen == 0 {
		sigLen = 512 // RSA 4096; grown if larger
	}
	out := make([]byte, 0, hl+1+pl+1+b64.EncodedLen(sigLen))
	out = b64.AppendEncode(out, header)
	out = append(out, '.')
	out = b64.AppendEncode(out, payload)
	input := out
	var sig []byte
	var err error
	switch s.hash {
	case 0:
		sig, err = s.key.Sign(rand.Reader, input, s.opts)
	default:
		sig, err = s.key.Sign(rand.Reader, digest(s.hash, input), s.opts)
	}
	if err != nil {
		return "", fmt.Errorf("signing with %s failed: %w", s.alg, err)
	}
	if s.ecSize > 0 {
		if sig, err = fixedSize(sig, s.ecSize); err != nil {
			return "", err
		}
	}
	out = append(out, '.')
	out = b64.AppendEncode(out, sig)
	return string(out), nil
}

func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(msg)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		return d[:]
	default:
		d := sha512.Sum512(msg)
		return d[:]
	}
}

// fixedSize turns an ASN.1 DER ECDSA signature, SEQUENCE { INTEGER r,
// INTEGER s }, into r||s with each integer left-padded to size bytes
// (RFC 7518 §3.4). A signature already of length 2*size is taken as r||s,
// which some hardware signers return.
func fixedSize(der []byte, size int) ([]byte, error) {
	bad := errors.New("the ECDSA signer returned a signature that is not ASN.1 DER")
	if len(der) == 2*size && (len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2) {
		return der, nil
	}
	seq, rest, ok := derElement(der, 0x30)
	if !ok || len(rest) != 0 {
		return nil, bad
	}
	out := make([]byte, 2*size)
	for i := range 2 {
		var n []byte
		n, seq, ok = derElement(seq, 0x02)
		if !ok {
			return nil, bad
		}
		for len(n) > 0 && n[0] == 0 {
			n = n[1:]
		}
		if len(n) > size {
			return nil, bad
		}
		copy(out[(i+1)*size-len(n):(i+1)*size], n)
	}
	if len(seq) != 0 {
		return nil, bad
	}
	return out, nil
}

// derElement reads one DER element with tag from b: its contents and what
// follows it.
func derElement(b []byte, tag byte) (contents, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 2 || len(b) < 2+k {
			return nil, nil, false
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		hdr += k
	}
	if len(b)-hdr < n {
		return nil, nil, false
	}
	return b[hdr : hdr+n], b[hdr+n:], true
}

// PublicJWK returns pub as a JSON Web Key with only the required members,
// in lexicographic order and without whitespace: exactly the input of the
// RFC 7638 thumbprint, and a valid jwk header (RFC 9449 §4.2).
func PublicJWK(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		raw, err := k.Bytes() // 0x04 || X || Y, each size bytes
		if err != nil {
			return nil, fmt.Errorf("the ECDSA public key cannot be encoded: %w", err)
		}
		var o Object
		o.String("crv", k.Curve.Params().Name)
		o.String("kty", "EC")
		o.String("x", b64.EncodeToString(raw[1:1+size]))
		o.String("y", b64.EncodeToString(raw[1+size:]))
		return o.Bytes(), nil
	case *rsa.PublicKey:
		var o Object
		o.String("e", b64.EncodeToString(bigEndian(uint64(k.E))))
		o.String("kty", "RSA")
		o.String("n", b64.EncodeToString(k.N.Bytes()))
		return o.Bytes(), nil
	case ed25519.PublicKey:
		var o Object
		o.String("crv", "Ed25519")
		o.String("kty", "OKP")
		o.String("x", b64.EncodeToString(k))
		return o.Bytes(), nil
	}
	return nil, fmt.Errorf("keys of type %T are not supported", pub)
}

func bigEndian(v uint64) []byte {
	var b []byte
	for ; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	return b
}

// Thumbprint returns the RFC 7638 thumbprint of pub with SHA-256,
// base64url encoded: the jkt of RFC 9449 §6.1.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk, err := PublicJWK(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(jwk)
	return b64.EncodeToString(sum[:]), nil
}

// An Object builds a JSON object member by member, without reflection.
// Members are written in the order they are added.
type Object struct {
	b []byte
}

// Grow reserves room for n more bytes.
func (o *Object) Grow(n int) {
	if cap(o.b)-len(o.b) < n {
		o.b = append(make([]byte, 0, len(o.b)+n), o.b...)
	}
}

func (o *Object) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

// String adds a string member.
func (o *Object) String(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

// Int adds a number member.
func (o *Object) Int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// Raw adds a member whose value is JSON already.
func (o *Object) Raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}

// Bytes closes the object and returns it.
func (o *Object) Bytes() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}

// appendString appends s as a JSON string (RFC 8259 §7). Invalid UTF-8
// becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
