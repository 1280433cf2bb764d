package pkcetest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// resource serves a protected resource that accepts bearer tokens in the
// Authorization header (RFC 6750 §2.1) and describes the token's owner.
func (s *Server) resource(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	var scope string
	var audience []string
	switch {
	case strings.EqualFold(scheme, "DPoP") && token != "":
		t, ok := s.dpopResource(w, r, token)
		if !ok {
			return
		}
		s.mu.Lock()
		scope, audience = t.scope, t.audience
		s.mu.Unlock()
	case !strings.EqualFold(scheme, "Bearer") || token == "":
		// RFC 6750 §3.1: a request without authentication gets a
		// challenge but no error code.
		bearerChallenge(w, "")
		return
	default:
		s.mu.Lock()
		t, ok := s.accessTokens[token]
		valid := ok && !t.grant.revoked && s.now().Before(t.expires)
		bound := ok && t.jkt != ""
		if valid {
			scope, audience = t.scope, t.audience
		}
		s.mu.Unlock()
		switch {
		case !valid:
			bearerChallenge(w, "the access token is unknown, expired or revoked")
			return
		case bound:
			// A DPoP-bound token is no bearer token (RFC 9449 §7.2).
			bearerChallenge(w, "the access token is DPoP-bound; send it with a DPoP proof")
			return
		}
	}

	answer := map[string]any{"sub": TestUser, "scope": scope}
	// The UserInfo answer: the claims of the scopes asked (OpenID Connect
	// Core §5.3.2, §5.4).
	if hasScope(scope, "openid") && hasScope(scope, "profile") {
		answer["name"] = TestUserName
	}
	if hasScope(scope, "openid") && hasScope(scope, "email") {
		answer["email"], answer["email_verified"] = TestUserEmail, true
	}
	if sub := s.currentFaults().UserInfoSubject; sub != "" {
		answer["sub"] = sub
	}
	if len(audience) > 0 {
		// The resources the token is meant for (RFC 8707 §2.2), named as
		// in token introspection (RFC 7662 §2.2).
		answer["aud"] = audience
	}
	b, _ := json.Marshal(answer) // strings and a string slice: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.Write(b)
}

// bearerChallenge answers 401 with a Bearer challenge (RFC 6750 §3); a
// non-empty description adds error="invalid_token" (RFC 6750 §3.1).
func bearerChallenge(w http.ResponseWriter, description string) {
	challenge := `Bearer realm="pkcetest"`
	if description != "" {
		challenge += `, error="invalid_token", error_description="` + description + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}
