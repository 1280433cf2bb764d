package protected

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"
	"github.com/pkcekit/pkce/internal/wire"
)

// A Registration is a client's registration at one authorization server:
// what the server knows the client by, and how it authenticates. It comes
// from the application (pre-registered credentials), from a client ID
// metadata document URL, or from dynamic client registration (Register).
// It prints without its secret.
type Registration struct {
	// Issuer is the authorization server the client is registered with.
	// Credentials are used with that server only.
	Issuer string `json:"issuer"`
	// ClientID is the client identifier (RFC 6749 §2.2), or the https URL
	// of a client ID metadata document.
	ClientID string `json:"client_id"`
	// ClientSecret is the client secret, or "" for a public client.
	ClientSecret string `json:"client_secret,omitempty"`
	// AuthMethod is the client authentication at the token endpoint;
	// "" means AuthSecretBasic with a secret and AuthNone without.
	AuthMethod pkce.AuthMethod `json:"token_endpoint_auth_method,omitempty"`
	// SecretExpiresAt is when the secret expires (client_secret_expires_at,
	// RFC 7591 §3.2.1); zero means never.
	SecretExpiresAt time.Time `json:"client_secret_expires_at,omitzero"`
}

func (r Registration) describe() string {
	return fmt.Sprintf("protected.Registration{issuer: %q, client_id: %q, auth: %s, secret: %s}",
		r.Issuer, r.ClientID, r.AuthMethod, wire.Presence(r.ClientSecret))
}

// Format prints the registration without its secret for every verb.
func (r Registration) Format(f fmt.State, _ rune) { fmt.Fprint(f, r.describe()) }

// LogValue implements slog.LogValuer without the secret.
func (r Registration) LogValue() slog.Value {
	return slog.GroupValue(slog.String("issuer", r.Issuer), slog.String("client_id", r.ClientID),
		slog.String("auth", string(r.AuthMethod)), slog.String("secret", wire.Presence(r.ClientSecret)))
}

// A RegistrationStore keeps the registrations that dynamic client
// registration produced, one per issuer, so that a client registers once
// per authorization server and not at every start. Implementations must
// be safe for concurrent use. A registration holds a secret: keep it
// where the application keeps other credentials.
type RegistrationStore interface {
	// LoadRegistration returns the registration saved for issuer, or nil
	// and no error when there is none.
	LoadRegistration(ctx context.Context, issuer string) (*Registration, error)
	// SaveRegistration saves r under r.Issuer, replacing what was there.
	SaveRegistration(ctx context.Context, r *Registration) error
}

// memoryRegistrations is the RegistrationStore a Transport uses when it
// is given none.
type memoryRegistrations struct {
	mu sync.Mutex
	m  map[string]Registration
}

func (s *memoryRegistrations) LoadRegistration(_ context.Context, issuer string) (*Registration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[issuer]
	if !ok {
		return nil, nil
	}
	return &r, nil
}

func (s *memoryRegistrations) SaveRegistration(_ context.Context, r *Registration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]Registration)
	}
	s.m[r.Issuer] = *r
	return nil
}

