package pkcetest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"
)

// Faults are switches that make the server misbehave, the way real
// servers and the proxies in front of them do, so that tests can check how
// a client copes. The zero value injects nothing. Set them with SetFaults.
//
// The first group acts on the authorization endpoint, the Metadata group on
// the two metadata documents, RevocationRaw and PARRaw on their endpoints,
// and the rest on the token endpoint only. Every token request counts in
// TokenRequests and RefreshRequests; one that a fault answers instead of
// the server (Raw, RefreshRaw, TokenStatus, HTMLBody, Hang) leaves codes
// and tokens untouched.
type Faults struct {
	// IDToken breaks the ID tokens of token responses one way (see
	// IDTokenFault); UserInfoSubject, when set, is the sub of the UserInfo
	// answer instead of TestUser (OpenID Connect Core §5.3.2).
	IDToken         IDTokenFault
	UserInfoSubject string
	// IDTokenClaims replace claims of every ID token, which stays validly
	// signed: what a hostile or broken provider may put there.
	IDTokenClaims map[string]any

	// IssuerOverride is sent as iss on authorization responses instead of
	// the real issuer; it implies sending iss (RFC 9207 §2).
	IssuerOverride string
	// OmitIssuer stops iss from being sent, even with Config.SendIssuer,
	// which still advertises it (RFC 9207 §3).
	OmitIssuer bool
	// AuthorizeError makes the authorization endpoint answer with this
	// error code (e.g. "access_denied") instead of a code, once the request
	// is otherwise valid (RFC 6749 §4.1.2.1).
	AuthorizeError string

	// TokenStatus makes the token endpoint answer with this HTTP status and
	// {"error":"server_error"}, or "temporarily_unavailable" for 503 ...
	TokenStatus int
	// ... for this many requests, after which it behaves normally; 0 means
	// every request while the fault is set.
	TokenStatusTimes int
	// HTMLBody makes the token endpoint answer 502 with a text/html page,
	// as a proxy in front of it might.
	HTMLBody bool
	// OversizeBody pads token endpoint answers, success and error, with an
	// extra "padding" member to at least this many bytes.
	OversizeBody int
	// Delay makes the token endpoint wait this long before answering; it
	// gives up without an answer if the request context ends or the server
	// is closed first.
	Delay time.Duration
	// AnswerDelay makes the token endpoint serve a request at once (a
	// code is redeemed, a refresh token rotated) and hold the answer this
	// long; a client that gives up first loses what was issued, as with a
	// slow real server.
	AnswerDelay time.Duration
	// Hang makes the token endpoint never answer; it lets go only when the
	// request context ends or the server is closed.
	Hang bool
	// Raw answers every token request with exactly this response.
	Raw *RawResponse
	// RefreshRaw answers token requests with grant_type=refresh_token with
	// exactly this response, e.g. &RawResponse{Status: 400} for the empty
	// 400 some servers send for an expired refresh token. Raw wins.
	RefreshRaw *RawResponse

	// OmitTokenType drops token_type from successful token responses,
	// which RFC 6749 §5.1 requires.
	OmitTokenType bool
	// TokenType is sent as token_type instead of "Bearer", e.g. "bearer",
	// "mac" or "DPoP".
	TokenType string
	// ExpiresInString sends expires_in as a JSON string, e.g. "3600",
	// where RFC 6749 §5.1 wants a number.
	ExpiresInString bool
	// ExpiresIn is sent as expires_in instead of the real lifetime; it may
	// be zero or negative.
	ExpiresIn *int
	// OmitRefreshToken drops refresh_token from successful token
	// responses; the server still issues and rotates refresh tokens as
	// usual.
	OmitRefreshToken bool
	// TokenSuccessStatus is the HTTP status of successful token responses
	// instead of 200 (RFC 6749 §5.1), e.g. 201.
	TokenSuccessStatus int
	// FormEncodedBody sends token endpoint answers, success and error, as
	// application/x-www-form-urlencoded instead of JSON, as GitHub does
	// unless asked for JSON.
	FormEncodedBody bool
	// ErrorsAs200 sends token endpoint errors with status 200 instead of
	// 400 or 401 (RFC 6749 §5.2), as GitHub does.
	ErrorsAs200 bool
	// FormEncodedUnlessJSONAccepted sends token endpoint answers, success
	// and error, form-encoded unless the request's Accept header names
	// application/json, as GitHub documents; JSON when it does.
	FormEncodedUnlessJSONAccepted bool
	// TokenTemplate, when set, is the body of every successful token
	// response: a text/template executed with the TokenValues the server
	// issued, so that the grant goes on working, and sent as
	// application/json with the status of TokenSuccessStatus or 200. It
	// reproduces a provider's documented answer member by member (vendor
	// members, nested objects, expires_in as a string or missing) where
	// the shape faults above do not reach; they, FormEncodedBody and
	// OversizeBody do not apply to it. The function json quotes a value:
	//
	//	{"access_token":{{json .AccessToken}},"token_type":"bearer","scope":"repo,gist"}
	//
	// SetFaults panics if the template does not parse.
	TokenTemplate string

	// MetadataIssuer is sent as the metadata's issuer member instead of
	// the real issuer, which RFC 8414 §3.3 forbids.
	MetadataIssuer string
	// MetadataWithoutS256 advertises code_challenge_methods_supported
	// ["plain"], without S256. The authorization endpoint still accepts
	// S256 only.
	MetadataWithoutS256 bool
	// MetadataOmitAuthMethods leaves token_endpoint_auth_methods_supported
	// and revocation_endpoint_auth_methods_supported out, which RFC 8414
	// §2 reads as client_secret_basic only.
	MetadataOmitAuthMethods bool
	// MetadataHTML answers metadata requests 200 with a text/html page, as
	// a single-page application that serves index.html for every path does.
	MetadataHTML bool
	// MetadataRaw answers metadata requests at both well-known paths with
	// exactly this response.
	MetadataRaw *RawResponse
	// OAuthMetadataRaw answers at the RFC 8414 well-known path only with
	// exactly this response, e.g. a 401 or an HTML page from a gateway,
	// while the OpenID Connect Discovery path still works.
	OAuthMetadataRaw *RawResponse
	// MetadataRedirectToSlash answers both well-known paths with a 301 to
	// the same path with a trailing slash, where the document is served, as
	// frameworks that append slashes do.
	MetadataRedirectToSlash bool
	// HideOAuthMetadata answers 404 at the RFC 8414 well-known path, as a
	// server that only implements OpenID Connect Discovery does.
	HideOAuthMetadata bool
	// HideOpenIDConfiguration answers 404 at the OpenID Connect Discovery
	// path.
	HideOpenIDConfiguration bool

	// RevocationRaw answers every revocation request with exactly this
	// response, after counting and recording it.
	RevocationRaw *RawResponse
	// PARRaw answers every pushed authorization request with exactly this
	// response, after counting and recording it.
	PARRaw *RawResponse

	// The switches below each break one rule the server otherwise keeps,
	// so that a battery of checks against a server can show that it sees
	// the breach. Each names the rule it breaks.

	// MetadataOmit leaves these members out of the metadata, e.g.
	// "response_types_supported", which RFC 8414 §2 requires.
	MetadataOmit []string
	// AlterState returns a state that differs from the one the client
	// sent (RFC 6749 §4.1.2: the exact value received).
	AlterState bool
	// LooseRedirectMatch accepts a redirect_uri that merely starts with a
	// registered one, where RFC 9700 §4.1.3 requires exact comparison.
	LooseRedirectMatch bool
	// ReusableCodes accepts an authorization code more than once
	// (RFC 6749 §4.1.2).
	ReusableCodes bool
	// CodeNotBoundToClient redeems a code for any authenticated client,
	// not only the one it was issued to (RFC 6749 §4.1.3).
	CodeNotBoundToClient bool
	// CodeNotBoundToRedirectURI redeems a code whatever the redirect_uri
	// of the token request (RFC 6749 §4.1.3).
	CodeNotBoundToRedirectURI bool
	// AcceptMissingVerifier redeems a code issued for a code_challenge
	// without any code_verifier (RFC 9700 §2.1.1).
	AcceptMissingVerifier bool
	// AcceptAnyVerifier redeems a code with a code_verifier that does not
	// match its code_challenge (RFC 7636 §4.6).
	AcceptAnyVerifier bool
	// AcceptChallengeAsVerifier redeems a code with its S256 code_challenge
	// sent as the code_verifier, as if the method were plain (RFC 7636
	// §4.6).
	AcceptChallengeAsVerifier bool
	// AcceptVerifierWithoutChallenge issues codes to authorization
	// requests without a code_challenge and redeems them with any
	// code_verifier: the PKCE downgrade of RFC 9700 §2.1.1, §4.8.2.
	AcceptVerifierWithoutChallenge bool
	// OmitNoStore leaves Cache-Control: no-store and Pragma: no-cache out
	// of token endpoint answers (RFC 6749 §5.1).
	OmitNoStore bool
	// AcceptAnySecret authenticates a confidential client whatever secret
	// it sends (RFC 6749 §3.2.1).
	AcceptAnySecret bool
	// KeepRotatedRefreshTokens goes on accepting a refresh token after it
	// was rotated (RFC 9700 §4.14.2).
	KeepRotatedRefreshTokens bool
	// NoRefreshReuseDetection refuses a rotated refresh token without
	// revoking the grant's active one (RFC 9700 §4.14.2).
	NoRefreshReuseDetection bool
	// IgnoreRevocation answers revocation requests 200 without revoking
	// anything (RFC 7009 §2.1).
	IgnoreRevocation bool
	// ReusableRequestURI accepts a pushed request_uri more than once
	// (RFC 9126 §4).
	ReusableRequestURI bool
}

