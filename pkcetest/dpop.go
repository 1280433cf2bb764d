package pkcetest

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
)

// DPoP (RFC 9449) on the server side: proofs are checked at the token
// and PAR endpoints and the resource, tokens are bound to the proof key's
// thumbprint, and with Config.DPoPNonce every proof must carry the
// server's nonce.

// dpopAlgs are the proof algorithms the server accepts and advertises.
var dpopAlgs = []string{"ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA"}

// proofError is a refused DPoP proof: invalid_dpop_proof, or
// use_dpop_nonce when only the nonce was wrong (RFC 9449 §5, §8).
func proofError(format string, args ...any) *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: "invalid_dpop_proof", description: fmt.Sprintf(format, args...)}
}

// checkProof checks the DPoP header of r, if any, and returns the
// thumbprint of its key, or "" when r has no proof (RFC 9449 §4.3).
// accessToken, when not empty, must match the proof's ath.
func (s *Server) checkProof(r *http.Request, accessToken string) (string, *tokenError) {
	values := r.Header.Values("DPoP")
	switch {
	case len(values) == 0 || !s.cfg.DPoP:
		// A server without DPoP ignores the header, as servers that
		// predate RFC 9449 do, and issues Bearer tokens.
		return "", nil
	case len(values) > 1:
		return "", proofError("more than one DPoP header (RFC 9449 §4.3)")
	}
	j, err := parseJWS(values[0])
	if err != nil {
		return "", proofError("the DPoP proof: %v", err)
	}
	switch {
	case j.typ != "dpop+jwt":
		return "", proofError("the proof's typ must be dpop+jwt (RFC 9449 §4.2)")
	case !slices.Contains(dpopAlgs, j.alg):
		return "", proofError("the proof's alg %q is not an accepted asymmetric algorithm (RFC 9449 §4.3)", j.alg)
	case j.jwk == nil:
		return "", proofError("the proof has no jwk header (RFC 9449 §4.2)")
	}
	pub, jkt, err := parsePublicJWK(j.jwk)
	if err != nil {
		return "", proofError("the proof's %v", err)
	}
	if err := j.verify(pub); err != nil {
		return "", proofError("the proof: %v", err)
	}
	if htm := stringClaim(j.claims, "htm"); htm != r.Method {
		return "", proofError("htm %q is not the request's method %s (RFC 9449 §4.3)", htm, r.Method)
	}
	if htu := stringClaim(j.claims, "htu"); htu != requestURL(r) {
		return "", proofError("htu %q is not the request's URL without query and fragment (RFC 9449 §4.3)", htu)
	}
	s.mu.Lock()
	now := s.now().Unix()
	nonce := s.dpopNonce
	s.mu.Unlock()
	iat, ok := numericDate(j.claims, "iat")
	if !ok || iat < now-5*60 || iat > now+clockSkew {
		return "", proofError("iat is missing or not recent (RFC 9449 §4.3)")
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		if stringClaim(j.claims, "ath") != b64url.EncodeToString(sum[:]) {
			return "", proofError("ath is missing or not the hash of the access token (RFC 9449 §4.3)")
		}
	}
	if s.cfg.DPoPNonce && subtle.ConstantTimeCompare([]byte(stringClaim(j.claims, "nonce")), []byte(nonce)) != 1 {
		return "", &tokenError{status: http.StatusBadRequest, code: "use_dpop_nonce",
			description: "the proof must carry the nonce of the DPoP-Nonce header (RFC 9449 §8)"}
	}
	jti := stringClaim(j.claims, "jti")
	if jti == "" {
		return "", proofError("jti is missing (RFC 9449 §4.2)")
	}
	if !s.firstUse("dpop:"+jti, iat+5*60) {
		return "", proofError("the proof's jti was used before: a replay (RFC 9449 §11.1)")
	}
	s.mu.Lock()
	s.lastProof = cloneClaims(j.claims)
	s.mu.Unlock()
	return jkt, nil
}

// setNonceHeader puts the current nonce on an answer when the server
// requires nonces (RFC 9449 §8.1).
func (s *Server) setNonceHeader(w http.ResponseWriter) {
	if !s.cfg.DPoPNonce {
		return
	}
	s.mu.Lock()
	nonce := s.dpopNonce
	s.mu.Unlock()
	w.Header().Set("DPoP-Nonce", nonce)
}

// RotateDPoPNonce replaces the server's DPoP nonce, as servers do from
// time to time (RFC 9449 §8.2); proofs with the old one then get
// use_dpop_nonce.
func (s *Server) RotateDPoPNonce() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dpopNonce = randomToken()
}

// LastDPoPProofClaims returns the claims of the last DPoP proof the server
// accepted, or nil.
func (s *Server) LastDPoPProofClaims() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneClaims(s.lastProof)
}

// DPoPNonceRefusals returns how many proofs were refused with
// use_dpop_nonce, at every endpoint together.
func (s *Server) DPoPNonceRefusals() int { return int(s.nonceRefusals.Load()) }

// bindProof checks the proof of a token request against the key the code
// or refresh token is bound to, if any, and returns the key the new
// tokens are bound to (RFC 9449 §5, §10).
func bindProof(proofJKT, boundJKT string) (string, *tokenError) {
	if boundJKT != "" && proofJKT != boundJKT {
		return "", invalidGrant("the grant is bound to another DPoP key, or the request has no proof (RFC 9449 §5, §10)")
	}
	return proofJKT, nil
}

// dpopResource answers a request to the resource that carries
// Authorization: DPoP (RFC 9449 §7.1), and reports whether the token is
// good; if not it has written the 401.
func (s *Server) dpopResource(w http.ResponseWriter, r *http.Request, token string) (*accessToken, bool) {
	s.mu.Lock()
	t, ok := s.accessTokens[token]
	valid := ok && !t.grant.revoked && s.now().Before(t.expires) && t.jkt != ""
	s.mu.Unlock()
	if !valid {
		dpopChallenge(w, "invalid_token", "the access token is unknown, expired, revoked or not DPoP-bound")
		return nil, false
	}
	jkt, terr := s.checkProof(r, token)
	switch {
	case terr != nil && terr.code == "use_dpop_nonce":
		s.nonceRefusals.Add(1)
		dpopChallenge(w, "use_dpop_nonce", terr.description)
		return nil, false
	case terr != nil:
		dpopChallenge(w, "invalid_dpop_proof", terr.description)
		return nil, false
	case jkt == "":
		dpopChallenge(w, "invalid_dpop_proof", "a DPoP token needs a DPoP proof (RFC 9449 §7.1)")
		return nil, false
	case jkt != t.jkt:
		dpopChallenge(w, "invalid_token", "the proof's key is not the one the token is bound to (RFC 9449 §7.1)")
		return nil, false
	}
	return t, true
}

// dpopChallenge answers 401 with a DPoP challenge (RFC 9449 §7.1).
func dpopChallenge(w http.ResponseWriter, code, description string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP algs="ES256 PS256 EdDSA", error=%q, error_description=%q`, code, description))
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}
