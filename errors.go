package pkce

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// Every error type and sentinel of the package lives in this file. Each
// error the package returns is one of the types below, or wraps one of the
// sentinels, so that errors.As and errors.Is find it; doc.go says which
// appears when.

// The steps an error can come from: the Op of a *ResponseError or an
// *OAuthError, as os.PathError's Op names the system call. Code compares
// them as strings, e.g. e.Op == "refresh".
const (
	opAuthorize = "authorization"                // the redirect back from the authorization endpoint (RFC 6749 §4.1.2)
	opExchange  = "code exchange"                // the token endpoint, authorization_code grant (RFC 6749 §4.1.3)
	opRefresh   = "refresh"                      // the token endpoint, refresh_token grant (RFC 6749 §6)
	opPush      = "pushed authorization request" // RFC 9126 §2
	opRevoke    = "revocation"                   // RFC 7009 §2
	opDiscover  = "metadata discovery"           // RFC 8414 §3
	opGrant     = "token request"                // the token endpoint, another grant (RFC 6749 §4.5), see Client.Grant
	opUserInfo  = "userinfo"                     // OpenID Connect Core §5.3

	opResourceMetadata = "protected resource metadata" // RFC 9728 §3
	opRegister         = "dynamic client registration" // RFC 7591 §3
	opResource         = "protected resource"          // a request to the resource itself
)

// ErrInvalidConfig is matched by every error that New, NewFromIssuer,
// TokenSource and the options return because of what they were given.
var ErrInvalidConfig = errors.New("pkce: invalid configuration")

// errInvalidVerifier is the cause of every error for a code verifier that
// breaks RFC 7636 §4.1.
var errInvalidVerifier = errors.New("pkce: invalid code verifier")

// Causes of a *CallbackError: the redirect back from the authorization
// server, or the pending flow, is not acceptable. No token request has
// been made.
var (
	ErrInvalidFlow       = errors.New("pkce: flow is not valid for this client")
	ErrMalformedCallback = errors.New("pkce: callback is malformed")
	ErrStateMismatch     = errors.New("pkce: callback state is not the flow's")
	ErrIssuerMismatch    = errors.New("pkce: issuer does not match")
	ErrFlowExpired       = errors.New("pkce: flow expired")
	ErrFlowFinished      = errors.New("pkce: flow already finished")
)

// Causes of a *ResponseError: an endpoint answered in a way the protocol
// does not allow. ErrIssuerMismatch is also one, for metadata whose issuer
// differs from the one asked for (RFC 8414 §3.3).
var (
	// ErrInvalidResponse is an answer that breaks the protocol: a body
	// over the limit (WithMaxResponseBytes), a status the endpoint must
	// not answer, something else than the JSON object it must send, or a
	// member missing or of the wrong type. The ResponseError says which,
	// and where the rule is.
	ErrInvalidResponse = errors.New("pkce: response breaks the protocol")
	// ErrInvalidIDToken is an ID token or UserInfo answer that breaks
	// OpenID Connect Core 1.0 (§3.1.3.7, §5.3.2, §12.2); the message
	// names the section.
	ErrInvalidIDToken = errors.New("pkce: ID token or UserInfo answer is not valid")
)

// The finer causes of ErrInvalidResponse, which the package branches on:
// discovery tries the next location after a 4xx or a body that is not
// JSON.
var (
	errResponseTooLarge = &narrowError{"pkce: response too large", ErrInvalidResponse}
	errUnexpectedStatus = &narrowError{"pkce: response has an unexpected status", ErrInvalidResponse}
	errNotJSON          = &narrowError{"pkce: response is not a JSON object labelled application/json", ErrInvalidResponse}
)

// A narrowError is a finer cause that matches a broader sentinel with
// errors.Is, under its own message.
type narrowError struct {
	msg string
	of  error
}

func (e *narrowError) Error() string { return e.msg }
func (e *narrowError) Unwrap() error { return e.of }

