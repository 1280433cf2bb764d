package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The published examples the encoding is checked against.
const (
	// RFC 7515 Appendix A.3: an ES256 JWS and its key.
	a3Input = "eyJhbGciOiJFUzI1NiJ9" +
		".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	a3Signature = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
	a3X         = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
	a3Y         = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
	// The same signature in ASN.1 DER, as crypto.Signer returns it.
	a3DER = "MEUCIA7RIVN5Y2xIPC9/FVgH1AKjsigDOvl8fheBmsMWnqZlAiEAxQoH04w8cOXY8S2vCEpUgKZlkMXyk1Cajz9/ioOjVNU"

	// RFC 8037 Appendix A: an Ed25519 key, a JWS and the key's thumbprint.
	edD          = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	edX          = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	edInput      = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
	edSignature  = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
	edThumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

	// RFC 7638 §3.1: an RSA key and its thumbprint.
	rsaN          = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rsaThumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

	// RFC 9449 §4.1 and §6.1: the public key of the example proofs and
	// its jkt.
	dpopX   = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"
	dpopY   = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
	dpopJKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
)

func decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func ecKey(t *testing.T, x, y string) *ecdsa.PublicKey {
	t.Helper()
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, decode(t, x)...), decode(t, y)...))
	require.NoError(t, err)
	return k
}

// verifyES256 checks an r||s signature (RFC 7518 §3.4) with the standard
// library, independently of the package's encoder.
func verifyES256(pub *ecdsa.PublicKey, input string, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	d := sha256.Sum256([]byte(input))
	return ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func TestPublishedExamples(t *testing.T) {
	a3Pub := ecKey(t, a3X, a3Y)

	t.Run("RFC 7515 A.3: the published ES256 signature verifies with the published key", func(t *testing.T) {
		assert.True(t, verifyES256(a3Pub, a3Input, decode(t, a3Signature)))
	})
	t.Run("RFC 7515 A.3: signing the same input gives a valid r||s signature", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		s, err := NewSigner(key, "")
		require.NoError(t, err)
		header, payload, _ := strings.Cut(a3Input, ".")
		jws, err := s.Sign(decode(t, header), decode(t, payload))
		require.NoError(t, err)
		input, sig, ok := cutLast(jws)
		require.True(t, ok)
		assert.Equal(t, a3Input, input, "header and payload are base64url without padding")
		assert.True(t, verifyES256(&key.PublicKey, input, decode(t, sig)))
	})
	t.Run("RFC 7518 §3.4: ASN.1 DER becomes fixed-size r||s", func(t *testing.T) {
		der, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(a3DER, "="))
		require.NoError(t, err)
		got, err := fixedSize(der, 32)
		require.NoError(t, err)
		assert.Equal(t, a3Signature, base64.RawURLEncoding.EncodeToString(got))
	})
	t.Run("RFC 8037 A.4: EdDSA signature is the published one byte for byte", func(t *testing.T) {
		key := ed25519.NewKeyFromSeed(decode(t, edD))
		require.Equal(t, decode(t, edX), []byte(key.Public().(ed25519.PublicKey)))
		s, err := NewSigner(key, "")
		require.NoError(t, err)
		header, payload, _ := strings.Cut(edInput, ".")
		jws, err := s.Sign(decode(t, header), decode(t, payload))
		require.NoError(t, err)
		assert.Equal(t, edInput+"."+edSignature, jws)
	})
	t.Run("RFC 8037 A.3: Ed25519 thumbprint", func(t *testing.T) {
		got, err := Thumbprint(ed25519.PublicKey(decode(t, edX)))
		require.NoError(t, err)
		assert.Equal(t, edThumbprint, got)
	})
	t.Run("RFC 7638 §3.1: RSA thumbprint", func(t *testing.T) {
		got, err := Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(decode(t, rsaN)), E: 65537})
		require.NoError(t, err)
		assert.Equal(t, rsaThumbprint, got)
	})
	t.Run("RFC 9449 §6.1: jkt of the example proof key", func(t *testing.T) {
		got, err := Thumbprint(ecKey(t, dpopX, dpopY))
		require.NoError(t, err)
		assert.Equal(t, dpopJKT, got)
	})
}

