package pkce

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// WithPushedAuthorization makes Start push every authorization request
// (RFC 9126) even when the server does not require it, so that the
// parameters travel authenticated and out of the browser's sight. It needs
// metadata (WithMetadata, NewFromIssuer) with a
// pushed_authorization_request_endpoint; New fails with ErrInvalidConfig
// otherwise.
func WithPushedAuthorization() Option {
	return func(c *Client) error {
		c.pushAuthorization = true
		return nil
	}
}

// push sends the authorization request of f as a pushed authorization
// request (RFC 9126 §2.1) and points f.URL at the returned request_uri
// (RFC 9126 §4).
func (c *Client) push(ctx context.Context, f *Flow, req startRequest) error {
	form := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.config.ClientID}, // even with Basic: it is a request parameter (RFC 9126 §2.1)
		"redirect_uri":          {req.redirect},
		"state":                 {f.State},
		"code_challenge":        {f.verifier.Challenge()},
		"code_challenge_method": {methodS256},
	}
	if scopes := req.scopesOr(c.config.Scopes); len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	if c.formPost {
		form.Set("response_mode", "form_post")
	}
	if len(c.resources) > 0 {
		form["resource"] = c.resources
	}
	if c.dpop != nil {
		// The proof on the request binds the code already (RFC 9449
		// §10.1); dpop_jkt says the same for servers that look only at the
		// authorization request's parameters.
		form.Set("dpop_jkt", c.dpop.jkt)
	}
	for i := 0; i < len(req.params); i += 2 {
		form.Set(req.params[i], req.params[i+1])
	}
	secrets := c.redactor(f.State)
	r, err := c.postAuthenticated(ctx, opPush, c.metadata.PushedAuthorizationRequestEndpoint, formOf(form), secrets)
	if err != nil {
		return err
	}
	fail := func(kind error, problem string) error {
		return r.fail(kind, problem, "RFC 9126 §2.2")
	}
	switch {
	case r.status >= 200 && r.status < 300 && r.status != http.StatusCreated:
		return fail(errUnexpectedStatus, "a successful push must answer 201 Created")
	case r.status != http.StatusCreated:
		return r.errorResponse("RFC 9126 §2.3")
	}
	m, err := r.jsonObject("RFC 9126 §2.2", "request_uri", "expires_in")
	if err != nil {
		return err
	}
	requestURI, ok := m["request_uri"].(string)
	if !ok || requestURI == "" {
		return fail(ErrInvalidResponse, "request_uri is missing, empty or not a string")
	}
	if m["expires_in"] == nil {
		return fail(ErrInvalidResponse, "expires_in is missing")
	}
	seconds, err := parseExpiresIn(m["expires_in"])
	if err != nil {
		return fail(ErrInvalidResponse, err.Error())
	}
	if seconds == 0 {
		return fail(ErrInvalidResponse, "expires_in must be a positive number of seconds")
	}
	if lifetime := time.Duration(seconds) * time.Second; lifetime < c.flowLifetime {
		f.Expires = f.created.Add(lifetime)
	}
	var b strings.Builder
	b.WriteString(c.authURLQuery())
	b.WriteString("client_id=")
	b.WriteString(url.QueryEscape(c.config.ClientID))
	b.WriteString("&request_uri=")
	b.WriteString(url.QueryEscape(requestURI))
	f.URL = b.String()
	return nil
}
