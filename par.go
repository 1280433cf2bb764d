package pkce

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrPARRequired is returned by Start when the authorization request must
// be pushed (RFC 9126): the metadata sets
// require_pushed_authorization_requests, or the client was made with
// WithPushedAuthorization. Pushing needs a request, hence a context: use
// StartContext.
var ErrPARRequired = errors.New("pkce: the authorization request must be pushed (RFC 9126 §5); use StartContext")

// parGrant names pushed authorization requests in errors (TokenError.Grant,
// ResponseError.Grant).
const parGrant = "pushed_authorization_request"

// WithPushedAuthorization makes StartContext push every authorization
// request (RFC 9126) even when the server does not require it, so that the
// parameters travel authenticated and out of the browser's sight. It needs
// metadata (WithMetadata, NewFromIssuer) with a
// pushed_authorization_request_endpoint; New fails with ErrInvalidConfig
// otherwise. Start then fails with ErrPARRequired.
func WithPushedAuthorization() Option { return func(c *Client) { c.pushAuthorization = true } }

// StartContext begins an authorization like Start. When the request must
// be pushed (the metadata's require_pushed_authorization_requests, or
// WithPushedAuthorization), it first POSTs the parameters Start would put
// in the URL (response_type, client_id, redirect_uri, scope, state, the S256
// code_challenge and the Param extras) to the PAR endpoint with the client
// authentication of the token endpoint (RFC 9126 §2.1), and flow.URL then
// carries client_id and the returned request_uri only (RFC 9126 §4). The
// flow expires with the request_uri (its expires_in) when that comes before
// the flow lifetime.
//
// An error answer of the PAR endpoint (RFC 9126 §2.3) is a *TokenError with
// Grant "pushed_authorization_request"; a broken answer is a
// *ResponseError. Without pushing, StartContext is Start and makes no
// request.
func (c *Client) StartContext(ctx context.Context, opts ...StartOption) (*Flow, error) {
	if !c.pushAuthorization {
		return c.Start(opts...)
	}
	req, _, err := c.authRequest(opts)
	if err != nil {
		return nil, err
	}
	if indexOfKey(req.params, "request_uri") {
		return nil, fmt.Errorf("pkce: authorization request parameter \"request_uri\" cannot be pushed (RFC 9126 §2.1)")
	}
	scopes := req.scopesOr(c.config.Scopes)

	verifier := NewVerifier()
	var raw [stateBytes]byte
	rand.Read(raw[:])
	state := b64.EncodeToString(raw[:])
	form := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.config.ClientID}, // even with Basic: it is a request parameter (RFC 9126 §2.1)
		"redirect_uri":          {req.redirect},
		"state":                 {state},
		"code_challenge":        {verifier.Challenge()},
		"code_challenge_method": {MethodS256},
	}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	for i := 0; i < len(req.params); i += 2 {
		form.Set(req.params[i], req.params[i+1])
	}

	now := c.now()
	requestURI, lifetime, err := c.push(ctx, form, c.redactor(state))
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(c.authURLQuery())
	b.WriteString("client_id=")
	b.WriteString(url.QueryEscape(c.config.ClientID))
	b.WriteString("&request_uri=")
	b.WriteString(url.QueryEscape(requestURI))
	return &Flow{
		URL:         b.String(),
		State:       state,
		Verifier:    verifier,
		RedirectURL: req.redirect,
		Issuer:      c.issuer,
		Created:     now,
		Expires:     now.Add(min(c.flowLifetime, lifetime)),
	}, nil
}

// push sends one pushed authorization request and returns the request_uri
// and how long it can be used (RFC 9126 §2.2).
func (c *Client) push(ctx context.Context, form url.Values, secrets redactor) (string, time.Duration, error) {
	r, err := c.postAuthenticated(ctx, parGrant, c.metadata.PushedAuthorizationRequestEndpoint, form)
	if err != nil {
		return "", 0, err
	}
	fail := func(kind error, problem string) (string, time.Duration, error) {
		return "", 0, &ResponseError{Err: kind, Grant: parGrant, StatusCode: r.status, ContentType: r.contentType,
			Problem: problem, Rule: "RFC 9126 §2.2"}
	}
	switch {
	case r.status >= 200 && r.status < 300 && r.status != http.StatusCreated:
		return fail(ErrUnexpectedStatus, "a successful push must answer 201 Created")
	case r.status != http.StatusCreated:
		return "", 0, c.errorResponse(parGrant, r, secrets, "RFC 9126 §2.3")
	}
	members, problem := decodeObject(r.body)
	if problem != "" {
		return fail(ErrNotJSON, problem+": "+secrets.excerpt(r.body, r.contentType))
	}
	if !isJSONMediaType(r.contentType) {
		return fail(ErrContentType, "a successful push must be labelled application/json")
	}
	requestURI, ok := members["request_uri"].(string)
	if !ok || requestURI == "" {
		return fail(ErrMalformedResponse, "request_uri is missing, empty or not a string")
	}
	if members["expires_in"] == nil {
		return fail(ErrExpiresIn, "expires_in is missing")
	}
	seconds, err := parseExpiresIn(members["expires_in"])
	if err != nil {
		return fail(ErrExpiresIn, err.Error())
	}
	if seconds == 0 {
		return fail(ErrExpiresIn, "expires_in must be a positive number of seconds")
	}
	return requestURI, time.Duration(seconds) * time.Second, nil
}
