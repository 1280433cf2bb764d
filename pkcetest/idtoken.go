package pkcetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pkcekit/pkce/internal/jose"
)

// OpenID Connect: the server signs an ID token (OpenID Connect Core §2)
// for every token request whose scope has openid, with keys it publishes
// at JWKSURL, and serves an end-session endpoint (RP-Initiated Logout
// 1.0). The claims are those of TestUser: TestUserName and TestUserEmail.

// The claims of TestUser besides sub.
const (
	TestUserName  = "Test User"
	TestUserEmail = "test-user@example.com"
)

// IDTokenFault is a way an ID token can be wrong, for Faults.IDToken.
type IDTokenFault string

// The ID token faults, each breaking one rule of OpenID Connect Core 1.0.
const (
	IDTokenUnsigned         IDTokenFault = "alg none"                // §3.1.3.7 step 6; rp-id_token-sig-none
	IDTokenBadSignature     IDTokenFault = "bad signature"           // §3.1.3.7 step 6; rp-id_token-bad-sig-*
	IDTokenWrongIssuer      IDTokenFault = "wrong iss"               // §3.1.3.7 step 2; rp-id_token-issuer-mismatch
	IDTokenWrongAudience    IDTokenFault = "wrong aud"               // §3.1.3.7 step 3; rp-id_token-aud
	IDTokenSeveralAudiences IDTokenFault = "several aud without azp" // §3.1.3.7 step 4
	IDTokenNoIssuedAt       IDTokenFault = "no iat"                  // §2; rp-id_token-iat
	IDTokenNoSubject        IDTokenFault = "no sub"                  // §2; rp-id_token-sub
	IDTokenOtherSubject     IDTokenFault = "other sub"               // §12.2 on refresh
	IDTokenWrongNonce       IDTokenFault = "wrong nonce"             // §3.1.3.7 step 11; rp-nonce-invalid
	IDTokenExpired          IDTokenFault = "expired"                 // §3.1.3.7 step 9
	IDTokenNoAuthTime       IDTokenFault = "no auth_time"            // §3.1.3.7 step 13
	IDTokenNoKid            IDTokenFault = "no kid"                  // rp-id_token-kid-absent-*: valid, but the header has no kid
	IDTokenHS256            IDTokenFault = "HS256"                   // §10.1: signed with the client secret
	IDTokenOmitted          IDTokenFault = "omitted"                 // §3.1.3.3: no id_token at all
)

// idKey is one signing key of ID tokens.
type idKey struct {
	kid    string
	signer *jose.Signer
}

// idTokenAlg is Config.IDTokenAlg or RS256, the default of OpenID
// Connect Core §3.1.3.7 step 7.
func (s *Server) idTokenAlg() string {
	if s.cfg.IDTokenAlg != "" {
		return s.cfg.IDTokenAlg
	}
	return jose.RS256
}

// newIDKey makes a key for the configured algorithm.
func (s *Server) newIDKey() idKey {
	alg := s.idTokenAlg()
	var key crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		panic("pkcetest: generating a signing key: " + err.Error())
	}
	signer, err := jose.NewSigner(key, alg)
	if err != nil {
		panic("pkcetest: " + err.Error())
	}
	return idKey{kid: randomToken()[:16], signer: signer}
}

// signingKeys returns the keys, making the first one on first use. s.mu
// must be held.
func (s *Server) signingKeys() []idKey {
	if len(s.idKeys) == 0 {
		s.idKeys = []idKey{s.newIDKey()}
	}
	return s.idKeys
}

// RotateSigningKey makes a new key sign the ID tokens from now on. The
// JWK Set keeps the old keys, so that tokens already issued still verify,
// unless retire is set, which drops them (OpenID Connect Core §10.1.1).
func (s *Server) RotateSigningKey(retire bool) {
	k := s.newIDKey()
	s.mu.Lock()
	defer s.mu.Unlock()
	if retire {
		s.idKeys = []idKey{k}
		return
	}
	s.idKeys = append(s.signingKeys(), k)
}

// JWKSURL returns the URL of the JWK Set, the jwks_uri of the metadata.
func (s *Server) JWKSURL() string { return s.Issuer() + jwksPath }

// EndSessionURL returns the RP-Initiated Logout endpoint.
func (s *Server) EndSessionURL() string { return s.Issuer() + endSessionPath }

const (
	jwksPath       = "/jwks"
	endSessionPath = "/logout"
)

// JWKSRequests returns how many times the JWK Set was asked for.
func (s *Server) JWKSRequests() int64 { return s.jwksRequests.Load() }

// jwks serves the public keys (RFC 7517 §5).
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	s.jwksRequests.Add(1)
	s.mu.Lock()
	keys := s.signingKeys()
	var list []json.RawMessage
	for _, k := range keys {
		var o jose.Object
		var members map[string]any
		_ = json.Unmarshal(k.signer.JWK(), &members)
		for _, name := range []string{"crv", "e", "kty", "n", "x", "y"} {
			if v, ok := members[name].(string); ok {
				o.String(name, v)
			}
		}
		o.String("kid", k.kid)
		o.String("use", "sig")
		o.String("alg", k.signer.Alg())
		list = append(list, o.Bytes())
	}
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"keys": list})
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Write(b)
}

