package pkce

import (
	"crypto"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/pkcekit/pkce/internal/jose"
)

// private_key_jwt: the client authenticates with a JWT it signs with its
// own key (RFC 7523 §2.2, OpenID Connect Core §9), a fresh one for every
// request to the token, PAR and revocation endpoints.

// assertionLifetime is how long a client assertion is valid: long enough
// for clock skew between client and server, short enough that a captured
// one is useless soon after (RFC 7523 §3 item 4).
const assertionLifetime = 60 * time.Second

// assertionType is the client_assertion_type of a JWT (RFC 7523 §2.2).
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// A clientKey is the key of WithClientKey.
type clientKey struct {
	key    crypto.Signer
	keyID  string
	alg    string // as given; "" lets the key type and the metadata choose
	signer *jose.Signer
	// tokenEndpointAudience is tolerate.TokenEndpointAudience.
	tokenEndpointAudience bool
	// audience is the aud of every assertion: the issuer identifier, or
	// the token endpoint when no issuer is known.
	audience string
}

// WithClientKey gives the client's private key for private_key_jwt
// client authentication (RFC 7523 §2.2). The client then signs a fresh
// assertion for every request that authenticates it: the code exchange,
// refresh, pushed authorization and revocation. Register the public key
// with the authorization server (usually as a JWKS) under keyID, which is
// sent as the kid header; keyID may be empty when the server holds one
// key for the client.
//
// alg is the JWS algorithm: ES256 for a P-256 key (ES384, ES512 for P-384
// and P-521), EdDSA for Ed25519, PS256 or RS256 for RSA keys of 2048 bits
// or more. With "", the key decides and, for RSA keys, the metadata's
// token_endpoint_auth_signing_alg_values_supported does: PS256 unless the
// server lists only RS256. Use RS256 only for servers that support nothing
// else.
//
// Each assertion has iss and sub set to the client ID, a random jti, iat,
// and an exp 60 seconds later. Its aud is the authorization server's
// issuer identifier, one string, as RFC 7523bis and FAPI 2.0 require; only
// when no issuer is known (no WithIssuer, no metadata) is it the token
// endpoint URL, as RFC 7523 §3 allowed, which some servers refuse.
//
// With a key and no ClientSecret, the authentication method is
// AuthPrivateKeyJWT; with metadata, the server must list private_key_jwt
// in token_endpoint_auth_methods_supported. A key and a secret together
// are refused. The key never appears in an error or in the output of %v.
func WithClientKey(key crypto.Signer, keyID, alg string) Option {
	return func(c *Client) error {
		if key == nil {
			return configErrorf("WithClientKey was given a nil key")
		}
		if _, err := jose.DefaultAlg(key.Public()); err != nil {
			return configErrorf("WithClientKey: %v", err)
		}
		c.clientKey = &clientKey{key: key, keyID: keyID, alg: alg}
		return nil
	}
}

// prepare chooses the algorithm and the audience once New knows the
// metadata and the issuer.
func (k *clientKey) prepare(md *Metadata, issuer, tokenURL string) error {
	alg := k.alg
	var supported []string
	if md != nil {
		supported = md.TokenEndpointAuthSigningAlgValuesSupported
	}
	if alg == "" {
		def, _ := jose.DefaultAlg(k.key.Public()) // checked by WithClientKey
		alg = def
		if alg == jose.PS256 && len(supported) > 0 && !slices.Contains(supported, jose.PS256) && slices.Contains(supported, jose.RS256) {
			alg = jose.RS256
		}
	}
	if len(supported) > 0 && !slices.Contains(supported, alg) {
		return configErrorf("the client key signs with %s, which the server's token_endpoint_auth_signing_alg_values_supported %q lacks (RFC 8414 §2)", alg, clipAll(supported))
	}
	signer, err := jose.NewSigner(k.key, alg)
	if err != nil {
		return configErrorf("WithClientKey: %v", err)
	}
	k.signer = signer
	k.audience = issuer
	if k.audience == "" || k.tokenEndpointAudience {
		k.audience = tokenURL
	}
	return nil
}

// withTokenEndpointAudience is tolerate.TokenEndpointAudience; its doc says what it tolerates.
func withTokenEndpointAudience() Option {
	return func(c *Client) error {
		if c.clientKey == nil {
			return configErrorf("tolerate.TokenEndpointAudience needs WithClientKey before it")
		}
		c.clientKey.tokenEndpointAudience = true
		return nil
	}
}

// assertion returns a fresh client assertion for clientID (RFC 7523 §3).
func (k *clientKey) assertion(clientID string, now time.Time) (string, error) {
	var h jose.Object
	h.String("alg", k.signer.Alg())
	if k.keyID != "" {
		h.String("kid", k.keyID)
	}
	var p jose.Object
	p.Grow(96 + 2*len(clientID) + len(k.audience))
	p.String("iss", clientID)
	p.String("sub", clientID)
	p.String("aud", k.audience)
	p.String("jti", newJTI())
	p.Int("iat", now.Unix())
	p.Int("exp", now.Add(assertionLifetime).Unix())
	jws, err := k.signer.Sign(h.Bytes(), p.Bytes())
	if err != nil {
		return "", fmt.Errorf("pkce: the client assertion could not be signed: %w", err)
	}
	return jws, nil
}

// newJTI returns 128 random bits, base64url encoded, for jti claims
// (RFC 7519 §4.1.7, RFC 9449 §4.2).
func newJTI() string {
	var raw [16]byte
	rand.Read(raw[:])
	return b64.EncodeToString(raw[:])
}

// describe prints the key without its private part.
func (k *clientKey) describe() string {
	alg := k.alg
	if k.signer != nil {
		alg = k.signer.Alg()
	}
	return fmt.Sprintf("client key{kid: %q, alg: %s, private key: redacted}", k.keyID, alg)
}

// Format prints the key without its private part for every verb.
func (k *clientKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.describe()) }

// LogValue implements slog.LogValuer without the private key.
func (k *clientKey) LogValue() slog.Value { return slog.StringValue(k.describe()) }
