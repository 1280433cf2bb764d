package pkce

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// A Flow is a pending authorization: everything the application keeps
// between sending the user to the authorization server and handling the
// redirect back. Keep it server-side (a session store, memory): it holds
// the verifier, which must stay secret until the code exchange.
//
// A Flow marshals to JSON and back for session stores. Its String, Format
// and LogValue methods redact the state and the verifier, so it can be
// logged as is.
type Flow struct {
	// URL is the authorization request to send the user's browser to.
	URL string `json:"url"`
	// State binds the callback to this flow (RFC 6749 §10.12). It is also
	// part of URL.
	State string `json:"state"`
	// Verifier is the PKCE code verifier (RFC 7636 §4.1).
	Verifier Verifier `json:"verifier"`
	// RedirectURL is the redirect_uri sent in URL and again in the token
	// request (RFC 6749 §4.1.3).
	RedirectURL string `json:"redirect_url"`
	// Issuer is the issuer the callback's iss must equal (RFC 9207), or "".
	Issuer string `json:"issuer,omitempty"`
	// Created and Expires bound the time in which the flow can be finished.
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// String returns a form without the state and the verifier.
func (f Flow) String() string {
	return fmt.Sprintf("pkce.Flow{redirect_url: %q, issuer: %q, expires: %s, state: redacted, verifier: redacted}",
		f.RedirectURL, f.Issuer, f.Expires.Format(time.RFC3339))
}

// Format prints the String form for every verb, %#v included.
func (f Flow) Format(s fmt.State, _ rune) { fmt.Fprint(s, f.String()) }

// LogValue implements slog.LogValuer without the state and the verifier.
func (f Flow) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("redirect_url", f.RedirectURL),
		slog.String("issuer", f.Issuer),
		slog.Time("expires", f.Expires),
		slog.String("state", "redacted"),
		slog.String("verifier", "redacted"),
	)
}

// A StartOption adds to one authorization request.
type StartOption func(*startRequest)

type startRequest struct {
	params   []string // key, value, key, value...
	scopes   []string
	scopeSet bool
	redirect string
}

// Param adds a parameter to the authorization request, such as audience,
// prompt, login_hint or resource. Parameters the package controls
// (response_type, client_id, redirect_uri, scope, state, code_challenge,
// code_challenge_method, code_verifier, client_secret) cannot be set this
// way: Start fails instead. A key may be given once (RFC 6749 §3.1).
func Param(key, value string) StartOption {
	return func(r *startRequest) { r.params = append(r.params, key, value) }
}

// Scopes replaces the configured scopes for one authorization request.
func Scopes(scopes ...string) StartOption {
	return func(r *startRequest) { r.scopes, r.scopeSet = scopes, true }
}

// RedirectURL replaces the configured redirect URL for one authorization
// request, for redirects only known at run time such as a loopback port
// (RFC 8252 §7.3). The same checks as in New apply.
func RedirectURL(u string) StartOption {
	return func(r *startRequest) { r.redirect = u }
}

// authRequest applies opts and checks the result: a replaced redirect URL
// as New checks the configured one, and the extra parameters, which it
// returns escaped.
func (c *Client) authRequest(opts []StartOption) (startRequest, string, error) {
	req := startRequest{redirect: c.config.RedirectURL}
	for _, opt := range opts {
		opt(&req)
	}
	if req.redirect != c.config.RedirectURL {
		if err := checkRedirectURL(req.redirect); err != nil {
			return req, "", err
		}
	}
	extra, err := encodeParams(req.params)
	return req, extra, err
}

// scopesOr returns the scopes the request set, or def when it set none.
func (r startRequest) scopesOr(def []string) []string {
	if r.scopeSet {
		return r.scopes
	}
	return def
}

// reservedParam reports whether the package sets key itself.
func reservedParam(key string) bool {
	switch key {
	case "response_type", "client_id", "redirect_uri", "scope", "state",
		"code_challenge", "code_challenge_method", "code_verifier", "client_secret":
		return true
	}
	return false
}

