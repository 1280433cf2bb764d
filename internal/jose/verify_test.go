package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type testKeys struct {
	rsa          *rsa.PrivateKey
	ec256, ec384 *ecdsa.PrivateKey
	ed           ed25519.PrivateKey
	otherRSA     *rsa.PrivateKey
	otherEC256   *ecdsa.PrivateKey
	otherEd      ed25519.PrivateKey
}

func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	var k testKeys
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	k.otherRSA, err = rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	k.ec256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.ec384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k.otherEC256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	_, k.otherEd, _ = ed25519.GenerateKey(rand.Reader)
	return k
}

func sign(t *testing.T, key crypto.Signer, alg, header string) string {
	t.Helper()
	s, err := NewSigner(key, alg)
	require.NoError(t, err)
	if header == "" {
		header = `{"alg":"` + alg + `"}`
	}
	out, err := s.Sign([]byte(header), []byte(`{"sub":"alice"}`))
	require.NoError(t, err)
	return out
}

func TestVerify(t *testing.T) {
	k := newTestKeys(t)
	tests := []struct {
		name    string
		jws     string
		key     crypto.PublicKey
		wantErr string
	}{
		{"RS256 verifies with its RSA key", sign(t, k.rsa, RS256, ""), k.rsa.Public(), ""},
		{"PS256 verifies with its RSA key", sign(t, k.rsa, PS256, ""), k.rsa.Public(), ""},
		{"ES256 verifies with its P-256 key", sign(t, k.ec256, ES256, ""), k.ec256.Public(), ""},
		{"ES384 verifies with its P-384 key", sign(t, k.ec384, ES384, ""), k.ec384.Public(), ""},
		{"EdDSA verifies with its Ed25519 key", sign(t, k.ed, EdDSA, ""), k.ed.Public(), ""},
		{"RS256 with another RSA key fails", sign(t, k.rsa, RS256, ""), k.otherRSA.Public(), "does not verify"},
		{"ES256 with another P-256 key fails", sign(t, k.ec256, ES256, ""), k.otherEC256.Public(), "does not verify"},
		{"EdDSA with another Ed25519 key fails", sign(t, k.ed, EdDSA, ""), k.otherEd.Public(), "does not verify"},
		{"RFC 7518 §3.1: an RS256 header cannot be checked with an EC key", sign(t, k.rsa, RS256, ""), k.ec256.Public(), "does not fit"},
		{"RFC 7518 §3.1: an ES256 header cannot be checked with an RSA key", sign(t, k.ec256, ES256, ""), k.rsa.Public(), "does not fit"},
		{"RFC 7518 §3.1: ES384 is not checked with a P-256 key", sign(t, k.ec384, ES384, ""), k.ec256.Public(), "does not fit"},
		{"RFC 7518 §3.1: an RS256 signature relabelled PS256 fails",
			relabel(t, sign(t, k.rsa, RS256, ""), PS256), k.rsa.Public(), "does not verify"},
		{"RFC 7518 §3.1: an RSA signature relabelled HS256 does not fit the RSA key",
			relabel(t, sign(t, k.rsa, RS256, ""), HS256), k.rsa.Public(), "does not fit"},
		{"RFC 7518 §3.4: an ES256 signature of the wrong length fails",
			sign(t, k.ec256, ES256, "")[:len(sign(t, k.ec256, ES256, ""))-4], k.ec256.Public(), "R||S"},
		{"a changed payload fails", swapPayload(t, sign(t, k.ec256, ES256, "")), k.ec256.Public(), "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Parse(tt.jws)
			require.NoError(t, err)
			err = j.Verify(tt.key)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				assert.JSONEq(t, `{"sub":"alice"}`, string(j.Payload))
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func relabel(t *testing.T, jws, alg string) string {
	t.Helper()
	_, rest, _ := strings.Cut(jws, ".")
	return b64.EncodeToString([]byte(`{"alg":"`+alg+`"}`)) + "." + rest
}

func swapPayload(t *testing.T, jws string) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	parts[1] = b64.EncodeToString([]byte(`{"sub":"mallory"}`))
	return strings.Join(parts, ".")
}

func TestVerifyHMAC(t *testing.T) {
	input := b64.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + b64.EncodeToString([]byte(`{"sub":"alice"}`))
	// RFC 7518 §3.2 with a known key, computed with crypto/hmac in the
	// test's own words.
	mac := hmacSHA256([]byte("a client secret of some length"), input)
	j, err := Parse(input + "." + b64.EncodeToString(mac))
	require.NoError(t, err)
	assert.NoError(t, j.VerifyHMAC([]byte("a client secret of some length")), "the right secret verifies")
	assert.ErrorContains(t, j.VerifyHMAC([]byte("another secret")), "does not verify", "another secret fails")
	k := newTestKeys(t)
	j, err = Parse(sign(t, k.rsa, RS256, ""))
	require.NoError(t, err)
	assert.ErrorContains(t, j.VerifyHMAC([]byte("x")), "not HS256", "an RS256 token is not checked as HMAC")
}

func TestParseRefuses(t *testing.T) {
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }
	payload := enc(`{"sub":"alice"}`)
	tests := []struct {
		name, jws, want string
	}{
		{"RFC 7518 §3.6: alg none is refused", enc(`{"alg":"none"}`) + "." + payload + ".", "alg none"},
		{"RFC 7518 §3.6: alg none is refused even with a signature", enc(`{"alg":"none"}`) + "." + payload + ".c2ln", "alg none"},
		{"RFC 7515 §4.1.1: no alg", enc(`{"kid":"1"}`) + "." + payload + ".c2ln", "no alg"},
		{"RFC 7515 §4.1.11: crit is not understood", enc(`{"alg":"RS256","crit":["b64"],"b64":false}`) + "." + payload + ".c2ln", "crit"},
		{"RFC 7515 §7.1: two parts", enc(`{"alg":"RS256"}`) + "." + payload, "three parts"},
		{"RFC 7516 §7.1: a JWE of five parts", "a.b.c.d.e", "three parts"},
		{"RFC 7515 §2: padded base64url", enc(`{"alg":"RS256"}`) + "=." + payload + ".c2ln", "base64url"},
		{"RFC 7515 §4: header is an array", enc(`["alg"]`) + "." + payload + ".c2ln", "JSON object"},
		{"RFC 7515 §4.1.1: alg is a number", enc(`{"alg":256}`) + "." + payload + ".c2ln", "JSON object"},
		{"an empty signature", enc(`{"alg":"RS256"}`) + "." + payload + ".", "signature is empty"},
		{"longer than 64 KiB", enc(`{"alg":"RS256"}`) + "." + strings.Repeat("A", 64<<10) + ".c2ln", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.jws)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestParseSet(t *testing.T) {
	k := newTestKeys(t)
	pub := func(key crypto.PublicKey, extra string) string {
		b, err := PublicJWK(key)
		require.NoError(t, err)
		return strings.TrimSuffix(string(b), "}") + extra + "}"
	}
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	set := `{"keys":[` + strings.Join([]string{
		pub(k.rsa.Public(), `,"kid":"r1","use":"sig","alg":"RS256"`),
		pub(k.ec256.Public(), `,"kid":"e1"`),
		pub(k.ed.Public(), `,"kid":"d1"`),
		pub(k.otherRSA.Public(), `,"kid":"enc","use":"enc"`),
		pub(smallRSA.Public(), `,"kid":"small"`),
		`{"kty":"oct","k":"c2VjcmV0","kid":"sym"}`,
		`{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"bad-point"}`,
		`{"kty":"EC","crv":"secp256k1","x":"AAAA","y":"AAAA","kid":"other-curve"}`,
		pub(k.otherEC256.Public(), `,"kid":"private","d":"AAAA"`),
		`"not an object"`,
	}, ",") + `]}`
	keys, err := ParseSet([]byte(set))
	require.NoError(t, err)
	var ids []string
	for _, key := range keys {
		ids = append(ids, key.ID)
	}
	assert.Equal(t, []string{"r1", "e1", "d1"}, ids, "RFC 7517 §4.2, RFC 7518 §3.3: only public signing keys the package can use are kept")
	assert.True(t, keys[0].CanVerify(RS256, "r1"), "the key fits its alg and kid")
	assert.False(t, keys[0].CanVerify(PS256, "r1"), "RFC 7517 §4.4: a key with alg RS256 is not used for PS256")
	assert.False(t, keys[0].CanVerify(RS256, "e1"), "RFC 7515 §4.1.4: another kid names another key")
	assert.True(t, keys[1].CanVerify(ES256, ""), "no kid: any fitting key may be tried")

	for _, bad := range []string{``, `[]`, `{"keys":{}}`, `{}`, `null`} {
		_, err := ParseSet([]byte(bad))
		assert.Error(t, err, "RFC 7517 §5: %q is not a JWK Set", bad)
	}
}

func FuzzParse(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := NewSigner(key, ES256)
	good, _ := s.Sign([]byte(`{"alg":"ES256","kid":"k"}`), []byte(`{"iss":"https://as.example","sub":"a"}`))
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)
		if err != nil {
			return
		}
		if j.Alg == "" || j.Alg == "none" {
			t.Fatalf("Parse accepted alg %q", j.Alg)
		}
		// Verifying must end in an answer, never a panic; only the
		// signature made by the key verifies with it.
		if j.Verify(key.Public()) == nil && j.input != good[:strings.LastIndexByte(good, '.')] {
			t.Fatalf("a JWS the key did not sign verified: %q", s)
		}
		_ = j.VerifyHMAC([]byte("k"))
	})
}

func FuzzParseSet(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := PublicJWK(key.Public())
	f.Add([]byte(`{"keys":[` + string(jwk) + `]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-521","x":"","y":""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ParseSet(b)
		if err != nil {
			return
		}
		for _, k := range keys {
			if k.Public == nil {
				t.Fatal("a key without a public key")
			}
			if _, err := PublicJWK(k.Public); err != nil {
				t.Fatalf("a kept key does not encode: %v", err)
			}
		}
	})
}

func hmacSHA256(key []byte, input string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return m.Sum(nil)
}
