package pkce

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxCallbackBytes bounds the body of a form_post callback.
const maxCallbackBytes = 64 << 10

// Finish handles the redirect back from the authorization server: it
// checks the callback request r against the pending flow f (see
// VerifyCallback) and exchanges the code (see Exchange). It is the one
// call an application's redirect endpoint needs, and the safe one: no
// token request is made unless every check passed.
//
// r must be the GET request of the redirect, or with WithFormPost the POST
// of the form the authorization server made the browser send
// (application/x-www-form-urlencoded, at most 64 KiB). A malformed query or
// form is an error, not a partial result. The token request uses r's
// context, bounded by a default of 30 seconds when it has no deadline.
//
// A flow is finished once: the Client claims its state in its Store before
// the exchange. With the default in-memory store that holds per Client
// value; give every replica of an application the same shared Store
// (WithStore) to make it hold across all of them.
func (c *Client) Finish(r *http.Request, f *Flow) (*Token, error) {
	if err := c.made(); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, &CallbackError{Err: ErrMalformedCallback, Problem: "the request is nil"}
	}
	params, err := c.callbackParams(r)
	if err != nil {
		return nil, err
	}
	code, err := c.verify(r.Context(), f, params)
	if err != nil {
		return nil, err
	}
	return c.exchange(r.Context(), f, code) // verify checked the flow and the code
}

// callbackParams reads the authorization response from r: its query, or
// its form with response_mode=form_post.
func (c *Client) callbackParams(r *http.Request) (url.Values, error) {
	malformed := func(problem string, rule string) (url.Values, error) {
		return nil, &CallbackError{Err: ErrMalformedCallback, Problem: problem, Rule: rule}
	}
	if !c.formPost {
		if r.Method != http.MethodGet {
			return malformed(fmt.Sprintf("the callback arrived as %s, but the client expects the response in the query of a GET; use WithFormPost for response_mode=form_post", clip(r.Method, 20)), "RFC 6749 §4.1.2")
		}
		params, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return malformed("the query does not parse", "RFC 3986 §3.4")
		}
		return params, nil
	}
	if r.Method != http.MethodPost {
		return malformed("the client asked for response_mode=form_post, so the callback must be a POST form; a GET here means the server ignored response_mode", "OAuth 2.0 Form Post Response Mode §2")
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return malformed("a form_post callback must be application/x-www-form-urlencoded", "OAuth 2.0 Form Post Response Mode §2")
	}
	if r.Body == nil {
		return malformed("the form_post callback has no body", "OAuth 2.0 Form Post Response Mode §2")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallbackBytes+1))
	switch {
	case err != nil:
		return malformed("the form could not be read", "")
	case len(body) > maxCallbackBytes:
		return malformed("the form is longer than 64 KiB", "")
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return malformed("the form does not parse", "RFC 3986 §3.4")
	}
	return params, nil
}

// VerifyCallback checks the authorization response params (the query of
// the redirect, or the posted form) against the pending flow f and returns
// the authorization code. It is the first half of Finish, for callbacks
// that do not arrive as an *http.Request, such as a private-use URI scheme
// handed to a native app; pass the code to Exchange with the same flow.
// The checks run in this order and stop at the first failure:
//
//  1. f is a flow this client could have started: its state has the form
//     Start gives it, its redirect URL is the client's (on any port when
//     that is a loopback redirect, RFC 8252 §7.3) or, when Start was given
//     RedirectURL, passes the rules of New, its issuer is the client's and
//     its lifetime no longer than the client's;
//  2. no parameter occurs twice (RFC 6749 §3.1);
//  3. iss equals the expected issuer, when there is one (RFC 9207 §2.4);
//     it may be absent only when the issuer came from metadata that does
//     not advertise it (see WithMetadata);
//  4. state equals the flow's state, compared in constant time
//     (RFC 6749 §10.12); the flow has not expired, and its state is
//     claimed in the client's Store, so that it is finished once;
//  5. an error parameter becomes an *OAuthError with Op opAuthorize
//     (RFC 6749 §4.1.2.1);
//  6. code is present (RFC 6749 §4.1.2).
//
// State comes before error so that a forged error redirect, which cannot
// know the state, cannot end a sign-in. ctx bounds the claim in a shared
// Store.
func (c *Client) VerifyCallback(ctx context.Context, f *Flow, params url.Values) (code string, err error) {
	if err := c.made(); err != nil {
		return "", err
	}
	return c.verify(ctx, f, params)
}

