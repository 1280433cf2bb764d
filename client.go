package pkce

import (
	"crypto"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pkcekit/pkce/internal/wire"
	"golang.org/x/oauth2"
)

// Defaults of a Client.
const (
	defaultFlowLifetime     = 10 * time.Minute
	defaultMaxResponseBytes = 512 << 10
	maxResponseLimit        = 16 << 20
)

// AuthMethod is how the client authenticates at the token endpoint and at
// the other endpoints that authenticate it (RFC 6749 §2.3). The values
// are the names of the OAuth registry of token_endpoint_auth_method
// values (RFC 7591 §2).
type AuthMethod string

const (
	// AuthSecretBasic sends the id and secret in an HTTP Basic header,
	// each form-urlencoded first (RFC 6749 §2.3.1).
	AuthSecretBasic AuthMethod = "client_secret_basic"
	// AuthSecretPost sends client_id and client_secret in the request
	// body (RFC 6749 §2.3.1).
	AuthSecretPost AuthMethod = "client_secret_post"
	// AuthNone is for public clients: client_id in the body, no secret and
	// no Authorization header (RFC 6749 §2.1, RFC 7636).
	AuthNone AuthMethod = "none"
	// AuthPrivateKeyJWT sends a JWT signed with the client's private key
	// (WithClientKey) as client_assertion in the body, a fresh one for
	// every request (RFC 7523 §2.2, OpenID Connect Core §9).
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
)

// Client runs authorization-code flows with PKCE for one OAuth client
// registration. It is safe for concurrent use; create it once with New and
// share it.
type Client struct {
	config           oauth2.Config // a copy; Endpoint.AuthStyle always explicit
	authMethod       AuthMethod
	basicAuth        string // the Authorization header of AuthSecretBasic
	issuer           string
	httpClient       *http.Client
	flowLifetime     time.Duration
	maxResponseBytes int64
	tokenTypes       []string
	revocationURL    string
	formPost         bool
	store            Store
	now              func() time.Time
	tol              tolerances // named opt-ins, tolerances.go
	resources        []string   // RFC 8707 resource indicators of every request

	// clientKey signs private_key_jwt assertions (assertion.go); dpop
	// proves possession of the DPoP key (dpop.go); fapi2 holds the client
	// to the FAPI 2.0 Security Profile (fapi.go).
	clientKey    *clientKey
	dpop         *dpopProver
	dpopKey      crypto.Signer
	dpopRequired bool
	fapi2        bool

	// tokenOnly marks a Client of NewTokenClient: no redirect, no
	// authorization requests (grant.go).
	tokenOnly bool

	hs256IDTokens bool // tolerate.HS256IDTokens, openid.go

	// metadata is the server's metadata (WithMetadata), or nil. With it,
	// issOptional lets callbacks omit iss when the server does not
	// advertise it (RFC 9207 §2.4); pushAuthorization makes Start use PAR
	// (RFC 9126).
	metadata          *Metadata
	issOptional       bool
	pushAuthorization bool

	// authPrefix is the authorize URL up to the state parameter for the
	// configured redirect URL and scopes, escaped once.
	authPrefix string

	// secretForms are the client secret in every form a server may echo
	// it in, for redactors; computed once.
	secretForms []string

	// refusals tells a dead refresh token answered with an ambiguous
	// code from a passing fault (refresh.go).
	refusals *refusals // shared by copies of the Client (grant.go)
}

