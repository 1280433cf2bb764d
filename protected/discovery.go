package protected

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"
	"github.com/pkcekit/pkce/internal/wire"
)

// Steps 2 and 3 of the Transport's chain: from the API's challenge to
// the authorization server's metadata, and the checks that keep a remote
// document from steering the client.

// discover runs steps 2 to 5 of the chain for a resource seen for the
// first time.
func (t *Transport) discover(ctx context.Context, reqURL *url.URL, challenge Challenge) (*session, error) {
	hc := t.HTTPClient
	allow := t.metadataRule()
	metadataURL := challenge.Param("resource_metadata")
	remote := !link.IsLoopbackHost(reqURL.Hostname()) && !t.AllowLocalAuthorizationServers
	if remote && metadataURL != "" {
		if err := checkRemote("resource_metadata", metadataURL); err != nil {
			return nil, steered(reqURL, err)
		}
	}
	rm, err := fetchResourceMetadata(ctx, hc, reqURL.String(), metadataURL, allow, t.AllowAncestorResource, defaultMaxResponseBytes)
	var md *pkce.Metadata
	var resource string
	switch {
	case err != nil && metadataURL == "" && t.AllowMCP20250326Fallback && noMetadataHere(err):
		md, err = legacyMetadata(ctx, hc, reqURL)
		if err != nil {
			return nil, err
		}
		ru, _ := parseResourceURL(reqURL.String())
		resource = ru.String()
	case err != nil:
		return nil, err
	default:
		issuer := rm.AuthorizationServers[0]
		if t.ChooseAuthorizationServer != nil {
			if issuer, err = t.chooseServer(rm); err != nil {
				return nil, err
			}
		}
		if remote {
			if err := checkRemote("authorization server", issuer); err != nil {
				return nil, steered(reqURL, err)
			}
		}
		if md, err = discoverAuthorizationServer(ctx, hc, issuer, defaultMaxResponseBytes); err != nil {
			return nil, err
		}
		resource = rm.Resource
	}
	if remote {
		if err := checkRemoteMetadata(md); err != nil {
			return nil, steered(reqURL, err)
		}
	}

	s := &session{resource: resource, issuer: md.Issuer, md: md}
	if err := t.findRegistration(ctx, s); err != nil {
		return nil, err
	}
	scopes := strings.Fields(challenge.Param("scope"))
	if len(scopes) == 0 && rm != nil {
		scopes = slices.Clone(rm.ScopesSupported)
	}
	if len(scopes) > 0 && slices.Contains(md.ScopesSupported, "offline_access") && !slices.Contains(scopes, "offline_access") {
		scopes = append(scopes, "offline_access")
	}
	if err := t.rescope(s, scopes); err != nil {
		return nil, err
	}
	return s, nil
}

// steered is the error for a document that names a local or plain-http
// URL for a remote API.
func steered(reqURL *url.URL, err error) error {
	return fmt.Errorf("pkce: the API at %s sent the client to a URL it does not request for a remote API: %v; "+
		"set AllowLocalAuthorizationServers for a development setup whose authorization server is local (RFC 9728 §7.7)",
		wire.Clip(reqURL.Scheme+"://"+reqURL.Host, 200), err)
}

// noMetadataHere reports whether err says that the resource has no
// metadata at the locations asked, as opposed to broken metadata.
func noMetadataHere(err error) bool {
	var re *pkce.ResponseError
	return errors.As(err, &re) && (errors.Is(err, link.ErrNotJSON) || errors.Is(err, link.ErrUnexpectedStatus) && re.StatusCode >= 400 && re.StatusCode < 500)
}

// chooseServer runs the application's choice, which must be one of the
// servers the resource named.
func (t *Transport) chooseServer(rm *ResourceMetadata) (issuer string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("pkce: ChooseAuthorizationServer panicked: %v", v)
		}
	}()
	issuer, err = t.ChooseAuthorizationServer(rm)
	if err != nil {
		return "", err
	}
	if !slices.Contains(rm.AuthorizationServers, issuer) {
		return "", fmt.Errorf("pkce: ChooseAuthorizationServer chose %q, which is not among the resource's authorization_servers", wire.Clip(issuer, 200))
	}
	return issuer, nil
}

