package pkce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// Client.StartContext, or "".
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
}

// Errors of metadata retrieval. Each arrives wrapped in a *MetadataError.
// An issuer member other than the issuer asked for is an
// *IssuerMismatchError instead (RFC 8414 §3.3).
var (
	ErrMetadataNotFound = errors.New("pkce: authorization server metadata not found")
	ErrMetadataNotJSON  = errors.New("pkce: authorization server metadata is not a JSON object")
	ErrInvalidMetadata  = errors.New("pkce: authorization server metadata is invalid or unusable")
)

// A MetadataError says why authorization server metadata could not be
// fetched or used. errors.Is matches it against its Err.
type MetadataError struct {
	Err         error  // ErrMetadataNotFound, ErrMetadataNotJSON or ErrInvalidMetadata
	URL         string // the document fetched; "" for metadata given to WithMetadata
	StatusCode  int    // 0 when no response is concerned
	ContentType string
	Problem     string // what was wrong
	Rule        string // where the rule is written, e.g. "RFC 8414 §3.2"
}

func (e *MetadataError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.URL != "" {
		fmt.Fprintf(&b, " at %q", clip(e.URL, 200))
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (%d", e.StatusCode)
		if e.ContentType != "" {
			fmt.Fprintf(&b, ", %s", clip(e.ContentType, 80))
		}
		b.WriteByte(')')
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Rule != "" {
		b.WriteString("; ")
		b.WriteString(e.Rule)
	}
	return b.String()
}

func (e *MetadataError) Unwrap() error { return e.Err }

// Discover fetches the metadata of the authorization server whose issuer
// identifier is issuer: first from the RFC 8414 well-known URL, with
// /.well-known/oauth-authorization-server inserted between the host and
// the issuer's path (RFC 8414 §3.1), then, if that answers 404, from the
// OpenID Connect Discovery URL, the issuer followed by
// /.well-known/openid-configuration.
//
// The document's issuer member must equal issuer exactly (RFC 8414 §3.3),
// or Discover fails with an *IssuerMismatchError. It must also be a JSON
// object labelled application/json (RFC 8414 §3.2), name https endpoints
// (http only on loopback hosts), and support the code response type and
// S256 when it lists those; anything else is a *MetadataError.
//
// The request uses the *http.Client in ctx under oauth2.HTTPClient, or
// http.DefaultClient, never follows redirects, and reads at most
// DefaultMaxResponseBytes; a longer document is an error.
func Discover(ctx context.Context, issuer string) (*Metadata, error) {
	return discover(ctx, nil, issuer, DefaultMaxResponseBytes)
}

// NewFromIssuer discovers the authorization server's metadata (see
// Discover) and returns a Client configured from it: New(cfg, opts...)
// with WithMetadata. Leave cfg.Endpoint empty; ClientID, ClientSecret,
// RedirectURL and Scopes are still the caller's. Discovery uses the HTTP
// client of ctx or of WithHTTPClient, and the bound of WithMaxResponseBytes.
func NewFromIssuer(ctx context.Context, issuer string, cfg *oauth2.Config, opts ...Option) (*Client, error) {
	probe := Client{maxResponseBytes: DefaultMaxResponseBytes}
	for _, opt := range opts {
		opt(&probe)
	}
	limit := probe.maxResponseBytes
	if limit < 1<<10 || limit > maxResponseLimit {
		limit = DefaultMaxResponseBytes // New reports the bad option
	}
	md, err := discover(ctx, probe.httpClient, issuer, limit)
	if err != nil {
		return nil, err
	}
	return New(cfg, append(opts[:len(opts):len(opts)], WithMetadata(md))...)
}

// WithMetadata configures the Client from authorization server metadata
// (RFC 8414) that the caller already has, without any request; Discover
// and NewFromIssuer use it too. The metadata is checked as Discover checks
// it, and then:
//
//   - empty endpoints of the oauth2.Config are taken from it; endpoints the
//     config sets must equal the metadata's;
//   - the issuer becomes the expected issuer of callbacks. Unlike
//     WithIssuer, which always requires iss, a callback without iss is
//     accepted unless the metadata says the server sends it
//     (authorization_response_iss_parameter_supported, RFC 9207 §2.4); when
//     iss is present it must equal the issuer. With both options, the
//     issuers must be equal and iss is always required;
//   - without WithAuthStyle or an Endpoint.AuthStyle, the client
//     authentication is chosen from token_endpoint_auth_methods_supported:
//     client_secret_basic, else client_secret_post for a client with a
//     secret, none for a client without; New fails with ErrInvalidConfig
//     when nothing listed fits (absent means client_secret_basic,
//     RFC 8414 §2);
//   - the revocation and PAR endpoints become available to Revoke,
//     TokenSource.SignOut and StartContext, and
//     require_pushed_authorization_requests makes StartContext push every
//     request (and Start fail, see ErrPARRequired).
func WithMetadata(md *Metadata) Option {
	return func(c *Client) { c.metadata = md.clone() }
}

// Metadata returns a copy of the metadata the Client was configured with,
// or nil.
func (c *Client) Metadata() *Metadata { return c.metadata.clone() }

func (md *Metadata) clone() *Metadata {
	if md == nil {
		return nil
	}
	cp := *md
	cp.ResponseTypesSupported = slices.Clone(md.ResponseTypesSupported)
	cp.CodeChallengeMethodsSupported = slices.Clone(md.CodeChallengeMethodsSupported)
	cp.TokenEndpointAuthMethodsSupported = slices.Clone(md.TokenEndpointAuthMethodsSupported)
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
		return &IssuerMismatchError{Expected: c.issuer, Got: md.Issuer, Rule: "RFC 8414 §3.3"}
	}
	if err := md.check(); err != nil {
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
	} {
		switch *e.field {
		case "":
			*e.field = e.value
		case e.value:
		default:
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
	if c.authStyle == AuthStyleFromConfig && ep.AuthStyle == oauth2.AuthStyleAutoDetect {
		s, err := md.authStyleFor(c.config.ClientSecret != "")
		if err != nil {
			return err
		}
		c.authStyle = s
	}
	return nil
}

// authStyleFor picks the client authentication from
// token_endpoint_auth_methods_supported, preferring Basic, which every
// server must support for clients with a password (RFC 6749 §2.3.1).
func (md *Metadata) authStyleFor(secret bool) (AuthStyle, error) {
	methods := md.TokenEndpointAuthMethodsSupported
	if len(methods) == 0 {
		if secret {
			return AuthClientSecretBasic, nil
		}
		return 0, configErrorf("the server's metadata has no token_endpoint_auth_methods_supported, which means client_secret_basic only (RFC 8414 §2): a client without a secret cannot authenticate; set ClientSecret, or choose WithAuthStyle(AuthNone) if the server accepts public clients anyway")
	}
	if secret {
		for _, s := range []AuthStyle{AuthClientSecretBasic, AuthClientSecretPost} {
			if slices.Contains(methods, s.String()) {
				return s, nil
			}
		}
		return 0, configErrorf("the server's token_endpoint_auth_methods_supported %q has neither client_secret_basic nor client_secret_post, the methods of a client with a secret; choose with WithAuthStyle if the server accepts one anyway", clipAll(methods))
	}
	if slices.Contains(methods, AuthNone.String()) {
		return AuthNone, nil
	}
	return 0, configErrorf("the server's token_endpoint_auth_methods_supported %q lacks none: a client without a secret cannot authenticate; set ClientSecret, or choose WithAuthStyle(AuthNone) if the server accepts public clients anyway", clipAll(methods))
}

// check applies the rules of RFC 8414 §2 and what this package needs.
// The issuer is checked by the caller.
func (md *Metadata) check() error {
	invalid := func(problem, rule string) error {
		return &MetadataError{Err: ErrInvalidMetadata, Problem: problem, Rule: rule}
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
	} {
		if e.value == "" {
			continue
		}
		if err := checkEndpoint(e.name, e.value); err != nil {
			return invalid(configProblem(err), "RFC 8414 §2")
		}
	}
	if md.CodeChallengeMethodsSupported != nil && !slices.Contains(md.CodeChallengeMethodsSupported, MethodS256) {
		return invalid(fmt.Sprintf("code_challenge_methods_supported %q lacks S256, the only method this package uses", clipAll(md.CodeChallengeMethodsSupported)),
			"RFC 8414 §2, RFC 7636 §4.2")
	}
	if md.ResponseTypesSupported != nil && !slices.Contains(md.ResponseTypesSupported, "code") {
		return invalid(fmt.Sprintf("response_types_supported %q lacks code", clipAll(md.ResponseTypesSupported)), "RFC 8414 §2")
	}
	if md.RequirePushedAuthorizationRequests && md.PushedAuthorizationRequestEndpoint == "" {
		return invalid("require_pushed_authorization_requests is true but pushed_authorization_request_endpoint is missing", "RFC 9126 §5")
	}
	return nil
}

// checkIssuer applies RFC 8414 §2 to an issuer identifier: an https URL
// (http on loopback hosts) without query, fragment or user information.
func checkIssuer(issuer string) error {
	if err := checkEndpoint("issuer", issuer); err != nil {
		return err
	}
	u, _ := url.Parse(issuer) // checked by checkEndpoint
	if u.RawQuery != "" || u.ForceQuery || u.User != nil {
		return configErrorf("issuer %q has a query or user information (RFC 8414 §2)", issuer)
	}
	return nil
}

// configProblem is the message of a configErrorf error without its prefix.
func configProblem(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalidConfig.Error()+": ")
}

// clipAll shortens untrusted list members for messages.
func clipAll(list []string) []string {
	out := make([]string, 0, min(len(list), 8))
	for i, s := range list {
		if i == 8 {
			out = append(out, "…")
			break
		}
		out = append(out, clip(s, 40))
	}
	return out
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
	hc := endpointClient(ctx, fallback)
	oauthURL, openidURL := metadataURLs(issuer)
	var md *Metadata
	var err error
	var from string
	for _, from = range []string{oauthURL, openidURL} {
		md, err = fetchMetadata(ctx, hc, from, limit)
		if !errors.Is(err, ErrMetadataNotFound) {
			break
		}
	}
	if errors.Is(err, ErrMetadataNotFound) {
		return nil, &MetadataError{Err: ErrMetadataNotFound, URL: oauthURL, StatusCode: http.StatusNotFound,
			Problem: fmt.Sprintf("nor at %q (404); check the issuer", openidURL), Rule: "RFC 8414 §3.1"}
	}
	if err != nil {
		return nil, err
	}
	if md.Issuer != issuer {
		return nil, &IssuerMismatchError{Expected: issuer, Got: md.Issuer, Rule: "RFC 8414 §3.3"}
	}
	if err := md.check(); err != nil {
		var me *MetadataError
		if errors.As(err, &me) {
			me.URL = from
		}
		return nil, err
	}
	return md, nil
}

// fetchMetadata GETs one metadata document (RFC 8414 §3.1, §3.2).
func fetchMetadata(ctx context.Context, hc *http.Client, u string, limit int64) (*Metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("pkce: metadata request to %q: %w", clip(u, 200), err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pkce: fetching authorization server metadata: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	fail := func(kind error, problem, rule string) (*Metadata, error) {
		return nil, &MetadataError{Err: kind, URL: u, StatusCode: resp.StatusCode,
			ContentType: resp.Header.Get("Content-Type"), Problem: problem, Rule: rule}
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("pkce: reading authorization server metadata from %q: %w", clip(u, 200), err)
	case resp.StatusCode == http.StatusNotFound:
		return fail(ErrMetadataNotFound, "not found", "RFC 8414 §3.1")
	case int64(len(body)) > limit:
		return fail(ErrInvalidMetadata, fmt.Sprintf("the body is longer than %d bytes", limit), "")
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fail(ErrInvalidMetadata, fmt.Sprintf("a redirect to %q, which is not followed: the metadata must come from the issuer's own well-known URL",
			clip(resp.Header.Get("Location"), 200)), "RFC 8414 §3.1")
	case resp.StatusCode != http.StatusOK:
		return fail(ErrInvalidMetadata, "a successful response must have status 200", "RFC 8414 §3.2")
	}
	if _, problem := decodeObject(body); problem != "" {
		return fail(ErrMetadataNotJSON, problem+": "+redactor{}.excerpt(body, ""), "RFC 8414 §3.2")
	}
	if !isJSONMediaType(resp.Header.Get("Content-Type")) {
		return fail(ErrMetadataNotJSON, "the JSON object is not labelled application/json", "RFC 8414 §3.2")
	}
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fail(ErrInvalidMetadata, fmt.Sprintf("member %s is not a JSON %s", clip(te.Field, 60), jsonKind(te.Type.Kind().String())), "RFC 8414 §2")
		}
		return fail(ErrInvalidMetadata, "the JSON object cannot be read", "RFC 8414 §2")
	}
	return &md, nil
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