// The classes of refresh failures. Every error that Client.Refresh and a
// TokenSource return matches exactly one of them with errors.Is; the
// errors guide (docs/errors.md) and doc.go have the table of what falls in
// which.
var (
	// ErrSignInRequired: the grant is gone (invalid_grant: the refresh
	// token expired, was revoked or rotated away; a 4xx answer without an
	// error object; the same refusal of the same refresh token after the
	// back-off; no refresh token; the source was signed out; a stored
	// token refused before or that does not decode). Delete the stored
	// token and send the user through sign-in again.
	ErrSignInRequired = errors.New("pkce: sign-in required")
	// ErrTryLater: the refresh may pass later (network errors, timeouts,
	// 5xx, 408 and 429 answers, server_error, temporarily_unavailable,
	// unknown or request-level error codes, malformed answers, a failing
	// store or OnRefresh hook, the caller's own context ending). Keep the
	// stored token.
	ErrTryLater = errors.New("pkce: refresh failed for now; try later")
	// ErrClientRejected: the server refused the client itself
	// (invalid_client, unauthorized_client, unsupported_grant_type).
	// Signing the user in again does not help: fix the client's
	// credentials or registration. Keep the stored token; it may well be
	// valid.
	ErrClientRejected = errors.New("pkce: the authorization server rejected the client")
)

// Errors of the zero value or a nil pointer of a type that must be made
// by its constructor. They match ErrInvalidConfig.
var (
	errZeroSource = fmt.Errorf("%w: the TokenSource was not made by Client.TokenSource or Tokens.Source", ErrInvalidConfig)
	errZeroTokens = fmt.Errorf("%w: the Tokens was not made by Client.Tokens", ErrInvalidConfig)
)

// Causes of a Tokens failure that match ErrSignInRequired: the stored
// refresh token was refused before (a tombstone is stored in its place),
// or the stored bytes are no token.
var (
	errDeadToken        = errors.New("pkce: the stored refresh token was refused by the authorization server")
	errUndecodableToken = errors.New("pkce: the stored token does not decode")
)

// Errors of the application's code (the Store, or an HTTP client) that
// panicked. The panic's value is never quoted: it may hold the stored or
// the newly issued token.
var (
	// errFlightPanicked: a refresh or a load through Tokens, and the
	// callers that joined it.
	errFlightPanicked = &refreshError{class: ErrTryLater, err: errors.New("pkce: the Store or the HTTP client panicked during the refresh")}
	errSavePanicked   = errors.New("pkce: the Store panicked saving the token") // a refreshed token or a tombstone
	errClaimPanicked  = errors.New("pkce: the Store panicked in Claim")         // the callback is not finished
)

// ruleList is rule and also as a message writes them.
func ruleList(rule string, also []string) string {
	var b strings.Builder
	b.WriteString(rule)
	for _, r := range also {
		b.WriteString(", ")
		b.WriteString(r)
	}
	return b.String()
}

// ErrorCode is an OAuth 2.0 error code. An *OAuthError matches the
// ErrorCode equal to its code with errors.Is, whatever the code:
// errors.Is(err, pkce.ErrorCode("invalid_grant")), or
// errors.Is(err, pkce.ErrorCode("login_required")) for OpenID Connect's.
type ErrorCode string

func (c ErrorCode) Error() string { return "pkce: OAuth error " + string(c) }

// ErrAccessDenied is the code of a person (or policy) declining the
// authorization request, the one failure of the redirect that
// applications show a page of its own for (RFC 6749 §4.1.2.1).
const ErrAccessDenied ErrorCode = "access_denied"

// The codes the package itself branches on (RFC 6749 §5.2).
const (
	errInvalidRequest         ErrorCode = "invalid_request"
	errInvalidScope           ErrorCode = "invalid_scope"
	errServerError            ErrorCode = "server_error"
	errTemporarilyUnavailable ErrorCode = "temporarily_unavailable"
	errInvalidClient          ErrorCode = "invalid_client"
	errInvalidGrant           ErrorCode = "invalid_grant"
)

// A CallbackError says which rule the redirect back from the
// authorization server, or the pending flow, broke. No token request has
// been made when it is returned. errors.Is matches its Err.
type CallbackError struct {
	Err     error  // ErrInvalidFlow, ErrMalformedCallback, ErrStateMismatch, ErrIssuerMismatch, ErrFlowExpired or ErrFlowFinished
	Param   string // the parameter concerned, if any
	Problem string // what was wrong, and the likely cause
	// Rule is the rule broken, named by the document and section that
	// state it, e.g. "RFC 9207 §2.4": exactly one section of one
	// document, so that code can compare it (servercheck.RulesOf
	// collects them from an error chain).
	Rule string
	Also []string // further rules the same callback breaks, one each, if any
}