// legacyMetadata finds the authorization server of an MCP 2025-03-26
// server: RFC 8414 metadata at the root of the API's origin, or the
// default endpoints there.
func legacyMetadata(ctx context.Context, fallback *http.Client, reqURL *url.URL) (*pkce.Metadata, error) {
	origin := reqURL.Scheme + "://" + reqURL.Host
	if err := link.CheckIssuer(origin); err != nil {
		return nil, err
	}
	ctx, cancel := link.WithDefaultDeadline(ctx)
	defer cancel()
	hc := link.UserHTTPClient(ctx, fallback)
	hc = &http.Client{Transport: hc.Transport, CheckRedirect: link.SameOriginRedirects, Jar: hc.Jar, Timeout: hc.Timeout}
	v, from, tryNext, err := link.FetchMetadata(ctx, hc, origin+"/.well-known/oauth-authorization-server", defaultMaxResponseBytes)
	switch {
	case tryNext:
		return &pkce.Metadata{Issuer: origin, AuthorizationEndpoint: origin + "/authorize", TokenEndpoint: origin + "/token",
			RegistrationEndpoint: origin + "/register"}, nil
	case err != nil:
		return nil, err
	}
	md := v.(*pkce.Metadata)
	iu, perr := url.Parse(md.Issuer)
	if perr != nil || link.CheckIssuer(md.Issuer) != nil || !link.SameOrigin(iu, reqURL) {
		return nil, &pkce.ResponseError{Op: opDiscover, Err: pkce.ErrIssuerMismatch, URL: from,
			Problem: fmt.Sprintf("the issuer member %q is not on the origin %q of the MCP server", wire.Clip(md.Issuer, 200), origin),
			Rule:    "MCP 2025-03-26 Server Metadata Discovery", Also: []string{"RFC 8414 §3.3"}}
	}
	if err := link.CheckMetadata(md, from); err != nil {
		return nil, err
	}
	return md, nil
}

// migrated reports whether the resource of s now names authorization
// servers among which the session's is not: the resource moved to
// another server, and the client must register with it rather than use
// the old registration (MCP SEP-2352). Metadata that cannot be had now
// changes nothing.
func (t *Transport) migrated(ctx context.Context, reqURL *url.URL, challenge Challenge, s *session) bool {
	allow := t.metadataRule()
	metadataURL := challenge.Param("resource_metadata")
	if metadataURL != "" && !link.IsLoopbackHost(reqURL.Hostname()) && !t.AllowLocalAuthorizationServers && checkRemote("resource_metadata", metadataURL) != nil {
		return false
	}
	rm, err := fetchResourceMetadata(ctx, t.HTTPClient, reqURL.String(), metadataURL, allow,
		t.AllowAncestorResource, defaultMaxResponseBytes)
	return err == nil && !slices.Contains(rm.AuthorizationServers, s.issuer)
}

// DiscoverAuthorizationServer fetches the metadata of an authorization server
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
// document, are those of pkce.Discover, with one more: the document must list
// code_challenge_methods_supported, and the list must contain S256. Where
// pkce.Discover takes an absent list to mean "not advertised", a client that
// will send a person to a server it was pointed at must know that the
// server does PKCE (MCP 2025-11-25, "Authorization Code Protection"), so
// absence fails with a *ResponseError matching ErrInvalidResponse.
func DiscoverAuthorizationServer(ctx context.Context, issuer string) (*pkce.Metadata, error) {
	return discoverAuthorizationServer(ctx, nil, issuer, defaultMaxResponseBytes)
}

func discoverAuthorizationServer(ctx context.Context, fallback *http.Client, issuer string, limit int64) (*pkce.Metadata, error) {
	if err := link.CheckIssuer(issuer); err != nil {
		return nil, err
	}
	v, err := link.DiscoverAt(ctx, fallback, issuer, resourceDiscoveryURLs(issuer), limit)
	if err != nil {
		return nil, err
	}
	md := v.(*pkce.Metadata)
	if md.CodeChallengeMethodsSupported == nil {
		return nil, &pkce.ResponseError{Op: opDiscover, Err: pkce.ErrInvalidResponse, URL: link.MetadataURL(issuer),
			Problem: "code_challenge_methods_supported is missing, so the server does not say that it supports PKCE with S256; refused",
			Rule:    "MCP 2025-11-25 Authorization Code Protection", Also: []string{"RFC 8414 §2"}}
	}
	return md, nil
}

// resourceDiscoveryURLs returns the locations DiscoverAuthorizationServer asks, in
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
