package pkce

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
// the cause: an *OAuthError, a *ResponseError or a *requestError.
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
	var scratch [4]field
	params := append(scratch[:0], field{"grant_type", "refresh_token"}, field{"refresh_token", refreshToken})
	if len(scopes) > 0 {
		params = append(params, field{"scope", strings.Join(scopes, " ")}) // RFC 6749 §6
	}
	for _, r := range c.resources {
		params = append(params, field{"resource", r}) // RFC 8707 §2.2
	}
	tok, err := c.retrieve(ctx, opRefresh, c.redactor(refreshToken), params)
	if err != nil {
		return nil, c.classify(err, refreshToken)
	}
	c.refusals.succeeded(refreshToken)
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	return tok, nil
}

var errNoRefreshToken = errors.New("pkce: the token has no refresh token")

// classify puts a failed refresh of refreshToken in its class; see the
// table in doc.go. The HTTP status decides first, because a gateway's
// 5xx, 408 or 429 says nothing about the grant; then the error code,
// where only invalid_grant means the grant is gone at once; then a 4xx
// without an error object, which servers send for refresh tokens they no
// longer know. A malformed error answer says nothing.
//
// Some servers answer a dead refresh token with another code
// (invalid_request, unauthorized_client). One such answer never throws a
// refresh token away, but the same answer to the same refresh token
// again, after the back-off, does when another refresh of this client
// succeeded in between: the client and the server work, so the answer is
// about the token. Without such a witness, the same answer persisting
// for refusalPersists does too, except for a code that rejects the
// client, which may be about the credentials for as long as it lasts.
func (c *Client) classify(err error, refreshToken string) error {
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
		case errInvalidGrant:
			class = ErrSignInRequired
		case errInvalidClient, "unauthorized_client", "unsupported_grant_type":
			class = ErrClientRejected
			if c.refusals.repeated(refreshToken, status, oe.Code, true, c.now()) {
				class = ErrSignInRequired
			}
		default:
			if c.refusals.repeated(refreshToken, status, oe.Code, false, c.now()) {
				class = ErrSignInRequired
			}
		}
	case re != nil && status >= 400 && re.Err != ErrInvalidResponse:
		class = ErrSignInRequired
	}
	return &refreshError{class: class, err: err}
}

// maxRefusals bounds the refusals a Client remembers; beyond it the
// memory starts again, which only delays a conclusion.
const maxRefusals = 4096

// refusalPersists is how long the same ambiguous refusal of a refresh
// token must last to end the grant when no other refresh of the client
// succeeded meanwhile: longer than a misconfigured deployment usually
// lasts, short enough that a user is asked to sign in the same day.
const refusalPersists = 10 * time.Minute

// refusals remembers, per refresh token (by digest, never the token), the
// first ambiguous refusal of a refresh, so that the same refusal again
// can be told from a passing fault.
type refusals struct {
	mu     sync.Mutex
	first  map[[sha256.Size]byte]refusal
	served atomic.Uint64 // successful refreshes of the client
}

type refusal struct {
	status int
	code   string
	at     time.Time
	served uint64 // refusals.served when it came
}

// repeated records the refusal (status, code) of refreshToken at now and
// reports whether it is the same refusal as the first one remembered, at
// least minBackoff later, with another refresh served in between or,
// unless it rejects the client, refusalPersists later.
func (r *refusals) repeated(refreshToken string, status int, code string, aboutClient bool, now time.Time) bool {
	key := sha256.Sum256([]byte(refreshToken))
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, ok := r.first[key]
	if ok && prev.status == status && prev.code == code && now.Sub(prev.at) >= minBackoff &&
		(r.served.Load() > prev.served || !aboutClient && now.Sub(prev.at) >= refusalPersists) {
		delete(r.first, key)
		return true
	}
	if ok && prev.status == status && prev.code == code {
		return false // the first one counts
	}
	if r.first == nil || len(r.first) >= maxRefusals {
		r.first = make(map[[sha256.Size]byte]refusal)
	}
	r.first[key] = refusal{status: status, code: code, at: now, served: r.served.Load()}
	return false
}

// succeeded notes a successful refresh of refreshToken.
func (r *refusals) succeeded(refreshToken string) {
	r.served.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.first) > 0 {
		delete(r.first, sha256.Sum256([]byte(refreshToken)))
	}
}

// refusedWithCode reports whether err carries the server's error object
// (an *OAuthError). It is a function of its own so that a refresh that
// succeeds makes no room for one.
func refusedWithCode(err error) bool {
	var oe *OAuthError
	return errors.As(err, &oe)
}
