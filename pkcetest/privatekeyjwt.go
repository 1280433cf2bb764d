package pkcetest

import (
	"fmt"
	"net/http"
	"net/url"
)

// jwtBearer is the client_assertion_type of RFC 7523 §2.2.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionLifetime bounds exp - now of a client assertion: a client
// should make short-lived ones (RFC 7523 §3 item 4).
const maxAssertionLifetime = 5 * 60

// clockSkew is the leeway for iat and exp.
const clockSkew = 60

// authenticateAssertion authenticates a private_key_jwt client
// (RFC 7523 §2.2, §3): the assertion must be signed with the client's
// registered key, name the client as iss and sub, have as aud the issuer
// identifier or the URL of the endpoint it was sent to, not be expired
// nor used before (jti), and be the only authentication of the request.
func (s *Server) authenticateAssertion(r *http.Request, form url.Values) (Client, *tokenError) {
	fail := func(format string, args ...any) (Client, *tokenError) {
		return Client{}, invalidClient(false, fmt.Sprintf(format, args...))
	}
	switch {
	case len(r.Header.Values("Authorization")) > 0 || form.Has("client_secret"):
		return fail("a client assertion and another client authentication in one request (RFC 6749 §2.3)")
	case form.Get("client_assertion_type") != jwtBearer:
		return fail("client_assertion_type must be %s (RFC 7523 §2.2)", jwtBearer)
	case form.Get("client_assertion") == "":
		return fail("client_assertion is missing (RFC 7523 §2.2)")
	}
	j, err := parseJWS(form.Get("client_assertion"))
	if err != nil {
		return fail("client_assertion: %v", err)
	}
	sub := stringClaim(j.claims, "sub")
	c, ok := s.clients[sub]
	switch {
	case !ok:
		return fail("the assertion's sub names no registered client")
	case c.Method != MethodPrivateKeyJWT:
		return fail("the client is registered for %s, not private_key_jwt", c.Method)
	case form.Has("client_id") && form.Get("client_id") != sub:
		return fail("client_id differs from the assertion's sub (RFC 7523 §3.1)")
	case stringClaim(j.claims, "iss") != sub:
		return fail("the assertion's iss must be the client_id (RFC 7523 §3 item 1)")
	}
	if err := j.verify(c.Key); err != nil {
		return fail("client_assertion: %v", err)
	}
	endpoint := requestURL(r)
	switch aud := j.claims["aud"].(type) {
	case string:
		if aud != s.Issuer() && aud != endpoint {
			return fail("the assertion's aud %q is neither the issuer nor this endpoint (RFC 7523 §3 item 3)", aud)
		}
	default:
		// RFC 7523bis and FAPI 2.0 want the issuer as a single string; an
		// array is a sign of an old client.
		return fail("the assertion's aud must be one string, the issuer identifier (RFC 7523bis)")
	}
	s.mu.Lock()
	now := s.now().Unix()
	s.mu.Unlock()
	exp, okExp := numericDate(j.claims, "exp")
	switch {
	case !okExp:
		return fail("the assertion has no exp (RFC 7523 §3 item 4)")
	case exp+clockSkew < now:
		return fail("the assertion expired (RFC 7523 §3 item 4)")
	case exp-now > maxAssertionLifetime:
		return fail("the assertion is valid for more than %d seconds", maxAssertionLifetime)
	}
	if iat, ok := numericDate(j.claims, "iat"); ok && iat > now+clockSkew {
		return fail("the assertion's iat is in the future (RFC 7523 §3 item 6)")
	}
	jti := stringClaim(j.claims, "jti")
	if jti == "" {
		return fail("the assertion has no jti (RFC 7523 §3 item 7)")
	}
	if !s.firstUse("assertion:"+c.ID+":"+jti, exp) {
		return fail("the assertion's jti was used before: a replay (RFC 7523 §3 item 7)")
	}
	s.mu.Lock()
	s.lastAssertion = cloneClaims(j.claims)
	s.mu.Unlock()
	return c, nil
}

// firstUse records key until expires (Unix seconds) and reports whether it
// was new, for jti replay checks.
func (s *Server) firstUse(key string, expires int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	for k, exp := range s.seenJTIs {
		if exp+clockSkew < now {
			delete(s.seenJTIs, k)
		}
	}
	if _, seen := s.seenJTIs[key]; seen {
		return false
	}
	s.seenJTIs[key] = expires
	return true
}

// LastAssertionClaims returns the claims of the last client assertion the
// server accepted, or nil.
func (s *Server) LastAssertionClaims() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneClaims(s.lastAssertion)
}

func cloneClaims(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// requestURL returns the URL of r as the client addressed it, without
// query and fragment: the htu of DPoP (RFC 9449 §4.3) and an aud a client
// assertion may have.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}
