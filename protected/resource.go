package protected

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"
	"github.com/pkcekit/pkce/internal/wire"
)

// ResourceMetadata is what a protected resource publishes about itself
// (RFC 9728 §2), as far as a client needs it to find its authorization
// server.
type ResourceMetadata struct {
	// Resource is the resource's identifier: the URI clients send as the
	// resource indicator (RFC 8707) and the audience of its tokens.
	Resource string `json:"resource"`
	// AuthorizationServers are the issuer identifiers of the authorization
	// servers the resource accepts tokens from (RFC 9728 §2).
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// ScopesSupported are the scopes the resource uses; the scopes to ask
	// for when a challenge names none (MCP 2025-11-25, "Scope Selection
	// Strategy").
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported are the ways the resource accepts bearer
	// tokens (RFC 6750 §2): "header", "body", "query".
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceName is a human-readable name of the resource.
	ResourceName string `json:"resource_name,omitempty"`
}

// resourceMetadataMembers are the member names of ResourceMetadata, which
// must be exact.
var resourceMetadataMembers = []string{"resource", "authorization_servers", "scopes_supported",
	"bearer_methods_supported", "resource_name"}

// wellKnownResourcePath is the well-known URI suffix of RFC 9728 §3.
const wellKnownResourcePath = "/.well-known/oauth-protected-resource"

// FetchResourceMetadata fetches the metadata of the protected resource
// that a request to resourceURL reached (RFC 9728 §3). metadataURL is the
// resource_metadata parameter of the resource's challenge (RFC 9728 §5.1),
// or "" when it had none. The locations are, in order (MCP 2025-11-25,
// "Protected Resource Metadata Discovery Requirements"):
//
//  1. metadataURL, when given: no other location is tried;
//  2. the path-based well-known URL, /.well-known/oauth-protected-resource
//     inserted between the host and the path of resourceURL (RFC 9728
//     §3.1), when resourceURL has a path;
//  3. the root one, /.well-known/oauth-protected-resource at the origin.
//
// A 4xx answer, or a 2xx that is not a JSON object labelled
// application/json, moves on from 2 to 3; anything else ends the search.
//
// metadataURL comes from a response header, so it is not trusted: it must
// be https (http only on loopback hosts) and have the origin of
// resourceURL, or FetchResourceMetadata fails before any request. No GET
// follows a redirect, and bodies are bounded to 512 KiB.
//
// The document must be a JSON object whose resource is resourceURL (less
// its query and fragment), byte for byte (RFC 9728 §3.3): metadata that
// names a parent of the URL, the bare origin included, would obtain a
// token for everything below it. Its
// authorization_servers must be a non-empty list of issuer identifiers
// (RFC 9728 §2, MCP 2025-11-25). Failures are a *ResponseError with Op
// opResourceMetadata, matching ErrInvalidResponse when the document is
// wrong.
//
// The requests use the *http.Client in ctx under oauth2.HTTPClient, or
// http.DefaultClient, and, without a deadline in ctx, stop after 30
// seconds.
func FetchResourceMetadata(ctx context.Context, resourceURL, metadataURL string) (*ResourceMetadata, error) {
	return fetchResourceMetadata(ctx, nil, resourceURL, metadataURL, sameOriginMetadata, false, defaultMaxResponseBytes)
}

// sameOriginMetadata is the default rule for resource_metadata URLs.
func sameOriginMetadata(resource, metadata *url.URL) error {
	if !link.SameOrigin(resource, metadata) {
		return fmt.Errorf("it is not on the origin of the resource %s://%s", resource.Scheme, resource.Host)
	}
	return nil
}