func (e *CallbackError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Param != "" {
		fmt.Fprintf(&b, " (parameter %q)", e.Param)
	}
	if e.Problem != "" {
		b.WriteString(": ")
		b.WriteString(e.Problem)
	}
	if e.Rule != "" {
		b.WriteString("; ")
		b.WriteString(ruleList(e.Rule, e.Also))
	}
	return b.String()
}

func (e *CallbackError) Unwrap() error { return e.Err }

// An OAuthError is an error the authorization server reported in the
// protocol's own terms: error=... on the redirect (Op opAuthorize,
// RFC 6749 §4.1.2.1), or an error object from the token, PAR or revocation
// endpoint (RFC 6749 §5.2, RFC 9126 §2.3, RFC 7009 §2.2.1). errors.Is
// matches it against the ErrorCode of the same code; for endpoint errors,
// errors.As also finds an *oauth2.RetrieveError without the request's
// credentials.
type OAuthError struct {
	Op          string
	StatusCode  int    // the HTTP status; 0 for opAuthorize
	Code        string // the error member, e.g. "invalid_grant"
	Description string // error_description, secrets removed
	URI         string // error_uri
	AuthMethod  AuthMethod
	// Rule is where the error answer is defined: RFC 6749 §4.1.2.1 on the
	// redirect, RFC 6749 §5.2 at the token endpoint, RFC 9126 §2.3 at the
	// PAR endpoint, RFC 7009 §2.2.1 at the revocation endpoint, RFC 7591
	// §3.2.2 at the registration endpoint.
	Rule string

	retrieve *oauth2.RetrieveError
}

func (e *OAuthError) Error() string {
	var b strings.Builder
	if e.Op == opAuthorize {
		fmt.Fprintf(&b, "pkce: authorization server returned error %q", clip(e.Code, 100))
	} else {
		fmt.Fprintf(&b, "pkce: %s answered %d with error %q", endpointName(e.Op), e.StatusCode, clip(e.Code, 100))
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %q", clip(e.Description, maxDescription))
	}
	if e.URI != "" {
		fmt.Fprintf(&b, " (see %q)", clip(e.URI, 200))
	}
	if e.Rule != "" {
		b.WriteString("; ")
		b.WriteString(string(e.Rule))
	}
	if e.Code == string(errInvalidClient) {
		b.WriteString("; ")
		b.WriteString(e.AuthMethod.invalidClientHint())
	}
	return b.String()
}

// Unwrap returns the *oauth2.RetrieveError of an endpoint error, for
// errors.As.
func (e *OAuthError) Unwrap() error {
	if e.retrieve == nil {
		return nil
	}
	return e.retrieve
}

// Is matches the ErrorCode equal to e.Code.
func (e *OAuthError) Is(target error) bool {
	code, ok := target.(ErrorCode)
	return ok && string(code) == e.Code
}

// A ResponseError is an answer that breaks the protocol: the server did
// something wrong, and the message says what and where the rule is.
// errors.Is matches its Err; when the status was not 2xx, errors.As also
// finds an *oauth2.RetrieveError behind it.
type ResponseError struct {
	Op          string
	Err         error // errResponseTooLarge, errUnexpectedStatus, errNotJSON, ErrInvalidResponse or ErrIssuerMismatch
	URL         string
	StatusCode  int
	ContentType string   // secrets removed
	Problem     string   // what was wrong, with a redacted excerpt of the body
	Rule        string   // the rule broken, one section of one document, e.g. "RFC 6749 §5.1"
	Also        []string // further rules the same answer breaks, one each, if any

	retrieve *oauth2.RetrieveError
	// tried describes the locations asked before URL, in order, when
	// discovery tries more than one (see attempt).
	tried []string
}

