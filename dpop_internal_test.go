package pkce

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/internal/jose"
)

func TestAsksResourceNonce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		nonce  string
		want   bool
	}{
		{"a DPoP challenge with error use_dpop_nonce and a nonce (RFC 9449 §9)", []string{`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`}, "n", true},
		{"the DPoP challenge second in one value (RFC 9110 §11.6.1)", []string{`Bearer realm="api", DPoP algs="ES256 PS256", error=use_dpop_nonce`}, "n", true},
		{"challenges in separate values, scheme in any case", []string{`Basic`, `dpop error="use_dpop_nonce"`}, "n", true},
		{"another DPoP error", []string{`Negotiate abc==, DPoP error="x"`}, "n", false},
		{"no DPoP-Nonce header", []string{`DPoP error="use_dpop_nonce"`}, "", false},
		{"a Bearer challenge with that error", []string{`Bearer error="use_dpop_nonce"`}, "n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Www-Authenticate": tc.values}
			if tc.nonce != "" {
				h.Set("Dpop-Nonce", tc.nonce)
			}
			assert.Equal(t, tc.want, asksResourceNonce(h))
		})
	}
}

func TestParseNonce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		ok     bool
	}{
		{"NQCHARs (RFC 9449 §8.1)", []string{"eyJ7S_zG.9-4x~!#$"}, true},
		{"empty", []string{""}, false},
		{"a space", []string{"a b"}, false},
		{"a quote", []string{`a"b`}, false},
		{"a backslash", []string{`a\b`}, false},
		{"non-ASCII", []string{"nonceé"}, false},
		{"two headers", []string{"a", "b"}, false},
		{"too long", []string{strings.Repeat("a", maxNonceLength+1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Dpop-Nonce": tc.values}
			_, ok := parseNonce(h)
			assert.Equal(t, tc.ok, ok)
		})
	}
}

func TestProofMatchesRFC9449Example(t *testing.T) {
	// RFC 9449 §7.1: the ath of the example access token.
	const accessToken, ath = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	signer, err := jose.NewSigner(key, "")
	require.NoError(t, err)
	p, err := newDPoPProver(signer, func() time.Time { return time.Unix(1562262616, 0) })
	require.NoError(t, err)
	u, _ := url.Parse("https://Resource.Example.org/protectedresource?x=1#f")
	p.remember("https://resource.example.org", http.Header{"Dpop-Nonce": {"eyJ7S_zG.eyJH0-Z.HX4w-7v"}})
	proof, err := p.proof(http.MethodGet, u, accessToken)
	require.NoError(t, err)
	parts := strings.Split(proof, ".")
	require.Len(t, parts, 3)
	header, _ := b64.DecodeString(parts[0])
	claims, _ := b64.DecodeString(parts[1])
	assert.JSONEq(t, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+string(signer.JWK())+`}`, string(header))
	assert.Contains(t, string(claims), `"htm":"GET","htu":"https://resource.example.org/protectedresource","iat":1562262616`)
	assert.Contains(t, string(claims), `"nonce":"eyJ7S_zG.eyJH0-Z.HX4w-7v","ath":"`+ath+`"`)
	assert.NotContains(t, string(header), `"d"`, "the public key only (RFC 9449 §4.2)")
}

// FuzzDPoPNonce feeds DPoP-Nonce headers and authorization server error
// bodies: a kept nonce is always 1*NQCHAR, so a proof never carries a
// value that breaks its JSON or the header syntax.
func FuzzDPoPNonce(f *testing.F) {
	f.Add("eyJ7S_zG.eyJH0-Z.HX4w-7v", `{"error":"use_dpop_nonce"}`)
	f.Add("a\"b", `{"error":"use_dpop_nonce","error_description":"x"}`)
	f.Add("", `<html>`)
	f.Fuzz(func(t *testing.T, nonce, body string) {
		h := http.Header{"Dpop-Nonce": {nonce}}
		if n, ok := parseNonce(h); ok {
			for i := 0; i < len(n); i++ {
				if c := n[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
					t.Fatalf("kept a nonce with %q", c)
				}
			}
		}
		asksForNonce(http.StatusBadRequest, h, []byte(body))
	})
}

// The benchmarks put a DPoP proof and a client assertion beside the bare
// ECDSA P-256 signature they contain, in the same run:
//
//	go test -run '^$' -bench 'Proof|Assertion|ECDSA' -benchmem
func benchKey(b *testing.B) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return key
}

func BenchmarkECDSASignASN1(b *testing.B) {
	key := benchKey(b)
	digest := sha256.Sum256([]byte("eyJ0eXAiOiJkcG9wK2p3dCJ9.eyJodG0iOiJQT1NUIn0"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDPoPProof(b *testing.B) {
	signer, err := jose.NewSigner(benchKey(b), "")
	if err != nil {
		b.Fatal(err)
	}
	p, err := newDPoPProver(signer, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse("https://api.example/resource")
	p.remember(originOf(u), http.Header{"Dpop-Nonce": {"eyJ7S_zG.eyJH0-Z.HX4w-7v"}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.proof(http.MethodGet, u, "access-token-access-token"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientAssertion(b *testing.B) {
	k := &clientKey{key: benchKey(b)}
	if err := k.prepare(nil, "https://as.example", "https://as.example/token"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.assertion("my-client", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