// idToken signs the ID token of a token response for g, broken as
// Faults.IDToken says. s.mu must be held.
func (s *Server) idToken(g *grant, accessToken string) string {
	f := s.faults.IDToken
	if f == IDTokenOmitted {
		return ""
	}
	now := s.now()
	iss := s.Issuer()
	if s.faults.MetadataIssuer != "" {
		iss = s.faults.MetadataIssuer // the issuer the metadata advertises
	}
	claims := map[string]any{
		"iss":            iss,
		"sub":            TestUser,
		"aud":            g.clientID,
		"exp":            now.Add(s.cfg.AccessTokenLifetime).Unix(),
		"iat":            now.Unix(),
		"auth_time":      g.authTime.Unix(),
		"name":           TestUserName,
		"email":          TestUserEmail,
		"email_verified": true,
	}
	if g.nonce != "" && g.idTokens == 0 {
		claims["nonce"] = g.nonce
	}
	g.idTokens++
	switch f {
	case IDTokenWrongIssuer:
		claims["iss"] = iss + "/other"
	case IDTokenWrongAudience:
		claims["aud"] = "another-client"
	case IDTokenSeveralAudiences:
		claims["aud"] = []string{g.clientID, "another-client"}
	case IDTokenNoIssuedAt:
		delete(claims, "iat")
	case IDTokenNoSubject:
		delete(claims, "sub")
	case IDTokenOtherSubject:
		claims["sub"] = "another-user"
	case IDTokenWrongNonce:
		claims["nonce"] = randomToken()
	case IDTokenExpired:
		claims["exp"] = now.Add(-time.Hour).Unix()
	case IDTokenNoAuthTime:
		delete(claims, "auth_time")
	}
	maps.Copy(claims, s.faults.IDTokenClaims)
	payload, err := json.Marshal(claims)
	if err != nil {
		panic("pkcetest: Faults.IDTokenClaims does not marshal: " + err.Error())
	}
	keys := s.signingKeys()
	k := keys[len(keys)-1]
	var h jose.Object
	switch f {
	case IDTokenUnsigned:
		h.String("alg", "none")
		return b64url.EncodeToString(h.Bytes()) + "." + b64url.EncodeToString(payload) + "."
	case IDTokenHS256:
		h.String("alg", jose.HS256)
		input := b64url.EncodeToString(h.Bytes()) + "." + b64url.EncodeToString(payload)
		m := hmac.New(sha256.New, []byte(s.clients[g.clientID].Secret))
		m.Write([]byte(input))
		return input + "." + b64url.EncodeToString(m.Sum(nil))
	}
	var tok string
	h.String("alg", k.signer.Alg())
	if f != IDTokenNoKid {
		h.String("kid", k.kid)
	}
	h.String("typ", "JWT")
	tok, err = k.signer.Sign(h.Bytes(), payload)
	if err != nil {
		panic("pkcetest: signing an ID token: " + err.Error())
	}
	if f == IDTokenBadSignature {
		// Flip a bit of the signature: the token keeps its form and key.
		i := strings.LastIndexByte(tok, '.')
		sig, _ := b64url.DecodeString(tok[i+1:])
		sig[len(sig)/2] ^= 1
		tok = tok[:i+1] + b64url.EncodeToString(sig)
	}
	return tok
}

// LastLogout returns the query of the last request to the end-session
// endpoint, or nil.
func (s *Server) LastLogout() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneValues(s.lastLogout)
}

// endSession serves RP-Initiated Logout 1.0 §2: it checks that
// id_token_hint is one of its ID tokens when given, and that
// post_logout_redirect_uri is registered for the client (§3; here, any
// URL on the origin of one of its redirect URIs), then sends the browser
// there with state, or shows a page.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || r.Method != http.MethodGet {
		http.Error(w, "bad logout request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.lastLogout = cloneValues(q)
	s.mu.Unlock()
	clientID := q.Get("client_id")
	if hint := q.Get("id_token_hint"); hint != "" {
		aud, ok := s.hintAudience(hint)
		if !ok || clientID != "" && aud != clientID {
			http.Error(w, "id_token_hint is not an ID token this server issued to the client (RP-Initiated Logout 1.0 §2)", http.StatusBadRequest)
			return
		}
		clientID = aud
	}
	target := q.Get("post_logout_redirect_uri")
	if target == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("You are signed out.\n"))
		return
	}
	client, ok := s.clients[clientID]
	if !ok || !client.allowsPostLogout(target) {
		http.Error(w, "post_logout_redirect_uri is not registered for the client, or the client is unknown (RP-Initiated Logout 1.0 §3)", http.StatusBadRequest)
		return
	}
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, "post_logout_redirect_uri does not parse", http.StatusBadRequest)
		return
	}
	if state := q.Get("state"); state != "" {
		v := u.Query()
		v.Set("state", state)
		u.RawQuery = v.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// hintAudience checks the signature of an ID token with the server's keys
// (with verification written in jws.go, apart from the client's) and
// returns its aud.
func (s *Server) hintAudience(hint string) (string, bool) {
	j, err := parseJWS(hint)
	if err != nil {
		return "", false
	}
	s.mu.Lock()
	keys := append([]idKey(nil), s.signingKeys()...)
	s.mu.Unlock()
	for _, k := range keys {
		if j.verify(k.signer.Public()) == nil {
			aud, _ := j.claims["aud"].(string)
			return aud, aud != ""
		}
	}
	return "", false
}

// allowsPostLogout reports whether target is on the origin of one of the
// client's redirect URIs.
func (c Client) allowsPostLogout(target string) bool {
	t, err := url.Parse(target)
	if err != nil || t.Host == "" {
		return false
	}
	for _, r := range c.RedirectURIs {
		if u, err := url.Parse(r); err == nil && u.Scheme == t.Scheme && u.Host == t.Host {
			return true
		}
	}
	return false
}