// RawResponse is an HTTP response given verbatim.
type RawResponse struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// ContentType is the Content-Type header; empty means none is sent,
	// unless Header has one.
	ContentType string
	// Body is the response body.
	Body string
	// Header holds further response headers.
	Header http.Header
}

// SetFaults replaces all fault switches with f; SetFaults(Faults{}) turns
// them off. It restarts the TokenStatusTimes count.
func (s *Server) SetFaults(f Faults) {
	// Copy what f points to, so that the caller may reuse its values.
	if f.ExpiresIn != nil {
		n := *f.ExpiresIn
		f.ExpiresIn = &n
	}
	for _, raw := range []**RawResponse{&f.Raw, &f.RefreshRaw, &f.MetadataRaw, &f.OAuthMetadataRaw, &f.RevocationRaw, &f.PARRaw} {
		*raw = (*raw).clone()
	}
	f.IDTokenClaims = maps.Clone(f.IDTokenClaims)
	f.MetadataOmit = append([]string(nil), f.MetadataOmit...)
	tmpl := parseTokenTemplate(f.TokenTemplate)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.faultsLeft = f.TokenStatusTimes
	s.tokenTemplate = tmpl
}

// currentFaults returns the faults in force. The pointers in the result
// refer to copies the server never changes.
func (s *Server) currentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// injectTokenFault answers a token request as the faults f say, and
// reports whether it did; if not, the request is to be served normally.
func (s *Server) injectTokenFault(w http.ResponseWriter, r *http.Request, f Faults, isRefresh bool) bool {
	if f.Hang {
		s.await(r.Context(), nil)
		// Drop the connection rather than answer, even when Close is what
		// ended the wait.
		panic(http.ErrAbortHandler)
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		if !s.await(r.Context(), t.C) {
			panic(http.ErrAbortHandler)
		}
	}
	switch {
	case f.Raw != nil:
		writeRaw(w, f.Raw)
		return true
	case f.RefreshRaw != nil && isRefresh:
		writeRaw(w, f.RefreshRaw)
		return true
	}
	if status, ok := s.takeStatusFault(); ok {
		code := "server_error"
		if status == http.StatusServiceUnavailable {
			code = "temporarily_unavailable"
		}
		writeTokenError(w, &tokenError{status: status, code: code, description: "injected fault"})
		return true
	}
	if f.HTMLBody {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"+
			"<body><h1>502 Bad Gateway</h1><p>The upstream server did not answer.</p></body></html>\n")
		return true
	}
	return false
}

