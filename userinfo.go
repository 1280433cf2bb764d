package pkce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// UserInfo asks the OpenID Provider's UserInfo endpoint (its metadata's
// userinfo_endpoint) about the user of tok, with the access token in the
// Authorization header (OpenID Connect Core §5.3.1, RFC 6750 §2.1), or
// with a DPoP proof for a DPoP token (RFC 9449 §7.1). tok must carry the
// verified claims of a sign-in (Token.Claims): the answer's sub must be
// theirs, or the answer is about someone else and fails with
// ErrInvalidIDToken (§5.3.2). Only JSON answers are read; a signed
// UserInfo answer (application/jwt) is an error.
//
// The request uses the client's HTTP client, follows no redirect, reads
// within the client's bound and, without a deadline in ctx, stops after
// 30 seconds.
func (c *Client) UserInfo(ctx context.Context, tok *Token) (*Claims, error) {
	endpoint := ""
	if c.metadata != nil {
		endpoint = c.metadata.UserinfoEndpoint
	}
	switch {
	case endpoint == "":
		return nil, configErrorf("the provider's metadata has no userinfo_endpoint (OpenID Connect Discovery 1.0 §3)")
	case tok == nil || tok.Token == nil || tok.AccessToken == "":
		return nil, errors.New("pkce: UserInfo needs a token with an access token")
	case tok.Claims() == nil:
		return nil, errors.New("pkce: UserInfo needs the token of a verified OpenID Connect sign-in, whose sub the answer must match (OpenID Connect Core §5.3.2)")
	}
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	secrets := c.redactor(tok.AccessToken)
	dpop := c.dpop != nil && strings.EqualFold(tok.TokenType, tokenTypeDPoP)
	var r *serverResponse
	for attempt := 0; ; attempt++ {
		var err error
		r, secrets, err = c.askUserInfo(ctx, endpoint, tok.AccessToken, dpop, secrets)
		if err != nil {
			return nil, err
		}
		// RFC 9449 §9: a resource server may ask for its nonce once.
		if !dpop || attempt > 0 || r.status != http.StatusUnauthorized ||
			!strings.Contains(r.http.Header.Get("WWW-Authenticate"), "use_dpop_nonce") {
			break
		}
	}
	const rule = "OpenID Connect Core 1.0 §5.3.2"
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.contentType, ";")[0]))
	switch {
	case r.status != http.StatusOK:
		return nil, r.fail(errUnexpectedStatus, fmt.Sprintf("the UserInfo request was refused (WWW-Authenticate: %q)",
			clip(secrets.clean(r.http.Header.Get("WWW-Authenticate")), 200)), "OpenID Connect Core 1.0 §5.3.3")
	case ct == "application/jwt":
		return nil, r.fail(errNotJSON, "the answer is a signed JWT, which the package does not read; register the client for JSON UserInfo answers", rule)
	case ct != "application/json":
		return nil, r.fail(errNotJSON, "the UserInfo answer must be labelled application/json", rule)
	}
	claims, problem := parseClaims(r.body)
	switch {
	case problem != "":
		return nil, r.fail(ErrInvalidIDToken, problem, rule)
	case claims.Subject != tok.Claims().Subject:
		return nil, r.fail(ErrInvalidIDToken, fmt.Sprintf("sub %q is not the sub of the ID token: the answer is about another user", clip(secrets.clean(claims.Subject), 80)), rule)
	}
	return claims, nil
}

// askUserInfo sends one UserInfo request.
func (c *Client) askUserInfo(ctx context.Context, endpoint, accessToken string, dpop bool, secrets redactor) (*serverResponse, redactor, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, secrets, &requestError{Op: opUserInfo, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if dpop {
		proof, err := c.dpop.proof(http.MethodGet, req.URL, accessToken)
		if err != nil {
			return nil, secrets, &requestError{Op: opUserInfo, Err: err}
		}
		secrets = secrets.with(proof)
		req.Header.Set("Authorization", "DPoP "+accessToken)
		req.Header.Set("DPoP", proof)
	} else {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	resp, err := sendOnce(userHTTPClient(ctx, c.httpClient), req)
	if err != nil {
		return nil, secrets, &requestError{Op: opUserInfo, Err: secrets.wrap(err)}
	}
	if dpop {
		c.dpop.remember(originOf(req.URL), resp.Header)
	}
	body, err := readBody(opUserInfo, resp, c.maxResponseBytes, secrets)
	if err != nil {
		return nil, secrets, err
	}
	return newServerResponse(opUserInfo, endpoint, resp, body, secrets, c.authMethod), secrets, nil
}

// LogoutURL returns where to send the browser to sign the user out at the
// OpenID Provider, its metadata's end_session_endpoint (OpenID Connect
// RP-Initiated Logout 1.0 §2), with client_id and, when not "",
// idTokenHint (the ID token of the sign-in, Token.IDToken) as
// id_token_hint. postLogoutRedirectURI, when not "", is where the
// provider sends the browser back, with state; it must be registered at
// the provider for the client, and follows the rules of redirect URLs
// (https, or http on loopback).
func (c *Client) LogoutURL(idTokenHint, postLogoutRedirectURI, state string) (string, error) {
	endpoint := ""
	if c.metadata != nil {
		endpoint = c.metadata.EndSessionEndpoint
	}
	if endpoint == "" {
		return "", configErrorf("the provider's metadata has no end_session_endpoint (RP-Initiated Logout 1.0 §2.1)")
	}
	u, err := url.Parse(endpoint) // checked with the metadata
	if err != nil {
		return "", configErrorf("end_session_endpoint does not parse")
	}
	q := u.Query()
	q.Set("client_id", c.config.ClientID)
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	if postLogoutRedirectURI != "" {
		if err := checkRedirectURL(postLogoutRedirectURI); err != nil {
			return "", configErrorf("post_logout_redirect_uri: %s", configProblem(err))
		}
		q.Set("post_logout_redirect_uri", postLogoutRedirectURI)
	}
	if state != "" {
		if postLogoutRedirectURI == "" {
			return "", configErrorf("state goes back with the browser to post_logout_redirect_uri, which is empty (RP-Initiated Logout 1.0 §2)")
		}
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
