package pkce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

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
// else is a *ResponseError with Op OpDiscover.
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
	invalid := func(problem string, rule Rule, also ...Rule) error {
		return &ResponseError{Op: OpDiscover, Err: ErrInvalidResponse, URL: u, Problem: problem, Rule: rule, Also: also}
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

// metadataURLs returns the RFC 8414 §3.1 URL and the OpenID Connect
// Discovery 1.0 §4 URL of issuer's metadata. Both drop a terminating slash
// of the issuer's path.
func metadataURLs(issuer string) (oauth, openid string) {
	u, _ := url.Parse(issuer) // checked by checkIssuer
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return origin + "/.well-known/oauth-authorization-server" + path,
		origin + path + "/.well-known/openid-configuration"
}

func discover(ctx context.Context, fallback *http.Client, issuer string, limit int64) (*Metadata, error) {
	if err := checkIssuer(issuer); err != nil {
		return nil, err
	}
	oauthURL, openidURL := metadataURLs(issuer)
	return discoverAt(ctx, fallback, issuer, []string{oauthURL, openidURL}, limit)
}

// discoverAt asks the locations in order until one yields metadata (see
// Discover for what makes it try the next), and checks the issuer and the
// document.
func discoverAt(ctx context.Context, fallback *http.Client, issuer string, locations []string, limit int64) (*Metadata, error) {
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	hc := userHTTPClient(ctx, fallback)
	hc = &http.Client{Transport: hc.Transport, CheckRedirect: sameOriginRedirects, Jar: hc.Jar, Timeout: hc.Timeout}
	var (
		md       *Metadata
		from     string
		err      error
		previous []string
	)
	for i, u := range locations {
		var tryNext bool
		md, from, tryNext, err = fetchMetadata(ctx, hc, u, limit)
		if !tryNext || i == len(locations)-1 {
			break
		}
		previous = append(previous, fmt.Sprintf("at %s: %v", u, err))
	}
	if err != nil {
		var re *ResponseError
		if len(previous) > 0 && errors.As(err, &re) {
			re.Problem += "; and " + strings.Join(previous, "; ")
		}
		return nil, err
	}
	if md.Issuer != issuer {
		return nil, &ResponseError{Op: OpDiscover, Err: ErrIssuerMismatch, URL: from,
			Problem: fmt.Sprintf("the issuer member %q differs from the issuer %q that was asked for", clip(md.Issuer, 200), issuer),
			Rule:    "RFC 8414 §3.3"}
	}
	if err := md.check(from); err != nil {
		return nil, err
	}
	return md, nil
}

// DiscoverForResource fetches the metadata of an authorization server
// that a protected resource named (RFC 9728 §2), with the stricter rules
// of the MCP authorization specification (2025-11-25, "Authorization
// Server Metadata Discovery"), which suit any client that learned the
// issuer from a resource rather than from its own configuration. It asks,
// in this order, until one location yields metadata:
//
//  1. the RFC 8414 URL: /.well-known/oauth-authorization-server inserted
//     between the host and the issuer's path (RFC 8414 §3.1);
//  2. the OpenID Connect URL with the same insertion:
//     /.well-known/openid-configuration between the host and the path;
//  3. the OpenID Connect Discovery 1.0 §4 URL: the issuer followed by
//     /.well-known/openid-configuration.
//
// For an issuer without a path, 2 and 3 are the same URL and it is asked
// once. What makes it try the next location, and the checks of the
// document, are those of Discover, with one more: the document must list
// code_challenge_methods_supported, and the list must contain S256. Where
// Discover takes an absent list to mean "not advertised", a client that
// will send a person to a server it was pointed at must know that the
// server does PKCE (MCP 2025-11-25, "Authorization Code Protection"), so
// absence fails with a *ResponseError matching ErrInvalidResponse.
func DiscoverForResource(ctx context.Context, issuer string) (*Metadata, error) {
	return discoverForResource(ctx, nil, issuer, defaultMaxResponseBytes)
}

func discoverForResource(ctx context.Context, fallback *http.Client, issuer string, limit int64) (*Metadata, error) {
	if err := checkIssuer(issuer); err != nil {
		return nil, err
	}
	md, err := discoverAt(ctx, fallback, issuer, resourceDiscoveryURLs(issuer), limit)
	if err != nil {
		return nil, err
	}
	if md.CodeChallengeMethodsSupported == nil {
		oauthURL, _ := metadataURLs(issuer)
		return nil, &ResponseError{Op: OpDiscover, Err: ErrInvalidResponse, URL: oauthURL,
			Problem: "code_challenge_methods_supported is missing, so the server does not say that it supports PKCE with S256; refused",
			Rule:    "MCP 2025-11-25 Authorization Code Protection", Also: []Rule{"RFC 8414 §2"}}
	}
	return md, nil
}

// resourceDiscoveryURLs returns the locations DiscoverForResource asks, in
// order, without repeats.
func resourceDiscoveryURLs(issuer string) []string {
	u, _ := url.Parse(issuer) // checked by checkIssuer
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	urls := []string{origin + "/.well-known/oauth-authorization-server" + path}
	if path == "" {
		return append(urls, origin+"/.well-known/openid-configuration")
	}
	return append(urls, origin+"/.well-known/openid-configuration"+path, origin+path+"/.well-known/openid-configuration")
}

// maxMetadataRedirects bounds the redirects a metadata GET follows.
const maxMetadataRedirects = 3

// sameOriginRedirects lets a metadata GET, which carries no credentials,
// follow a few redirects within the origin it started at (a server that
// adds a trailing slash, say). The issuer check afterwards keeps a
// redirect from changing whom the client trusts.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) > maxMetadataRedirects {
		return fmt.Errorf("pkce: more than %d redirects", maxMetadataRedirects)
	}
	if !sameOrigin(req.URL, via[0].URL) {
		return &crossOriginRedirect{target: req.URL.String()}
	}
	return nil
}

