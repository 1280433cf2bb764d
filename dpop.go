package pkce

import (
	"crypto"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkcekit/pkce/internal/jose"
)

// DPoP (RFC 9449): tokens bound to a key the client holds. Every request
// that obtains or uses such a token carries a proof, a JWT signed with the
// key, naming the request's method and URL (and, at resources, the
// token's hash).

// tokenTypeDPoP is the token_type of DPoP-bound tokens (RFC 9449 §5).
const tokenTypeDPoP = "DPoP"

// maxNonceOrigins bounds the nonces kept, one per origin.
const maxNonceOrigins = 64

// maxNonceLength bounds a DPoP-Nonce the client keeps and repeats.
const maxNonceLength = 1024

// WithDPoP binds the client's tokens to key with DPoP (RFC 9449). Token
// requests (code exchange and refresh) and pushed authorization requests
// carry a proof signed with key, the authorization request carries the
// key's thumbprint as dpop_jkt (RFC 9449 §10) so that the code is bound
// to it, and TokenSource.Client sends DPoP tokens with a fresh proof per
// request (RFC 9449 §7.1).
//
// key is an ECDSA P-256 key (ES256, the usual choice: generate one with
// ecdsa.GenerateKey(elliptic.P256(), rand.Reader)), Ed25519 (EdDSA) or
// RSA (PS256). Keep it with the tokens and give the same key again after
// a restart: refresh tokens of public clients are bound to it
// (RFC 9449 §5), so a new key means signing in again. The metadata's
// dpop_signing_alg_values_supported, when present, must list the key's
// algorithm.
//
// When a server asks for a nonce, with a use_dpop_nonce error and a
// DPoP-Nonce header, the request is sent once more with the nonce
// (RFC 9449 §8, §9); the latest nonce of each origin is kept from any
// response and used in later proofs. A server that ignores DPoP may answer
// with a Bearer token, which is then used as a Bearer token; to refuse
// that, add WithDPoPRequired. The key never appears in an error or in the
// output of %v.
func WithDPoP(key crypto.Signer) Option {
	return func(c *Client) error {
		if key == nil {
			return configErrorf("WithDPoP was given a nil key")
		}
		if _, err := jose.DefaultAlg(key.Public()); err != nil {
			return configErrorf("WithDPoP: %v", err)
		}
		c.dpopKey = key
		return nil
	}
}

// WithDPoPRequired makes a token response with any token_type other than
// DPoP an error (*ResponseError matching ErrInvalidResponse): the server
// ignored the proof and issued a token anyone holding it can use. It
// needs WithDPoP.
func WithDPoPRequired() Option {
	return func(c *Client) error {
		c.dpopRequired = true
		return nil
	}
}

// prepareDPoP makes the prover once New knows the metadata.
func (c *Client) prepareDPoP() error {
	if c.dpopKey == nil {
		if c.dpopRequired {
			return configErrorf("WithDPoPRequired needs a DPoP key: add WithDPoP")
		}
		return nil
	}
	signer, err := jose.NewSigner(c.dpopKey, "")
	if err != nil {
		return configErrorf("WithDPoP: %v", err)
	}
	if md := c.metadata; md != nil && len(md.DPoPSigningAlgValuesSupported) > 0 && !slices.Contains(md.DPoPSigningAlgValuesSupported, signer.Alg()) {
		return configErrorf("the DPoP key signs with %s, which the server's dpop_signing_alg_values_supported %q lacks (RFC 9449 §5.1)", signer.Alg(), clipAll(md.DPoPSigningAlgValuesSupported))
	}
	p, err := newDPoPProver(signer, c.now)
	if err != nil {
		return configErrorf("WithDPoP: %v", err)
	}
	c.dpop = p
	return nil
}

