package pkce

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/oauth2"
)

// Metadata is what an authorization server publishes about itself
// (RFC 8414 §2), as far as this package uses it. Get it from Discover, or
// fill it in from what the provider documents and pass it to WithMetadata.
type Metadata struct {
	// Issuer is the server's issuer identifier: an https URL without query
	// or fragment (RFC 8414 §2).
	Issuer string `json:"issuer"`
	// AuthorizationEndpoint and TokenEndpoint are required here, since the
	// package runs the authorization code grant (RFC 8414 §2).
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	// RevocationEndpoint is the RFC 7009 endpoint used by Client.Revoke
	// and TokenSource.SignOut, or "".
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	// PushedAuthorizationRequestEndpoint is the RFC 9126 endpoint used by
	// Client.Start, or "".
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint,omitempty"`
	// RequirePushedAuthorizationRequests says that the server accepts
	// only pushed authorization requests (RFC 9126 §5).
	RequirePushedAuthorizationRequests bool `json:"require_pushed_authorization_requests,omitempty"`
	// ResponseTypesSupported, when present, must contain "code".
	ResponseTypesSupported []string `json:"response_types_supported,omitempty"`
	// CodeChallengeMethodsSupported, when present, must contain S256
	// (RFC 8414 §2, RFC 7636 §4.2).
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported,omitempty"`
	// TokenEndpointAuthMethodsSupported lists the client authentication
	// methods of the token endpoint; absent means client_secret_basic
	// only (RFC 8414 §2).
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// AuthorizationResponseIssParameterSupported says that every
	// authorization response carries iss (RFC 9207 §3).
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	// RegistrationEndpoint is the dynamic client registration endpoint
	// (RFC 7591 §3), or "".
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
	// ScopesSupported lists the scopes the server knows (RFC 8414 §2);
	// the package asks for offline_access only when it is listed.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// ClientIDMetadataDocumentSupported says that the server accepts an
	// https URL as client_id and fetches the client's metadata from it
	// (OAuth Client ID Metadata Document, draft-ietf-oauth-client-id-metadata-document §4).
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported,omitempty"`
	// TokenEndpointAuthSigningAlgValuesSupported lists the JWS algorithms
	// the server accepts for private_key_jwt assertions (RFC 8414 §2).
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	// DPoPSigningAlgValuesSupported lists the JWS algorithms the server
	// accepts for DPoP proofs (RFC 9449 §5.1).
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// JWKSURI, UserinfoEndpoint and EndSessionEndpoint are the OpenID
	// Provider's keys (OpenID Connect Discovery 1.0 §3), UserInfo
	// endpoint (Core §5.3) and end-session endpoint (RP-Initiated Logout
	// 1.0 §2.1), or "".
	JWKSURI            string `json:"jwks_uri,omitempty"`
	UserinfoEndpoint   string `json:"userinfo_endpoint,omitempty"`
	EndSessionEndpoint string `json:"end_session_endpoint,omitempty"`
}

// Discover fetches the metadata of the authorization server whose issuer
// identifier is issuer. It asks first at the RFC 8414 well-known URL, with
// /.well-known/oauth-authorization-server inserted between the host and
// the issuer's path (RFC 8414 §3.1). When that location does not yield
// metadata (any 4xx answer, or a 2xx that is not a JSON object labelled
// application/json), it asks at the OpenID Connect Discovery URL, the
// issuer followed by /.well-known/openid-configuration. A 5xx answer or a
// network error at either is a failure, not a reason to look elsewhere.
//
// Each GET follows at most 3 redirects, and only within the origin
// (scheme, host and port) of the URL asked; a redirect elsewhere is an
// error that names its target. Whatever the redirects, the document's
// issuer member must equal issuer exactly (RFC 8414 §3.3), or Discover
// fails with a *ResponseError matching ErrIssuerMismatch. The document
// must also name https endpoints (http only on loopback hosts), and
// support the code response type and S256 when it lists those; anything
// else is a *ResponseError with Op opDiscover.
//
// The requests use the *http.Client in ctx under oauth2.HTTPClient, or
// http.DefaultClient, read at most 512 KiB and, without a deadline in
// ctx, stop after 30 seconds.
func Discover(ctx context.Context, issuer string) (*Metadata, error) {
	return discover(ctx, nil, issuer, defaultMaxResponseBytes)
}

