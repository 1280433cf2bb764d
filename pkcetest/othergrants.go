package pkcetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// The grants that need no redirect: client credentials (RFC 6749 §4.4),
// the JWT bearer grant (RFC 7523 §2.1) and token exchange (RFC 8693),
// with the identity assertion grant (ID-JAG) of enterprise-managed
// authorization, which one Server issues by token exchange and another
// accepts as a JWT bearer assertion.

// Grant types of the grants in this file.
const (
	grantJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

	tokenTypeIDToken = "urn:ietf:params:oauth:token-type:id_token"
	tokenTypeJWT     = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeIDJAG   = "urn:ietf:params:oauth:token-type:id-jag"

	// idJAGType is the typ header of an identity assertion grant.
	idJAGType = "oauth-id-jag+jwt"
	// idJAGLifetime is how long an issued ID-JAG is valid.
	idJAGLifetime = 5 * time.Minute
)

// clientCredentials runs the client credentials grant (RFC 6749 §4.4):
// confidential clients only (§4.4), the scope asked for, and no refresh
// token (§4.4.3).
func (s *Server) clientCredentials(client Client, form url.Values, proofJKT string) (issued, *tokenError) {
	if client.Method == MethodNone {
		return issued{}, &tokenError{status: 400, code: "unauthorized_client",
			description: "the client credentials grant is for confidential clients (RFC 6749 §4.4)"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientCredentialsRequests++
	g := &grant{clientID: client.ID, scope: form.Get("scope"), resources: form["resource"]}
	return s.issue(g, g.scope, g.resources, false, proofJKT, false), nil
}

// jwtBearerGrant runs the JWT bearer grant (RFC 7523 §2.1, §3): the
// assertion must be signed by an issuer of Config.AssertionIssuers, name
// this server as aud, have a sub and not be expired. An identity
// assertion grant must also name the authenticated client as client_id;
// its resource claim becomes the token's audience.
func (s *Server) jwtBearerGrant(client Client, form url.Values, proofJKT string) (issued, *tokenError) {
	a := form.Get("assertion")
	if a == "" {
		return issued{}, invalidRequest("assertion is missing (RFC 7523 §2.1)")
	}
	j, terr := s.trustedJWT(a, s.Issuer(), "the assertion")
	if terr != nil {
		return issued{}, terr
	}
	audience := form["resource"]
	if j.typ == idJAGType {
		if stringClaim(j.claims, "client_id") != client.ID {
			return issued{}, invalidGrant("the identity assertion grant was issued for another client")
		}
		if r := stringClaim(j.claims, "resource"); r != "" {
			audience = []string{r}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &grant{clientID: client.ID, scope: form.Get("scope"), resources: audience}
	return s.issue(g, g.scope, audience, false, proofJKT, false), nil
}

// trustedJWT checks a JWT from another party (RFC 7523 §3): the signature
// of a trusted issuer (or of the server itself, SignAssertion), aud (one of them equal to aud), sub, and exp.
func (s *Server) trustedJWT(raw, aud, what string) (*jws, *tokenError) {
	j, err := parseJWS(raw)
	if err != nil {
		return nil, invalidGrant("%s is not a JWT: %v", what, err)
	}
	iss := stringClaim(j.claims, "iss")
	key, ok := s.cfg.AssertionIssuers[iss]
	if iss == s.Issuer() {
		key, ok = s.AssertionKey(), true
	}
	if !ok {
		return nil, invalidGrant("%s's issuer is not trusted (RFC 7523 §3 item 1)", what)
	}
	if err := j.verify(key); err != nil {
		return nil, invalidGrant("%s: %v", what, err)
	}
	if !hasAudience(j.claims["aud"], aud) {
		return nil, invalidGrant("%s's aud does not name %s (RFC 7523 §3 item 3)", what, aud)
	}
	if stringClaim(j.claims, "sub") == "" {
		return nil, invalidGrant("%s has no sub (RFC 7523 §3 item 2)", what)
	}
	s.mu.Lock()
	now := s.now().Unix()
	s.mu.Unlock()
	exp, ok := numericDate(j.claims, "exp")
	switch {
	case !ok:
		return nil, invalidGrant("%s has no exp (RFC 7523 §3 item 4)", what)
	case exp+clockSkew < now:
		return nil, invalidGrant("%s expired (RFC 7523 §3 item 4)", what)
	}
	return j, nil
}

func hasAudience(v any, aud string) bool {
	switch a := v.(type) {
	case string:
		return a == aud
	case []any:
		for _, x := range a {
			if x == aud {
				return true
			}
		}
	}
	return false
}

// tokenExchange runs token exchange (RFC 8693 §2): an ID token or JWT from
// a trusted issuer, whose aud must be the requesting client, is exchanged
// for an identity assertion grant for the audience and resource asked
// for, signed with AssertionKey.
func (s *Server) tokenExchange(client Client, form url.Values) (issued, *tokenError) {
	switch {
	case form.Get("subject_token") == "":
		return issued{}, invalidRequest("subject_token is missing (RFC 8693 §2.1)")
	case form.Get("subject_token_type") != tokenTypeIDToken && form.Get("subject_token_type") != tokenTypeJWT:
		return issued{}, invalidRequest("subject_token_type must be the id_token or jwt token type here (RFC 8693 §3)")
	case form.Get("requested_token_type") != tokenTypeIDJAG:
		return issued{}, invalidRequest("requested_token_type must be %s here", tokenTypeIDJAG)
	case form.Get("audience") == "":
		return issued{}, invalidRequest("audience is missing: name the authorization server the grant is for")
	case len(form["resource"]) > 1:
		return issued{}, &tokenError{status: 400, code: "invalid_target", description: "one resource per identity assertion grant"}
	}
	subject, terr := s.trustedJWT(form.Get("subject_token"), client.ID, "the subject token")
	if terr != nil {
		return issued{}, terr
	}
	now := s.currentTime()
	claims := map[string]any{
		"iss":       s.Issuer(),
		"sub":       stringClaim(subject.claims, "sub"),
		"aud":       form.Get("audience"),
		"client_id": client.ID,
		"jti":       randomToken(),
		"iat":       now.Unix(),
		"exp":       now.Add(idJAGLifetime).Unix(),
	}
	if r := form.Get("resource"); r != "" {
		claims["resource"] = r
	}
	if sc := form.Get("scope"); sc != "" {
		claims["scope"] = sc
	}
	jag, err := s.signJWT(idJAGType, claims)
	if err != nil {
		return issued{}, &tokenError{status: 500, code: "server_error", description: "signing failed"}
	}
	return issued{accessToken: jag, expiresIn: int(idJAGLifetime / time.Second), scope: form.Get("scope"),
		issuedType: tokenTypeIDJAG}, nil
}

func (s *Server) currentTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// AssertionKey returns the public key of the P-256 key the server signs
// the JWTs it issues with (identity assertion grants, ES256): give it to
// another Server's Config.AssertionIssuers under this server's Issuer.
func (s *Server) AssertionKey() crypto.PublicKey { return s.signingKey().Public() }

func (s *Server) signingKey() *ecdsa.PrivateKey {
	s.keyOnce.Do(func() {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic("pkcetest: " + err.Error())
		}
		s.key = k
	})
	return s.key
}

// signJWT signs claims with ES256 (RFC 7518 §3.4: R and S, 32 bytes each).
func (s *Server) signJWT(typ string, claims map[string]any) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": "ES256", "typ": typ})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64url.EncodeToString(h) + "." + b64url.EncodeToString(p)
	d := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, s.signingKey(), d[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return input + "." + b64url.EncodeToString(sig), nil
}

// ClientCredentialsRequests returns how many client credentials grants the
// server answered with a token.
func (s *Server) ClientCredentialsRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientCredentialsRequests
}

// SignAssertion signs claims as a JWT with the server's AssertionKey, for
// tests that need a token from a trusted issuer: an ID token or a
// workload's identity token to present with the JWT bearer grant or to
// exchange. typ is the typ header ("JWT" when empty).
func (s *Server) SignAssertion(typ string, claims map[string]any) string {
	if typ == "" {
		typ = "JWT"
	}
	jwt, err := s.signJWT(typ, claims)
	if err != nil {
		panic(fmt.Sprintf("pkcetest: signing: %v", err))
	}
	return jwt
}