// A dpopProver makes DPoP proofs with one key and keeps the servers'
// nonces. A Client and its TokenSources share one.
type dpopProver struct {
	signer *jose.Signer
	header []byte // the protected header, the same for every proof
	jkt    string // the key's RFC 7638 thumbprint (RFC 9449 §6.1)
	now    func() time.Time

	mu     sync.Mutex
	nonces map[string]string // origin -> latest DPoP-Nonce
}

func newDPoPProver(signer *jose.Signer, now func() time.Time) (*dpopProver, error) {
	jkt, err := jose.Thumbprint(signer.Public())
	if err != nil {
		return nil, err
	}
	var h jose.Object
	h.String("typ", "dpop+jwt")
	h.String("alg", signer.Alg())
	h.Raw("jwk", signer.JWK()) // the public key only (RFC 9449 §4.2)
	return &dpopProver{signer: signer, header: h.Bytes(), jkt: jkt, now: now, nonces: map[string]string{}}, nil
}

// proof returns a fresh proof for a request with method to target
// (RFC 9449 §4.2): htm, htu without query and fragment, iat, a random
// jti, the origin's latest nonce if any and, with an access token, ath.
func (p *dpopProver) proof(method string, target *url.URL, accessToken string) (string, error) {
	origin := originOf(target)
	htu := origin + target.EscapedPath()
	nonce := p.nonce(origin)
	var c jose.Object
	c.Grow(96 + len(htu) + len(nonce))
	c.String("htm", method)
	c.String("htu", htu)
	c.Int("iat", p.now().Unix())
	c.String("jti", newJTI())
	if nonce != "" {
		c.String("nonce", nonce)
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c.String("ath", b64.EncodeToString(sum[:])) // RFC 9449 §4.2
	}
	jws, err := p.signer.Sign(p.header, c.Bytes())
	if err != nil {
		return "", fmt.Errorf("pkce: the DPoP proof could not be signed: %w", err)
	}
	return jws, nil
}

func (p *dpopProver) nonce(origin string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nonces[origin]
}

// remember keeps the DPoP-Nonce of a response from origin, if it has a
// valid one (RFC 9449 §8.1), and reports whether it had.
func (p *dpopProver) remember(origin string, h http.Header) bool {
	nonce, ok := parseNonce(h)
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, known := p.nonces[origin]; !known && len(p.nonces) >= maxNonceOrigins {
		clear(p.nonces) // nonces are cheap to get again
	}
	p.nonces[origin] = nonce
	return true
}

// parseNonce returns the DPoP-Nonce header of h when there is exactly one
// and it is a valid nonce: 1*NQCHAR (RFC 9449 §8.1), here at most
// maxNonceLength long.
func parseNonce(h http.Header) (string, bool) {
	vs := h.Values("DPoP-Nonce")
	if len(vs) != 1 {
		return "", false
	}
	n := vs[0]
	if n == "" || len(n) > maxNonceLength {
		return "", false
	}
	for i := 0; i < len(n); i++ {
		// NQCHAR = %x21 / %x23-5B / %x5D-7E
		if c := n[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return n, true
}

// originOf returns scheme://host[:port] of u in lower case, the key of
// the nonce store and the start of htu (RFC 9449 §4.3 compares htu
// without query and fragment).
func originOf(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// describe prints the prover without its key.
func (p *dpopProver) describe() string {
	return fmt.Sprintf("dpop key{alg: %s, jkt: %s, private key: redacted}", p.signer.Alg(), p.jkt)
}

// Format prints the prover without its key for every verb.
func (p *dpopProver) Format(f fmt.State, _ rune) { fmt.Fprint(f, p.describe()) }

// asksForNonce reports whether an authorization server's answer asks for
// a DPoP nonce: 400 with error use_dpop_nonce and a valid DPoP-Nonce
// header (RFC 9449 §8).
func asksForNonce(status int, h http.Header, body []byte) bool {
	if status != http.StatusBadRequest {
		return false
	}
	if _, ok := parseNonce(h); !ok {
		return false
	}
	m, problem := decodeObject(body)
	return problem == "" && m["error"] == "use_dpop_nonce"
}