// NewFromIssuer discovers the authorization server's metadata (see
// Discover) and returns a Client configured from it, as New(cfg, opts...)
// with WithMetadata would. Leave cfg.Endpoint empty; ClientID,
// ClientSecret, RedirectURL and Scopes are still the caller's. Discovery
// uses the HTTP client of ctx or of WithHTTPClient, and the bound of
// WithMaxResponseBytes.
func NewFromIssuer(ctx context.Context, issuer string, cfg *oauth2.Config, opts ...Option) (*Client, error) {
	c, err := newClient(cfg, opts)
	if err != nil {
		return nil, err
	}
	md, err := c.discover(ctx, issuer) // tolerances.go
	if err != nil {
		return nil, err
	}
	c.metadata = md
	if err := c.init(); err != nil {
		return nil, err
	}
	return c, nil
}

// WithMetadata configures the Client from authorization server metadata
// (RFC 8414) that the caller already has, without any request. The
// metadata is checked as Discover checks it, and then:
//
//   - empty endpoints of the oauth2.Config are taken from it; endpoints the
//     config sets must equal the metadata's;
//   - the issuer becomes the expected issuer of callbacks. Unlike
//     WithIssuer, which always requires iss, a callback without iss is
//     accepted unless the metadata says the server sends it
//     (authorization_response_iss_parameter_supported, RFC 9207 §2.4); when
//     iss is present it must equal the issuer. With both options, the
//     issuers must be equal and iss is always required;
//   - without WithAuthMethod or an Endpoint.AuthStyle, a client with a
//     secret uses client_secret_basic, else client_secret_post, whichever
//     token_endpoint_auth_methods_supported lists first in that order (an
//     absent list means client_secret_basic, RFC 8414 §2); New fails with
//     ErrInvalidConfig when it lists neither. A client without a secret
//     uses none even when the list omits it: a public client has no other
//     method, and many servers that accept public clients do not list it;
//   - the revocation and PAR endpoints become available to Revoke,
//     TokenSource.SignOut and Start, and
//     require_pushed_authorization_requests makes Start push every
//     request.
func WithMetadata(md *Metadata) Option {
	return func(c *Client) error {
		if md == nil {
			return configErrorf("WithMetadata was given nil metadata")
		}
		c.metadata = md.clone()
		return nil
	}
}

func (md *Metadata) clone() *Metadata {
	if md == nil {
		return nil
	}
	cp := *md
	cp.ResponseTypesSupported = slices.Clone(md.ResponseTypesSupported)
	cp.CodeChallengeMethodsSupported = slices.Clone(md.CodeChallengeMethodsSupported)
	cp.TokenEndpointAuthMethodsSupported = slices.Clone(md.TokenEndpointAuthMethodsSupported)
	cp.ScopesSupported = slices.Clone(md.ScopesSupported)
	cp.TokenEndpointAuthSigningAlgValuesSupported = slices.Clone(md.TokenEndpointAuthSigningAlgValuesSupported)
	cp.DPoPSigningAlgValuesSupported = slices.Clone(md.DPoPSigningAlgValuesSupported)
	return &cp
}

// applyMetadata fills the configuration from c.metadata; New calls it
// before its other checks.
func (c *Client) applyMetadata() error {
	md := c.metadata
	if md == nil {
		if c.pushAuthorization {
			return configErrorf("pushed authorization requests need the server's metadata (WithMetadata or NewFromIssuer) with a pushed_authorization_request_endpoint")
		}
		return nil
	}
	if err := checkIssuer(md.Issuer); err != nil {
		return err
	}
	if c.issuer != "" && c.issuer != md.Issuer {
		return configErrorf("WithIssuer %q differs from the metadata's issuer %q (RFC 8414 §3.3)", c.issuer, md.Issuer)
	}
	if err := md.check(""); err != nil {
		return err
	}
	ep := &c.config.Endpoint
	for _, e := range []struct {
		field *string
		name  string
		value string
	}{
		{&ep.AuthURL, "AuthURL", md.AuthorizationEndpoint},
		{&ep.TokenURL, "TokenURL", md.TokenEndpoint},
		{&c.revocationURL, "WithRevocationURL", md.RevocationEndpoint},
	} {
		switch *e.field {
		case "":
			*e.field = e.value
		case e.value:
		default:
			if e.value == "" {
				continue // the metadata does not list it; the caller knows better
			}
			return configErrorf("%s %q differs from the metadata's %q; leave it empty to use the metadata", e.name, *e.field, e.value)
		}
	}
	// WithIssuer's rule stays as it is; metadata requires iss only when the
	// server says it sends it (RFC 9207 §2.4).
	c.issOptional = c.issuer == "" && !md.AuthorizationResponseIssParameterSupported
	c.issuer = md.Issuer
	if md.RequirePushedAuthorizationRequests {
		c.pushAuthorization = true
	}
	if c.pushAuthorization && md.PushedAuthorizationRequestEndpoint == "" {
		return configErrorf("pushed authorization requests were asked for, but the metadata has no pushed_authorization_request_endpoint (RFC 9126 §5)")
	}
	if c.authMethod == "" && c.clientKey != nil {
		if !slices.Contains(md.TokenEndpointAuthMethodsSupported, string(AuthPrivateKeyJWT)) {
			return configErrorf("a client key is set, but the server's token_endpoint_auth_methods_supported %q lacks private_key_jwt; choose with WithAuthMethod if the server accepts it anyway", clipAll(md.TokenEndpointAuthMethodsSupported))
		}
		c.authMethod = AuthPrivateKeyJWT
	}
	if c.authMethod == "" && ep.AuthStyle == oauth2.AuthStyleAutoDetect && c.config.ClientSecret != "" {
		m, err := md.secretMethod()
		if err != nil {
			return err
		}
		c.authMethod = m
	}
	return nil
}