func fetchResourceMetadata(ctx context.Context, fallback *http.Client, resourceURL, metadataURL string,
	allow func(resource, metadata *url.URL) error, ancestors bool, limit int64) (*ResourceMetadata, error) {
	resource, err := parseResourceURL(resourceURL)
	if err != nil {
		return nil, err
	}
	var locations []string
	if metadataURL != "" {
		mu, err := url.Parse(metadataURL)
		if err == nil {
			err = link.CheckEndpoint("resource_metadata", metadataURL)
		}
		if err == nil {
			err = allow(resource, mu)
		}
		if err != nil {
			return nil, &pkce.ResponseError{Op: opResourceMetadata, Err: pkce.ErrInvalidResponse, URL: resourceURL,
				Problem: fmt.Sprintf("the challenge's resource_metadata %q is not followed: %s", wire.Clip(metadataURL, 200), configProblem(err)),
				Rule:    "RFC 9728 §5.1", Also: []string{"RFC 9728 §7.7"}}
		}
		locations = []string{metadataURL}
	} else {
		locations = resourceMetadataURLs(resource)
	}

	ctx, cancel := link.WithDefaultDeadline(ctx)
	defer cancel()
	hc := link.UserHTTPClient(ctx, fallback)
	hc = &http.Client{Transport: hc.Transport, CheckRedirect: wire.StopRedirect, Jar: hc.Jar, Timeout: hc.Timeout}
	var (
		rm       *ResourceMetadata
		from     string
		previous []string
	)
	for i, u := range locations {
		rm = new(ResourceMetadata)
		var tryNext bool
		from, tryNext, err = link.FetchJSON(ctx, hc, opResourceMetadata, u, limit, "RFC 9728 §3.2", "RFC 9728 §2", resourceMetadataMembers, rm)
		if !tryNext || i == len(locations)-1 {
			break
		}
		previous = append(previous, fmt.Sprintf("at %s: %v", u, err))
	}
	if err != nil {
		var re *pkce.ResponseError
		if len(previous) > 0 && errors.As(err, &re) {
			re.Problem += "; and " + strings.Join(previous, "; ")
		}
		return nil, err
	}
	if err := rm.check(resource, from, ancestors); err != nil {
		return nil, err
	}
	return rm, nil
}

// check applies RFC 9728 §2 and §3.3 to a fetched document; ancestors
// accepts a resource that covers the URL requested (see
// Transport.AllowAncestorResource).
func (rm *ResourceMetadata) check(requested *url.URL, from string, ancestors bool) error {
	invalid := func(problem string, rule string, also ...string) error {
		return &pkce.ResponseError{Op: opResourceMetadata, Err: pkce.ErrInvalidResponse, URL: from, StatusCode: http.StatusOK,
			Problem: problem, Rule: rule, Also: also}
	}
	if rm.Resource == "" {
		return invalid("resource is missing", "RFC 9728 §2")
	}
	if ancestors && !resourceCovers(rm.Resource, requested) || !ancestors && rm.Resource != requested.String() {
		return invalid(fmt.Sprintf("resource %q does not identify the resource requested, %q; the metadata is for another resource, or was planted",
			wire.Clip(rm.Resource, 200), requested.String()), "RFC 9728 §3.3", "RFC 9728 §7.3")
	}
	if len(rm.AuthorizationServers) == 0 {
		return invalid("authorization_servers is missing or empty, so there is no authorization server to ask for a token", "RFC 9728 §2", "MCP 2025-11-25 Authorization Server Location")
	}
	for _, as := range rm.AuthorizationServers {
		if err := link.CheckIssuer(as); err != nil {
			return invalid("authorization_servers has an entry that is not an issuer identifier: "+configProblem(err), "RFC 9728 §2", "RFC 8414 §2")
		}
	}
	return nil
}

// parseResourceURL parses the URL a request went to, as the resource it
// addresses: an https URL (http on loopback hosts) without its query and
// fragment.
func parseResourceURL(raw string) (*url.URL, error) {
	if err := link.CheckEndpoint("resource URL", raw); err != nil {
		return nil, err
	}
	u, _ := url.Parse(raw) // checked by checkEndpoint
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	return u, nil
}

// resourceMetadataURLs returns the well-known locations of RFC 9728 §3.1
// for resource: path-based first when it has a path, then the root.
func resourceMetadataURLs(resource *url.URL) []string {
	origin := resource.Scheme + "://" + resource.Host
	path := strings.TrimSuffix(resource.EscapedPath(), "/")
	if path == "" {
		return []string{origin + wellKnownResourcePath}
	}
	return []string{origin + wellKnownResourcePath + path, origin + wellKnownResourcePath}
}

// resourceCovers reports whether the resource identifier id covers the
// requested URL: same origin, no query or fragment, and a path that is
// requested's or an ancestor of it on a segment boundary.
func resourceCovers(id string, requested *url.URL) bool {
	u, err := url.Parse(id)
	if err != nil || !u.IsAbs() || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil || strings.Contains(id, "#") {
		return false
	}
	if !link.SameOrigin(u, requested) {
		return false
	}
	idPath := strings.TrimSuffix(u.EscapedPath(), "/")
	reqPath := requested.EscapedPath()
	return idPath == "" || reqPath == idPath || strings.HasPrefix(reqPath, idPath+"/")
}