type crossOriginRedirect struct{ target string }

func (e *crossOriginRedirect) Error() string {
	return "pkce: a redirect leaves the origin of the metadata URL"
}

// metadataMembers are the member names of Metadata, which must be exact.
var metadataMembers = []string{"issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint",
	"pushed_authorization_request_endpoint", "require_pushed_authorization_requests", "response_types_supported",
	"code_challenge_methods_supported", "token_endpoint_auth_methods_supported",
	"authorization_response_iss_parameter_supported", "registration_endpoint", "scopes_supported",
	"client_id_metadata_document_supported",
	"token_endpoint_auth_signing_alg_values_supported", "dpop_signing_alg_values_supported"}

// fetchMetadata GETs one metadata document (RFC 8414 §3.1, §3.2) and
// returns it with the URL it came from. tryNext reports an answer after
// which the next location may be tried: any 4xx, or a 2xx that is not a
// JSON object labelled as JSON.
func fetchMetadata(ctx context.Context, hc *http.Client, u string, limit int64) (md *Metadata, from string, tryNext bool, err error) {
	md = new(Metadata)
	from, tryNext, err = fetchJSON(ctx, hc, OpDiscover, u, limit, "RFC 8414 §3.2", "RFC 8414 §2", metadataMembers, md)
	if err != nil {
		return nil, from, tryNext, err
	}
	return md, from, false, nil
}

// fetchJSON GETs the JSON object at u into dst, for the metadata
// documents of RFC 8414 and RFC 9728. The body is bounded by limit;
// members are the names that must be exact (see caseCollision). rule is
// where the answer's form is written, memberRule where the members are.
// tryNext reports an answer after which another location may be tried:
// any 4xx, or a 2xx that is not a JSON object labelled as JSON.
func fetchJSON(ctx context.Context, hc *http.Client, op Op, u string, limit int64, rule, memberRule Rule, members []string, dst any) (from string, tryNext bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return u, false, &RequestError{Op: op, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		var cross *crossOriginRedirect
		if errors.As(err, &cross) {
			return u, false, &ResponseError{Op: op, Err: ErrUnexpectedStatus, URL: u,
				Problem: fmt.Sprintf("a redirect to %q, outside the origin of the metadata URL, which is not followed", clip(cross.target, 200)),
				Rule:    rule}
		}
		return u, false, &RequestError{Op: op, Err: err}
	}
	from = resp.Request.URL.String()
	body, err := readBody(op, resp, limit, redactor{})
	if err != nil {
		return from, false, err
	}
	r := newServerResponse(op, from, resp, body, redactor{}, "")
	switch {
	case r.status >= 400 && r.status < 500:
		return from, true, r.fail(ErrUnexpectedStatus, "no metadata here", rule)
	case r.status >= 300 && r.status < 400:
		return from, false, r.fail(ErrUnexpectedStatus, fmt.Sprintf("a redirect to %q, which is not followed", clip(resp.Header.Get("Location"), 200)), rule)
	case r.status != http.StatusOK:
		return from, false, r.fail(ErrUnexpectedStatus, "metadata must be served with status 200", rule)
	}
	if _, err := r.jsonObject(rule, members...); err != nil {
		return from, errors.Is(err, ErrNotJSON), err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return from, false, r.fail(ErrInvalidResponse, fmt.Sprintf("member %s is not a JSON %s", clip(te.Field, 60), jsonKind(te.Type.Kind().String())), memberRule)
		}
		return from, false, r.fail(ErrInvalidResponse, "the JSON object cannot be read", memberRule)
	}
	return from, false, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice":
		return "array of strings"
	case "bool":
		return "boolean"
	}
	return goKind
}
