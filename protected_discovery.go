package pkce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Steps 2 and 3 of the Transport's chain: from the API's challenge to
// the authorization server's metadata, and the checks that keep a remote
// document from steering the client.

// discover runs steps 2 to 5 of the chain for a resource seen for the
// first time.
func (t *Transport) discover(ctx context.Context, reqURL *url.URL, challenge Challenge) (*session, error) {
	hc := t.HTTPClient
	allow := t.AllowMetadataURL
	if allow == nil {
		allow = sameOriginMetadata
	}
	metadataURL := challenge.Param("resource_metadata")
	remote := !isLoopbackHost(reqURL.Hostname()) && !t.AllowLocalAuthorizationServers
	if remote && metadataURL != "" {
		if err := checkRemote("resource_metadata", metadataURL); err != nil {
			return nil, steered(reqURL, err)
		}
	}
	rm, err := fetchResourceMetadata(ctx, hc, reqURL.String(), metadataURL, allow, t.AllowAncestorResource, defaultMaxResponseBytes)
	var md *Metadata
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
		if md, err = discoverForResource(ctx, hc, issuer, defaultMaxResponseBytes); err != nil {
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
		clip(reqURL.Scheme+"://"+reqURL.Host, 200), err)
}

// noMetadataHere reports whether err says that the resource has no
// metadata at the locations asked, as opposed to broken metadata.
func noMetadataHere(err error) bool {
	var re *ResponseError
	return errors.As(err, &re) && (errors.Is(err, errNotJSON) || errors.Is(err, errUnexpectedStatus) && re.StatusCode >= 400 && re.StatusCode < 500)
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
		return "", fmt.Errorf("pkce: ChooseAuthorizationServer chose %q, which is not among the resource's authorization_servers", clip(issuer, 200))
	}
	return issuer, nil
}

// legacyMetadata finds the authorization server of an MCP 2025-03-26
// server: RFC 8414 metadata at the root of the API's origin, or the
// default endpoints there.
func legacyMetadata(ctx context.Context, fallback *http.Client, reqURL *url.URL) (*Metadata, error) {
	origin := reqURL.Scheme + "://" + reqURL.Host
	if err := checkIssuer(origin); err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	hc := userHTTPClient(ctx, fallback)
	hc = &http.Client{Transport: hc.Transport, CheckRedirect: sameOriginRedirects, Jar: hc.Jar, Timeout: hc.Timeout}
	md, from, tryNext, err := fetchMetadata(ctx, hc, origin+"/.well-known/oauth-authorization-server", defaultMaxResponseBytes)
	switch {
	case tryNext:
		return &Metadata{Issuer: origin, AuthorizationEndpoint: origin + "/authorize", TokenEndpoint: origin + "/token",
			RegistrationEndpoint: origin + "/register"}, nil
	case err != nil:
		return nil, err
	}
	iu, perr := url.Parse(md.Issuer)
	if perr != nil || checkIssuer(md.Issuer) != nil || !sameOrigin(iu, reqURL) {
		return nil, &ResponseError{Op: opDiscover, Err: ErrIssuerMismatch, URL: from,
			Problem: fmt.Sprintf("the issuer member %q is not on the origin %q of the MCP server", clip(md.Issuer, 200), origin),
			Rule:    "MCP 2025-03-26 Server Metadata Discovery", Also: []Rule{"RFC 8414 §3.3"}}
	}
	if err := md.check(from); err != nil {
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
	allow := t.AllowMetadataURL
	if allow == nil {
		allow = sameOriginMetadata
	}
	metadataURL := challenge.Param("resource_metadata")
	if metadataURL != "" && !isLoopbackHost(reqURL.Hostname()) && !t.AllowLocalAuthorizationServers && checkRemote("resource_metadata", metadataURL) != nil {
		return false
	}
	rm, err := fetchResourceMetadata(ctx, t.HTTPClient, reqURL.String(), metadataURL, allow,
		t.AllowAncestorResource, defaultMaxResponseBytes)
	return err == nil && !slices.Contains(rm.AuthorizationServers, s.issuer)
}
