package pkce

import (
	"net"
	"net/url"
	"strings"
)

// The rules for the URLs a client is configured with, applied by New, by
// WithMetadata and Discover to what a server publishes, and to a stored
// flow before it is finished.

// checkEndpoint requires an absolute https URL without a fragment, or http
// on a loopback host for development and tests. RFC 6749 §3.1 and §3.2
// require TLS at both endpoints; RFC 8414 §2 says the same of issuers.
func checkEndpoint(name, raw string) error {
	if raw == "" {
		return configErrorf("%s is empty", name)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return configErrorf("%s %q is not an absolute URL", name, raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return configErrorf("%s %q has a fragment (RFC 6749 §3.1)", name, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return configErrorf("%s %q must use https; plain http is accepted only on loopback hosts (RFC 6749 §3.1, §3.2)", name, raw)
	}
	return configErrorf("%s %q must use https (RFC 6749 §3.1, §3.2)", name, raw)
}

// checkRedirectURL accepts https URLs, http on loopback hosts (RFC 8252
// §7.3) and private-use URI schemes of native apps (RFC 8252 §7.1); it
// refuses fragments (RFC 6749 §3.1.2).
func checkRedirectURL(raw string) error {
	if raw == "" {
		return configErrorf("RedirectURL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return configErrorf("RedirectURL %q is not an absolute URI (RFC 6749 §3.1.2)", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return configErrorf("RedirectURL %q has a fragment (RFC 6749 §3.1.2)", raw)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return configErrorf("RedirectURL %q must use https; plain http is for loopback redirects only (RFC 6749 §3.1.2.1, RFC 8252 §7.3)", raw)
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return configErrorf("RedirectURL %q has no host", raw)
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

// checkAuthURLQuery refuses an AuthURL whose own query already sets a
// parameter the package controls.
func checkAuthURLQuery(raw string) error {
	u, _ := url.Parse(raw) // checked by checkEndpoint
	for key := range u.Query() {
		if reservedParam(key) {
			return configErrorf("AuthURL sets %q, which the package controls", key)
		}
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether a and b have the same scheme, host and port
// (RFC 6454 §4), the default port of the scheme filled in.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}
