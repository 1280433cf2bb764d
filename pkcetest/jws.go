package pkcetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Verifying JSON Web Signatures in the compact serialisation (RFC 7515)
// and reading public JSON Web Keys (RFC 7517), for client assertions
// (RFC 7523) and DPoP proofs (RFC 9449). Written here on its own, not
// shared with the client package, so that the server checks the client
// against the RFCs rather than against itself.

var b64url = base64.RawURLEncoding

// jws is a parsed compact JWS whose signature has not been checked yet.
type jws struct {
	header  map[string]json.RawMessage
	claims  map[string]any
	input   string // header.payload, what was signed
	sig     []byte
	alg     string
	typ     string
	kid     string
	jwk     json.RawMessage
	payload []byte
}

// parseJWS splits and decodes a compact JWS with a JSON object payload
// (RFC 7515 §7.1, RFC 7519 §7.2).
func parseJWS(s string) (*jws, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS of three parts")
	}
	hb, err1 := b64url.DecodeString(parts[0])
	pb, err2 := b64url.DecodeString(parts[1])
	sig, err3 := b64url.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errors.New("a part is not unpadded base64url (RFC 7515 §2)")
	}
	j := &jws{input: parts[0] + "." + parts[1], sig: sig, payload: pb}
	if err := json.Unmarshal(hb, &j.header); err != nil || j.header == nil {
		return nil, errors.New("the header is not a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(string(pb)))
	dec.UseNumber()
	if err := dec.Decode(&j.claims); err != nil || j.claims == nil {
		return nil, errors.New("the payload is not a JSON object")
	}
	for name, dst := range map[string]*string{"alg": &j.alg, "typ": &j.typ, "kid": &j.kid} {
		if raw, ok := j.header[name]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return nil, fmt.Errorf("the %s header is not a string", name)
			}
		}
	}
	j.jwk = j.header["jwk"]
	if _, ok := j.header["crit"]; ok {
		return nil, errors.New("crit headers are not understood here (RFC 7515 §4.1.11)")
	}
	return j, nil
}

// verify checks the signature with pub for the JWS's alg, which must be
// one of the asymmetric algorithms of RFC 7518 §3.1 and RFC 8037 and fit
// the key.
func (j *jws) verify(pub crypto.PublicKey) error {
	sha := func(h crypto.Hash) []byte {
		switch h {
		case crypto.SHA384:
			d := sha512.Sum384([]byte(j.input))
			return d[:]
		case crypto.SHA512:
			d := sha512.Sum512([]byte(j.input))
			return d[:]
		}
		d := sha256.Sum256([]byte(j.input))
		return d[:]
	}
	bad := errors.New("the signature does not verify")
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h, curve := map[string]crypto.Hash{"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512}[j.alg],
			map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[j.alg]
		if curve == nil || k.Curve != curve {
			return fmt.Errorf("alg %q does not fit the EC key", j.alg)
		}
		n := (curve.Params().BitSize + 7) / 8
		// RFC 7518 §3.4: R and S as fixed-size big-endian integers.
		if len(j.sig) != 2*n {
			return fmt.Errorf("an %s signature must be %d bytes (R||S, RFC 7518 §3.4), not %d", j.alg, 2*n, len(j.sig))
		}
		r, s := new(big.Int).SetBytes(j.sig[:n]), new(big.Int).SetBytes(j.sig[n:])
		if !ecdsa.Verify(k, sha(h), r, s) {
			return bad
		}
	case *rsa.PublicKey:
		var err error
		switch j.alg {
		case "RS256":
			err = rsa.VerifyPKCS1v15(k, crypto.SHA256, sha(crypto.SHA256), j.sig)
		case "PS256":
			err = rsa.VerifyPSS(k, crypto.SHA256, sha(crypto.SHA256), j.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		default:
			return fmt.Errorf("alg %q does not fit the RSA key", j.alg)
		}
		if err != nil {
			return bad
		}
	case ed25519.PublicKey:
		if j.alg != "EdDSA" {
			return fmt.Errorf("alg %q does not fit the Ed25519 key", j.alg)
		}
		if !ed25519.Verify(k, []byte(j.input), j.sig) {
			return bad
		}
	default:
		return fmt.Errorf("keys of type %T are not supported", pub)
	}
	return nil
}

// publicJWK is a public JSON Web Key as sent in a DPoP proof's jwk header.
type publicJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
	D   string `json:"d"`
	P   string `json:"p"`
	K   string `json:"k"`
}

// parsePublicJWK reads a public key (RFC 7517, RFC 7518 §6, RFC 8037 §2)
// and returns it with its RFC 7638 thumbprint. A key with private members
// is refused (RFC 9449 §4.3).
func parsePublicJWK(raw json.RawMessage) (crypto.PublicKey, string, error) {
	var k publicJWK
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, "", errors.New("jwk is not a JSON object")
	}
	if k.D != "" || k.P != "" || k.K != "" {
		return nil, "", errors.New("jwk holds a private or symmetric key (RFC 9449 §4.3)")
	}
	dec := func(s string) (*big.Int, []byte, bool) {
		b, err := b64url.DecodeString(s)
		return new(big.Int).SetBytes(b), b, err == nil && len(b) > 0
	}
	var canonical string // RFC 7638 §3.2: required members, sorted, no spaces
	var pub crypto.PublicKey
	switch k.Kty {
	case "EC":
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[k.Crv]
		_, xb, okX := dec(k.X)
		_, yb, okY := dec(k.Y)
		n := 0
		if curve != nil {
			n = (curve.Params().BitSize + 7) / 8
		}
		if curve == nil || !okX || !okY || len(xb) != n || len(yb) != n {
			return nil, "", errors.New("jwk is not a valid EC public key")
		}
		// Build the point from its uncompressed encoding, which checks
		// that it is on the curve.
		point := append(append([]byte{4}, xb...), yb...)
		ek, err := ecdsaPublicKey(curve, point)
		if err != nil {
			return nil, "", errors.New("jwk is not a point on its curve")
		}
		pub = ek
		canonical = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, k.Crv, k.X, k.Y)
	case "RSA":
		n, _, okN := dec(k.N)
		e, _, okE := dec(k.E)
		if !okN || !okE || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || n.BitLen() < 2048 {
			return nil, "", errors.New("jwk is not an RSA public key of 2048 bits or more")
		}
		pub = &rsa.PublicKey{N: n, E: int(e.Int64())}
		canonical = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, k.E, k.N)
	case "OKP":
		_, xb, ok := dec(k.X)
		if k.Crv != "Ed25519" || !ok || len(xb) != ed25519.PublicKeySize {
			return nil, "", errors.New("jwk is not an Ed25519 public key")
		}
		pub = ed25519.PublicKey(xb)
		canonical = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":%q}`, k.X)
	default:
		return nil, "", fmt.Errorf("jwk kty %q is not supported", k.Kty)
	}
	sum := sha256.Sum256([]byte(canonical))
	return pub, b64url.EncodeToString(sum[:]), nil
}

func ecdsaPublicKey(curve elliptic.Curve, point []byte) (*ecdsa.PublicKey, error) {
	return ecdsa.ParseUncompressedPublicKey(curve, point)
}

// numericDate reads a NumericDate claim (RFC 7519 §2) in whole seconds.
func numericDate(claims map[string]any, name string) (int64, bool) {
	n, ok := claims[name].(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	f, err := n.Float64()
	return int64(f), err == nil
}

// stringClaim returns a string claim, or "".
func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}
