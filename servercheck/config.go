package servercheck

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Client authentication methods, named as in the registry of
// token_endpoint_auth_method values (RFC 7591 §2).
const (
	AuthNone          = "none"
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
)

// A Registration is one client the authorization server knows: its
// identifier, how it authenticates, and a redirection URI registered for
// it. The checks never send a request to the redirection URI: the sign-in
// stops at the redirect to it.
type Registration struct {
	ID string
	// Method is AuthNone, AuthSecretBasic, AuthSecretPost or
	// AuthPrivateKeyJWT.
	Method string
	// Secret is the client secret of AuthSecretBasic and AuthSecretPost.
	Secret string
	// Key signs the client assertions of AuthPrivateKeyJWT (RFC 7523
	// §2.2); KeyID is sent as their kid when not empty.
	Key   crypto.Signer
	KeyID string
	// AssertionAudience is the aud of client assertions; empty means the
	// issuer identifier. Some servers want the token endpoint URL.
	AssertionAudience string
	// RedirectURI is registered for the client exactly as written here.
	RedirectURI string
}

func (r Registration) check() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("servercheck: a registration has no ID")
	case r.RedirectURI == "":
		return fmt.Errorf("servercheck: registration %q has no redirect URI", r.ID)
	}
	switch r.Method {
	case AuthNone:
	case AuthSecretBasic, AuthSecretPost:
		if r.Secret == "" {
			return fmt.Errorf("servercheck: registration %q uses %s without a secret", r.ID, r.Method)
		}
	case AuthPrivateKeyJWT:
		if r.Key == nil {
			return fmt.Errorf("servercheck: registration %q uses private_key_jwt without a key", r.ID)
		}
	default:
		return fmt.Errorf("servercheck: registration %q has unknown method %q", r.ID, r.Method)
	}
	return nil
}

// Endpoints are the server's endpoints, for a server without metadata or
// to replace what its metadata says. Empty fields are taken from the
// metadata.
type Endpoints struct {
	Authorization string
	Token         string
	Revocation    string
	PAR           string // pushed authorization requests (RFC 9126)
}

// Config says which server to check and how to act as its clients.
type Config struct {
	// Issuer is the issuer identifier; the metadata is looked for under
	// it (RFC 8414 §3) and must name it exactly (RFC 8414 §3.3).
	Issuer string
	// Endpoints override or stand in for the metadata's endpoints.
	Endpoints Endpoints
	// Clients are the registrations to act as. The first is the one most
	// checks use; the checks that need a second client, a confidential
	// one or one with Basic authentication are not applicable without
	// one. A public client (AuthNone) first checks the most rules.
	Clients []Registration
	// SignIn completes the authorization request without a person. Nil
	// means FollowRedirects for servers that approve at once.
	SignIn SignIn
	// Scope is requested in every authorization request, e.g.
	// "openid offline_access" for a server that issues refresh tokens only
	// then.
	Scope string
	// AuthorizationParams are added to every authorization request, e.g.
	// audience or prompt=consent.
	AuthorizationParams url.Values
	// HTTPClient makes every request; nil means a client with a 30 second
	// timeout. Redirects are never followed, whatever its CheckRedirect.
	HTTPClient *http.Client
}

// A SignIn completes an authorization request without a person. It gets
// the authorization URL and the redirection URI it was issued for, plays
// the part of the user agent, and returns the URL the server finally
// redirected to at redirectURI (query included), without requesting it.
// An error means no redirect to redirectURI happened.
type SignIn func(ctx context.Context, authURL, redirectURI string) (callback string, err error)

// atRedirectURI reports whether location is redirectURI with a query or
// fragment of its own, which is where the authorization response goes.
func atRedirectURI(location, redirectURI string) bool {
	rest, ok := strings.CutPrefix(location, redirectURI)
	return ok && (rest == "" || rest[0] == '?' || rest[0] == '#' || rest[0] == '&' && strings.Contains(redirectURI, "?"))
}
