package pkce

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// Every error type and sentinel of the package lives in this file. Each
// error the package returns is one of the types below, or wraps one of the
// sentinels, so that errors.As and errors.Is find it; doc.go says which
// appears when.

// An Op names the request or step an error came from.
type Op string

// The steps of the authorization code grant and around it.
const (
	OpAuthorize Op = "authorization"                // the redirect back from the authorization endpoint (RFC 6749 §4.1.2)
	OpExchange  Op = "code exchange"                // the token endpoint, authorization_code grant (RFC 6749 §4.1.3)
	OpRefresh   Op = "refresh"                      // the token endpoint, refresh_token grant (RFC 6749 §6)
	OpPush      Op = "pushed authorization request" // RFC 9126 §2
	OpRevoke    Op = "revocation"                   // RFC 7009 §2
	OpDiscover  Op = "metadata discovery"           // RFC 8414 §3
	OpGrant     Op = "token request"                // the token endpoint, another grant (RFC 6749 §4.5), see Client.Grant

	OpResourceMetadata Op = "protected resource metadata" // RFC 9728 §3
	OpRegister         Op = "dynamic client registration" // RFC 7591 §3
	OpResource         Op = "protected resource"          // a request to the resource itself
	OpUserInfo         Op = "userinfo"                    // OpenID Connect Core §5.3
)

// ErrInvalidConfig is matched by every error that New, NewFromIssuer,
// TokenSource and the options return because of what they were given.
var ErrInvalidConfig = errors.New("pkce: invalid configuration")

// ErrInvalidVerifier is matched by every error for a code verifier that
// breaks RFC 7636 §4.1.
var ErrInvalidVerifier = errors.New("pkce: invalid code verifier")

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
	ErrResponseTooLarge = errors.New("pkce: response too large")
	ErrUnexpectedStatus = errors.New("pkce: response has an unexpected status")
	ErrNotJSON          = errors.New("pkce: response is not a JSON object labelled application/json")
	ErrInvalidResponse  = errors.New("pkce: response breaks the protocol")
	// ErrInvalidIDToken is an ID token or UserInfo answer that breaks
	// OpenID Connect Core 1.0 (§3.1.3.7, §5.3.2, §12.2); the message
	// names the section.
	ErrInvalidIDToken = errors.New("pkce: ID token or UserInfo answer is not valid")
)

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

// errFlightPanicked is what the callers that joined a refresh or a load
// get when the Store panicked under it.
var errFlightPanicked = &refreshError{class: ErrTryLater, err: errors.New("pkce: the Store panicked during the refresh")}

// ErrNoRegistration is matched by the error of a Transport that found no
// way to identify the client to the authorization server: no pre-registered
// credentials for it, no client ID metadata document it accepts, and no
// registration endpoint.
var ErrNoRegistration = errors.New("pkce: no client registration for the authorization server")

// A Rule names one requirement by the document and section that state it,
// e.g. "RFC 9207 §2.4": exactly one section of one document, so that code
// can compare it. An error that breaks two rules carries two values.
type Rule string

