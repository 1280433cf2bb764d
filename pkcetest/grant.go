package pkcetest

import (
	"net/url"
	"slices"
	"strings"
	"time"
)

// grant is one authorization the resource owner gave a client, made when a
// code is exchanged. Every token issued from it, by the code exchange or by
// later refreshes, points to it, so that revoking the grant revokes them
// all (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.14.2).
type grant struct {
	clientID string
	// scope is what the resource owner approved; a refresh may narrow it
	// but never widen it (RFC 6749 §6).
	scope string
	// resources are the RFC 8707 resource indicators of the authorization
	// request; token requests may pick among them.
	resources []string
	revoked   bool
	// nonce goes in the grant's first ID token only; authTime is when the
	// user signed in (OpenID Connect Core §2, §12.2).
	nonce    string
	authTime time.Time
	idTokens int
}

// accessToken is an issued access token (RFC 6749 §1.4).
type accessToken struct {
	grant    *grant
	jkt      string // the DPoP key it is bound to (RFC 9449 §6), or ""
	scope    string
	audience []string // the resources it was issued for (RFC 8707 §2.2)
	expires  time.Time
}

// refreshToken is an issued refresh token (RFC 6749 §1.5). Its scope is
// always the grant's (RFC 6749 §6).
type refreshToken struct {
	grant *grant
	jkt   string // the DPoP key of a public client (RFC 9449 §5), or ""
	// revoked is set by RevokeRefreshToken and the revocation endpoint.
	revoked bool
	// rotated is set when the token was exchanged for a new one; showing it
	// again means it leaked (RFC 9700 §4.14.2).
	rotated bool
}

// issued is what a successful token request produced, before the response
// is written (RFC 6749 §5.1).
type issued struct {
	accessToken  string
	refreshToken string // empty when none is issued
	expiresIn    int
	scope        string
	idToken      string // empty unless scope has "openid"
	jkt          string // the DPoP key the access token is bound to, or ""
	// issuedType is the issued_token_type of token exchange, or "".
	issuedType string
}

// tokenType is Bearer, or DPoP for a bound token (RFC 9449 §5).
func (out issued) tokenType() string {
	if out.issuedType == tokenTypeIDJAG {
		return "N_A" // not an access token (RFC 8693 §2.2.1)
	}
	if out.jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}

// issue creates an access token for g with scope and audience, bound to
// the DPoP key jkt when not empty, and a refresh token when withRefresh is
// set, bound to jkt too when bindRefresh is. s.mu must be held.
func (s *Server) issue(g *grant, scope string, audience []string, withRefresh bool, jkt string, bindRefresh bool) issued {
	out := issued{
		accessToken: randomToken(),
		expiresIn:   int(s.cfg.AccessTokenLifetime / time.Second),
		scope:       scope,
		jkt:         jkt,
	}
	s.accessTokens[out.accessToken] = &accessToken{
		jkt:      jkt,
		grant:    g,
		scope:    scope,
		audience: audience,
		expires:  s.now().Add(s.cfg.AccessTokenLifetime),
	}
	if withRefresh {
		out.refreshToken = randomToken()
		rt := &refreshToken{grant: g}
		if bindRefresh {
			rt.jkt = jkt
		}
		s.refreshTokens[out.refreshToken] = rt
	}
	if hasScope(scope, "openid") {
		out.idToken = s.idToken(g, out.accessToken) // idtoken.go
	}
	return out
}

// RevokeRefreshToken makes the refresh token rt invalid, as if the resource
// owner had withdrawn it; later refresh requests with it get invalid_grant.
// Unknown tokens are ignored.
func (s *Server) RevokeRefreshToken(rt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.refreshTokens[rt]; ok {
		t.revoked = true
	}
}

// hasScope reports whether the space-delimited scope list contains token
// (RFC 6749 §3.3).
func hasScope(scope, token string) bool {
	return slices.Contains(strings.Fields(scope), token)
}

// isSubScope reports whether every scope token in requested is in granted
// (RFC 6749 §6).
func isSubScope(requested, granted string) bool {
	for _, s := range strings.Fields(requested) {
		if !hasScope(granted, s) {
			return false
		}
	}
	return true
}

// checkResources returns a description of the first resource indicator
// that is not an absolute URI without a fragment, as RFC 8707 §2 requires,
// or "".
func checkResources(resources []string) string {
	for _, r := range resources {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(r, "#") {
			return "resource " + r + " is not an absolute URI without a fragment (RFC 8707 §2)"
		}
	}
	return ""
}

// audienceFor returns the resources a token request may have its access
// token issued for: those it asks for, which must be among the grant's
// when the authorization request named any (RFC 8707 §2.2), or else the
// grant's. ok is false when a requested resource was not granted.
func audienceFor(requested []string, g *grant) (audience []string, ok bool) {
	if len(requested) == 0 {
		return g.resources, true
	}
	if len(g.resources) > 0 {
		for _, r := range requested {
			if !slices.Contains(g.resources, r) {
				return nil, false
			}
		}
	}
	return requested, true
}