func (c *Client) verify(ctx context.Context, f *Flow, params url.Values) (string, error) {
	if err := c.checkFlow(f); err != nil {
		return "", err
	}
	// What the callback says is quoted in errors; the flow's state, and a
	// code sent along with an error, must not be.
	red := c.redactor(f.State, first(params, "code"))
	fail := func(kind error, param, problem string, rule string) (string, error) {
		return "", &CallbackError{Err: kind, Param: param, Problem: problem, Rule: rule}
	}
	if len(params) == 0 {
		return fail(ErrMalformedCallback, "", "the callback has no parameters; the server may have sent its response in the URL fragment (response_mode=fragment) or as a POST form (response_mode=form_post, see WithFormPost)", "RFC 6749 §4.1.2")
	}
	if key := repeatedParam(params); key != "" {
		return fail(ErrMalformedCallback, red.clean(key), "the parameter is repeated", "RFC 6749 §3.1")
	}
	if issuer := f.issuer; issuer != "" {
		_, ok := params["iss"]
		switch {
		case !ok && !c.issOptional:
			return fail(ErrIssuerMismatch, "iss", fmt.Sprintf("the callback has no iss, but issuer %q is expected", issuer), "RFC 9207 §2.4")
		case ok && first(params, "iss") != issuer:
			return fail(ErrIssuerMismatch, "iss", fmt.Sprintf("iss %q differs from the expected %q", clip(red.clean(first(params, "iss")), 200), issuer), "RFC 9207 §2.4")
		}
	}
	state, ok := params["state"]
	if !ok || len(state) == 0 || state[0] == "" {
		return fail(ErrStateMismatch, "state", "the callback has no state; it did not come from this flow's authorization request", "RFC 6749 §4.1.2")
	}
	if subtle.ConstantTimeCompare([]byte(state[0]), []byte(f.State)) != 1 {
		return fail(ErrStateMismatch, "state", "the callback belongs to another flow, or was forged", "RFC 6749 §10.12")
	}
	now := c.now()
	if !now.Before(f.Expires) {
		return fail(ErrFlowExpired, "", "the sign-in took longer than the flow's lifetime", "")
	}
	// The claim must last as long as any replica could still accept the
	// flow. Replicas sharing a store read their own clocks, so a shared
	// store keeps it a minute longer for clocks that differ; the memory
	// store has one clock, and forgets the flow when it expires.
	ttl := f.Expires.Sub(now)
	var claimed bool
	var err error
	if m, ok := c.store.(*memoryStore); ok {
		if err = ctx.Err(); err == nil {
			claimed, err = m.claimDigest(flowDigest(f.State), ttl)
		}
	} else {
		claimed, err = c.claim(ctx, claimKey(f.State), ttl+time.Minute)
	}
	switch {
	case err != nil:
		return "", fmt.Errorf("pkce: recording that the flow is finished failed, so it was not finished: %w", err)
	case !claimed:
		return fail(ErrFlowFinished, "", "this flow's callback was already handled; a replayed or double-submitted callback", "")
	}
	if _, ok := params["error"]; ok {
		return "", &OAuthError{
			Op:          opAuthorize,
			Code:        red.clean(first(params, "error")),
			Description: red.clean(first(params, "error_description")),
			URI:         red.clean(first(params, "error_uri")),
			AuthMethod:  c.authMethod,
			Rule:        errorRule(opAuthorize),
		}
	}
	code := first(params, "code")
	if code == "" {
		return fail(ErrMalformedCallback, "code", "the callback has neither a code nor an error", "RFC 6749 §4.1.2")
	}
	return code, nil
}