// await blocks until done delivers, and reports true, or until ctx ends or
// the server is closed, and reports false. A nil done never delivers.
func (s *Server) await(ctx context.Context, done <-chan time.Time) bool {
	select {
	case <-done:
		return true
	case <-ctx.Done():
	case <-s.closed:
	}
	return false
}

// takeStatusFault reports the TokenStatus to answer with, if it applies to
// this request, and counts the request against TokenStatusTimes.
func (s *Server) takeStatusFault() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	if f.TokenStatus == 0 {
		return 0, false
	}
	if f.TokenStatusTimes > 0 {
		if s.faultsLeft == 0 {
			return 0, false
		}
		s.faultsLeft--
	}
	return f.TokenStatus, true
}

func (raw *RawResponse) clone() *RawResponse {
	if raw == nil {
		return nil
	}
	cp := *raw
	cp.Header = cp.Header.Clone()
	return &cp
}

// writeRaw writes raw exactly as given.
func writeRaw(w http.ResponseWriter, raw *RawResponse) {
	h := w.Header()
	for k, vs := range raw.Header {
		h[k] = append([]string(nil), vs...)
	}
	switch {
	case raw.ContentType != "":
		h.Set("Content-Type", raw.ContentType)
	case h.Get("Content-Type") == "":
		h["Content-Type"] = nil // stops net/http from sniffing one
	}
	status := raw.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	fmt.Fprint(w, raw.Body)
}

// reshape changes a successful token response body as the faults say.
func (f Faults) reshape(body map[string]any) {
	switch {
	case f.OmitTokenType:
		delete(body, "token_type")
	case f.TokenType != "":
		body["token_type"] = f.TokenType
	}
	if f.ExpiresIn != nil {
		body["expires_in"] = *f.ExpiresIn
	}
	if f.ExpiresInString {
		body["expires_in"] = strconv.Itoa(body["expires_in"].(int))
	}
	if f.OmitRefreshToken {
		delete(body, "refresh_token")
	}
}