func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pkce: %s", endpointName(e.Op))
	if len(e.tried) > 0 {
		b.WriteString(": no location yields metadata; asked in this order: ")
		for _, t := range e.tried {
			b.WriteString(t)
			b.WriteString("; ")
		}
		b.WriteString(e.attempt())
	} else {
		b.WriteString(e.where())
		b.WriteString(": ")
		b.WriteString(e.Problem)
	}
	if e.Rule != "" {
		b.WriteString("; ")
		b.WriteString(ruleList(e.Rule, e.Also))
	}
	return b.String()
}

// where says where the answer came from and what it was.
func (e *ResponseError) where() string {
	var b strings.Builder
	if e.URL != "" {
		fmt.Fprintf(&b, " at %q", clip(e.URL, 200))
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " answered %d", e.StatusCode)
		if e.ContentType != "" {
			fmt.Fprintf(&b, " (%s)", clip(e.ContentType, 80))
		}
	}
	return b.String()
}

// attempt describes e as one of several locations asked, without the
// prefix and the rule that the whole message carries once.
func (e *ResponseError) attempt() string {
	return strings.TrimPrefix(e.where(), " ") + ": " + e.Problem
}

// Unwrap returns the kind of failure and, when there is one, the
// *oauth2.RetrieveError.
func (e *ResponseError) Unwrap() []error {
	if e.retrieve != nil {
		return []error{e.Err, e.retrieve}
	}
	return []error{e.Err}
}

// A requestError is a request that got no complete answer: the
// connection failed or was reset, or the context ended first. errors.Is
// and errors.As find the cause, such as context.DeadlineExceeded or a
// *url.Error.
type requestError struct {
	Op      string
	Err     error
	Partial bool // the status line arrived, the body did not
}

func (e *requestError) Error() string {
	if e.Partial {
		return fmt.Sprintf("pkce: request to the %s failed while reading the response: %v", endpointName(e.Op), e.Err)
	}
	return fmt.Sprintf("pkce: request to the %s failed: %v", endpointName(e.Op), e.Err)
}

func (e *requestError) Unwrap() error { return e.Err }

// refreshError puts a refresh failure in its class (ErrSignInRequired,
// ErrTryLater or ErrClientRejected) while errors.Is and errors.As still
// find the cause.
type refreshError struct {
	class error
	err   error
}

func (e *refreshError) Error() string {
	switch e.class {
	case ErrSignInRequired:
		return e.err.Error() + " (sign-in required)"
	case ErrClientRejected:
		return e.err.Error() + " (the client was rejected; signing in again will not help)"
	}
	return e.err.Error() + " (try later)"
}

func (e *refreshError) Unwrap() []error { return []error{e.class, e.err} }

// errorRule is where the error answers of op's endpoint are defined.
func errorRule(op string) string {
	switch op {
	case opAuthorize:
		return "RFC 6749 §4.1.2.1"
	case opPush:
		return "RFC 9126 §2.3"
	case opRevoke:
		return "RFC 7009 §2.2.1"
	case opRegister:
		return "RFC 7591 §3.2.2"
	}
	return "RFC 6749 §5.2"
}

// endpointName names the endpoint of op for messages.
func endpointName(op string) string {
	switch op {
	case opExchange:
		return "token endpoint (authorization_code grant)"
	case opRefresh:
		return "token endpoint (refresh_token grant)"
	case opPush:
		return "pushed authorization request endpoint"
	case opRevoke:
		return "revocation endpoint"
	case opDiscover:
		return "metadata endpoint"
	case opAuthorize:
		return "authorization endpoint"
	case opResourceMetadata:
		return "protected resource metadata endpoint"
	case opRegister:
		return "registration endpoint"
	case opResource:
		return "protected resource"
	case opUserInfo:
		return "userinfo endpoint"
	}
	return op
}

// configErrorf returns an error matching ErrInvalidConfig.
func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// configProblem is the message of a configErrorf error without its prefix.
func configProblem(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalidConfig.Error()+": ")
}

// errNoClient is what every method of a Client that New did not make
// returns: its zero value has no configuration to run a flow with, and a
// nil *Client none at all.
var errNoClient = configErrorf("the Client is nil or its zero value; make one with pkce.New (or pkce.NewFromIssuer)")
