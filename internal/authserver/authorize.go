package authserver

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/pkcekit/pkce"
)

// authCode is an issued authorization code and what it is bound to
// (RFC 6749 §4.1.2, RFC 7636 §4.4).
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	scope       string
	expires     time.Time
	// grant is set when the code has been exchanged; a second exchange
	// revokes it (RFC 6749 §4.1.2).
	grant *grant
}

// authorize serves the authorization endpoint (RFC 6749 §3.1, §4.1.1).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	// RFC 6749 §3.1 requires GET and allows POST; this server supports GET only.
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		badAuthorizeRequest(w, "the query string is malformed")
		return
	}
	// A pushed request is referenced by client_id and request_uri; only
	// the parameters pushed count (RFC 9126 §4).
	pushed := q.Has("request_uri")
	if pushed {
		params, msg := s.pushedParams(q)
		if msg != "" {
			badAuthorizeRequest(w, msg)
			return
		}
		q = params
	}

	// Until client_id and redirect_uri are known to be good, errors are
	// shown to the user instead of being redirected (RFC 6749 §4.1.2.1).
	for _, name := range []string{"client_id", "redirect_uri"} {
		if len(q[name]) > 1 {
			badAuthorizeRequest(w, name+" is repeated (RFC 6749 §3.1)")
			return
		}
	}
	client, ok := s.clients[q.Get("client_id")]
	if !ok {
		badAuthorizeRequest(w, "unknown client_id")
		return
	}
	redirectURI := q.Get("redirect_uri")
	// Every client here registers its redirect URIs, and this server
	// requires the parameter (RFC 6749 §3.1.2.3 lets it be omitted when a
	// single one is registered) so that the code is always bound to it.
	if redirectURI == "" {
		badAuthorizeRequest(w, "redirect_uri is missing")
		return
	}
	if !client.allowsRedirect(redirectURI) {
		badAuthorizeRequest(w, "redirect_uri is not registered for this client")
		return
	}

	faults := s.currentFaults()
	resp := url.Values{}
	// An empty parameter counts as omitted (RFC 6749 §3.1), so an empty
	// state is not echoed.
	if state := q.Get("state"); state != "" {
		resp.Set("state", state)
	}
	if iss, ok := s.issuerParam(faults); ok {
		resp.Set("iss", iss)
	}
	if s.cfg.RequirePAR && !pushed {
		resp.Set("error", "invalid_request")
		resp.Set("error_description", "this server requires pushed authorization requests (RFC 9126 §5)")
		redirect(w, redirectURI, resp)
		return
	}
	if code, desc := checkAuthorizeParams(q); code != "" {
		resp.Set("error", code)
		resp.Set("error_description", desc)
		redirect(w, redirectURI, resp)
		return
	}
	if faults.AuthorizeError != "" {
		resp.Set("error", faults.AuthorizeError)
		resp.Set("error_description", "injected fault")
		redirect(w, redirectURI, resp)
		return
	}

	code := randomToken()
	s.mu.Lock()
	s.codes[code] = &authCode{
		clientID:    client.ID,
		redirectURI: redirectURI,
		challenge:   q.Get("code_challenge"),
		scope:       q.Get("scope"),
		expires:     s.now().Add(s.cfg.CodeLifetime),
	}
	s.mu.Unlock()
	resp.Set("code", code)
	redirect(w, redirectURI, resp)
}

// checkAuthorizeParams returns the RFC 6749 §4.1.2.1 error code and a
// description for an authorization request that breaks a rule, or "" when
// the request is acceptable.
func checkAuthorizeParams(q url.Values) (code, description string) {
	for name, vs := range q {
		if len(vs) > 1 {
			return "invalid_request", fmt.Sprintf("%s is repeated (RFC 6749 §3.1)", name)
		}
	}
	switch rt := q.Get("response_type"); rt {
	case "":
		return "invalid_request", "response_type is missing (RFC 6749 §4.1.1)"
	case "code":
	default:
		return "unsupported_response_type", fmt.Sprintf("response_type %q is not supported", rt)
	}
	challenge := q.Get("code_challenge")
	if challenge == "" {
		return "invalid_request", "code_challenge is required (RFC 7636 §4.4.1)"
	}
	// A missing method means "plain" (RFC 7636 §4.3), which this server
	// refuses like any method other than S256.
	if m := q.Get("code_challenge_method"); m != pkce.MethodS256 {
		return "invalid_request", "code_challenge_method must be S256 (RFC 7636 §4.4.1)"
	}
	if !isS256Challenge(challenge) {
		return "invalid_request", "code_challenge is not a base64url SHA-256 digest (RFC 7636 §4.2)"
	}
	return "", ""
}

// isS256Challenge reports whether c has the shape of BASE64URL(SHA256(x)):
// 43 characters of the unpadded base64url alphabet (RFC 7636 §4.2).
func isS256Challenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !('A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// issuerParam returns the iss value to put on authorization responses, and
// whether to put one at all (RFC 9207 §2).
func (s *Server) issuerParam(f Faults) (string, bool) {
	switch {
	case f.OmitIssuer:
		return "", false
	case f.IssuerOverride != "":
		return f.IssuerOverride, true
	case s.cfg.SendIssuer:
		return s.Issuer(), true
	}
	return "", false
}

// redirect sends the authorization response to redirectURI, keeping the
// URI's own query component (RFC 6749 §3.1.2, §4.1.2).
func redirect(w http.ResponseWriter, redirectURI string, params url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil { // registered URIs are checked before they get here
		badAuthorizeRequest(w, "redirect_uri is malformed")
		return
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + params.Encode()
	} else {
		u.RawQuery = params.Encode()
	}
	w.Header().Set("Location", u.String())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// badAuthorizeRequest shows the error to the resource owner instead of
// redirecting, as RFC 6749 §4.1.2.1 requires when the client or its
// redirection URI cannot be trusted.
func badAuthorizeRequest(w http.ResponseWriter, msg string) {
	http.Error(w, "authorization request rejected: "+msg, http.StatusBadRequest)
}

// allowsRedirect reports whether uri is one of c's registered redirection
// URIs (RFC 6749 §3.1.2.3).
func (c Client) allowsRedirect(uri string) bool {
	if slices.Contains(c.RedirectURIs, uri) {
		return true
	}
	return slices.ContainsFunc(c.RedirectURIs, func(registered string) bool {
		return sameLoopbackRedirect(registered, uri)
	})
}

// sameLoopbackRedirect reports whether a and b are loopback IP redirection
// URIs that differ at most in their port. Native apps listen on an
// ephemeral port, so RFC 8252 §7.3 requires the server to accept any port.
func sameLoopbackRedirect(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return false
	}
	if !isLoopbackHTTP(ua) || !isLoopbackHTTP(ub) {
		return false
	}
	return ua.Hostname() == ub.Hostname() &&
		ua.EscapedPath() == ub.EscapedPath() &&
		ua.RawQuery == ub.RawQuery && ua.ForceQuery == ub.ForceQuery
}

// isLoopbackHTTP reports whether u is an http URL whose host is the literal
// 127.0.0.1 or ::1, the loopback forms RFC 8252 §7.3 and §8.3 recommend;
// "localhost" is matched exactly only.
func isLoopbackHTTP(u *url.URL) bool {
	if u.Scheme != "http" || u.User != nil || u.Opaque != "" || u.Fragment != "" {
		return false
	}
	h := u.Hostname()
	return h == "127.0.0.1" || h == "::1"
}
