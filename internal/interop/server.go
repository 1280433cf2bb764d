// Package interop runs package pkce against an authorization server that
// nobody on this project wrote: github.com/ory/fosite, in-process on a
// loopback httptest server. It is a nested module so that fosite and its
// dependencies never reach importers of github.com/pkcekit/pkce.
//
// The server implements the authorization code grant (RFC 6749 §4.1) with
// PKCE enforced and S256 only (RFC 7636), the refresh grant with rotation
// (RFC 6749 §6), OpenID Connect ID tokens when openid is requested,
// revocation (RFC 7009), and a bearer-protected resource (RFC 6750) that
// asks fosite whether the access token is valid. It signs in one fixed user
// without any user interface. Endpoint paths are configurable, so one
// server can look like each provider the package is tested against, and it
// can add the RFC 9207 iss parameter to its authorization redirects, which
// fosite itself does not do.
package interop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
)

// Subject is the user the server signs in, without asking, for every
// authorization request.
const Subject = "test-user"

// Client authentication methods, named as in the registry of
// token_endpoint_auth_method values (RFC 7591 §2). fosite accepts only the
// registered method for each client.
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
	None              = "none"
	// PrivateKeyJWT checks a JWT signed with the client's key (RFC 7523
	// §2.2) against Client.Key. fosite wants the token endpoint URL as
	// the assertion's aud, at every endpoint.
	PrivateKeyJWT = "private_key_jwt"
)

// Client is a client registration (RFC 6749 §2).
type Client struct {
	ID string
	// Secret must be set exactly when Method is ClientSecretBasic or
	// ClientSecretPost.
	Secret string
	// Key and KeyAlg are the public key and JWS algorithm of a
	// PrivateKeyJWT client, registered as its JWKS.
	Key    crypto.PublicKey
	KeyAlg string
	// Method is the token endpoint authentication method.
	Method       string
	RedirectURIs []string
	// Scopes and Audience list what the client may request.
	Scopes   []string
	Audience []string
}

// Config shapes the server like one provider. Empty paths take the
// defaults /authorize, /token, /revoke and /resource.
type Config struct {
	AuthorizePath  string
	TokenPath      string
	RevocationPath string
	ResourcePath   string

	Clients []Client

	// SendIssuer adds iss to every authorization redirect (RFC 9207 §2).
	SendIssuer bool
	// IssuerOverride, when set, is sent as iss instead of the server's
	// issuer: a server that is not the one the client expects.
	IssuerOverride string

	// RefreshScope, when set, is the scope a grant needs to get a refresh
	// token (offline_access at Auth0). When empty, every grant gets one.
	RefreshScope string

	// TokenMembers are added to every successful token response, like the
	// vendor members some providers send (RFC 6749 §5.1 allows them).
	TokenMembers map[string]any

	// OpenIDDiscovery serves what fosite leaves to its host: an OpenID
	// Provider configuration (Discovery 1.0 §4) naming the endpoints, and
	// the JWK Set of the key fosite signs ID tokens with, at /jwks. The
	// resource is the userinfo_endpoint.
	OpenIDDiscovery bool
}

// Resource is what the protected resource answers for a valid token.
type Resource struct {
	Subject  string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	Audience []string `json:"aud"`
}

// Server is a fosite authorization server on a loopback httptest server.
type Server struct {
	ts       *httptest.Server
	cfg      Config
	issuer   string
	provider fosite.OAuth2Provider

	// fosite's MemoryStore is not safe for concurrent use: RevokeRefreshToken
	// writes MemoryStore.RefreshTokens while holding only
	// refreshTokenRequestIDsMutex, which GetRefreshTokenSession does not
	// take. Requests are served one at a time to keep the race detector
	// quiet about fosite's example storage rather than about the client.
	mu            sync.Mutex
	tokenRequests atomic.Int64
	key           *ecdsa.PrivateKey // signs ID tokens (ES256)
}

// bcryptCost is bcrypt's minimum cost: fosite stores client secrets as
// bcrypt hashes, and its default cost of 12 would dominate test time.
const bcryptCost = 4