// New returns a Client for cfg. It checks the configuration and fails with
// an error matching ErrInvalidConfig when ClientID, RedirectURL or an
// endpoint is missing, an endpoint is not https (plain http is accepted
// only for loopback hosts), the client authentication contradicts the
// secret, or an option is bad. cfg is copied; later changes to it have no
// effect. Metadata given with WithMetadata can also make it fail with a
// *ResponseError.
func New(cfg *oauth2.Config, opts ...Option) (*Client, error) {
	c, err := newClient(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	return c, nil
}

// newClient applies the options to a Client for cfg.
func newClient(cfg *oauth2.Config, opts []Option) (*Client, error) {
	if cfg == nil {
		return nil, configErrorf("oauth2.Config is nil")
	}
	c := &Client{
		config:           *cfg,
		flowLifetime:     defaultFlowLifetime,
		maxResponseBytes: defaultMaxResponseBytes,
		refusals:         new(refusals),
		now:              time.Now,
	}
	c.config.Scopes = append([]string(nil), cfg.Scopes...)
	for i, opt := range opts {
		if opt == nil {
			return nil, configErrorf("option %d is nil", i)
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// init checks the configured Client and prepares what every flow uses.
func (c *Client) init() error {
	if err := c.check(); err != nil {
		return err
	}
	if c.store == nil {
		c.store = NewMemoryStore()
	}
	if !c.tokenOnly {
		c.authPrefix = c.authorizePrefix(c.config.RedirectURL, c.config.Scopes)
	}
	c.secretForms = secretForms(c.config.ClientID, c.config.ClientSecret)
	return nil
}

func (c *Client) check() error {
	if err := c.requireFAPI2(); err != nil {
		return err
	}
	if err := c.applyMetadata(); err != nil {
		return err
	}
	cfg := &c.config
	if cfg.ClientID == "" {
		return configErrorf("ClientID is empty")
	}
	if err := checkEndpoint("TokenURL", cfg.Endpoint.TokenURL); err != nil {
		return err
	}
	if !c.tokenOnly {
		if err := checkEndpoint("AuthURL", cfg.Endpoint.AuthURL); err != nil {
			return err
		}
		if err := checkAuthURLQuery(cfg.Endpoint.AuthURL); err != nil {
			return err
		}
		if err := checkRedirectURL(cfg.RedirectURL); err != nil {
			return err
		}
	}
	if err := checkScopes(cfg.Scopes); err != nil {
		return configErrorf("%s", strings.TrimPrefix(err.Error(), "pkce: "))
	}
	if err := c.resolveAuthMethod(); err != nil {
		return err
	}
	if c.clientKey != nil {
		if err := c.clientKey.prepare(c.metadata, c.issuer, cfg.Endpoint.TokenURL); err != nil {
			return err
		}
	}
	if err := c.prepareDPoP(); err != nil {
		return err
	}
	if err := c.checkOpenID(cfg.Scopes); err != nil { // openid.go
		return err
	}
	return c.checkFAPI2()
}

// resolveAuthMethod settles the client authentication once, so that every
// request uses the same explicit method and the secret is sent in exactly
// one place.
func (c *Client) resolveAuthMethod() error {
	secret := c.config.ClientSecret != ""
	if secret && c.clientKey != nil {
		return configErrorf("both a ClientSecret and a client key (WithClientKey) are set; a client authenticates one way (RFC 6749 §2.3): remove one")
	}
	if c.authMethod == "" {
		switch {
		case c.clientKey != nil:
			c.authMethod = AuthPrivateKeyJWT
		case c.config.Endpoint.AuthStyle == oauth2.AuthStyleInHeader:
			c.authMethod = AuthSecretBasic
		case c.config.Endpoint.AuthStyle == oauth2.AuthStyleInParams && secret:
			c.authMethod = AuthSecretPost
		case secret:
			c.authMethod = AuthSecretBasic
		default:
			c.authMethod = AuthNone
		}
	}
	switch c.authMethod {
	case AuthSecretBasic:
		if !secret {
			return configErrorf("client_secret_basic needs a ClientSecret; use AuthNone for a public client")
		}
		c.config.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		c.basicAuth = basicAuthorization(c.config.ClientID, c.config.ClientSecret)
	case AuthSecretPost:
		if !secret {
			return configErrorf("client_secret_post needs a ClientSecret; use AuthNone for a public client")
		}
		c.config.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	case AuthNone:
		if secret {
			return configErrorf("auth method none sends no secret, but ClientSecret is set; choose client_secret_basic or client_secret_post, or remove the secret")
		}
		// x/oauth2 puts client_id in the body and, with an empty secret,
		// nothing else.
		c.config.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	case AuthPrivateKeyJWT:
		if c.clientKey == nil {
			return configErrorf("private_key_jwt needs the client's key: add WithClientKey")
		}
		// client_id in the body (RFC 7523 §3.1 allows it), no secret; the
		// assertion is added to each request (postAuthenticated).
		c.config.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	if c.authMethod != AuthPrivateKeyJWT && c.clientKey != nil {
		return configErrorf("a client key is set (WithClientKey) but the auth method is %s; use AuthPrivateKeyJWT", c.authMethod)
	}
	return nil
}

// Metadata returns a copy of the authorization server metadata the Client
// was configured with, or nil.
func (c *Client) Metadata() *Metadata {
	if c == nil {
		return nil
	}
	return c.metadata.clone()
}

// made returns errNoClient unless New made c. New always sets a store.
func (c *Client) made() error {
	if c == nil || c.store == nil {
		return errNoClient
	}
	return nil
}

// describe prints the client without its secret.
func (c *Client) describe() string {
	return fmt.Sprintf("pkce.Client{client_id: %q, auth: %s, token_url: %q, issuer: %q, secret: %s, client key: %s, dpop key: %s}",
		c.config.ClientID, c.authMethod, c.config.Endpoint.TokenURL, c.issuer, wire.Presence(c.config.ClientSecret),
		keyPresence(c.clientKey != nil), keyPresence(c.dpopKey != nil))
}

// Format prints the client without its secret for every verb, so %v, %+v
// and %#v (and slog's text output) never reach it. Its receiver is a
// value so that a Client copied by value, or held in an exported field,
// prints the same way; a nil *Client prints as <nil>.
func (c Client) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.describe()) }

func keyPresence(set bool) string {
	if set {
		return "redacted"
	}
	return "absent"
}

// invalidClientHint names the usual causes of invalid_client for the
// authentication the client used.
func (m AuthMethod) invalidClientHint() string {
	var hint string
	switch m {
	case AuthSecretBasic:
		hint = "the client sent its id and secret with HTTP Basic (client_secret_basic): check the secret, and that the server registered the client as confidential with this method; some servers want the secret in the body (AuthSecretPost)"
	case AuthSecretPost:
		hint = "the client sent its id and secret in the body (client_secret_post): check the secret, and that the server registered the client with this method; many servers want HTTP Basic (AuthSecretBasic)"
	case AuthPrivateKeyJWT:
		hint = "the client sent a JWT signed with its key (private_key_jwt): check that the server holds the public key under the kid sent, accepts the algorithm, and takes the issuer identifier as the assertion's aud"
	case AuthNone:
		hint = "the client sent no secret (public client, auth none): servers answer invalid_client when they registered the client as confidential; then set ClientSecret"
	default:
		hint = "check the client id, secret and authentication method"
	}
	return hint + "; also check that TokenURL is the token endpoint, not the authorization endpoint"
}
