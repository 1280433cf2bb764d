package pkce

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// ErrInvalidConfig is matched by errors.Is for every error New returns
// because of the configuration it was given.
var ErrInvalidConfig = errors.New("pkce: invalid client configuration")

// DefaultFlowLifetime is how long a pending Flow can be finished.
const DefaultFlowLifetime = 10 * time.Minute

// DefaultMaxResponseBytes bounds token response bodies unless
// WithMaxResponseBytes says otherwise.
const DefaultMaxResponseBytes = 512 << 10

// maxResponseLimit is the largest bound we can enforce: x/oauth2 stops
// reading at 1 MiB without an error, so our bound must trip first.
const maxResponseLimit = 1<<20 - 1

// AuthStyle is how the client authenticates at the token endpoint
// (RFC 6749 §2.3). The names follow the OAuth registry of
// token_endpoint_auth_method values (RFC 7591 §2).
type AuthStyle int

const (
	// AuthStyleFromConfig, the zero value, picks the style from the
	// oauth2.Config: its Endpoint.AuthStyle when set, otherwise
	// AuthClientSecretBasic when ClientSecret is set and AuthNone when not.
	// Nothing is ever probed by trial and error.
	AuthStyleFromConfig AuthStyle = iota
	// AuthClientSecretBasic sends the id and secret in an HTTP Basic
	// header, each form-urlencoded first (RFC 6749 §2.3.1).
	AuthClientSecretBasic
	// AuthClientSecretPost sends client_id and client_secret in the
	// request body (RFC 6749 §2.3.1).
	AuthClientSecretPost
	// AuthNone is for public clients: client_id in the body, no secret and
	// no Authorization header (RFC 6749 §2.1, RFC 7636).
	AuthNone
)

// String returns the registry name: client_secret_basic,
// client_secret_post or none.
func (s AuthStyle) String() string {
	switch s {
	case AuthClientSecretBasic:
		return "client_secret_basic"
	case AuthClientSecretPost:
		return "client_secret_post"
	case AuthNone:
		return "none"
	case AuthStyleFromConfig:
		return "from config"
	}
	return fmt.Sprintf("AuthStyle(%d)", int(s))
}

// Client runs authorization-code flows with PKCE for one OAuth client
// registration. It is safe for concurrent use; create it once with New and
// share it.
type Client struct {
	config           oauth2.Config // a copy; Endpoint.AuthStyle always explicit
	authStyle        AuthStyle
	issuer           string
	httpClient       *http.Client
	flowLifetime     time.Duration
	maxResponseBytes int64
	tokenTypes       []string
	now              func() time.Time

	// metadata is the server's metadata (WithMetadata), or nil. With it,
	// issOptional lets callbacks omit iss when the server does not
	// advertise it (RFC 9207 §2.4); pushAuthorization makes StartContext
	// use PAR (RFC 9126) and Start refuse.
	metadata          *Metadata
	issOptional       bool
	pushAuthorization bool

	// authPrefix is the authorize URL up to the state parameter for the
	// configured redirect URL and scopes, escaped once.
	authPrefix string

	// secretForms are the client secret in every form it travels in,
	// for redactors; computed once.
	secretForms []string

	finished finishedFlows
}

// An Option configures a Client in New.
type Option func(*Client)

// WithIssuer sets the authorization server's issuer identifier. Callbacks
// must then carry an iss parameter equal to it, byte for byte
// (RFC 9207 §2.4). Set it whenever the server supports RFC 9207, and always
// when the client talks to more than one authorization server. The issuer
// from WithMetadata is compared the same way but required only when the
// metadata says the server sends it.
func WithIssuer(issuer string) Option { return func(c *Client) { c.issuer = issuer } }

// WithAuthStyle chooses the client authentication explicitly.
func WithAuthStyle(s AuthStyle) Option { return func(c *Client) { c.authStyle = s } }

// WithHTTPClient sets the HTTP client for token requests. An *http.Client
// stored in the request context under oauth2.HTTPClient takes precedence,
// as it does in golang.org/x/oauth2.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.httpClient = hc } }

// WithFlowLifetime sets how long a pending Flow can be finished
// (DefaultFlowLifetime if not set).
func WithFlowLifetime(d time.Duration) Option { return func(c *Client) { c.flowLifetime = d } }

