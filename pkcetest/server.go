package pkcetest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"text/template"
	"time"
)

// Server is an OAuth 2.0 authorization server listening on a loopback
// address, for tests only. Create one with NewServer or NewTLSServer and
// Close it when done. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the form http://ipaddr:port, or https:// for
	// a server from NewTLSServer, with no trailing slash. The issuer
	// identifier is URL followed by Config.PathPrefix.
	URL string

	cfg     Config
	clients map[string]Client
	prefix  string

	http      *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	tokenRequests      atomic.Int64
	refreshRequests    atomic.Int64
	revocationRequests atomic.Int64
	pushedRequests     atomic.Int64
	nonceRefusals      atomic.Int64
	jwksRequests       atomic.Int64

	// mu guards everything below.
	mu            sync.Mutex
	now           func() time.Time
	faults        Faults
	faultsLeft    int                // TokenStatus answers left when faults.TokenStatusTimes > 0
	tokenTemplate *template.Template // faults.TokenTemplate, parsed
	lastAuthorize url.Values
	lastToken     TokenRequest
	lastRevoke    TokenRequest
	lastPushed    TokenRequest
	metadataPaths []string
	codes         map[string]*authCode
	consents      map[string]*pendingAuthorization
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken
	requestURIs   map[string]*pushedRequest
	seenJTIs      map[string]int64 // jti of assertions and proofs -> expiry, against replay
	dpopNonce     string
	lastAssertion map[string]any
	lastProof     map[string]any

	// The grants of othergrants.go: counts, and the key the server signs
	// the JWTs it issues with, made on first use.
	clientCredentialsRequests int
	keyOnce                   sync.Once
	key                       *ecdsa.PrivateKey
	idKeys                    []idKey // signing keys of ID tokens, the last one current (idtoken.go)
	lastLogout                url.Values
}

// NewServer starts and returns a server on a loopback address, serving
// plain HTTP, like httptest.NewServer. It panics on an invalid Config, such
// as a client without ID or with an unknown Method.
func NewServer(cfg Config) *Server {
	s := newServer(cfg)
	s.start(false)
	return s
}

// NewTLSServer is NewServer serving HTTPS, like httptest.NewTLSServer.
// Clients must trust its certificate: use Client, or its Transport.
func NewTLSServer(cfg Config) *Server {
	s := newServer(cfg)
	s.start(true)
	return s
}

// start serves s. URL is set before the first request can arrive: a
// client that knew the address early (a port reused by a new server, a
// process started before) must not race with it.
func (s *Server) start(tls bool) {
	s.http = httptest.NewUnstartedServer(http.HandlerFunc(s.route))
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	s.URL = scheme + s.http.Listener.Addr().String()
	if tls {
		s.http.StartTLS()
	} else {
		s.http.Start()
	}
}

func newServer(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:           cfg,
		clients:       make(map[string]Client, len(cfg.Clients)),
		prefix:        normalizePrefix(cfg.PathPrefix),
		closed:        make(chan struct{}),
		now:           time.Now,
		codes:         make(map[string]*authCode),
		consents:      make(map[string]*pendingAuthorization),
		accessTokens:  make(map[string]*accessToken),
		refreshTokens: make(map[string]*refreshToken),
		requestURIs:   make(map[string]*pushedRequest),
		seenJTIs:      make(map[string]int64),
		dpopNonce:     randomToken(),
	}
	for _, c := range cfg.Clients {
		if err := c.check(); err != nil {
			panic("pkcetest: " + err.Error())
		}
		if _, dup := s.clients[c.ID]; dup {
			panic(fmt.Sprintf("pkcetest: client %q registered twice", c.ID))
		}
		s.clients[c.ID] = c
	}
	return s
}

// Close releases token requests held by the Delay and Hang faults, then
// shuts the server down and blocks until all its requests have ended, as
// httptest.Server.Close does.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.http.Close()
}

