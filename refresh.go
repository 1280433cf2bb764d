package pkce

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"golang.org/x/oauth2/clientcredentials"
)

// Refresh runs the refresh grant (RFC 6749 §6) with the client's
// authentication, and the client's resource indicators (WithResource). scopes, when given, ask for a narrower scope than the
// original grant; servers may ignore the request and grant the original
// scope again, so check the returned token's Scope.
//
// If the answer carries a new refresh token, the returned token has it and
// the old one must not be used again; if it omits refresh_token, the
// returned token keeps refreshToken. The answer gets the same checks as in
// Exchange, and the request the same default deadline.
//
// Every error matches exactly one of ErrSignInRequired, ErrTryLater and
// ErrClientRejected (see the table in doc.go), and errors.As still finds
// the cause: an *OAuthError, a *ResponseError or a *RequestError.
//
// Most applications do not call Refresh: a TokenSource calls it when the
// token nears expiry, once however many goroutines ask.
func (c *Client) Refresh(ctx context.Context, refreshToken string, scopes ...string) (*Token, error) {
	if err := c.made(); err != nil {
		return nil, err
	}
	if refreshToken == "" {
		return nil, &refreshError{class: ErrSignInRequired, err: errNoRefreshToken}
	}
	if err := checkScopes(scopes); err != nil {
		return nil, &refreshError{class: ErrTryLater, err: err}
	}
	// clientcredentials lets grant_type be overridden, which gives a clean
	// refresh request with an optional scope through x/oauth2's transport
	// (see transport.go).
	cc := clientcredentials.Config{
		ClientID:     c.config.ClientID,
		ClientSecret: c.config.ClientSecret,
		TokenURL:     c.config.Endpoint.TokenURL,
		Scopes:       scopes,
		AuthStyle:    c.config.Endpoint.AuthStyle,
	}
	tok, err := c.retrieve(ctx, OpRefresh, c.redactor(refreshToken), func(ctx context.Context, auth url.Values) error {
		cc := cc
		cc.EndpointParams = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
		if len(c.resources) > 0 {
			cc.EndpointParams["resource"] = c.resources // RFC 8707 §2.2
		}
		for k, v := range auth {
			cc.EndpointParams[k] = v
		}
		_, err := cc.Token(ctx)
		return err
	})
	if err != nil {
		return nil, classify(err)
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	return tok, nil
}

var errNoRefreshToken = errors.New("pkce: the token has no refresh token")

// classify puts a failed refresh in its class; see the table in doc.go.
// The HTTP status decides first, because a gateway's 5xx, 408 or 429
// says nothing about the grant; then the error code, where only
// invalid_grant means the grant is gone and an unknown code is never
// taken to mean that; then a 4xx without an error object, which servers
// send for refresh tokens they no longer know.
func classify(err error) error {
	var oe *OAuthError
	var re *ResponseError
	status := 0
	switch {
	case errors.As(err, &oe):
		status = oe.StatusCode
	case errors.As(err, &re):
		status = re.StatusCode
	}
	class := ErrTryLater
	switch {
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
	case oe != nil:
		switch ErrorCode(oe.Code) {
		case ErrInvalidGrant:
			class = ErrSignInRequired
		case ErrInvalidClient, "unauthorized_client", "unsupported_grant_type":
			class = ErrClientRejected
		}
	case re != nil && status >= 400:
		class = ErrSignInRequired
	}
	return &refreshError{class: class, err: err}
}
