package pkce

import (
	"context"
	"errors"
	"net/http"

	"golang.org/x/oauth2"
)

// Revoke asks the authorization server to revoke tok (RFC 7009 §2.1): its
// refresh token when it has one, which revokes the grant's access tokens
// too at servers that follow RFC 7009 §2.1's SHOULD, and its access token
// otherwise, each with the matching token_type_hint. The request carries
// the client authentication of the token endpoint and, without a deadline
// in ctx, a default one of 30 seconds.
//
// A 200 answer is success whether or not the token was still valid
// (RFC 7009 §2.2). An error answer is an *OAuthError with Op opRevoke:
// errors.Is(err, ErrorCode("unsupported_token_type")) when the server
// cannot revoke that kind of token, errTemporarilyUnavailable for a 503,
// after which the token must be assumed valid (RFC 7009 §2.2.1). A broken
// answer is a *ResponseError. Redirects are not followed, bodies are
// bounded, and no error contains the token or the client secret.
//
// The revocation endpoint comes from WithRevocationURL or from the
// server's metadata (WithMetadata, NewFromIssuer); without either, Revoke
// fails with ErrInvalidConfig.
func (c *Client) Revoke(ctx context.Context, tok *oauth2.Token) error {
	if err := c.made(); err != nil {
		return err
	}
	endpoint := c.revocationURL
	if endpoint == "" && c.metadata != nil {
		endpoint = c.metadata.RevocationEndpoint
	}
	if endpoint == "" {
		return configErrorf("no revocation endpoint: set one with WithRevocationURL, or use metadata that lists revocation_endpoint (WithMetadata, NewFromIssuer)")
	}
	if tok == nil || tok.RefreshToken == "" && tok.AccessToken == "" {
		return errors.New("pkce: there is no token to revoke")
	}
	params := form{{"token", tok.RefreshToken}, {"token_type_hint", "refresh_token"}}
	if tok.RefreshToken == "" {
		params = form{{"token", tok.AccessToken}, {"token_type_hint", "access_token"}}
	}
	secrets := c.redactor(tok.AccessToken, tok.RefreshToken)
	r, err := c.postAuthenticated(ctx, opRevoke, endpoint, params, secrets)
	if err != nil {
		return err
	}
	switch {
	case r.status == http.StatusOK:
		return nil
	case r.status >= 200 && r.status < 300:
		return r.fail(errUnexpectedStatus, "success must be 200; the token may or may not be revoked", "RFC 7009 §2.2")
	}
	return r.errorResponse("RFC 7009 §2.2.1")
}