// WithMaxResponseBytes bounds token response bodies. A longer body fails
// with ErrResponseTooLarge instead of being cut. n must be between 1 KiB
// and 1 MiB - 1, the most golang.org/x/oauth2 reads.
func WithMaxResponseBytes(n int64) Option { return func(c *Client) { c.maxResponseBytes = n } }

// AllowTokenType accepts token types other than Bearer in token responses
// (compared case-insensitively). Without it any other type is rejected,
// because the package only knows how to use bearer tokens (RFC 6750).
func AllowTokenType(types ...string) Option {
	return func(c *Client) { c.tokenTypes = append(c.tokenTypes, types...) }
}

// WithClock sets the clock for flow and token expiry; tests use it.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// New returns a Client for cfg. It checks the configuration and fails with
// an error matching ErrInvalidConfig when ClientID, RedirectURL or an
// endpoint is missing, an endpoint is not https (plain http is accepted
// only for loopback hosts), or the client authentication contradicts the
// secret. cfg is copied; later changes to it have no effect. Metadata
// given with WithMetadata can also make it fail with an
// *IssuerMismatchError or a *MetadataError.
func New(cfg *oauth2.Config, opts ...Option) (*Client, error) {
	if cfg == nil {
		return nil, configErrorf("oauth2.Config is nil")
	}
	c := &Client{
		config:           *cfg,
		flowLifetime:     DefaultFlowLifetime,
		maxResponseBytes: DefaultMaxResponseBytes,
		now:              time.Now,
	}
	c.config.Scopes = append([]string(nil), cfg.Scopes...)
	for _, opt := range opts {
		opt(c)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	c.authPrefix = c.authorizePrefix(c.config.RedirectURL, c.config.Scopes)
	c.secretForms = secretForms(c.config.ClientID, c.config.ClientSecret)
	return c, nil
}

func (c *Client) check() error {
	if err := c.applyMetadata(); err != nil {
		return err
	}
	cfg := &c.config
	if cfg.ClientID == "" {
		return configErrorf("ClientID is empty")
	}
	if err := checkEndpoint("AuthURL", cfg.Endpoint.AuthURL); err != nil {
		return err
	}
	if err := checkEndpoint("TokenURL", cfg.Endpoint.TokenURL); err != nil {
		return err
	}
	if err := checkAuthURLQuery(cfg.Endpoint.AuthURL); err != nil {
		return err
	}
	if err := checkRedirectURL(cfg.RedirectURL); err != nil {
		return err
	}
	if c.issuer != "" {
		if err := checkEndpoint("issuer", c.issuer); err != nil {
			return err
		}
	}
	if c.flowLifetime <= 0 {
		return configErrorf("flow lifetime %v is not positive", c.flowLifetime)
	}
	if c.maxResponseBytes < 1<<10 || c.maxResponseBytes > maxResponseLimit {
		return configErrorf("max response bytes %d is outside 1 KiB..1 MiB-1", c.maxResponseBytes)
	}
	if c.now == nil {
		return configErrorf("clock is nil")
	}
	return c.resolveAuthStyle()
}

// resolveAuthStyle settles the client authentication once, so that every
// token request uses the same explicit style and the secret is sent in
// exactly one place.
func (c *Client) resolveAuthStyle() error {
	secret := c.config.ClientSecret != ""
	if c.authStyle == AuthStyleFromConfig {
		switch {
		case c.config.Endpoint.AuthStyle == oauth2.AuthStyleInHeader:
			c.authStyle = AuthClientSecretBasic
		case c.config.Endpoint.AuthStyle == oauth2.AuthStyleInParams && secret:
			c.authStyle = AuthClientSecretPost
		case secret:
			c.authStyle = AuthClientSecretBasic
		default:
			c.authStyle = AuthNone
		}
	}
	switch c.authStyle {
	case AuthClientSecretBasic:
		if !secret {
			return configErrorf("client_secret_basic needs a ClientSecret; use AuthNone for a public client")
		}
		c.config.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	case AuthClientSecretPost:
		if !secret {
			return configErrorf("client_secret_post needs a ClientSecret; use AuthNone for a public client")
		}
		c.config.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	case AuthNone:
		if secret {
			return configErrorf("auth style none sends no secret, but ClientSecret is set; choose client_secret_basic or client_secret_post, or remove the secret")
		}
		// x/oauth2 puts client_id in the body and, with an empty secret,
		// nothing else.
		c.config.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	default:
		return configErrorf("unknown %v", c.authStyle)
	}
	return nil
}

// AuthStyle returns the client authentication the Client uses.
func (c *Client) AuthStyle() AuthStyle { return c.authStyle }

// Issuer returns the expected issuer, or "" when none was set.
func (c *Client) Issuer() string { return c.issuer }

// String describes the client without its secret.
func (c *Client) String() string {
	return fmt.Sprintf("pkce.Client{client_id: %q, auth: %v, token_url: %q, issuer: %q, secret: %s}",
		c.config.ClientID, c.authStyle, c.config.Endpoint.TokenURL, c.issuer, presence(c.config.ClientSecret))
}

// Format prints the String form for every verb, so %v, %+v and %#v never
// reach the client secret.
func (c *Client) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// LogValue implements slog.LogValuer without the client secret.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", c.config.ClientID),
		slog.String("auth", c.authStyle.String()),
		slog.String("token_url", c.config.Endpoint.TokenURL),
		slog.String("issuer", c.issuer),
		slog.String("secret", presence(c.config.ClientSecret)),
	)
}