// Start starts a server for cfg. Close it when done.
func Start(cfg Config) (*Server, error) {
	if cfg.AuthorizePath == "" {
		cfg.AuthorizePath = "/authorize"
	}
	if cfg.TokenPath == "" {
		cfg.TokenPath = "/token"
	}
	if cfg.RevocationPath == "" {
		cfg.RevocationPath = "/revoke"
	}
	if cfg.ResourcePath == "" {
		cfg.ResourcePath = "/resource"
	}
	s := &Server{cfg: cfg}
	// The listener exists before the server starts, so the issuer is known
	// while the provider is built and no request can see it half-built.
	s.ts = httptest.NewUnstartedServer(s)
	s.issuer = "http://" + s.ts.Listener.Addr().String()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.ts.Close()
		return nil, err
	}
	s.key = key
	globalSecret := make([]byte, 32)
	rand.Read(globalSecret)
	refreshScopes := []string{} // non-nil and empty: every grant gets a refresh token
	if cfg.RefreshScope != "" {
		refreshScopes = []string{cfg.RefreshScope}
	}
	fc := &fosite.Config{
		GlobalSecret:                   globalSecret,
		EnforcePKCE:                    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             refreshScopes,
		IDTokenIssuer:                  s.issuer,
		AccessTokenIssuer:              s.issuer,
		TokenURL:                       s.issuer + cfg.TokenPath,
		HashCost:                       bcryptCost,
		// fosite fills these in lazily on first use, which is a data race
		// between concurrent requests; set them up front.
		ScopeStrategy:            fosite.ExactScopeStrategy,
		AudienceMatchingStrategy: fosite.ExactAudienceMatchingStrategy,
	}
	hasher := &fosite.BCrypt{Config: fc}
	fc.ClientSecretsHasher = hasher

	store := storage.NewMemoryStore()
	for _, c := range cfg.Clients {
		fcl, err := register(c, hasher)
		if err != nil {
			s.ts.Close()
			return nil, err
		}
		store.Clients[c.ID] = fcl
	}

	getKey := func(context.Context) (any, error) { return key, nil }
	strategy := &compose.CommonStrategy{
		CoreStrategy:               compose.NewOAuth2HMACStrategy(fc),
		OpenIDConnectTokenStrategy: compose.NewOpenIDConnectStrategy(getKey, fc),
		Signer:                     &jwt.DefaultSigner{GetPrivateKey: getKey},
	}
	s.provider = compose.Compose(fc, store, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		// The PKCE handler needs the code issued by the explicit handler.
		compose.OAuth2PKCEFactory,
	)
	s.ts.Start()
	return s, nil
}

// register turns c into a fosite client with a hashed secret.
func register(c Client, hasher *fosite.BCrypt) (fosite.Client, error) {
	switch {
	case c.Method != ClientSecretBasic && c.Method != ClientSecretPost && c.Method != None && c.Method != PrivateKeyJWT:
		return nil, fmt.Errorf("interop: client %q: unknown method %q", c.ID, c.Method)
	case (c.Method == None || c.Method == PrivateKeyJWT) != (c.Secret == ""):
		return nil, fmt.Errorf("interop: client %q: a secret is needed exactly for the client_secret methods", c.ID)
	case (c.Method == PrivateKeyJWT) != (c.Key != nil):
		return nil, fmt.Errorf("interop: client %q: a key is needed exactly for private_key_jwt", c.ID)
	}
	var jwks *jose.JSONWebKeySet
	if c.Key != nil {
		jwks = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: c.Key, KeyID: c.ID + "-key", Algorithm: c.KeyAlg, Use: "sig"}}}
	}
	var hash []byte
	if c.Secret != "" {
		var err error
		if hash, err = hasher.Hash(context.Background(), []byte(c.Secret)); err != nil {
			return nil, err
		}
	}
	return &fosite.DefaultOpenIDConnectClient{
		DefaultClient: &fosite.DefaultClient{
			ID:            c.ID,
			Secret:        hash,
			RedirectURIs:  c.RedirectURIs,
			GrantTypes:    []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"},
			Scopes:        c.Scopes,
			Audience:      c.Audience,
			Public:        c.Method == None,
		},
		TokenEndpointAuthMethod:           c.Method,
		JSONWebKeys:                       jwks,
		TokenEndpointAuthSigningAlgorithm: c.KeyAlg,
	}, nil
}

// Close shuts the server down.
func (s *Server) Close() { s.ts.Close() }

// Client returns an HTTP client for the server; it closes its idle
// connections when the server closes.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Issuer is the server's issuer identifier: its base URL (RFC 9207 §2).
func (s *Server) Issuer() string { return s.issuer }

// AuthorizeURL is the authorization endpoint (RFC 6749 §3.1).
func (s *Server) AuthorizeURL() string { return s.issuer + s.cfg.AuthorizePath }