func cutLast(jws string) (input, sig string, ok bool) {
	i := strings.LastIndexByte(jws, '.')
	if i < 0 || strings.Count(jws, ".") != 2 {
		return "", "", false
	}
	return jws[:i], jws[i+1:], true
}

func TestSignVerifiesForEveryAlgorithm(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		key    crypto.Signer
		alg    string
		verify func(input, sig []byte) bool
	}{
		{"ES256 is P-256 with SHA-256, r||s of 64 bytes", ec256, ES256, func(in, sig []byte) bool { return verifyEC(&ec256.PublicKey, crypto.SHA256, in, sig, 32) }},
		{"ES384 is P-384 with SHA-384, r||s of 96 bytes", ec384, ES384, func(in, sig []byte) bool { return verifyEC(&ec384.PublicKey, crypto.SHA384, in, sig, 48) }},
		{"ES512 is P-521 with SHA-512, r||s of 132 bytes", ec521, ES512, func(in, sig []byte) bool { return verifyEC(&ec521.PublicKey, crypto.SHA512, in, sig, 66) }},
		{"PS256 is RSASSA-PSS with SHA-256 and a salt as long as the hash", rsaKey, PS256, func(in, sig []byte) bool {
			d := sha256.Sum256(in)
			return rsa.VerifyPSS(&rsaKey.PublicKey, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: 32}) == nil
		}},
		{"RS256 is RSASSA-PKCS1-v1_5 with SHA-256", rsaKey, RS256, func(in, sig []byte) bool {
			d := sha256.Sum256(in)
			return rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, d[:], sig) == nil
		}},
		{"EdDSA is Ed25519 over the signing input itself", edKey, EdDSA, func(in, sig []byte) bool {
			return ed25519.Verify(edKey.Public().(ed25519.PublicKey), in, sig)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSigner(tc.key, tc.alg)
			require.NoError(t, err)
			jws, err := s.Sign([]byte(`{"alg":"`+tc.alg+`"}`), []byte(`{"a":1}`))
			require.NoError(t, err)
			input, sig, ok := cutLast(jws)
			require.True(t, ok)
			header, _, _ := strings.Cut(input, ".")
			var h map[string]any
			require.NoError(t, json.Unmarshal(decode(t, header), &h))
			assert.Equal(t, tc.alg, h["alg"])
			assert.True(t, tc.verify([]byte(input), decode(t, sig)))
		})
	}
}

func verifyEC(pub *ecdsa.PublicKey, h crypto.Hash, input, sig []byte, size int) bool {
	if len(sig) != 2*size {
		return false
	}
	return ecdsa.Verify(pub, digest(h, input), new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
}

func TestNewSignerRefuses(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  string
	}{
		{"no key", nil, ""},
		{"ES384 does not fit a P-256 key", ec256, ES384},
		{"RS256 does not fit an EC key", ec256, RS256},
		{"RSA keys under 2048 bits (RFC 7518 §3.3)", small, PS256},
		{"ES256 does not fit an Ed25519 key", edKey, ES256},
		{"none is never an algorithm here", ec256, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSigner(tc.key, tc.alg)
			assert.Error(t, err)
		})
	}
}

func TestObjectEscapesStrings(t *testing.T) {
	var o Object
	o.String("a", "q\"b\\c\n\x01é\xff")
	o.Int("n", -3)
	o.Raw("r", []byte(`{"x":1}`))
	var got map[string]any
	require.NoError(t, json.Unmarshal(o.Bytes(), &got))
	assert.Equal(t, "q\"b\\c\n\x01é\uFFFD", got["a"])
	assert.Equal(t, float64(-3), got["n"])
	assert.Equal(t, map[string]any{"x": float64(1)}, got["r"])
}