// stateBytes is the entropy of a state: 256 bits, twice what
// RFC 6749 §10.10 asks of values an attacker must not guess.
const stateBytes = 32

// Start begins an authorization: it makes a fresh verifier and state and
// the authorization request URL (RFC 6749 §4.1.1 with RFC 7636 §4.3). Send
// the browser to flow.URL and keep flow until the callback. When the
// authorization request must be pushed (RFC 9126), Start fails with
// ErrPARRequired; use StartContext.
func (c *Client) Start(opts ...StartOption) (*Flow, error) {
	if c.pushAuthorization {
		return nil, ErrPARRequired
	}
	req, extra, err := c.authRequest(opts)
	if err != nil {
		return nil, err
	}
	prefix := c.authPrefix
	if req.scopeSet || req.redirect != c.config.RedirectURL {
		prefix = c.authorizePrefix(req.redirect, req.scopesOr(c.config.Scopes))
	}

	verifier := NewVerifier()
	var raw [stateBytes]byte
	rand.Read(raw[:])
	const (
		stateKey  = "&state="
		chalKey   = "&code_challenge="
		methodKey = "&code_challenge_method=" + MethodS256
	)
	var state [(stateBytes*8 + 5) / 6]byte // unpadded base64url of stateBytes
	b64.Encode(state[:], raw[:])
	var b strings.Builder
	b.Grow(len(prefix) + len(stateKey) + len(state) + len(chalKey) + challengeLength + len(methodKey) + len(extra))
	b.WriteString(prefix)
	b.WriteString(stateKey)
	stateAt := b.Len()
	b.Write(state[:])
	b.WriteString(chalKey)
	b.WriteString(verifier.Challenge())
	b.WriteString(methodKey)
	b.WriteString(extra)
	authURL := b.String()

	now := c.now()
	return &Flow{
		URL:         authURL,
		State:       authURL[stateAt : stateAt+len(state)], // base64url needs no escaping
		Verifier:    verifier,
		RedirectURL: req.redirect,
		Issuer:      c.issuer,
		Created:     now,
		Expires:     now.Add(c.flowLifetime),
	}, nil
}

// authURLQuery returns the AuthURL ready for parameters: followed by "&"
// when it has a query of its own, by "?" otherwise.
func (c *Client) authURLQuery() string {
	if strings.Contains(c.config.Endpoint.AuthURL, "?") {
		return c.config.Endpoint.AuthURL + "&"
	}
	return c.config.Endpoint.AuthURL + "?"
}

// authorizePrefix escapes the parts of the authorization URL that do not
// change from one flow to the next.
func (c *Client) authorizePrefix(redirect string, scopes []string) string {
	var b strings.Builder
	b.WriteString(c.authURLQuery())
	b.WriteString("response_type=code&client_id=")
	b.WriteString(url.QueryEscape(c.config.ClientID))
	b.WriteString("&redirect_uri=")
	b.WriteString(url.QueryEscape(redirect))
	if len(scopes) > 0 {
		b.WriteString("&scope=")
		b.WriteString(url.QueryEscape(strings.Join(scopes, " ")))
	}
	return b.String()
}

