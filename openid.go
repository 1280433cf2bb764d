package pkce

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// withHS256IDTokens is tolerate.HS256IDTokens; its doc says what it tolerates.
func withHS256IDTokens() Option {
	return func(c *Client) error {
		c.hs256IDTokens = true
		return nil
	}
}

// asksOpenID reports whether scopes make a request an OpenID Connect
// authentication request (OpenID Connect Core §3.1.2.1).
func asksOpenID(scopes []string) bool { return slices.Contains(scopes, "openid") }

// checkOpenID checks the OpenID Connect options.
func (c *Client) checkOpenID(scopes []string) error {
	switch {
	case c.hs256IDTokens && c.config.ClientSecret == "":
		return configErrorf("tolerate.HS256IDTokens needs a ClientSecret, the key of HS256 (OpenID Connect Core §10.1)")
	case c.hs256IDTokens && !c.relyingParty():
		return configErrorf("tolerate.HS256IDTokens needs the issuer's metadata with its jwks_uri: create the client with NewFromIssuer, or WithMetadata")
	}
	return nil
}

// relyingParty reports whether the client is an OpenID Connect relying
// party: it knows the OpenID Provider's issuer and keys (its metadata has
// jwks_uri), so it can verify ID tokens. A client configured by hand
// without them still passes an ID token through, unverified and without
// Claims.
func (c *Client) relyingParty() bool { return c.issuer != "" && c.jwksURI() != "" }

// openIDRequest adds a nonce to an OpenID Connect request (OpenID Connect
// Core §3.1.2.1) and returns it with the max_age the caller asked for,
// which the ID token's auth_time must then meet.
func (c *Client) openIDRequest(req *startRequest) (nonce, maxAge string, err error) {
	if !c.relyingParty() || !asksOpenID(req.scopesOr(c.config.Scopes)) {
		return "", "", nil
	}
	for i := 0; i < len(req.params); i += 2 {
		if req.params[i] == "nonce" {
			return "", "", fmt.Errorf("pkce: authorization request parameter \"nonce\" is set by the package for an OpenID Connect request and cannot be given with Param")
		}
		if req.params[i] == "max_age" {
			maxAge = req.params[i+1]
			if n, err := strconv.ParseUint(maxAge, 10, 31); err != nil || strconv.FormatUint(n, 10) != maxAge {
				return "", "", configErrorf("max_age %q is not a number of seconds (OpenID Connect Core §3.1.2.1)", clip(maxAge, 20))
			}
		}
	}
	var raw [nonceBytes]byte
	rand.Read(raw[:])
	nonce = b64.EncodeToString(raw[:])
	req.params = append(req.params, "nonce", nonce)
	return nonce, maxAge, nil
}

// acceptIDToken verifies the ID token of a code exchange when the flow
// asked for openid and keeps its claims with the token; an ID token the
// flow did not ask for is left unverified and without claims.
func (c *Client) acceptIDToken(ctx context.Context, f *Flow, tok *Token, secrets redactor) (*Token, error) {
	if f.nonce == "" && c.relyingParty() && urlAsksOpenID(f.URL) {
		// Start always gives such a flow a nonce: a stored flow lost it,
		// which would skip the check of the ID token.
		return nil, &CallbackError{Err: ErrInvalidFlow, Problem: "the flow asked for openid but has no nonce; a stored flow was altered"}
	}
	if f.nonce == "" {
		return tok, nil
	}
	raw := tok.member("id_token")
	if raw == "" {
		return nil, &ResponseError{Op: opExchange, Err: ErrInvalidIDToken, URL: c.config.Endpoint.TokenURL,
			Problem: "the request asked for openid, and the answer has no id_token", Rule: "OpenID Connect Core 1.0 §3.1.3.3"}
	}
	red := secrets.with(tok.AccessToken, tok.RefreshToken, raw, f.nonce)
	claims, err := c.verifyIDToken(ctx, opExchange, raw, idTokenCheck{nonce: f.nonce, maxAge: f.maxAge, red: red})
	if err != nil {
		return nil, err
	}
	if s := tok.slot(); s != nil {
		s.claims = claims
	}
	return tok, nil
}

