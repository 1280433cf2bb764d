package pkce

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// ErrorCode is an OAuth 2.0 error code. Both *AuthorizationError and
// *TokenError match the ErrorCode equal to their code with errors.Is, so
// errors.Is(err, pkce.ErrInvalidGrant) reads as it should. Codes not listed
// here work the same way: errors.Is(err, pkce.ErrorCode("login_required")).
type ErrorCode string

func (c ErrorCode) Error() string { return "pkce: OAuth error " + string(c) }

// Error codes of RFC 6749 §4.1.2.1 (authorization endpoint) and §5.2
// (token endpoint).
const (
	ErrInvalidRequest          ErrorCode = "invalid_request"
	ErrUnauthorizedClient      ErrorCode = "unauthorized_client"
	ErrAccessDenied            ErrorCode = "access_denied"
	ErrUnsupportedResponseType ErrorCode = "unsupported_response_type"
	ErrInvalidScope            ErrorCode = "invalid_scope"
	ErrServerError             ErrorCode = "server_error"
	ErrTemporarilyUnavailable  ErrorCode = "temporarily_unavailable"
	ErrInvalidClient           ErrorCode = "invalid_client"
	ErrInvalidGrant            ErrorCode = "invalid_grant"
	ErrUnsupportedGrantType    ErrorCode = "unsupported_grant_type"
)

// A TokenError is an error response from the token endpoint
// (RFC 6749 §5.2). errors.As finds the *oauth2.RetrieveError behind it,
// with the Authorization header removed from its request and secrets
// removed from its body.
type TokenError struct {
	Grant       string // "authorization_code", "refresh_token", "revocation" or "pushed_authorization_request"
	StatusCode  int
	Code        string // the error member
	Description string // error_description, secrets removed
	URI         string // error_uri
	AuthStyle   AuthStyle

	retrieve *oauth2.RetrieveError
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pkce: %s answered %d with error %q", endpointOf(e.Grant), e.StatusCode, clip(e.Code, 100))
	if e.Description != "" {
		fmt.Fprintf(&b, ": %q", clip(e.Description, maxDescription))
	}
	if e.URI != "" {
		fmt.Fprintf(&b, " (see %q)", clip(e.URI, 200))
	}
	b.WriteString("; RFC 6749 §5.2")
	if e.Code == string(ErrInvalidClient) {
		b.WriteString("; ")
		b.WriteString(invalidClientHint(e.AuthStyle))
	}
	return b.String()
}

// Unwrap returns the *oauth2.RetrieveError for errors.As.
func (e *TokenError) Unwrap() error { return e.retrieve }

// Is matches the ErrorCode equal to e.Code.
func (e *TokenError) Is(target error) bool {
	code, ok := target.(ErrorCode)
	return ok && string(code) == e.Code
}

// invalidClientHint names the usual causes of invalid_client for the
// authentication the client used.
func invalidClientHint(s AuthStyle) string {
	return authStyleHint(s) + "; also check that TokenURL is the token endpoint, not the authorization endpoint"
}

func authStyleHint(s AuthStyle) string {
	switch s {
	case AuthClientSecretBasic:
		return "the client sent its id and secret with HTTP Basic (client_secret_basic): check the secret, and that the server registered the client as confidential with this method; some servers want the secret in the body (AuthClientSecretPost)"
	case AuthClientSecretPost:
		return "the client sent its id and secret in the body (client_secret_post): check the secret, and that the server registered the client with this method; many servers want HTTP Basic (AuthClientSecretBasic)"
	case AuthNone:
		return "the client sent no secret (public client, auth none): servers answer invalid_client when they registered the client as confidential; then set ClientSecret"
	}
	return "check the client id, secret and authentication method"
}

// Errors for token responses that break the protocol. Each arrives
// wrapped in a *ResponseError.
var (
	ErrResponseTooLarge   = errors.New("pkce: token response too large")
	ErrUnexpectedStatus   = errors.New("pkce: token response has an unexpected status")
	ErrNotJSON            = errors.New("pkce: token response is not a JSON object")
	ErrContentType        = errors.New("pkce: token response is not labelled application/json")
	ErrMissingAccessToken = errors.New("pkce: token response has no access_token")
	ErrTokenType          = errors.New("pkce: token response has a missing or unsupported token_type")
	ErrExpiresIn          = errors.New("pkce: token response has an invalid expires_in")
	ErrMalformedResponse  = errors.New("pkce: token response has a member of the wrong type")
)

// A ResponseError is a token endpoint response that breaks RFC 6749: the
// server did something wrong, and the message says what and where the
// rule is. When the status was not 2xx, errors.As also finds the
// *oauth2.RetrieveError behind it.
type ResponseError struct {
	Err         error // one of the Err* values above
	Grant       string
	StatusCode  int
	ContentType string
	Problem     string // what was wrong, with a redacted excerpt of the body
	Rule        string // e.g. "RFC 6749 §5.1"

	retrieve *oauth2.RetrieveError
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("pkce: %s answered %d", endpointOf(e.Grant), e.StatusCode)
	if e.ContentType != "" {
		msg += fmt.Sprintf(" (%s)", clip(e.ContentType, 80))
	}
	msg += ": " + e.Problem
	if e.Rule != "" {
		msg += "; " + e.Rule
	}
	return msg
}

// Unwrap returns the kind of failure and, when there is one, the
// *oauth2.RetrieveError.
func (e *ResponseError) Unwrap() []error {
	if e.retrieve != nil {
		return []error{e.Err, e.retrieve}
	}
	return []error{e.Err}
}

// endpointOf names the endpoint a request of the given grant went to, for
// messages.
func endpointOf(grant string) string {
	switch grant {
	case revocationGrant:
		return "revocation endpoint"
	case parGrant:
		return "pushed authorization request endpoint"
	}
	return "token endpoint (" + grant + " grant)"
}

// A RequestError is a request that got no complete answer: the
// connection failed or was reset, or the context ended first. errors.Is
// finds the cause, such as context.DeadlineExceeded.
type RequestError struct {
	Grant   string
	Err     error
	Partial bool // the status line arrived, the body did not
}

func (e *RequestError) Error() string {
	if e.Partial {
		return fmt.Sprintf("pkce: request to the %s failed while reading the response: %v", endpointOf(e.Grant), e.Err)
	}
	return fmt.Sprintf("pkce: request to the %s failed: %v", endpointOf(e.Grant), e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }
