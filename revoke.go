package pkce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
)

// A TokenTypeHint tells the revocation endpoint what kind of token it is
// given, to speed up its search (RFC 7009 §2.1). The empty hint sends none.
type TokenTypeHint string

// The token type hints of RFC 7009 §2.1.
const (
	HintAccessToken  TokenTypeHint = "access_token"
	HintRefreshToken TokenTypeHint = "refresh_token"
)

// revocationGrant names revocation requests in errors (TokenError.Grant,
// ResponseError.Grant).
const revocationGrant = "revocation"

// Revoke asks the authorization server to revoke an access or refresh
// token (RFC 7009 §2.1), with the client authentication of the token
// endpoint and the optional hint. Revoking a refresh token usually revokes
// the access tokens of the same grant too (RFC 7009 §2.1 says the server
// SHOULD).
//
// A 200 answer is success whether or not the token was still valid
// (RFC 7009 §2.2). An error answer is a *TokenError with Grant
// "revocation": errors.Is(err, ErrorCode("unsupported_token_type")) when the
// server cannot revoke that kind of token, ErrTemporarilyUnavailable for a
// 503, after which the token must be assumed valid (RFC 7009 §2.2.1).
// A broken answer is a *ResponseError. Redirects are not followed, bodies
// are bounded as for token responses, and no error contains the token or
// the client secret.
//
// The revocation endpoint comes from the metadata (WithMetadata or
// NewFromIssuer); without one Revoke fails with ErrInvalidConfig.
func (c *Client) Revoke(ctx context.Context, token string, hint TokenTypeHint) error {
	var endpoint string
	if c.metadata != nil {
		endpoint = c.metadata.RevocationEndpoint
	}
	if endpoint == "" {
		return configErrorf("no revocation endpoint: the server's metadata has no revocation_endpoint, or the client has no metadata (WithMetadata, NewFromIssuer)")
	}
	if token == "" {
		return errors.New("pkce: there is no token to revoke")
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", string(hint))
	}
	secrets := c.redactor(token)
	r, err := c.postAuthenticated(ctx, revocationGrant, endpoint, form)
	if err != nil {
		return err
	}
	switch {
	case r.status == http.StatusOK:
		return nil
	case r.status >= 200 && r.status < 300:
		return &ResponseError{Err: ErrUnexpectedStatus, Grant: revocationGrant, StatusCode: r.status, ContentType: r.contentType,
			Problem: "success must be 200; the token may or may not be revoked", Rule: "RFC 7009 §2.2"}
	}
	return c.errorResponse(revocationGrant, r, secrets, "RFC 7009 §2.2.1")
}

// errSignedOut is the failure of a TokenSource after SignOut.
var errSignedOut = errors.New("pkce: signed out; the token source has no token")

// SignOut ends the session of the source: it forgets the token and revokes
// it at the authorization server (RFC 7009) with Client.Revoke — the
// refresh token when there is one, else the access token. From the moment
// SignOut is called, Token and TokenContext fail with ErrSignInRequired
// without contacting the server. A refresh already in flight is waited for
// and what it obtained is revoked in place of the older token; its waiters
// get ErrSignInRequired too.
//
// The token is forgotten even when revocation fails; the error then says
// why (a *TokenError, a *ResponseError, ErrInvalidConfig when the server has
// no revocation endpoint, the context's error), and the token may still be
// valid at the server until it expires. SignOut does not touch storage:
// delete the token saved by the OnRefresh hook as well.
func (s *TokenSource) SignOut(ctx context.Context) error {
	s.mu.Lock()
	s.signedOut = true
	s.failure, s.retryAt = &RefreshError{Err: errSignedOut, Terminal: true}, time.Time{}
	var tok *oauth2.Token
	if st := s.current.Swap(nil); st != nil {
		tok = st.token
	}
	call := s.inflight
	s.mu.Unlock()

	if call != nil {
		select {
		case <-call.done:
		case <-ctx.Done():
			return fmt.Errorf("pkce: signed out, but gave up waiting for the refresh in flight, so nothing was revoked: %w", ctx.Err())
		}
		s.mu.Lock()
		if s.orphan != nil {
			tok, s.orphan = s.orphan, nil
		}
		s.mu.Unlock()
	}
	switch {
	case tok == nil:
		return nil
	case tok.RefreshToken != "":
		return s.revoke(ctx, tok.RefreshToken, HintRefreshToken)
	case tok.AccessToken != "":
		return s.revoke(ctx, tok.AccessToken, HintAccessToken)
	}
	return nil
}