// TokenURL is the token endpoint (RFC 6749 §3.2).
func (s *Server) TokenURL() string { return s.issuer + s.cfg.TokenPath }

// RevocationURL is the revocation endpoint (RFC 7009 §2).
func (s *Server) RevocationURL() string { return s.issuer + s.cfg.RevocationPath }

// ResourceURL is the protected resource (RFC 6750).
func (s *Server) ResourceURL() string { return s.issuer + s.cfg.ResourcePath }

// TokenRequests counts the requests that reached the token endpoint.
func (s *Server) TokenRequests() int { return int(s.tokenRequests.Load()) }

// ServeHTTP routes on the exact path, so a client that confuses two
// endpoints gets a 404 rather than the other endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case s.cfg.AuthorizePath:
		s.authorize(w, r)
	case s.cfg.TokenPath:
		s.tokenRequests.Add(1)
		s.token(w, r)
	case s.cfg.RevocationPath:
		s.revoke(w, r)
	case s.cfg.ResourcePath:
		s.resource(w, r)
	case "/.well-known/openid-configuration", "/jwks":
		if !s.cfg.OpenIDDiscovery {
			http.NotFound(w, r)
			return
		}
		s.discovery(w, r)
	default:
		http.NotFound(w, r)
	}
}

// authorize signs in Subject and grants every scope and audience fosite
// lets the client request; fosite has already refused the rest.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.cfg.SendIssuer {
		iss := s.issuer
		if s.cfg.IssuerOverride != "" {
			iss = s.cfg.IssuerOverride
		}
		w = &issuerRedirect{ResponseWriter: w, iss: iss}
	}
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	for _, scope := range ar.GetRequestedScopes() {
		ar.GrantScope(scope)
	}
	for _, aud := range ar.GetRequestedAudience() {
		ar.GrantAudience(aud)
	}
	now := time.Now().UTC()
	session := &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: Subject, AuthTime: now, RequestedAt: now},
		Headers: &jwt.Headers{},
		Subject: Subject,
	}
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, session)
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// issuerRedirect adds iss to the query of a redirect, success or error
// alike (RFC 9207 §2). fosite writes its redirects with a Location header
// and a 303.
type issuerRedirect struct {
	http.ResponseWriter
	iss string
}

func (w *issuerRedirect) WriteHeader(status int) {
	if loc := w.Header().Get("Location"); status >= 300 && status < 400 && loc != "" {
		if u, err := url.Parse(loc); err == nil {
			q := u.Query()
			q.Set("iss", w.iss)
			u.RawQuery = q.Encode()
			w.Header().Set("Location", u.String())
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := s.provider.NewAccessRequest(ctx, r, openid.NewDefaultSession())
	if err != nil {
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	for k, v := range s.cfg.TokenMembers {
		resp.SetExtra(k, v)
	}
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.provider.WriteRevocationResponse(ctx, w, s.provider.NewRevocationRequest(ctx, r))
}

// resource accepts only a bearer token in the Authorization header
// (RFC 6750 §2.1) that fosite finds valid.
func (s *Server) resource(w http.ResponseWriter, r *http.Request) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="interop"`)
		http.Error(w, "bearer token required", http.StatusUnauthorized)
		return
	}
	_, ar, err := s.provider.IntrospectToken(r.Context(), token, fosite.AccessToken, openid.NewDefaultSession())
	if err != nil {
		// RFC 6750 §3.1: an expired, revoked or unknown token.
		w.Header().Set("WWW-Authenticate", `Bearer realm="interop", error="invalid_token"`)
		var rfc *fosite.RFC6749Error
		msg := "invalid token"
		if errors.As(err, &rfc) {
			msg = rfc.ErrorField
		}
		http.Error(w, msg, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(Resource{
		Subject:  ar.GetSession().GetSubject(),
		ClientID: ar.GetClient().GetID(),
		Scope:    strings.Join(ar.GetGrantedScopes(), " "),
		Audience: ar.GetGrantedAudience(),
	})
}

// discovery serves the OpenID Provider configuration and the JWK Set.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/jwks" {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: s.key.Public(), Algorithm: "ES256", Use: "sig"}}})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"issuer": s.issuer, "authorization_endpoint": s.AuthorizeURL(), "token_endpoint": s.TokenURL(),
		"revocation_endpoint": s.RevocationURL(), "userinfo_endpoint": s.ResourceURL(), "jwks_uri": s.issuer + "/jwks",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"}, "code_challenge_methods_supported": []string{"S256"},
	})
}