// RulesOf returns every rule that err and the errors it wraps name, in
// order, without repeats: the Rule and Also of each *CallbackError and
// *ResponseError, and the Rule of each *OAuthError.
//
//	slices.Contains(pkce.RulesOf(err), "RFC 9207 §2.4")
func RulesOf(err error) []Rule {
	var out []Rule
	add := func(rules ...Rule) {
		for _, r := range rules {
			if r != "" && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
			return
		case *CallbackError:
			add(e.Rule)
			add(e.Also...)
		case *ResponseError:
			add(e.Rule)
			add(e.Also...)
		case *OAuthError:
			add(e.Rule)
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// ruleList is rule and also as a message writes them.
func ruleList(rule Rule, also []Rule) string {
	var b strings.Builder
	b.WriteString(string(rule))
	for _, r := range also {
		b.WriteString(", ")
		b.WriteString(string(r))
	}
	return b.String()
}

// ErrorCode is an OAuth 2.0 error code. An *OAuthError matches the
// ErrorCode equal to its code with errors.Is, so
// errors.Is(err, pkce.ErrAccessDenied) reads as it should. Codes not listed
// here work the same way: errors.Is(err, pkce.ErrorCode("login_required")).
type ErrorCode string

func (c ErrorCode) Error() string { return "pkce: OAuth error " + string(c) }

// The error codes of RFC 6749 §4.1.2.1 (authorization endpoint) and §5.2
// (token endpoint) that applications branch on. The others
// (unauthorized_client, unsupported_response_type, unsupported_grant_type)
// say the client's registration needs fixing; match them as
// ErrorCode("unauthorized_client").
const (
	ErrInvalidRequest         ErrorCode = "invalid_request"
	ErrAccessDenied           ErrorCode = "access_denied"
	ErrInvalidScope           ErrorCode = "invalid_scope"
	ErrServerError            ErrorCode = "server_error"
	ErrTemporarilyUnavailable ErrorCode = "temporarily_unavailable"
	ErrInvalidClient          ErrorCode = "invalid_client"
	ErrInvalidGrant           ErrorCode = "invalid_grant"
)

// A CallbackError says which rule the redirect back from the
// authorization server, or the pending flow, broke. No token request has
// been made when it is returned. errors.Is matches its Err.
type CallbackError struct {
	Err     error  // ErrInvalidFlow, ErrMalformedCallback, ErrStateMismatch, ErrIssuerMismatch, ErrFlowExpired or ErrFlowFinished
	Param   string // the parameter concerned, if any
	Problem string // what was wrong, and the likely cause
	Rule    Rule   // the rule broken, e.g. "RFC 9207 §2.4"
	Also    []Rule // further rules the same callback breaks, if any
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
// protocol's own terms: error=... on the redirect (Op OpAuthorize,
// RFC 6749 §4.1.2.1), or an error object from the token, PAR or revocation
// endpoint (RFC 6749 §5.2, RFC 9126 §2.3, RFC 7009 §2.2.1). errors.Is
// matches it against the ErrorCode of the same code; for endpoint errors,
// errors.As also finds an *oauth2.RetrieveError without the request's
// credentials.
type OAuthError struct {
	Op          Op
	StatusCode  int    // the HTTP status; 0 for OpAuthorize
	Code        string // the error member, e.g. "invalid_grant"
	Description string // error_description, secrets removed
	URI         string // error_uri
	AuthMethod  AuthMethod
	// Rule is where the error answer is defined: RFC 6749 §4.1.2.1 on the
	// redirect, RFC 6749 §5.2 at the token endpoint, RFC 9126 §2.3 at the
	// PAR endpoint, RFC 7009 §2.2.1 at the revocation endpoint, RFC 7591
	// §3.2.2 at the registration endpoint.
	Rule Rule

	retrieve *oauth2.RetrieveError
}

func (e *OAuthError) Error() string {
	var b strings.Builder
	if e.Op == OpAuthorize {
		fmt.Fprintf(&b, "pkce: authorization server returned error %q", clip(e.Code, 100))
	} else {
		fmt.Fprintf(&b, "pkce: %s answered %d with error %q", e.Op.endpoint(), e.StatusCode, clip(e.Code, 100))
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
	if e.Code == string(ErrInvalidClient) {
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
	Op          Op
	Err         error // ErrResponseTooLarge, ErrUnexpectedStatus, ErrNotJSON, ErrInvalidResponse or ErrIssuerMismatch
	URL         string
	StatusCode  int
	ContentType string // secrets removed
	Problem     string // what was wrong, with a redacted excerpt of the body
	Rule        Rule   // the rule broken, e.g. "RFC 6749 §5.1"
	Also        []Rule // further rules the same answer breaks, if any

	retrieve *oauth2.RetrieveError
	// tried describes the locations asked before URL, in order, when
	// discovery tries more than one (see attempt).
	tried []string
}

func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pkce: %s", e.Op.endpoint())
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

// A RequestError is a request that got no complete answer: the
// connection failed or was reset, or the context ended first. errors.Is
// finds the cause, such as context.DeadlineExceeded.
type RequestError struct {
	Op      Op
	Err     error
	Partial bool // the status line arrived, the body did not
}

func (e *RequestError) Error() string {
	if e.Partial {
		return fmt.Sprintf("pkce: request to the %s failed while reading the response: %v", e.Op.endpoint(), e.Err)
	}
	return fmt.Sprintf("pkce: request to the %s failed: %v", e.Op.endpoint(), e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }

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
func (op Op) errorRule() Rule {
	switch op {
	case OpAuthorize:
		return "RFC 6749 §4.1.2.1"
	case OpPush:
		return "RFC 9126 §2.3"
	case OpRevoke:
		return "RFC 7009 §2.2.1"
	case OpRegister:
		return "RFC 7591 §3.2.2"
	}
	return "RFC 6749 §5.2"
}

// endpoint names the endpoint of op for messages.
func (op Op) endpoint() string {
	switch op {
	case OpExchange:
		return "token endpoint (authorization_code grant)"
	case OpRefresh:
		return "token endpoint (refresh_token grant)"
	case OpPush:
		return "pushed authorization request endpoint"
	case OpRevoke:
		return "revocation endpoint"
	case OpDiscover:
		return "metadata endpoint"
	case OpAuthorize:
		return "authorization endpoint"
	case OpResourceMetadata:
		return "protected resource metadata endpoint"
	case OpRegister:
		return "registration endpoint"
	case OpResource:
		return "protected resource"
	case OpUserInfo:
		return "userinfo endpoint"
	}
	return string(op)
}

// invalidClientHint names the usual causes of invalid_client for the
// authentication the client used.
func (m AuthMethod) invalidClientHint() string {
	var hint string
	switch m {
	case AuthSecretBasic:
		hint = "the client sent its id and secret with HTTP Basic (client_secret_basic): check the secret, and that the server registered the client as confidential with this method; some servers want the secret in the body (AuthSecretPost)"
	case AuthSecretPost:
		hint = "the client sent its id and secret in the body (client_secret_post): check the secret, and that the server registered the client with this method; many servers want HTTP Basic (AuthSecretBasic)"
	case AuthPrivateKeyJWT:
		hint = "the client sent a JWT signed with its key (private_key_jwt): check that the server holds the public key under the kid sent, accepts the algorithm, and takes the issuer identifier as the assertion's aud"
	case AuthNone:
		hint = "the client sent no secret (public client, auth none): servers answer invalid_client when they registered the client as confidential; then set ClientSecret"
	default:
		hint = "check the client id, secret and authentication method"
	}
	return hint + "; also check that TokenURL is the token endpoint, not the authorization endpoint"
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
