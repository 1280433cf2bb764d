package pkcetest

import (
	"crypto"
	"fmt"
	"maps"
	"strings"
	"time"
)

// TestUser is the subject the server authenticates, without asking for a
// password, for every authorization request.
const TestUser = "test-user"

// Default lifetimes used when Config leaves them zero.
const (
	DefaultAccessTokenLifetime = time.Hour
	DefaultCodeLifetime        = time.Minute
	DefaultRequestURILifetime  = time.Minute
)

// AuthMethod is a client authentication method at the token endpoint, named
// as in the OAuth dynamic client registration registry (RFC 7591 §2).
type AuthMethod string

// The client authentication methods the server supports.
const (
	// MethodBasic is HTTP Basic authentication with the form-urlencoded
	// client_id and client_secret (RFC 6749 §2.3.1).
	MethodBasic AuthMethod = "client_secret_basic"
	// MethodPost is client_id and client_secret in the request body
	// (RFC 6749 §2.3.1).
	MethodPost AuthMethod = "client_secret_post"
	// MethodNone is a public client that sends only its client_id
	// (RFC 6749 §2.1, §3.2.1).
	MethodNone AuthMethod = "none"
	// MethodPrivateKeyJWT is a JWT signed with the client's private key,
	// checked with Client.Key (RFC 7523 §2.2).
	MethodPrivateKeyJWT AuthMethod = "private_key_jwt"
)

// Client is a registered client (RFC 6749 §2).
type Client struct {
	// ID is the client identifier (RFC 6749 §2.2).
	ID string
	// Secret is the client secret; it must be empty for MethodNone and
	// MethodPrivateKeyJWT.
	Secret string
	// Key is the public key of a MethodPrivateKeyJWT client: an
	// *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey. Its
	// assertions must verify with it.
	Key crypto.PublicKey
	// Method is the only authentication method the client may use at the
	// token, revocation and pushed authorization request endpoints.
	Method AuthMethod
	// RedirectURIs are the registered redirection endpoints. A redirect_uri
	// matches one of them by exact string comparison (RFC 6749 §3.1.2.3),
	// except that a loopback redirect (http://127.0.0.1:PORT/path or
	// http://[::1]:PORT/path) matches whatever its port (RFC 8252 §7.3).
	RedirectURIs []string
}

// Config configures a Server. The zero value is a server without clients,
// which refuses every request.
type Config struct {
	// Clients are the registered clients.
	Clients []Client
	// PathPrefix is put before every endpoint path, e.g. "/acme/oauth2/v1",
	// as multi-tenant providers do. The issuer identifier is the server's
	// URL followed by PathPrefix.
	PathPrefix string
	// SendIssuer adds the RFC 9207 iss parameter to every authorization
	// response, success and error alike, in both response modes (RFC 9207
	// §2), and advertises authorization_response_iss_parameter_supported
	// (RFC 9207 §3). Without it the server behaves like one that predates
	// RFC 9207. Faults.OmitIssuer and Faults.IssuerOverride break the
	// parameter on purpose.
	SendIssuer bool
	// Consent makes the authorization endpoint show a page with Approve
	// and Deny buttons instead of approving at once. A Browser walks
	// through it.
	Consent bool
	// Rotate makes the refresh grant return a new refresh token and
	// invalidate the one presented; presenting an invalidated one again
	// then revokes the whole grant (RFC 6749 §6, RFC 9700 §4.14.2).
	Rotate bool
	// RequirePAR makes the authorization endpoint refuse requests that were
	// not pushed (RFC 9126 §5) and advertises
	// require_pushed_authorization_requests.
	RequirePAR bool
	// AuthMethodsSupported is advertised in the metadata as
	// token_endpoint_auth_methods_supported and
	// revocation_endpoint_auth_methods_supported. Nil advertises the
	// methods of the registered clients. It does not change what the
	// endpoints accept: each client must still use the method it
	// registered. Faults.MetadataOmitAuthMethods leaves both members out.
	AuthMethodsSupported []AuthMethod

	// DPoP makes the server accept DPoP proofs (RFC 9449) at the token and
	// PAR endpoints and the resource, issue DPoP-bound tokens (token_type
	// DPoP) to token requests that carry one, honour dpop_jkt, and
	// advertise dpop_signing_alg_values_supported. Without a proof a
	// token request still gets a Bearer token.
	DPoP bool
	// DPoPNonce makes the server require its nonce in every DPoP proof
	// (RFC 9449 §8, §9): a proof without the current nonce gets
	// use_dpop_nonce, and every answer of the token and PAR endpoints and
	// the resource carries the nonce in a DPoP-Nonce header.
	// RotateDPoPNonce changes it.
	DPoPNonce bool

	// AssertionIssuers are the issuers whose JWTs the server trusts, by
	// issuer identifier, with the public key their signatures verify
	// with: assertions of the JWT bearer grant (RFC 7523 §3), such as a
	// workload's identity token or an identity assertion grant of another
	// Server (its Issuer and AssertionKey), and the ID tokens exchanged by
	// token exchange (RFC 8693), whose aud must be the requesting client.
	// The server also trusts the JWTs it signs itself (SignAssertion).
	AssertionIssuers map[string]crypto.PublicKey

	// IDTokenAlg is the algorithm of ID tokens: RS256 (the default),
	// ES256 or EdDSA. RotateSigningKey changes the key.
	IDTokenAlg string

	// AccessTokenLifetime is how long access tokens are valid; zero means
	// DefaultAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// CodeLifetime is how long authorization codes, and consent pages, are
	// valid; zero means DefaultCodeLifetime.
	CodeLifetime time.Duration
	// RequestURILifetime is how long a pushed request_uri can be used; zero
	// means DefaultRequestURILifetime (RFC 9126 §2.2).
	RequestURILifetime time.Duration
}

// withDefaults returns cfg with zero lifetimes replaced by the defaults and
// its slices copied, so that the caller may reuse them.
func (cfg Config) withDefaults() Config {
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if cfg.CodeLifetime <= 0 {
		cfg.CodeLifetime = DefaultCodeLifetime
	}
	if cfg.RequestURILifetime <= 0 {
		cfg.RequestURILifetime = DefaultRequestURILifetime
	}
	cfg.AuthMethodsSupported = append([]AuthMethod(nil), cfg.AuthMethodsSupported...)
	cfg.AssertionIssuers = maps.Clone(cfg.AssertionIssuers)
	clients := make([]Client, len(cfg.Clients))
	for i, c := range cfg.Clients {
		c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
		clients[i] = c
	}
	cfg.Clients = clients
	return cfg
}

// check reports the first client that cannot be registered.
func (c Client) check() error {
	switch {
	case c.ID == "":
		return fmt.Errorf("client without ID")
	case c.Method != MethodBasic && c.Method != MethodPost && c.Method != MethodNone && c.Method != MethodPrivateKeyJWT:
		return fmt.Errorf("client %q has unknown auth method %q", c.ID, c.Method)
	case c.Method == MethodPrivateKeyJWT:
		if c.Secret != "" || c.Key == nil {
			return fmt.Errorf("private_key_jwt client %q needs a Key and no Secret", c.ID)
		}
	case c.Method == MethodNone && c.Secret != "":
		return fmt.Errorf("public client %q has a secret", c.ID)
	case c.Method != MethodNone && c.Secret == "":
		return fmt.Errorf("confidential client %q has no secret", c.ID)
	}
	return nil
}

// normalizePrefix makes p start with one slash and end without one, or
// returns "" for no prefix.
func normalizePrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return "/" + p
}