// urlAsksOpenID reports whether an authorization URL's scope has openid.
// A pushed request's URL has no scope, and says no.
func urlAsksOpenID(authURL string) bool {
	u, err := url.Parse(authURL)
	return err == nil && asksOpenID(strings.Fields(u.Query().Get("scope")))
}

// refreshFrom refreshes cur for a TokenSource or Tokens. When cur has
// the claims of a verified sign-in, an ID token in the answer is verified
// and must be about the same sign-in (OpenID Connect Core §12.2), and an
// answer without one keeps cur's ID token and claims. A failed check
// means ErrSignInRequired: the answer cannot be trusted, and the refresh
// token it may have replaced is gone with it.
func (c *Client) refreshFrom(ctx context.Context, cur *Token) (*Token, error) {
	next, err := c.Refresh(ctx, cur.RefreshToken)
	if err != nil {
		return nil, err
	}
	verified := cur.Claims()
	prior := verified
	if prior == nil {
		// A token the application kept itself: its ID token is compared
		// with, never handed out as verified.
		prior = storedClaims(cur.IDToken())
	}
	s := next.slot()
	if s == nil || prior == nil || !c.relyingParty() {
		return next, nil
	}
	raw := next.member("id_token")
	if raw == "" {
		s.claims, s.idToken = verified, cur.IDToken()
		return next, nil
	}
	red := c.redactor(cur.RefreshToken, next.AccessToken, next.RefreshToken, raw)
	claims, err := c.verifyIDToken(ctx, opRefresh, raw, idTokenCheck{prior: prior, red: red})
	if err != nil && !errors.Is(err, ErrInvalidIDToken) {
		// The key set could not be fetched. The server has answered, and
		// may have rotated the refresh token: failing would throw a valid
		// grant away for an outage. The token is kept, without claims
		// (its ID token is not verified); the next refresh verifies anew.
		return next, nil
	}
	if err != nil {
		return nil, &refreshError{class: ErrSignInRequired, err: err}
	}
	s.claims = claims
	return next, nil
}

// storedClaims reads the claims of an ID token the package verified
// before it was stored, or nil. The application's token store is trusted
// as it is with the refresh token.
func storedClaims(idToken string) *Claims {
	if idToken == "" {
		return nil
	}
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	c, problem := parseClaims(payload)
	if problem != "" {
		return nil
	}
	return c
}

// storedSlot is the claims slot of a token read from a store: with the
// claims of its ID token when the package verified it before storing it.
func storedSlot(idToken string, verified bool) *claimsSlot {
	if !verified {
		return new(claimsSlot)
	}
	return &claimsSlot{claims: storedClaims(idToken), idToken: idToken}
}

// VerifyIDToken verifies an ID token the client did not get from its own
// code exchange, such as one a mobile app sends to its backend after
// signing in natively: signature with the issuer's keys, iss, aud, azp,
// exp, iat and sub as OpenID Connect Core §3.1.3.7 says, and nonce equal
// to nonce, which must be the one of the authentication request (a token
// without a nonce matches only ""). Tokens of Finish and Exchange are
// verified already; their claims are Token.Claims. The client must be a
// relying party: made with NewFromIssuer, or WithMetadata with JWKSURI.
// With cached keys it makes no request.
func (c *Client) VerifyIDToken(ctx context.Context, rawIDToken, nonce string) (*Claims, error) {
	if !c.relyingParty() {
		return nil, configErrorf("verifying ID tokens needs the issuer's metadata with its jwks_uri: create the client with NewFromIssuer, or WithMetadata")
	}
	return c.verifyIDToken(ctx, opExchange, rawIDToken, idTokenCheck{nonce: nonce, red: c.redactor(rawIDToken, nonce)})
}
