package pkcetest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxTokenRequestBody bounds the body the endpoints read.
const maxTokenRequestBody = 64 << 10

// tokenError is an error response of the token endpoint (RFC 6749 §5.2).
type tokenError struct {
	status      int
	code        string
	description string
	// basicChallenge adds WWW-Authenticate: Basic to a 401, which RFC 6749
	// §5.2 requires when the client tried the Authorization header.
	basicChallenge bool
}

func invalidRequest(format string, args ...any) *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: "invalid_request", description: fmt.Sprintf(format, args...)}
}

func invalidGrant(format string, args ...any) *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: "invalid_grant", description: fmt.Sprintf(format, args...)}
}

// invalidTarget refuses a resource indicator (RFC 8707 §2).
func invalidTarget() *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: "invalid_target",
		description: "a requested resource was not part of the authorization (RFC 8707 §2.2)"}
}

// token serves the token endpoint (RFC 6749 §3.2).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	// RFC 6749 §3.2: the client MUST use POST.
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeTokenError(w, &tokenError{status: http.StatusMethodNotAllowed, code: "invalid_request",
			description: "the token endpoint accepts POST only (RFC 6749 §3.2)"})
		return
	}
	s.tokenRequests.Add(1)
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenRequestBody))
	form, parseErr := url.ParseQuery(string(body))
	isRefresh := form.Get("grant_type") == "refresh_token"
	if isRefresh {
		s.refreshRequests.Add(1)
	}
	s.mu.Lock()
	s.lastToken = TokenRequest{
		Form:          cloneValues(form),
		Authorization: r.Header.Get("Authorization"),
		ContentType:   r.Header.Get("Content-Type"),
	}
	s.mu.Unlock()

	f := s.currentFaults().forRequest(r)
	if s.injectTokenFault(w, r, f, isRefresh) {
		return
	}
	if readErr != nil || parseErr != nil {
		s.writeTokenFailure(w, f, invalidRequest("the request body is not a valid form (RFC 6749 Appendix B)"))
		return
	}
	out, terr := s.grantTokens(r, form)
	if f.AnswerDelay > 0 {
		t := time.NewTimer(f.AnswerDelay)
		defer t.Stop()
		if !s.await(r.Context(), t.C) {
			panic(http.ErrAbortHandler)
		}
	}
	if terr != nil {
		s.writeTokenFailure(w, f, terr)
		return
	}
	s.writeTokenResponse(w, f, out)
}

// grantTokens checks a token request whose body parsed as form and runs its
// grant.
func (s *Server) grantTokens(r *http.Request, form url.Values) (issued, *tokenError) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return issued{}, invalidRequest("the body must be application/x-www-form-urlencoded (RFC 6749 §4.1.3)")
	}
	// Parameters go in the body; client credentials in the URI are
	// forbidden outright (RFC 6749 §2.3.1, §3.2).
	if r.URL.RawQuery != "" {
		return issued{}, invalidRequest("parameters must be sent in the request body, not the URI (RFC 6749 §3.2)")
	}
	if name := repeatedParam(form); name != "" {
		return issued{}, invalidRequest("%s is repeated (RFC 6749 §3.2)", name)
	}
	client, terr := s.authenticateClient(r, form)
	if terr != nil {
		return issued{}, terr
	}
	proofJKT, terr := s.checkProof(r, "")
	if terr != nil {
		if terr.code == "use_dpop_nonce" {
			s.nonceRefusals.Add(1)
		}
		return issued{}, terr
	}
	if desc := checkResources(form["resource"]); desc != "" {
		return issued{}, &tokenError{status: http.StatusBadRequest, code: "invalid_target", description: desc}
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		return s.exchangeCode(client, form, proofJKT)
	case "refresh_token":
		return s.refresh(client, form, proofJKT)
	case "client_credentials":
		return s.clientCredentials(client, form, proofJKT)
	case grantJWTBearer:
		return s.jwtBearerGrant(client, form, proofJKT)
	case grantTokenExchange:
		return s.tokenExchange(client, form)
	case "":
		return issued{}, invalidRequest("grant_type is missing (RFC 6749 §4.1.3)")
	default:
		return issued{}, &tokenError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			description: fmt.Sprintf("grant_type %q is not supported", gt)}
	}
}

