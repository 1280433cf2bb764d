package pkcetest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

// proofKey signs DPoP proofs by hand, so that each rule can be broken on
// its own.
type proofKey struct{ *ecdsa.PrivateKey }

func (k proofKey) jwk() map[string]any {
	point, _ := k.PublicKey.Bytes() // 0x04 || x || y
	return map[string]any{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(point[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(point[33:])}
}

func (k proofKey) sign(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	d := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.PrivateKey, d[:])
	require.NoError(t, err)
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestDPoPProofRules(t *testing.T) {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key := proofKey{raw}
	for _, tc := range []struct {
		name  string
		edit  func(h, c map[string]any)
		proof func(string) string
		code  string
	}{
		{name: "a valid proof binds the token", code: ""},
		{name: "typ must be dpop+jwt", edit: func(h, _ map[string]any) { h["typ"] = "JWT" }, code: "invalid_dpop_proof"},
		{name: "alg none is refused", edit: func(h, _ map[string]any) { h["alg"] = "none" }, code: "invalid_dpop_proof"},
		{name: "a private key in jwk is refused", edit: func(h, _ map[string]any) {
			d, _ := raw.Bytes()
			h["jwk"].(map[string]any)["d"] = base64.RawURLEncoding.EncodeToString(d)
		}, code: "invalid_dpop_proof"},
		{name: "htm must be the method", edit: func(_, c map[string]any) { c["htm"] = "GET" }, code: "invalid_dpop_proof"},
		{name: "htu must be the URL without query", edit: func(_, c map[string]any) { c["htu"] = c["htu"].(string) + "?x=1" }, code: "invalid_dpop_proof"},
		{name: "iat must be recent", edit: func(_, c map[string]any) { c["iat"] = time.Now().Add(-time.Hour).Unix() }, code: "invalid_dpop_proof"},
		{name: "jti is required", edit: func(_, c map[string]any) { delete(c, "jti") }, code: "invalid_dpop_proof"},
		{name: "the signature must verify", proof: func(p string) string { return p[:len(p)-4] + "AAAA" }, code: "invalid_dpop_proof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, pkcetest.Config{DPoP: true, Clients: []pkcetest.Client{publicClient}})
			v := newVerifier()
			header := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}
			claims := map[string]any{"htm": "POST", "htu": h.srv.TokenURL(), "iat": time.Now().Unix(), "jti": base64.RawURLEncoding.EncodeToString([]byte(tc.name))}
			if tc.edit != nil {
				tc.edit(header, claims)
			}
			proof := key.sign(t, header, claims)
			if tc.proof != nil {
				proof = tc.proof(proof)
			}
			res := h.postTo(h.srv.TokenURL(), withClientID(codeForm(h.code(authParams(publicClient, v)), publicClient.RedirectURIs[0], v)),
				func(r *http.Request) { r.Header.Set("DPoP", proof) })
			if tc.code == "" {
				require.Equal(t, http.StatusOK, res.status, res.raw)
				assert.Equal(t, "DPoP", res.str("token_type"))
				return
			}
			assertTokenError(t, res, http.StatusBadRequest, tc.code)
		})
	}
}

func withClientID(form url.Values) url.Values {
	form.Set("client_id", publicClient.ID)
	return form
}

func TestDPoPNonceIsRequired(t *testing.T) {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key := proofKey{raw}
	h := start(t, pkcetest.Config{DPoP: true, DPoPNonce: true, Clients: []pkcetest.Client{publicClient}})
	v := newVerifier()
	form := withClientID(codeForm(h.code(authParams(publicClient, v)), publicClient.RedirectURIs[0], v))
	send := func(jti string, nonce any) tokenResult {
		claims := map[string]any{"htm": "POST", "htu": h.srv.TokenURL(), "iat": time.Now().Unix(), "jti": jti}
		if nonce != nil {
			claims["nonce"] = nonce
		}
		proof := key.sign(t, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}, claims)
		return h.postTo(h.srv.TokenURL(), form, func(r *http.Request) { r.Header.Set("DPoP", proof) })
	}
	first := send("j1", nil)
	assertTokenError(t, first, http.StatusBadRequest, "use_dpop_nonce")
	nonce := first.header.Get("DPoP-Nonce")
	require.NotEmpty(t, nonce, "RFC 9449 §8: the error carries the nonce")
	second := send("j2", nonce)
	require.Equal(t, http.StatusOK, second.status, "the code survives a use_dpop_nonce refusal: %s", second.raw)
	assert.Equal(t, 1, h.srv.DPoPNonceRefusals())
	replay := send("j2", nonce)
	assert.Equal(t, http.StatusBadRequest, replay.status, "a replayed jti is refused")
}
