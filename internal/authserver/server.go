// Package authserver is a small in-process OAuth 2.0 authorization server
// for the tests and examples of package pkce. It implements the
// authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636, S256 only),
// the refresh grant (RFC 6749 §6), the authorization server issuer
// identifier (RFC 9207), authorization server metadata (RFC 8414, and the
// same document at the OpenID Connect Discovery path), token revocation
// (RFC 7009), pushed authorization requests (RFC 9126) and a
// bearer-protected resource (RFC 6750), and it is strict: a request that
// breaks a rule is answered with the error the RFC prescribes. Faults lets
// a test make it misbehave on purpose.
//
// It approves every authorization request for one fixed user, "test-user",
// without any user interface. It is not meant for production and users of
// package pkce must not import it.
package authserver

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TestUser is the subject the server authenticates, without asking, for
// every authorization request.
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
)

// Client is a registered client (RFC 6749 §2).
type Client struct {
	// ID is the client identifier (RFC 6749 §2.2).
	ID string
	// Secret is the client secret; it must be empty for MethodNone.
	Secret string
	// Method is the only authentication method the client may use at the
	// token endpoint.
	Method AuthMethod
	// RedirectURIs are the registered redirection endpoints. A redirect_uri
	// matches one of them by exact string comparison (RFC 6749 §3.1.2.3),
	// except that a loopback redirect (http://127.0.0.1:PORT/path or
	// http://[::1]:PORT/path) matches whatever its port (RFC 8252 §7.3).
	RedirectURIs []string
}

// Config configures a Server.
type Config struct {
	// Clients are the registered clients.
	Clients []Client
	// PathPrefix is put before every endpoint path, e.g. "/acme/oauth2/v1".
	// The issuer identifier is the base URL followed by PathPrefix.
	PathPrefix string
	// SendIssuer adds the RFC 9207 iss parameter to every authorization
	// response, success and error alike (RFC 9207 §2), and advertises
	// authorization_response_iss_parameter_supported in the metadata
	// (RFC 9207 §3). With Faults.OmitIssuer the server advertises iss but
	// does not send it.
	SendIssuer bool
	// Rotate makes the refresh grant return a new refresh token and
	// invalidate the one presented (RFC 6749 §6, RFC 9700 §4.14.2).
	Rotate bool
	// AccessTokenLifetime is how long access tokens are valid; zero means
	// DefaultAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// CodeLifetime is how long authorization codes are valid; zero means
	// DefaultCodeLifetime.
	CodeLifetime time.Duration

	// AuthMethodsSupported is advertised in the metadata as
	// token_endpoint_auth_methods_supported and
	// revocation_endpoint_auth_methods_supported. Nil leaves both members
	// out, which RFC 8414 §2 defines as client_secret_basic only. It does
	// not change what the endpoints accept: each client must still use the
	// method it registered.
	AuthMethodsSupported []AuthMethod
	// RequirePAR makes the authorization endpoint refuse requests that were
	// not pushed (RFC 9126 §5) and advertises
	// require_pushed_authorization_requests.
	RequirePAR bool
	// RequestURILifetime is how long a pushed request_uri can be used; zero
	// means DefaultRequestURILifetime (RFC 9126 §2.2).
	RequestURILifetime time.Duration
}

// TokenRequest is what the server saw of a request to its token endpoint,
// or to the revocation or pushed authorization request endpoint, which
// authenticate clients the same way.
type TokenRequest struct {
	// Form holds the parameters of the request body.
	Form url.Values
	// Authorization is the value of the Authorization header, if any.
	Authorization string
	// ContentType is the value of the Content-Type header.
	ContentType string
}

// Server is an OAuth 2.0 authorization server. Create one with Start, or
// with New and SetBaseURL to serve its Handler yourself. All methods are
// safe for concurrent use.
type Server struct {
	cfg     Config
	clients map[string]Client
	prefix  string

	httpServer *httptest.Server
	closed     chan struct{}
	closeOnce  sync.Once

	tokenRequests      atomic.Int64
	refreshRequests    atomic.Int64
	revocationRequests atomic.Int64
	pushedRequests     atomic.Int64

	// mu guards everything below.
	mu            sync.Mutex
	baseURL       string
	now           func() time.Time
	faults        Faults
	faultsLeft    int // TokenStatus answers left when faults.TokenStatusTimes > 0
	lastToken     TokenRequest
	lastRevoke    TokenRequest
	lastPushed    TokenRequest
	metadataPaths []string
	codes         map[string]*authCode
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken
	requestURIs   map[string]*pushedRequest
}

// New returns a server that does not listen. Call SetBaseURL with the URL
// its Handler is served at before use. New panics on an invalid Config,
// such as a client without ID or with an unknown Method.
func New(cfg Config) *Server {
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
	s := &Server{
		cfg:           cfg,
		clients:       make(map[string]Client, len(cfg.Clients)),
		prefix:        normalizePrefix(cfg.PathPrefix),
		closed:        make(chan struct{}),
		now:           time.Now,
		codes:         make(map[string]*authCode),
		accessTokens:  make(map[string]*accessToken),
		refreshTokens: make(map[string]*refreshToken),
		requestURIs:   make(map[string]*pushedRequest),
	}
	for _, c := range cfg.Clients {
		if err := checkClient(c); err != nil {
			panic("authserver: " + err.Error())
		}
		if _, dup := s.clients[c.ID]; dup {
			panic(fmt.Sprintf("authserver: client %q registered twice", c.ID))
		}
		c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
		s.clients[c.ID] = c
	}
	return s
}