// exchangeCode runs the authorization code grant (RFC 6749 §4.1.3,
// RFC 7636 §4.5, §4.6).
func (s *Server) exchangeCode(client Client, form url.Values, proofJKT string) (issued, *tokenError) {
	code := form.Get("code")
	if code == "" {
		return issued{}, invalidRequest("code is missing (RFC 6749 §4.1.3)")
	}
	f := s.currentFaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[code]
	if !ok {
		return issued{}, invalidGrant("the authorization code is unknown")
	}
	// Whoever presents a spent code, the tokens issued from it may have
	// been stolen: RFC 6749 §4.1.2 and §10.5 ask to revoke them.
	if c.grant != nil && !f.ReusableCodes {
		c.grant.revoked = true
		return issued{}, invalidGrant("the authorization code was already used; the tokens issued from it are revoked (RFC 6749 §4.1.2)")
	}
	if c.clientID != client.ID && !f.CodeNotBoundToClient {
		return issued{}, invalidGrant("the authorization code was issued to another client (RFC 6749 §4.1.3)")
	}
	if !s.now().Before(c.expires) {
		delete(s.codes, code)
		return issued{}, invalidGrant("the authorization code has expired (RFC 6749 §4.1.2)")
	}
	// This server always binds codes to a redirect_uri, so the parameter is
	// required and must be identical (RFC 6749 §4.1.3).
	switch ru := form.Get("redirect_uri"); {
	case f.CodeNotBoundToRedirectURI:
	case ru == "":
		return issued{}, invalidGrant("redirect_uri is missing; the authorization request had one (RFC 6749 §4.1.3)")
	case ru != c.redirectURI:
		return issued{}, invalidGrant("redirect_uri differs from the authorization request (RFC 6749 §4.1.3)")
	}
	// RFC 7636 §4.6 prescribes invalid_grant for a verifier that does not
	// match; one that could never match, being malformed, gets the same.
	switch v := form.Get("code_verifier"); {
	case c.challenge == "" && f.AcceptVerifierWithoutChallenge:
	case v == "" && f.AcceptMissingVerifier:
	case v == c.challenge && f.AcceptChallengeAsVerifier:
	case v != "" && f.AcceptAnyVerifier:
	case v == "":
		return issued{}, invalidGrant("code_verifier is missing; the authorization request had a code_challenge (RFC 7636 §4.5)")
	case !validVerifier(v):
		return issued{}, invalidGrant("code_verifier is not 43 to 128 unreserved characters (RFC 7636 §4.1)")
	case !verifierMatches(v, c.challenge):
		return issued{}, invalidGrant("code_verifier does not match the code_challenge (RFC 7636 §4.6)")
	}
	jkt, terr := bindProof(proofJKT, c.dpopJKT)
	if terr != nil {
		return issued{}, terr
	}
	g := &grant{clientID: client.ID, scope: c.scope, resources: c.resources, nonce: c.nonce, authTime: s.now()}
	audience, ok := audienceFor(form["resource"], g)
	if !ok {
		return issued{}, invalidTarget()
	}
	c.grant = g
	return s.issue(g, c.scope, audience, true, jkt, client.Method == MethodNone), nil
}

// refresh runs the refresh token grant (RFC 6749 §6).
func (s *Server) refresh(client Client, form url.Values, proofJKT string) (issued, *tokenError) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return issued{}, invalidRequest("refresh_token is missing (RFC 6749 §6)")
	}
	f := s.currentFaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refreshTokens[rt]
	switch {
	case !ok:
		return issued{}, invalidGrant("the refresh token is unknown")
	case t.grant.clientID != client.ID:
		return issued{}, invalidGrant("the refresh token was issued to another client (RFC 6749 §6)")
	case t.revoked || t.grant.revoked:
		return issued{}, invalidGrant("the refresh token is revoked")
	case t.rotated && f.KeepRotatedRefreshTokens:
	case t.rotated && f.NoRefreshReuseDetection:
		return issued{}, invalidGrant("the refresh token was already rotated")
	case t.rotated:
		// Either the client or an attacker holds a stolen copy; the server
		// cannot tell which, so it ends the grant for both (RFC 9700
		// §4.14.2).
		t.grant.revoked = true
		return issued{}, invalidGrant("the refresh token was already rotated; reusing it revokes the grant (RFC 9700 §4.14.2)")
	}
	scope := t.grant.scope
	if req := form.Get("scope"); req != "" {
		if !isSubScope(req, scope) {
			return issued{}, &tokenError{status: http.StatusBadRequest, code: "invalid_scope",
				description: "the requested scope exceeds the scope originally granted (RFC 6749 §6)"}
		}
		scope = req
	}
	// RFC 9449 §5: a public client's refresh token is bound to its key.
	jkt, terr := bindProof(proofJKT, t.jkt)
	if terr != nil {
		return issued{}, terr
	}
	audience, ok := audienceFor(form["resource"], t.grant)
	if !ok {
		return issued{}, invalidTarget()
	}
	out := s.issue(t.grant, scope, audience, s.cfg.Rotate, jkt, client.Method == MethodNone)
	if s.cfg.Rotate {
		t.rotated = true
	}
	return out, nil
}