// Client returns an HTTP client configured for the server: for a server
// from NewTLSServer it trusts the server's certificate. It follows
// redirects as http.Client does; Authorize uses a copy that stops at the
// redirect to the client.
func (s *Server) Client() *http.Client { return s.http.Client() }

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; p {
	case s.prefix + tokenPath, s.prefix + parPath, s.prefix + resourcePath:
		s.setNonceHeader(w)
	}
	switch p := r.URL.Path; p {
	case s.prefix + authorizePath:
		s.authorize(w, r)
	case s.prefix + consentPath:
		s.consent(w, r)
	case s.prefix + tokenPath:
		s.token(w, r)
	case s.prefix + resourcePath:
		s.resource(w, r)
	case s.prefix + revocationPath:
		s.revoke(w, r)
	case s.prefix + parPath:
		s.pushAuthorization(w, r)
	case s.prefix + jwksPath:
		s.jwks(w, r)
	case s.prefix + endSessionPath:
		s.endSession(w, r)
	case oauthMetadataPath + s.prefix, s.prefix + openIDConfigurationPath,
		oauthMetadataPath + s.prefix + "/", s.prefix + openIDConfigurationPath + "/":
		s.metadata(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Endpoint paths below Config.PathPrefix.
const (
	authorizePath = "/authorize"
	consentPath   = "/consent"
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

// Issuer returns the issuer identifier, URL followed by Config.PathPrefix
// (RFC 8414 §2, RFC 9207 §2).
func (s *Server) Issuer() string { return s.URL + s.prefix }

// AuthURL returns the authorization endpoint URL (RFC 6749 §3.1).
func (s *Server) AuthURL() string { return s.Issuer() + authorizePath }

// TokenURL returns the token endpoint URL (RFC 6749 §3.2).
func (s *Server) TokenURL() string { return s.Issuer() + tokenPath }

// ResourceURL returns the URL of a protected resource that answers a GET
// carrying a valid access token (RFC 6750 §2.1) with
// {"sub":"test-user","scope":"..."}, and "aud" when the token was
// requested for resources (RFC 8707).
func (s *Server) ResourceURL() string { return s.Issuer() + resourcePath }

// RevocationURL returns the token revocation endpoint URL (RFC 7009 §2).
func (s *Server) RevocationURL() string { return s.Issuer() + revocationPath }

// PARURL returns the pushed authorization request endpoint URL
// (RFC 9126 §2).
func (s *Server) PARURL() string { return s.Issuer() + parPath }

// MetadataURL returns where the RFC 8414 metadata document is served: the
// well-known suffix inserted before the issuer's path (RFC 8414 §3.1).
func (s *Server) MetadataURL() string { return s.URL + oauthMetadataPath + s.prefix }

// OpenIDConfigurationURL returns where the same document is served for
// OpenID Connect Discovery: the issuer followed by
// /.well-known/openid-configuration (OpenID Connect Discovery 1.0 §4).
func (s *Server) OpenIDConfigurationURL() string { return s.Issuer() + openIDConfigurationPath }

// SetNow replaces the clock used for the expiry of codes, consent pages,
// request URIs and access tokens; nil restores time.Now.
func (s *Server) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
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

func (tr TokenRequest) clone() TokenRequest {
	if tr.Form != nil {
		tr.Form = cloneValues(tr.Form)
	}
	return tr
}

// LastAuthorizationRequest returns a copy of the query of the last GET the
// authorization endpoint received, as sent (a pushed request shows only
// client_id and request_uri), or nil if none.
func (s *Server) LastAuthorizationRequest() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastAuthorize == nil {
		return nil
	}
	return cloneValues(s.lastAuthorize)
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
	return s.lastToken.clone()
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

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// repeatedParam returns the name of a parameter sent more than once, or
// "". RFC 6749 §3.1 and §3.2 forbid repeating any parameter, except that
// RFC 8707 §2 lets resource be repeated to name several resources.
func repeatedParam(form url.Values) string {
	for name, vs := range form {
		if len(vs) > 1 && name != "resource" {
			return name
		}
	}
	return ""
}

// randomToken returns 256 bits from crypto/rand, base64url encoded, for
// codes and tokens (RFC 6749 §10.10 requires them to be unguessable).
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}