func presence(secret string) string {
	if secret == "" {
		return "absent"
	}
	return "redacted"
}

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// checkEndpoint requires an absolute https URL without a fragment, or http
// on a loopback host for development and tests. RFC 6749 §3.1 and §3.2
// require TLS at both endpoints; RFC 8414 §2 says the same of issuers.
func checkEndpoint(name, raw string) error {
	if raw == "" {
		return configErrorf("%s is empty", name)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return configErrorf("%s %q is not an absolute URL", name, raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return configErrorf("%s %q has a fragment (RFC 6749 §3.1)", name, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return configErrorf("%s %q must use https; plain http is accepted only on loopback hosts (RFC 6749 §3.1, §3.2)", name, raw)
	}
	return configErrorf("%s %q must use https (RFC 6749 §3.1, §3.2)", name, raw)
}

// checkRedirectURL accepts https URLs, http on loopback hosts (RFC 8252
// §7.3) and private-use URI schemes of native apps (RFC 8252 §7.1); it
// refuses fragments (RFC 6749 §3.1.2).
func checkRedirectURL(raw string) error {
	if raw == "" {
		return configErrorf("RedirectURL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return configErrorf("RedirectURL %q is not an absolute URI (RFC 6749 §3.1.2)", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return configErrorf("RedirectURL %q has a fragment (RFC 6749 §3.1.2)", raw)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return configErrorf("RedirectURL %q must use https; plain http is for loopback redirects only (RFC 6749 §3.1.2.1, RFC 8252 §7.3)", raw)
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return configErrorf("RedirectURL %q has no host", raw)
	}
	return nil
}

// checkAuthURLQuery refuses an AuthURL whose own query already sets a
// parameter the package controls.
func checkAuthURLQuery(raw string) error {
	u, _ := url.Parse(raw) // checked by checkEndpoint
	for key := range u.Query() {
		if reservedParam(key) {
			return configErrorf("AuthURL sets %q, which the package controls", key)
		}
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// finishedFlows remembers the states of flows that reached their callback,
// until they expire, so that a pending Flow is single-use within this
// process. Applications with several replicas must also delete the flow
// from their shared store; the authorization server's single-use codes are
// the last line.
type finishedFlows struct {
	mu      sync.Mutex
	expires map[string]time.Time
	sweepAt int // sweep expired entries when the map reaches this size
}

// claim records state and reports whether it was not recorded before.
func (ff *finishedFlows) claim(state string, expires, now time.Time) bool {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.expires == nil {
		ff.expires = make(map[string]time.Time)
	}
	if _, seen := ff.expires[state]; seen {
		return false
	}
	if len(ff.expires) >= ff.sweepAt {
		for s, exp := range ff.expires {
			if now.After(exp) {
				delete(ff.expires, s)
			}
		}
		// Doubling keeps the cost of sweeps linear in the number of claims.
		ff.sweepAt = max(64, 2*len(ff.expires))
	}
	ff.expires[state] = expires
	return true
}