func checkClient(c Client) error {
	switch {
	case c.ID == "":
		return fmt.Errorf("client without ID")
	case c.Method != MethodBasic && c.Method != MethodPost && c.Method != MethodNone:
		return fmt.Errorf("client %q has unknown auth method %q", c.ID, c.Method)
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

// Start returns a server listening on a loopback address with
// httptest.NewServer. Call Close when done.
func Start(cfg Config) *Server {
	s := New(cfg)
	s.httpServer = httptest.NewServer(s.Handler())
	s.SetBaseURL(s.httpServer.URL)
	return s
}

// Close stops the server started by Start, first releasing token requests
// held by the Delay and Hang faults. On a server made with New it only
// releases those requests.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	if s.httpServer != nil {
		s.httpServer.Close()
	}
}

// SetBaseURL sets the scheme, host and port the server is reached at, such
// as "http://127.0.0.1:8080"; the issuer and endpoint URLs derive from it.
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baseURL = strings.TrimSuffix(u, "/")
}

// Handler returns the HTTP handler serving all endpoints.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.route)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case s.prefix + authorizePath:
		s.authorize(w, r)
	case s.prefix + tokenPath:
		s.token(w, r)
	case s.prefix + resourcePath:
		s.resource(w, r)
	case s.prefix + revocationPath:
		s.revoke(w, r)
	case s.prefix + parPath:
		s.pushAuthorization(w, r)
	case oauthMetadataPath + s.prefix, s.prefix + openIDConfigurationPath:
		s.metadata(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Endpoint paths below Config.PathPrefix.
const (
	authorizePath = "/authorize"
	tokenPath     = "/token"
	resourcePath  = "/userinfo"
	// revocationPath is the RFC 7009 endpoint, parPath the RFC 9126 one.
	revocationPath = "/revoke"
	parPath        = "/par"
)

// Well-known metadata paths. RFC 8414 §3.1 inserts its suffix between the
// host and the issuer's path; OpenID Connect Discovery 1.0 §4 appends its
// own to the issuer.
const (
	oauthMetadataPath       = "/.well-known/oauth-authorization-server"
	openIDConfigurationPath = "/.well-known/openid-configuration"
)

// URL returns the base URL, e.g. "http://127.0.0.1:1234".
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// Issuer returns the issuer identifier, URL followed by Config.PathPrefix
// (RFC 8414 §2, RFC 9207 §2).
func (s *Server) Issuer() string { return s.URL() + s.prefix }

// AuthURL returns the authorization endpoint URL (RFC 6749 §3.1).
func (s *Server) AuthURL() string { return s.Issuer() + authorizePath }

// TokenURL returns the token endpoint URL (RFC 6749 §3.2).
func (s *Server) TokenURL() string { return s.Issuer() + tokenPath }

// ResourceURL returns the URL of a protected resource that answers a GET
// carrying a valid access token (RFC 6750 §2.1) with
// {"sub":"test-user","scope":"..."}.
func (s *Server) ResourceURL() string { return s.Issuer() + resourcePath }

// RevocationURL returns the token revocation endpoint URL (RFC 7009 §2).
func (s *Server) RevocationURL() string { return s.Issuer() + revocationPath }

// PARURL returns the pushed authorization request endpoint URL
// (RFC 9126 §2).
func (s *Server) PARURL() string { return s.Issuer() + parPath }

// MetadataURL returns where the RFC 8414 metadata document is served: the
// well-known suffix inserted before the issuer's path (RFC 8414 §3.1).
func (s *Server) MetadataURL() string { return s.URL() + oauthMetadataPath + s.prefix }

// OpenIDConfigurationURL returns where the same document is served for
// OpenID Connect Discovery: the issuer followed by
// /.well-known/openid-configuration (OpenID Connect Discovery 1.0 §4).
func (s *Server) OpenIDConfigurationURL() string { return s.Issuer() + openIDConfigurationPath }

// SetNow replaces the clock used for code and token expiry; nil restores
// time.Now.
func (s *Server) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// TokenRequests returns the number of POST requests the token endpoint has
// received, rejected and faulted ones included.
func (s *Server) TokenRequests() int { return int(s.tokenRequests.Load()) }

// RefreshRequests returns the number of token requests with
// grant_type=refresh_token, rejected and faulted ones included.
func (s *Server) RefreshRequests() int { return int(s.refreshRequests.Load()) }

// LastTokenRequest returns a copy of the last POST the token endpoint
// received, or the zero TokenRequest if none.
func (s *Server) LastTokenRequest() TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := s.lastToken
	if tr.Form != nil {
		tr.Form = cloneValues(tr.Form)
	}
	return tr
}

// RevocationRequests returns the number of POST requests the revocation
// endpoint has received, rejected and faulted ones included.
func (s *Server) RevocationRequests() int { return int(s.revocationRequests.Load()) }

// LastRevocationRequest returns a copy of the last POST the revocation
// endpoint received, or the zero TokenRequest if none.
func (s *Server) LastRevocationRequest() TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastRevoke.clone()
}

// PushedRequests returns the number of POST requests the pushed
// authorization request endpoint has received, rejected and faulted ones
// included.
func (s *Server) PushedRequests() int { return int(s.pushedRequests.Load()) }

// LastPushedRequest returns a copy of the last POST the pushed
// authorization request endpoint received, or the zero TokenRequest if
// none.
func (s *Server) LastPushedRequest() TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPushed.clone()
}

// MetadataRequests returns the paths of the metadata requests the server
// received, in order, at either well-known location.
func (s *Server) MetadataRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.metadataPaths...)
}

func (tr TokenRequest) clone() TokenRequest {
	if tr.Form != nil {
		tr.Form = cloneValues(tr.Form)
	}
	return tr
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// randomToken returns 256 bits from crypto/rand, base64url encoded, for
// codes and tokens (RFC 6749 §10.10 requires them to be unguessable).
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}
