package pkcetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// requestURIPrefix starts every request_uri the server issues
// (RFC 9126 §2.2).
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// pushedRequest is an authorization request pushed to the PAR endpoint,
// waiting for the browser to present its request_uri.
type pushedRequest struct {
	clientID string
	params   url.Values
	expires  time.Time
}

// pushAuthorization serves the pushed authorization request endpoint
// (RFC 9126 §2): it authenticates the client as the token endpoint does,
// checks the authorization request as the authorization endpoint would,
// and answers 201 with a single-use request_uri.
func (s *Server) pushAuthorization(w http.ResponseWriter, r *http.Request) {
	f := s.currentFaults()
	client, form, ok := s.authenticatedForm(w, r, "pushed authorization request", &s.pushedRequests, &s.lastPushed, f.PARRaw)
	if !ok {
		return
	}
	switch ru := form.Get("redirect_uri"); {
	case form.Has("request_uri"):
		writeTokenError(w, invalidRequest("request_uri must not be pushed (RFC 9126 §2.1)"))
		return
	case form.Get("client_id") != client.ID:
		// client_id is a parameter of the authorization request itself,
		// so it is pushed even with HTTP Basic (RFC 9126 §2.1).
		writeTokenError(w, invalidRequest("client_id is missing or differs from the authenticated client (RFC 9126 §2.1)"))
		return
	case ru == "":
		writeTokenError(w, invalidRequest("redirect_uri is missing"))
		return
	case !client.allowsRedirect(ru):
		writeTokenError(w, invalidRequest("redirect_uri is not registered for this client (RFC 9126 §2.4)"))
		return
	}
	if code, desc := checkAuthorizeParams(form, f.AcceptVerifierWithoutChallenge); code != "" {
		writeTokenError(w, &tokenError{status: http.StatusBadRequest, code: code, description: desc})
		return
	}
	// A proof on the push binds the code to its key (RFC 9449 §10.1).
	jkt, terr := s.checkProof(r, "")
	switch {
	case terr != nil:
		if terr.code == "use_dpop_nonce" {
			s.nonceRefusals.Add(1)
		}
		writeTokenError(w, terr)
		return
	case jkt != "" && form.Has("dpop_jkt") && form.Get("dpop_jkt") != jkt:
		writeTokenError(w, invalidRequest("dpop_jkt differs from the key of the DPoP proof (RFC 9449 §10.1)"))
		return
	}

	params := cloneValues(form)
	if jkt != "" {
		params.Set("dpop_jkt", jkt)
	}
	params.Del("client_assertion")
	params.Del("client_assertion_type")
	params.Del("client_secret") // client authentication, not part of the request
	uri := requestURIPrefix + randomToken()
	lifetime := s.cfg.RequestURILifetime
	s.mu.Lock()
	s.requestURIs[uri] = &pushedRequest{clientID: client.ID, params: params, expires: s.now().Add(lifetime)}
	s.mu.Unlock()

	seconds := int((lifetime + time.Second - 1) / time.Second) // a positive integer (RFC 9126 §2.2)
	b, _ := json.Marshal(map[string]any{"request_uri": uri, "expires_in": seconds})
	writeJSON(w, http.StatusCreated, b)
}

// pushedParams returns the parameters pushed under the request_uri of the
// authorization request q (RFC 9126 §4) and forgets them, since a
// request_uri is single-use here. On failure it returns a message for the
// user instead: without the pushed request there is no trusted redirect
// URI to send an error to.
func (s *Server) pushedParams(q url.Values) (url.Values, string) {
	reusable := s.currentFaults().ReusableRequestURI
	if len(q["request_uri"]) > 1 || len(q["client_id"]) > 1 {
		return nil, "request_uri or client_id is repeated (RFC 6749 §3.1)"
	}
	uri := q.Get("request_uri")
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.requestURIs[uri]
	switch {
	case !ok:
		return nil, "request_uri is unknown or was used already (RFC 9126 §4)"
	case q.Get("client_id") != p.clientID:
		return nil, "client_id differs from the client that pushed the request_uri (RFC 9126 §4)"
	}
	if !reusable {
		delete(s.requestURIs, uri)
	}
	if !s.now().Before(p.expires) {
		return nil, "request_uri has expired (RFC 9126 §2.2)"
	}
	return cloneValues(p.params), ""
}