// checkFlow holds a flow, which may come from storage the application
// does not fully control, to what this client's Start produces.
// claim calls the application's Store. A panic in it is an error, so
// that a store bug fails the callback instead of ending the program (the
// flow is then not finished); its value is not quoted, since it may hold
// what the store keeps.
func (c *Client) claim(ctx context.Context, key string, ttl time.Duration) (claimed bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			claimed, err = false, errClaimPanicked
		}
	}()
	return c.store.Claim(ctx, key, ttl)
}

func (c *Client) checkFlow(f *Flow) error {
	invalid := func(problem string) error {
		return &CallbackError{Err: ErrInvalidFlow, Problem: problem}
	}
	switch {
	case f == nil:
		return invalid("the flow is nil; in a web app the flow kept for this callback was not found: the session that held it was lost " +
			"(expired, or kept on another replica without a shared store), or the browser did not send its cookie on the redirect " +
			"(a cookie needs SameSite=Lax to come back from the authorization server, or SameSite=None with WithFormPost)")
	case f.verifier.isZero():
		return invalid("the flow has no verifier; make flows with Start")
	case !validState(f.State):
		return invalid("the state does not have the form Start gives it")
	case f.issuer != c.issuer:
		return invalid(fmt.Sprintf("the flow was started for issuer %q, and this client expects %q", clip(f.issuer, 200), c.issuer))
	case f.Expires.Sub(f.created) > c.flowLifetime || f.Expires.Before(f.created):
		return invalid("the flow's lifetime is longer than the client's; a stored flow was altered, or comes from another client")
	case f.created.After(c.now().Add(time.Minute)):
		return invalid("the flow was created in the future")
	}
	switch {
	case f.redirectURL == c.config.RedirectURL: // New checked the configured one
	case f.redirectGiven:
		if err := checkRedirectURL(f.redirectURL); err != nil {
			return invalid("its redirect URL breaks the rules of New: " + configProblem(err))
		}
	case !sameLoopbackRedirect(f.redirectURL, c.config.RedirectURL):
		return invalid("its redirect URL is not the client's; a flow started without the RedirectURL option returns to the client's RedirectURL, on any port when that is a loopback redirect (RFC 8252 §7.3)")
	}
	return nil
}

// sameLoopbackRedirect reports whether got is the loopback redirect want
// on another port, or without one: the authorization server allows any
// port for it (RFC 8252 §7.3), so a native app may listen on whatever
// port it is given.
func sameLoopbackRedirect(got, want string) bool {
	g, err := url.Parse(got)
	if err != nil || g.Scheme != "http" || !isLoopbackHost(g.Hostname()) {
		return false
	}
	w, err := url.Parse(want)
	if err != nil {
		return false
	}
	strip := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			u.Host = strings.TrimSuffix(u.Host, ":"+p)
		}
		return u.String()
	}
	return strip(g) == strip(w)
}

// validState reports whether s has the form of a state made by Start.
func validState(s string) bool {
	if len(s) != stateLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if uriClass[s[i]]&base64URL == 0 {
			return false
		}
	}
	return true
}

// flowDigest is the 128-bit digest that stands for a flow's state in its
// claim, so that no store ever holds the state itself.
func flowDigest(state string) claimDigest {
	h := sha256.New()
	h.Write([]byte("pkce flow state\x00"))
	h.Write([]byte(state))
	var sum [sha256.Size]byte
	var d claimDigest
	copy(d[:], h.Sum(sum[:0]))
	return d
}

// claimKey is the key under which a flow's state is claimed in a shared
// store: its digest in hex. The memory store decodes this form back to
// the digest (digestOf), so both name one claim.
func claimKey(state string) string {
	d := flowDigest(state)
	var key [len(flowKeyPrefix) + 2*len(d)]byte
	copy(key[:], flowKeyPrefix)
	hex.Encode(key[len(flowKeyPrefix):], d[:])
	return string(key[:])
}

// first returns the first value of key, or "" when there is none; unlike
// url.Values.Get it is safe on a present key with no values.
func first(params url.Values, key string) string {
	if vs := params[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
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
