package protected

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/wire"
)

// A resource on the network names the authorization server, and that
// server's metadata names the endpoints the client then requests. Neither
// may steer the client to the user's own machine or network (server-side
// request forgery, RFC 9728 §7.7, RFC 8414 §6): the Transport checks every
// such URL with checkRemote unless the resource itself is on loopback or
// the application allowed local servers.

// checkRemote refuses raw unless it is an https URL whose host is a name
// that does not mean this machine, or a public IP address. Names are
// judged as written: "localhost" and its subdomains (RFC 6761 §6.3) and
// hosts that a resolver would read as numbers ("127.1", "2130706433")
// are refused; what a name resolves to is the resolver's.
func checkRemote(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute URL", name, wire.Clip(raw, 200))
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return fmt.Errorf("%s %q is not https", name, wire.Clip(raw, 200))
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%s %q names this machine", name, wire.Clip(raw, 200))
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !publicAddr(ip) {
			return fmt.Errorf("%s %q is a loopback, private, link-local or unspecified address", name, wire.Clip(raw, 200))
		}
		return nil
	}
	labels := strings.Split(host, ".")
	if len(labels) == 1 || localSuffix(host) {
		// A name of one label (ip6-localhost, localhost6, an intranet
		// host) is found in /etc/hosts or a search domain, never in
		// public DNS; .local is mDNS (RFC 6762), .home.arpa a home
		// network (RFC 8375), .internal and .localdomain private use.
		return fmt.Errorf("%s %q names a host of this machine or a local network", name, wire.Clip(raw, 200))
	}
	if last := labels[len(labels)-1]; numeric(last) {
		// A top-level label of digits (or 0x-hex) is no DNS name:
		// inet_aton reads "127.1" and "0x7f000001" as addresses.
		return fmt.Errorf("%s %q has a host that reads as a numeric address", name, wire.Clip(raw, 200))
	}
	return nil
}

func localSuffix(host string) bool {
	for _, s := range []string{".local", ".localdomain", ".internal", ".home.arpa", ".localdomain4", ".localdomain6"} {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// publicAddr reports whether ip is an address on the public Internet, as
// far as the client can tell without asking anyone.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	// Shared address space (RFC 6598) and "this network" (RFC 791) are
	// no more public than RFC 1918's.
	for _, p := range []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("0.0.0.0/8")} {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// checkRemoteMetadata applies checkRemote to every endpoint of md that
// the client requests itself or sends the browser to.
func checkRemoteMetadata(md *pkce.Metadata) error {
	for _, e := range []struct{ name, url string }{
		{"issuer", md.Issuer},
		{"token_endpoint", md.TokenEndpoint},
		{"authorization_endpoint", md.AuthorizationEndpoint},
		{"registration_endpoint", md.RegistrationEndpoint},
		{"pushed_authorization_request_endpoint", md.PushedAuthorizationRequestEndpoint},
		{"revocation_endpoint", md.RevocationEndpoint},
		// OpenID Connect Discovery 1.0 §3: the client fetches the keys
		// and sends the access token to UserInfo, and LogoutURL sends
		// the browser to end_session_endpoint.
		{"jwks_uri", md.JWKSURI},
		{"userinfo_endpoint", md.UserinfoEndpoint},
		{"end_session_endpoint", md.EndSessionEndpoint},
	} {
		if e.url == "" {
			continue
		}
		if err := checkRemote(e.name, e.url); err != nil {
			return err
		}
	}
	return nil
}

// numeric reports whether a host's last label is a number (decimal,
// octal or 0x-hex), which no top-level domain is.
func numeric(label string) bool {
	digits := "0123456789"
	if rest, ok := strings.CutPrefix(label, "0x"); ok {
		label, digits = rest, "0123456789abcdef"
	}
	return strings.Trim(label, digits) == ""
}