// secretMethod picks the authentication of a client with a secret from
// token_endpoint_auth_methods_supported, preferring Basic, which every
// server must support for clients with a password (RFC 6749 §2.3.1).
func (md *Metadata) secretMethod() (AuthMethod, error) {
	methods := md.TokenEndpointAuthMethodsSupported
	if len(methods) == 0 {
		return AuthSecretBasic, nil // the default of RFC 8414 §2
	}
	for _, m := range []AuthMethod{AuthSecretBasic, AuthSecretPost} {
		if slices.Contains(methods, string(m)) {
			return m, nil
		}
	}
	return "", configErrorf("the server's token_endpoint_auth_methods_supported %q has neither client_secret_basic nor client_secret_post, the methods of a client with a secret; choose with WithAuthMethod if the server accepts one anyway", clipAll(methods))
}

// check applies the rules of RFC 8414 §2 and what this package needs to
// metadata fetched from u ("" for metadata given to WithMetadata). The
// issuer is checked by the caller.
func (md *Metadata) check(u string) error {
	invalid := func(problem string, rule string, also ...string) error {
		return &ResponseError{Op: opDiscover, Err: ErrInvalidResponse, URL: u, Problem: problem, Rule: rule, Also: also}
	}
	for _, e := range []struct{ name, value string }{
		{"authorization_endpoint", md.AuthorizationEndpoint},
		{"token_endpoint", md.TokenEndpoint},
	} {
		if e.value == "" {
			return invalid(e.name+" is missing", "RFC 8414 §2")
		}
	}
	for _, e := range []struct{ name, value string }{
		{"authorization_endpoint", md.AuthorizationEndpoint},
		{"token_endpoint", md.TokenEndpoint},
		{"revocation_endpoint", md.RevocationEndpoint},
		{"pushed_authorization_request_endpoint", md.PushedAuthorizationRequestEndpoint},
		{"registration_endpoint", md.RegistrationEndpoint},
		{"jwks_uri", md.JWKSURI},
		{"userinfo_endpoint", md.UserinfoEndpoint},
		{"end_session_endpoint", md.EndSessionEndpoint},
	} {
		if e.value == "" {
			continue
		}
		if err := checkEndpoint(e.name, e.value); err != nil {
			return invalid(configProblem(err), "RFC 8414 §2")
		}
	}
	if md.CodeChallengeMethodsSupported != nil && !slices.Contains(md.CodeChallengeMethodsSupported, methodS256) {
		return invalid(fmt.Sprintf("code_challenge_methods_supported %q lacks S256, the only method this package uses", clipAll(md.CodeChallengeMethodsSupported)),
			"RFC 8414 §2", "RFC 7636 §4.2")
	}
	if md.ResponseTypesSupported != nil && !slices.Contains(md.ResponseTypesSupported, "code") {
		return invalid(fmt.Sprintf("response_types_supported %q lacks code", clipAll(md.ResponseTypesSupported)), "RFC 8414 §2")
	}
	if md.RequirePushedAuthorizationRequests && md.PushedAuthorizationRequestEndpoint == "" {
		return invalid("require_pushed_authorization_requests is true but pushed_authorization_request_endpoint is missing", "RFC 9126 §5")
	}
	return nil
}