// encodeParams checks and escapes the caller's extra parameters.
func encodeParams(kv []string) (string, error) {
	if len(kv) == 0 {
		return "", nil
	}
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		key := kv[i]
		switch {
		case key == "":
			return "", fmt.Errorf("pkce: authorization request parameter with an empty name")
		case reservedParam(key):
			return "", fmt.Errorf("pkce: authorization request parameter %q is set by the package and cannot be overridden", key)
		case indexOfKey(kv[:i], key):
			return "", fmt.Errorf("pkce: authorization request parameter %q given twice (RFC 6749 §3.1)", key)
		}
		b.WriteByte('&')
		b.WriteString(url.QueryEscape(key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	return b.String(), nil
}

// indexOfKey reports whether key is one of the keys (even positions) of kv.
func indexOfKey(kv []string, key string) bool {
	for i := 0; i < len(kv); i += 2 {
		if kv[i] == key {
			return true
		}
	}
	return false
}

// Errors of the callback checks. Each arrives wrapped in a *CallbackError
// (or an *IssuerMismatchError), which errors.Is matches against them.
var (
	ErrInvalidFlow        = errors.New("pkce: flow is incomplete")
	ErrMalformedCallback  = errors.New("pkce: callback query is malformed")
	ErrDuplicateParameter = errors.New("pkce: callback parameter repeated")
	ErrIssuerMismatch     = errors.New("pkce: callback iss does not match the issuer")
	ErrStateMismatch      = errors.New("pkce: callback state does not match the flow")
	ErrFlowExpired        = errors.New("pkce: flow expired")
	ErrFlowFinished       = errors.New("pkce: flow already finished")
	ErrMissingCode        = errors.New("pkce: callback has no code")
)

// A CallbackError says which rule a redirect back from the authorization
// server broke. No token request has been made when it is returned.
type CallbackError struct {
	Err   error  // one of the Err* values above
	Param string // the parameter concerned, if any
	Rule  string // where the rule comes from, e.g. "RFC 6749 §10.12"
}

func (e *CallbackError) Error() string {
	msg := e.Err.Error()
	if e.Param != "" {
		msg += fmt.Sprintf(" (parameter %q)", e.Param)
	}
	if e.Rule != "" {
		msg += "; " + e.Rule
	}
	return msg
}

func (e *CallbackError) Unwrap() error { return e.Err }

// An IssuerMismatchError reports an issuer other than the one expected:
// an iss callback parameter (RFC 9207 §2.4) or, for metadata, the issuer
// member (RFC 8414 §3.3). errors.Is matches it against ErrIssuerMismatch.
type IssuerMismatchError struct {
	Expected string
	Got      string // "" when the iss parameter is missing
	Missing  bool
	Rule     string
}

func (e *IssuerMismatchError) Error() string {
	if e.Missing {
		return fmt.Sprintf("pkce: callback has no iss parameter, but issuer %q is expected (%s)", e.Expected, e.Rule)
	}
	return fmt.Sprintf("pkce: issuer %q differs from the expected %q (%s)", clip(e.Got, 200), e.Expected, e.Rule)
}

func (e *IssuerMismatchError) Unwrap() error { return ErrIssuerMismatch }

// VerifyCallback checks the redirect back from the authorization server
// against the pending flow and returns the authorization code. The checks
// run in this order and stop at the first failure:
//
//  1. no parameter occurs twice (RFC 6749 §3.1);
//  2. iss equals the expected issuer, when there is one (RFC 9207 §2.4);
//     it may be absent only when the issuer came from metadata that does
//     not advertise it (see WithMetadata);
//  3. state equals the flow's state, compared in constant time
//     (RFC 6749 §10.12); the flow has not expired and was not finished
//     before — from here on it counts as finished;
//  4. an error parameter becomes an *AuthorizationError (RFC 6749 §4.1.2.1);
//  5. code is present (RFC 6749 §4.1.2).
//
// State comes before error so that a forged error redirect, which cannot
// know the state, cannot end a sign-in.
func (c *Client) VerifyCallback(f *Flow, params url.Values) (code string, err error) {
	if f == nil || f.State == "" || f.Verifier.IsZero() || f.RedirectURL == "" {
		return "", &CallbackError{Err: ErrInvalidFlow}
	}
	// What the callback says is quoted in errors; the flow's state must not
	// be, even where a server (or an attacker) echoes it.
	red := redactor{f.State}
	if key := repeatedParam(params); key != "" {
		return "", &CallbackError{Err: ErrDuplicateParameter, Param: red.clean(key), Rule: "RFC 6749 §3.1"}
	}
	issuer := f.Issuer
	if c.issuer != "" {
		issuer = c.issuer
	}
	if issuer != "" {
		iss, ok := params["iss"]
		if !ok && !c.issOptional {
			return "", &IssuerMismatchError{Expected: issuer, Missing: true, Rule: "RFC 9207 §2.4"}
		}
		if ok && iss[0] != issuer {
			return "", &IssuerMismatchError{Expected: issuer, Got: red.clean(iss[0]), Rule: "RFC 9207 §2.4"}
		}
	}
	if subtle.ConstantTimeCompare([]byte(params.Get("state")), []byte(f.State)) != 1 {
		return "", &CallbackError{Err: ErrStateMismatch, Param: "state", Rule: "RFC 6749 §10.12"}
	}
	now := c.now()
	if now.After(f.Expires) {
		return "", &CallbackError{Err: ErrFlowExpired}
	}
	if !c.finished.claim(f.State, f.Expires, now) {
		return "", &CallbackError{Err: ErrFlowFinished}
	}
	if e, ok := params["error"]; ok {
		return "", &AuthorizationError{
			Code:        red.clean(e[0]),
			Description: red.clean(params.Get("error_description")),
			URI:         red.clean(params.Get("error_uri")),
		}
	}
	code = params.Get("code")
	if code == "" {
		return "", &CallbackError{Err: ErrMissingCode, Param: "code", Rule: "RFC 6749 §4.1.2"}
	}
	return code, nil
}

// repeatedParam returns the first (in sorted order) key that occurs more
// than once, or "".
func repeatedParam(params url.Values) string {
	found := ""
	for key, vs := range params {
		if len(vs) > 1 && (found == "" || key < found) {
			found = key
		}
	}
	return found
}

// Finish verifies the callback and exchanges the code: VerifyCallback then
// Exchange. It is the one call most applications need at their redirect
// endpoint.
func (c *Client) Finish(ctx context.Context, f *Flow, params url.Values) (*Token, error) {
	code, err := c.VerifyCallback(f, params)
	if err != nil {
		return nil, err
	}
	return c.Exchange(ctx, f, code)
}

// FinishRequest is Finish for the redirect request itself: it reads the
// query of r strictly (a malformed query is an error, not a partial
// result) and uses r's context for the token request.
func (c *Client) FinishRequest(r *http.Request, f *Flow) (*Token, error) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &CallbackError{Err: ErrMalformedCallback, Rule: "RFC 3986 §3.4"}
	}
	return c.Finish(r.Context(), f, params)
}