// ClientMetadata is what a client asks to be registered with
// (RFC 7591 §2). Register sends every member explicitly, so that the
// server does not fill in defaults the client did not mean.
type ClientMetadata struct {
	RedirectURIs []string `json:"redirect_uris"`
	// TokenEndpointAuthMethod is sent even when it is the default, since
	// the RFC 7591 §2 default (client_secret_basic) is rarely what a
	// native client wants.
	TokenEndpointAuthMethod pkce.AuthMethod `json:"token_endpoint_auth_method"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	// ApplicationType is "native" for apps on the user's device (loopback
	// redirects) and "web" otherwise (OpenID Connect Dynamic Client
	// Registration 1.0 §2).
	ApplicationType string `json:"application_type,omitempty"`
	ClientName      string `json:"client_name,omitempty"`
	ClientURI       string `json:"client_uri,omitempty"`
	Scope           string `json:"scope,omitempty"`
	SoftwareID      string `json:"software_id,omitempty"`
	SoftwareVersion string `json:"software_version,omitempty"`
}

// registrationMembers are the members of a registration response whose
// names must be exact.
var registrationMembers = []string{"client_id", "client_secret", "client_secret_expires_at", "token_endpoint_auth_method",
	"redirect_uris", "grant_types", "response_types", "error", "error_description"}

// Register registers a client at the authorization server of md with
// dynamic client registration (RFC 7591 §3): it POSTs cm as JSON to
// md.RegistrationEndpoint, without following redirects and with the
// response bounded to 512 KiB, and returns the registration bound to
// md.Issuer.
//
// The answer must be 201 (or 200, which servers in use send) with a JSON
// object carrying client_id (RFC 7591 §3.2.1); an error object is an *OAuthError with Op opRegister
// (RFC 7591 §3.2.2, e.g. invalid_redirect_uri), anything else a
// *ResponseError. The server's token_endpoint_auth_method decides how the
// client authenticates; when the answer omits it, the method asked for
// stands. A method that needs a secret without one in the answer is an
// error; a secret issued to a client registered with "none" is dropped,
// since a public client never sends one.
//
// The request uses the *http.Client in ctx under oauth2.HTTPClient, or
// http.DefaultClient, and, without a deadline in ctx, stops after 30
// seconds.
func Register(ctx context.Context, md *pkce.Metadata, cm ClientMetadata) (*Registration, error) {
	return register(ctx, nil, md, cm, defaultMaxResponseBytes)
}

func register(ctx context.Context, fallback *http.Client, md *pkce.Metadata, cm ClientMetadata, limit int64) (*Registration, error) {
	if md == nil || md.RegistrationEndpoint == "" {
		return nil, configErrorf("the authorization server's metadata has no registration_endpoint (RFC 8414 §2, RFC 7591 §3)")
	}
	if err := link.CheckEndpoint("registration_endpoint", md.RegistrationEndpoint); err != nil {
		return nil, err
	}
	switch cm.TokenEndpointAuthMethod {
	case pkce.AuthNone, pkce.AuthSecretBasic, pkce.AuthSecretPost:
	default:
		return nil, configErrorf("token_endpoint_auth_method %q is not one the package can use", cm.TokenEndpointAuthMethod)
	}
	body, err := json.Marshal(cm)
	if err != nil {
		return nil, configErrorf("the client metadata does not encode: %v", err)
	}
	ctx, cancel := link.WithDefaultDeadline(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, md.RegistrationEndpoint, strings.NewReader(string(body)))
	if err != nil {
		return nil, link.NewRequestError(opRegister, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := link.EndpointClient(ctx, fallback).Do(req)
	if err != nil {
		return nil, link.NewRequestError(opRegister, err)
	}
	r, err := link.ReadAnswer(opRegister, md.RegistrationEndpoint, resp, limit, string(cm.TokenEndpointAuthMethod))
	if err != nil {
		return nil, err
	}
	// RFC 7591 §3.2.1 answers 201; servers in use (MCP authorization
	// servers among them) answer 200 with the same complete client
	// information, which is checked below as strictly, so both count.
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		if r.Status >= 200 && r.Status < 300 {
			return nil, r.Fail(link.ErrUnexpectedStatus, "a successful registration must have status 201 (or 200)", "RFC 7591 §3.2.1")
		}
		return nil, r.ErrorResponse("RFC 7591 §3.2.2")
	}
	m, err := r.Object("RFC 7591 §3.2.1", registrationMembers...)
	if err != nil {
		return nil, err
	}
	if secret, ok := m["client_secret"].(string); ok {
		r.Secret(secret) // nothing below quotes it
	}
	reg := &Registration{Issuer: md.Issuer, AuthMethod: cm.TokenEndpointAuthMethod}
	var ok bool
	if reg.ClientID, ok = m["client_id"].(string); !ok || reg.ClientID == "" {
		return nil, r.Fail(pkce.ErrInvalidResponse, "client_id is missing or not a string", "RFC 7591 §3.2.1")
	}
	if v, present := m["client_secret"]; present {
		if reg.ClientSecret, ok = v.(string); !ok {
			return nil, r.Fail(pkce.ErrInvalidResponse, "client_secret is not a string", "RFC 7591 §3.2.1")
		}
	}
	if v, present := m["token_endpoint_auth_method"]; present {
		s, _ := v.(string)
		switch pkce.AuthMethod(s) {
		case pkce.AuthNone, pkce.AuthSecretBasic, pkce.AuthSecretPost:
			reg.AuthMethod = pkce.AuthMethod(s)
		default:
			// The value is the server's, and may be the secret it just
			// issued: redacted before it is clipped, so that no piece of
			// the secret is quoted.
			return nil, r.Fail(pkce.ErrInvalidResponse, fmt.Sprintf("token_endpoint_auth_method %q is not one the package can use",
				wire.Clip(link.Redact(s, reg.ClientSecret), 40)), "RFC 7591 §2")
		}
	}
	switch v := m["client_secret_expires_at"].(type) {
	case nil:
	case float64:
		if v != math.Trunc(v) || v < 0 || v > math.MaxInt64/2 {
			return nil, r.Fail(pkce.ErrInvalidResponse, "client_secret_expires_at is not a whole number of seconds", "RFC 7591 §3.2.1")
		}
		if v > 0 { // 0 means the secret does not expire
			reg.SecretExpiresAt = time.Unix(int64(v), 0)
		}
	default:
		return nil, r.Fail(pkce.ErrInvalidResponse, "client_secret_expires_at is not a number", "RFC 7591 §3.2.1")
	}
	switch {
	case reg.AuthMethod == pkce.AuthNone:
		reg.ClientSecret = ""
	case reg.ClientSecret == "":
		return nil, r.Fail(pkce.ErrInvalidResponse, fmt.Sprintf("the client was registered with %s but the answer has no client_secret", reg.AuthMethod), "RFC 7591 §3.2.1")
	}
	return reg, nil
}

// registrationAuthMethod chooses the token_endpoint_auth_method to ask
// for: none when the server lists it (a native client cannot keep a
// secret, RFC 8252 §8.4), else a secret method it lists; an absent list
// means client_secret_basic (RFC 8414 §2).
func registrationAuthMethod(md *pkce.Metadata) (pkce.AuthMethod, error) {
	methods := md.TokenEndpointAuthMethodsSupported
	if len(methods) == 0 {
		return pkce.AuthSecretBasic, nil
	}
	for _, m := range []pkce.AuthMethod{pkce.AuthNone, pkce.AuthSecretBasic, pkce.AuthSecretPost} {
		for _, s := range methods {
			if s == string(m) {
				return m, nil
			}
		}
	}
	return "", fmt.Errorf("pkce: the server's token_endpoint_auth_methods_supported %q has none of none, client_secret_basic and client_secret_post", link.ClipAll(methods))
}

// checkClientIDMetadataURL applies the rules of a client ID metadata
// document URL (draft-ietf-oauth-client-id-metadata-document §3): https,
// with a path, without a fragment, user information or dot segments.
func checkClientIDMetadataURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "":
		return configErrorf("client ID metadata document URL %q must be an https URL", raw)
	case u.Path == "" || u.Path == "/":
		return configErrorf("client ID metadata document URL %q must have a path", raw)
	case u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil:
		return configErrorf("client ID metadata document URL %q must not have a fragment or user information", raw)
	case strings.Contains("/"+u.Path+"/", "/./") || strings.Contains("/"+u.Path+"/", "/../"):
		return configErrorf("client ID metadata document URL %q must not have dot segments", raw)
	}
	return nil
}
