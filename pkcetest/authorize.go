package pkcetest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// authCode is an issued authorization code and what it is bound to
// (RFC 6749 §4.1.2, RFC 7636 §4.4).
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	scope       string
	resources   []string
	dpopJKT     string // the DPoP key the code is bound to (RFC 9449 §10)
	nonce       string // OpenID Connect Core §3.1.2.1, for the ID token
	expires     time.Time
	// grant is set when the code has been exchanged; a second exchange
	// revokes it (RFC 6749 §4.1.2).
	grant *grant
}

// pendingAuthorization is a valid authorization request on its way to an
// answer: at once, or once the resource owner decides on the consent page.
type pendingAuthorization struct {
	clientID    string
	redirectURI string
	// formPost answers with an auto-submitting form instead of a redirect
	// (OAuth 2.0 Form Post Response Mode §2).
	formPost  bool
	challenge string
	scope     string
	resources []string
	dpopJKT   string
	nonce     string
	// response holds state and iss, which go with every answer, success
	// and error alike (RFC 6749 §4.1.2, RFC 9207 §2).
	response url.Values
	expires  time.Time // of the consent page
}

// authorize serves the authorization endpoint (RFC 6749 §3.1, §4.1.1).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	// RFC 6749 §3.1 requires GET and allows POST; this server supports
	// GET only, which is what redirects produce.
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	s.mu.Lock()
	s.lastAuthorize = cloneValues(q)
	s.mu.Unlock()
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
	faults := s.currentFaults()
	client, ok := s.clients[q.Get("client_id")]
	if !ok {
		badAuthorizeRequest(w, "unknown client_id")
		return
	}
	redirectURI := q.Get("redirect_uri")
	// RFC 6749 §3.1.2.3 lets redirect_uri be omitted when one is
	// registered; this server requires it so that every code is bound to
	// it.
	if redirectURI == "" {
		badAuthorizeRequest(w, "redirect_uri is missing")
		return
	}
	if !client.allowsRedirect(redirectURI) && !(faults.LooseRedirectMatch && client.prefixesRedirect(redirectURI)) {
		badAuthorizeRequest(w, "redirect_uri is not registered for this client")
		return
	}

	p := &pendingAuthorization{
		clientID:    client.ID,
		redirectURI: redirectURI,
		formPost:    q.Get("response_mode") == "form_post",
		challenge:   q.Get("code_challenge"),
		scope:       q.Get("scope"),
		resources:   q["resource"],
		nonce:       q.Get("nonce"),
		response:    url.Values{},
	}
	if s.cfg.DPoP {
		// A server without DPoP ignores dpop_jkt, like any unknown
		// parameter (RFC 6749 §3.1).
		p.dpopJKT = q.Get("dpop_jkt")
	}
	// An empty parameter counts as omitted (RFC 6749 §3.1), so an empty
	// state is not echoed.
	if state := q.Get("state"); state != "" {
		if faults.AlterState {
			state += "-altered"
		}
		p.response.Set("state", state)
	}
	if iss, ok := s.issuerParam(faults); ok {
		p.response.Set("iss", iss)
	}
	switch code, desc := checkAuthorizeParams(q, faults.AcceptVerifierWithoutChallenge); {
	case s.cfg.RequirePAR && !pushed:
		s.fail(w, p, "invalid_request", "this server requires pushed authorization requests (RFC 9126 §5)")
	case code != "":
		s.fail(w, p, code, desc)
	case faults.AuthorizeError != "":
		s.fail(w, p, faults.AuthorizeError, "injected fault")
	case s.cfg.Consent:
		s.askConsent(w, p)
	default:
		s.approve(w, p)
	}
}

// checkAuthorizeParams returns the error code and a description for an
// authorization request that breaks a rule (RFC 6749 §4.1.2.1), or ""
// when the request is acceptable. withoutChallenge lets a request without
// code_challenge through (Faults.AcceptVerifierWithoutChallenge).
func checkAuthorizeParams(q url.Values, withoutChallenge bool) (code, description string) {
	if name := repeatedParam(q); name != "" {
		return "invalid_request", fmt.Sprintf("%s is repeated (RFC 6749 §3.1)", name)
	}
	switch rt := q.Get("response_type"); rt {
	case "":
		return "invalid_request", "response_type is missing (RFC 6749 §4.1.1)"
	case "code":
	default:
		return "unsupported_response_type", fmt.Sprintf("response_type %q is not supported", rt)
	}
	switch m := q.Get("response_mode"); m {
	case "", "query", "form_post":
	default:
		return "invalid_request", fmt.Sprintf("response_mode %q is not supported; use query or form_post", m)
	}
	challenge := q.Get("code_challenge")
	switch {
	case challenge == "" && withoutChallenge:
		if desc := checkResources(q["resource"]); desc != "" {
			return "invalid_target", desc
		}
		return "", ""
	case challenge == "":
		return "invalid_request", "code_challenge is required (RFC 7636 §4.4.1)"
	}
	// A missing method means "plain" (RFC 7636 §4.3), which this server
	// refuses like any method other than S256.
	if q.Get("code_challenge_method") != methodS256 {
		return "invalid_request", "code_challenge_method must be S256 (RFC 7636 §4.4.1)"
	}
	if !validS256Challenge(challenge) {
		return "invalid_request", "code_challenge is not a base64url SHA-256 digest (RFC 7636 §4.2)"
	}
	if desc := checkResources(q["resource"]); desc != "" {
		return "invalid_target", desc
	}
	return "", ""
}

// approve issues a code for p and sends it to the client (RFC 6749
// §4.1.2).
func (s *Server) approve(w http.ResponseWriter, p *pendingAuthorization) {
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = &authCode{
		clientID:    p.clientID,
		redirectURI: p.redirectURI,
		challenge:   p.challenge,
		scope:       p.scope,
		resources:   p.resources,
		dpopJKT:     p.dpopJKT,
		nonce:       p.nonce,
		expires:     s.now().Add(s.cfg.CodeLifetime),
	}
	s.mu.Unlock()
	s.respond(w, p, url.Values{"code": {code}})
}

// fail sends an error response to the client (RFC 6749 §4.1.2.1).
func (s *Server) fail(w http.ResponseWriter, p *pendingAuthorization, code, description string) {
	s.respond(w, p, url.Values{"error": {code}, "error_description": {description}})
}

// respond sends params, with p's state and iss, to p's redirect URI in
// the response mode the client asked for.
func (s *Server) respond(w http.ResponseWriter, p *pendingAuthorization, params url.Values) {
	for k, vs := range p.response {
		params[k] = vs
	}
	if p.formPost {
		writeFormPost(w, p.redirectURI, params)
		return
	}
	redirect(w, p.redirectURI, params)
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

// redirect sends the authorization response in the query of redirectURI,
// keeping the URI's own query component (RFC 6749 §3.1.2, §4.1.2).
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

// prefixesRedirect reports whether one of c's registered redirection URIs
// is a prefix of uri, the loose comparison of Faults.LooseRedirectMatch.
func (c Client) prefixesRedirect(uri string) bool {
	return slices.ContainsFunc(c.RedirectURIs, func(registered string) bool {
		return strings.HasPrefix(uri, registered)
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