// An AuthorizationError is an error the authorization server sent back on
// the redirect (RFC 6749 §4.1.2.1), after the state was verified.
// errors.Is matches it against the ErrorCode of the same code, e.g.
// errors.Is(err, pkce.ErrAccessDenied).
type AuthorizationError struct {
	Code        string // the error parameter, e.g. "access_denied"
	Description string // error_description, human-readable, may be empty
	URI         string // error_uri, may be empty
}

func (e *AuthorizationError) Error() string {
	msg := fmt.Sprintf("pkce: authorization server returned error %q", clip(e.Code, 100))
	if e.Description != "" {
		msg += fmt.Sprintf(": %q", clip(e.Description, maxDescription))
	}
	if e.URI != "" {
		msg += fmt.Sprintf(" (see %q)", clip(e.URI, 200))
	}
	return msg + "; RFC 6749 §4.1.2.1"
}

// Is matches the ErrorCode equal to e.Code.
func (e *AuthorizationError) Is(target error) bool {
	code, ok := target.(ErrorCode)
	return ok && string(code) == e.Code
}

// clip shortens s, which may come from an untrusted server, for messages.
// It cuts at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// maxDescription bounds an error_description in messages. Servers such as
// fosite put a long generic sentence first and the actual reason last, so
// the bound is generous.
const maxDescription = 1024