// writeTokenResponse writes a successful token response (RFC 6749 §5.1),
// reshaped by the faults f.
func (s *Server) writeTokenResponse(w http.ResponseWriter, f Faults, out issued) {
	if t := s.templateFor(); t != nil {
		writeTemplatedToken(w, t, f, out)
		return
	}
	body := map[string]any{
		"access_token": out.accessToken,
		"token_type":   out.tokenType(),
		"expires_in":   out.expiresIn,
		// An extension member, as some providers send; clients must ignore
		// what they do not understand (RFC 6749 §5.1).
		"claims": "publicid",
	}
	if out.refreshToken != "" {
		body["refresh_token"] = out.refreshToken
	}
	if out.scope != "" {
		body["scope"] = out.scope
	}
	if out.idToken != "" {
		body["id_token"] = out.idToken
	}
	if out.issuedType != "" {
		body["issued_token_type"] = out.issuedType // RFC 8693 §2.2.1
	}
	f.reshape(body)
	status := http.StatusOK
	if f.TokenSuccessStatus != 0 {
		status = f.TokenSuccessStatus
	}
	writeTokenBody(w, f, status, body)
}

// writeTokenFailure writes an error response of the token endpoint
// (RFC 6749 §5.2), reshaped by the faults f.
func (s *Server) writeTokenFailure(w http.ResponseWriter, f Faults, e *tokenError) {
	if e.basicChallenge {
		w.Header().Set("WWW-Authenticate", `Basic realm="pkcetest"`)
	}
	status := e.status
	if f.ErrorsAs200 {
		status = http.StatusOK
	}
	writeTokenBody(w, f, status, map[string]any{"error": e.code, "error_description": e.description})
}

// writeTokenBody writes body as JSON (RFC 6749 §5.1), or form-encoded
// with the FormEncodedBody fault, padded to f.OversizeBody bytes.
func writeTokenBody(w http.ResponseWriter, f Faults, status int, body map[string]any) {
	encode := func() []byte {
		if f.FormEncodedBody {
			v := url.Values{}
			for k, x := range body {
				v.Set(k, fmt.Sprint(x))
			}
			return []byte(v.Encode())
		}
		b, _ := json.Marshal(body) // strings and ints: cannot fail
		return b
	}
	b := encode()
	if pad := f.OversizeBody - len(b); pad > 0 {
		body["padding"] = strings.Repeat("x", pad)
		b = encode()
	}
	if f.OmitNoStore {
		ct := "application/json;charset=UTF-8"
		if f.FormEncodedBody {
			ct = "application/x-www-form-urlencoded; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		w.Write(b)
		return
	}
	if f.FormEncodedBody {
		writeNoStore(w, "application/x-www-form-urlencoded; charset=utf-8", status, b)
		return
	}
	writeJSON(w, status, b)
}

// writeTokenError writes an error response (RFC 6749 §5.2) as the
// revocation and pushed authorization request endpoints send them, which
// the token endpoint faults do not change.
func writeTokenError(w http.ResponseWriter, e *tokenError) {
	if e.basicChallenge {
		w.Header().Set("WWW-Authenticate", `Basic realm="pkcetest"`)
	}
	b, _ := json.Marshal(map[string]string{"error": e.code, "error_description": e.description})
	writeJSON(w, e.status, b)
}

// writeJSON writes a token endpoint body with the headers RFC 6749 §5.1
// requires: JSON, and never cached.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	writeNoStore(w, "application/json;charset=UTF-8", status, body)
}

func writeNoStore(w http.ResponseWriter, contentType string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(body)
}
