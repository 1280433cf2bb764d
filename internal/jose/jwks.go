package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math/big"
)

// A Key is a public key of a JWK Set that can verify signatures.
type Key struct {
	ID     string // kid, or ""
	Alg    string // alg, or "" when the key does not restrict it
	Public crypto.PublicKey
}

// CanVerify reports whether k may verify a JWS with alg and kid: the key
// type fits alg (Fits), the key's own alg, when set, is alg, and a kid
// given in the JWS names this key (RFC 7515 §4.1.4).
func (k Key) CanVerify(alg, kid string) bool {
	return (kid == "" || kid == k.ID) && (k.Alg == "" || k.Alg == alg) && Fits(alg, k.Public)
}

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// ParseSet reads a JWK Set (RFC 7517 §5) and returns its public signing
// keys. Keys the package cannot use are left out rather than failing the
// set, since a set may hold keys for others: encryption keys (use enc),
// symmetric and private keys, unknown key types and curves, RSA keys under
// 2048 bits (RFC 7518 §3.3) and malformed keys. A document that is not a
// JSON object with a keys array fails.
func ParseSet(b []byte) ([]Key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil || len(b) == 0 || b[0] != '{' {
		return nil, errors.New("the JWK Set is not a JSON object (RFC 7517 §5)")
	}
	if set.Keys == nil {
		return nil, errors.New("the JWK Set has no keys array (RFC 7517 §5.1)")
	}
	var keys []Key
	for _, raw := range set.Keys {
		var k jwk
		if json.Unmarshal(raw, &k) != nil || k.Use != "" && k.Use != "sig" {
			continue
		}
		var private struct {
			D *json.RawMessage `json:"d"`
		}
		if json.Unmarshal(raw, &private) != nil || private.D != nil {
			continue // a private key has no place in a published set
		}
		if pub := k.public(); pub != nil {
			keys = append(keys, Key{ID: k.Kid, Alg: k.Alg, Public: pub})
		}
	}
	return keys, nil
}

// public returns the key, or nil when it is not a usable public key.
func (k *jwk) public() crypto.PublicKey {
	switch k.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(k.N)
		e, err2 := b64.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 || len(n) == 0 || n[0] == 0 {
			return nil
		}
		exp := 0
		for _, c := range e {
			exp = exp<<8 | int(c)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
		if exp < 3 || exp&1 == 0 || exp > 1<<31-1 || pub.N.BitLen() < 2048 || pub.N.BitLen() > 8192 {
			return nil
		}
		return pub
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64.DecodeString(k.X)
		y, err2 := b64.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil
		}
		// The uncompressed encoding is checked to be a point on the curve.
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil
		}
		return pub
	case "OKP":
		x, err := b64.DecodeString(k.X)
		if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil
		}
		return ed25519.PublicKey(x)
	}
	return nil
}
