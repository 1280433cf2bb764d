package pkce

import (
	"fmt"
	"slices"

	"github.com/pkcekit/pkce/internal/jose"
)

// fapi2Algs are the JWS algorithms the FAPI 2.0 Security Profile allows
// (§5.4.1): RS256 and the rest are refused.
var fapi2Algs = []string{jose.PS256, jose.ES256, jose.EdDSA}

// WithFAPI2 holds the client to what the FAPI 2.0 Security Profile
// requires of clients (OpenID FAPI 2.0 Security Profile, Final) and
// refuses what it forbids. New then fails with ErrInvalidConfig, naming
// the clause, unless the client has:
//
//   - private_key_jwt client authentication, with a key from
//     WithClientKey and no ClientSecret (§5.3.2.1; mutual TLS, the other
//     choice, is not supported by this package), its assertions' aud the
//     issuer identifier alone (§5.3.2.1);
//   - DPoP sender-constrained tokens, with a key from WithDPoP (§5.3.2.1);
//     a token that is not DPoP-bound is refused as with WithDPoPRequired;
//   - the server's metadata (WithMetadata or NewFromIssuer) with a
//     pushed_authorization_request_endpoint: every authorization request
//     is pushed (§5.3.2.2);
//   - keys that sign with PS256, ES256 or EdDSA only (§5.4.1).
//
// PKCE with S256 (§5.3.2.2) is what the package always does, and the iss
// parameter of RFC 9207 is required on every callback (§5.3.2.2), as with
// WithIssuer.
func WithFAPI2() Option {
	return func(c *Client) error {
		c.fapi2 = true
		return nil
	}
}

func fapiErrorf(clause, format string, args ...any) error {
	return configErrorf("FAPI 2.0 Security Profile %s: %s", clause, fmt.Sprintf(format, args...))
}

// requireFAPI2 checks, before the metadata is applied, what the options
// alone decide, and turns on the behaviour the profile requires.
func (c *Client) requireFAPI2() error {
	if !c.fapi2 {
		return nil
	}
	switch {
	case c.config.ClientSecret != "":
		return fapiErrorf("§5.3.2.1", "a client secret is not allowed; clients authenticate with private_key_jwt (WithClientKey) or mutual TLS")
	case c.clientKey == nil:
		return fapiErrorf("§5.3.2.1", "the client must authenticate with private_key_jwt: add WithClientKey")
	case c.clientKey.tokenEndpointAudience:
		return fapiErrorf("§5.3.2.1", "the assertion's aud must be the issuer identifier alone, not the token endpoint (tolerate.TokenEndpointAudience)")
	case c.authMethod != "" && c.authMethod != AuthPrivateKeyJWT:
		return fapiErrorf("§5.3.2.1", "client authentication %s is not allowed; use private_key_jwt", c.authMethod)
	case c.dpopKey == nil:
		return fapiErrorf("§5.3.2.1", "access tokens must be sender-constrained; add WithDPoP (mutual TLS is not supported)")
	case c.metadata == nil:
		return fapiErrorf("§5.3.2.2", "authorization requests must be pushed (PAR), which needs the server's metadata: use NewFromIssuer or WithMetadata")
	}
	c.authMethod = AuthPrivateKeyJWT
	c.pushAuthorization = true
	c.dpopRequired = true
	return nil
}

// checkFAPI2 checks, once the algorithms are chosen, what depends on
// them and on the metadata.
func (c *Client) checkFAPI2() error {
	if !c.fapi2 {
		return nil
	}
	if alg := c.clientKey.signer.Alg(); !slices.Contains(fapi2Algs, alg) {
		return fapiErrorf("§5.4.1", "the client key signs with %s; only PS256, ES256 and EdDSA are allowed", alg)
	}
	if alg := c.dpop.signer.Alg(); !slices.Contains(fapi2Algs, alg) {
		return fapiErrorf("§5.4.1", "the DPoP key signs with %s; only PS256, ES256 and EdDSA are allowed", alg)
	}
	// The callback's iss is required whatever the metadata says.
	c.issOptional = false
	return nil
}
