package pkcetest

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// authenticateClient identifies and authenticates the client of a token
// request (RFC 6749 §2.3, §3.2.1). Each client must use exactly the method
// it registered, and only one method per request (RFC 6749 §2.3).
func (s *Server) authenticateClient(r *http.Request, form url.Values) (Client, *tokenError) {
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return s.authenticateAssertion(r, form)
	}
	if authz, ok := r.Header["Authorization"]; ok {
		if len(authz) != 1 {
			return Client{}, invalidClient(true, "the Authorization header is repeated")
		}
		return s.authenticateBasic(authz[0], form)
	}

	id := form.Get("client_id")
	if id == "" {
		return Client{}, invalidClient(false, "no client authentication: neither an Authorization header nor client_id (RFC 6749 §3.2.1)")
	}
	c, ok := s.clients[id]
	if !ok {
		return Client{}, invalidClient(false, "unknown client")
	}
	secret := form.Get("client_secret")
	switch c.Method {
	case MethodPost:
		if secret == "" {
			return Client{}, invalidClient(false, "client_secret is missing; the client is registered for client_secret_post")
		}
		if !secretsEqual(secret, c.Secret) && !s.currentFaults().AcceptAnySecret {
			return Client{}, invalidClient(false, "wrong client secret")
		}
	case MethodNone:
		if secret != "" {
			return Client{}, invalidClient(false, "a public client must not send a client_secret")
		}
	default:
		return Client{}, invalidClient(false, fmt.Sprintf("the client is registered for %s, not credentials in the body", c.Method))
	}
	return c, nil
}

// authenticateBasic checks HTTP Basic client credentials (RFC 6749
// §2.3.1): the client identifier and secret are form-urlencoded, joined
// with a colon and base64 encoded (RFC 7617 §2).
func (s *Server) authenticateBasic(authz string, form url.Values) (Client, *tokenError) {
	scheme, creds, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return Client{}, invalidClient(true, "the Authorization scheme must be Basic (RFC 6749 §2.3.1)")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(creds))
	if err != nil {
		return Client{}, invalidClient(true, "the Basic credentials are not base64 (RFC 7617 §2)")
	}
	// The identifier cannot hold a raw colon once form-urlencoded, so the
	// first colon is the separator; the secret may contain more.
	encID, encSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Client{}, invalidClient(true, "the Basic credentials have no colon (RFC 7617 §2)")
	}
	id, errID := url.QueryUnescape(encID)
	secret, errSecret := url.QueryUnescape(encSecret)
	if errID != nil || errSecret != nil {
		return Client{}, invalidClient(true, "the Basic credentials are not form-urlencoded (RFC 6749 §2.3.1)")
	}
	c, ok := s.clients[id]
	if !ok {
		return Client{}, invalidClient(true, "unknown client")
	}
	if c.Method != MethodBasic {
		return Client{}, invalidClient(true, fmt.Sprintf("the client is registered for %s, not client_secret_basic", c.Method))
	}
	// RFC 6749 §2.3: a client MUST NOT use more than one authentication
	// method in each request.
	if form.Get("client_secret") != "" {
		return Client{}, invalidClient(true, "client_secret is in both the Authorization header and the body (RFC 6749 §2.3)")
	}
	if bodyID := form.Get("client_id"); bodyID != "" && bodyID != id {
		return Client{}, invalidClient(true, "client_id in the body differs from the Basic credentials")
	}
	if !secretsEqual(secret, c.Secret) && !s.currentFaults().AcceptAnySecret {
		return Client{}, invalidClient(true, "wrong client secret")
	}
	return c, nil
}

// invalidClient is the RFC 6749 §5.2 answer to failed client
// authentication: 401, with a Basic challenge when the client used the
// Authorization header.
func invalidClient(usedHeader bool, description string) *tokenError {
	return &tokenError{
		status:         http.StatusUnauthorized,
		code:           "invalid_client",
		description:    description,
		basicChallenge: usedHeader,
	}
}

// secretsEqual compares client secrets in time independent of where they
// differ (RFC 6749 §10.10 asks to resist guessing).
func secretsEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// authenticatedForm reads a POST to an endpoint that authenticates clients
// as the token endpoint does, such as revocation (RFC 7009 §2.1) and
// pushed authorization requests (RFC 9126 §2.1): it counts the request,
// records it in *last, answers with raw when that fault is set, checks the
// form and authenticates the client. When it returns false it has written
// the answer.
func (s *Server) authenticatedForm(w http.ResponseWriter, r *http.Request, endpoint string, count *atomic.Int64, last *TokenRequest, raw *RawResponse) (Client, url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeTokenError(w, &tokenError{status: http.StatusMethodNotAllowed, code: "invalid_request",
			description: "the " + endpoint + " endpoint accepts POST only"})
		return Client{}, nil, false
	}
	count.Add(1)
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenRequestBody))
	form, parseErr := url.ParseQuery(string(body))
	s.mu.Lock()
	*last = TokenRequest{
		Form:          cloneValues(form),
		Authorization: r.Header.Get("Authorization"),
		ContentType:   r.Header.Get("Content-Type"),
	}
	s.mu.Unlock()

	fail := func(e *tokenError) (Client, url.Values, bool) {
		writeTokenError(w, e)
		return Client{}, nil, false
	}
	switch mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); {
	case raw != nil:
		writeRaw(w, raw)
		return Client{}, nil, false
	case readErr != nil || parseErr != nil:
		return fail(invalidRequest("the request body is not a valid form"))
	case mt != "application/x-www-form-urlencoded":
		return fail(invalidRequest("the body must be application/x-www-form-urlencoded"))
	case r.URL.RawQuery != "":
		return fail(invalidRequest("parameters must be sent in the request body, not the URI"))
	}
	if name := repeatedParam(form); name != "" {
		return fail(invalidRequest("%s is repeated", name))
	}
	client, terr := s.authenticateClient(r, form)
	if terr != nil {
		return fail(terr)
	}
	return client, form, true
}
