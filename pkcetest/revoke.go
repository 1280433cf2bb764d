package pkcetest

import (
	"net/http"
)

// revoke serves the token revocation endpoint (RFC 7009 §2). Clients
// authenticate as at the token endpoint, each with its registered method.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	f := s.currentFaults()
	client, form, ok := s.authenticatedForm(w, r, "revocation", &s.revocationRequests, &s.lastRevoke, f.RevocationRaw)
	if !ok {
		return
	}
	token := form.Get("token")
	if token == "" {
		writeTokenError(w, invalidRequest("token is missing (RFC 7009 §2.1)"))
		return
	}
	// token_type_hint only says where to look first; tokens here are
	// unique across types, so every type is searched whatever the hint
	// (RFC 7009 §2.1).
	var terr *tokenError
	if !f.IgnoreRevocation {
		s.mu.Lock()
		terr = s.revokeToken(client, token)
		s.mu.Unlock()
	}
	if terr != nil {
		writeTokenError(w, terr)
		return
	}
	// RFC 7009 §2.2: 200 whether or not the token was valid; the client
	// ignores the body.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeToken invalidates token if it is one of client's. Revoking a
// refresh token revokes its whole grant, so the access tokens issued with
// it stop working too (RFC 7009 §2.1 says the server SHOULD). An unknown
// token is not an error (RFC 7009 §2.2). s.mu must be held.
func (s *Server) revokeToken(client Client, token string) *tokenError {
	if t, ok := s.refreshTokens[token]; ok {
		if t.grant.clientID != client.ID {
			return issuedToAnother()
		}
		t.revoked = true
		t.grant.revoked = true
		return nil
	}
	if t, ok := s.accessTokens[token]; ok {
		if t.grant.clientID != client.ID {
			return issuedToAnother()
		}
		delete(s.accessTokens, token)
	}
	return nil
}

// issuedToAnother refuses to revoke a token of another client
// (RFC 7009 §2.1).
func issuedToAnother() *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: "unauthorized_client",
		description: "the token was issued to another client (RFC 7009 §2.1)"}
}
