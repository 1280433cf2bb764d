package pkce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pkcekit/pkce/internal/wire"
	"golang.org/x/oauth2"
)

// A Token is what the token endpoint issued: an *oauth2.Token, so it works
// with everything in golang.org/x/oauth2, that prints without its secrets.
// Members of the response the package does not model (scope, id_token,
// vendor members) are reachable through Extra.
type Token struct {
	*oauth2.Token
}

// IDToken returns the OpenID Connect id_token member, or "". After a
// refresh whose answer had none, it is the ID token of the token
// refreshed. Claims has its verified claims.
func (t Token) IDToken() string {
	if s := t.member("id_token"); s != "" {
		return s
	}
	if s := t.slot(); s != nil {
		return s.idToken
	}
	return ""
}

// Scope returns the scope member: the granted scope, which servers must
// send when it differs from the requested one (RFC 6749 §5.1). "" means
// either that the server left the member out (the requested scope was
// granted) or that it granted no scope; Extra("scope") tells them apart.
func (t Token) Scope() string { return t.member("scope") }

func (t Token) member(key string) string {
	if t.Token == nil {
		return ""
	}
	s, _ := t.Extra(key).(string)
	return s
}

// describe prints the token without the access or refresh token.
func (t Token) describe() string {
	if t.Token == nil {
		return "pkce.Token(nil)"
	}
	return fmt.Sprintf("pkce.Token{type: %s, expiry: %s, access_token: %s, refresh_token: %s, id_token: %s}",
		t.Type(), expiryString(t.Expiry), wire.Presence(t.AccessToken), wire.Presence(t.RefreshToken), wire.Presence(t.IDToken()))
}

// Format prints the token without its secrets for every verb, %#v
// included.
func (t Token) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.describe()) }

// LogValue implements slog.LogValuer without the secrets.
func (t Token) LogValue() slog.Value {
	if t.Token == nil {
		return slog.StringValue("pkce.Token(nil)")
	}
	return slog.GroupValue(
		slog.String("type", t.Type()),
		slog.String("expiry", expiryString(t.Expiry)),
		slog.String("access_token", wire.Presence(t.AccessToken)),
		slog.String("refresh_token", wire.Presence(t.RefreshToken)),
	)
}

func expiryString(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.RFC3339)
}

// Exchange redeems an authorization code (RFC 6749 §4.1.3) with the flow's
// verifier (RFC 7636 §4.5) and redirect URI. It does not check the
// callback: call it only with a code that VerifyCallback returned for the
// same flow. Most applications call Finish instead, which does both.
//
// The request carries the client's authentication in the one way its
// method names, so the secret is sent once and the code is presented
// once; it goes through the HTTP client golang.org/x/oauth2 would use (the
// context's oauth2.HTTPClient, else WithHTTPClient's) and follows no
// redirect. Without a deadline in ctx it is bounded by a
// default of 30 seconds. The answer must be 200 with a JSON object
// labelled application/json, a non-empty access_token, a token_type of
// Bearer (or one allowed with tolerate.TokenTypes) and, if present, a
// non-negative integer expires_in (RFC 6749 §5.1).
//
// When the flow asked for openid and the client is an OpenID Connect
// relying party (made with NewFromIssuer, or WithMetadata with JWKSURI),
// the answer must carry an ID token, verified before Exchange returns
// (OpenID Connect Core §3.1.3.7); its claims are Token.Claims. A failure
// matches ErrInvalidIDToken.
func (c *Client) Exchange(ctx context.Context, f *Flow, code string) (*Token, error) {
	if err := c.made(); err != nil {
		return nil, err
	}
	if err := c.checkFlow(f); err != nil {
		return nil, err
	}
	if code == "" {
		return nil, &CallbackError{Err: ErrMalformedCallback, Param: "code", Problem: "the code is empty", Rule: "RFC 6749 §4.1.3"}
	}
	return c.exchange(ctx, f, code)
}

// exchange is Exchange for a flow and code already checked (by Exchange,
// or by Finish's callback checks).
func (c *Client) exchange(ctx context.Context, f *Flow, code string) (*Token, error) {
	verifier := f.verifier.Reveal()
	secrets := c.redactor(code, verifier, f.State)
	var scratch [5]field
	params := append(scratch[:0], field{"grant_type", "authorization_code"}, field{"code", code}, field{"code_verifier", verifier})
	if f.redirectURL != "" {
		params = append(params, field{"redirect_uri", f.redirectURL}) // RFC 6749 §4.1.3
	}
	if len(c.resources) == 1 {
		// RFC 8707 §2.2; with several, none asks for all of them.
		params = append(params, field{"resource", c.resources[0]})
	}
	tok, err := c.retrieve(ctx, opExchange, secrets, params)
	if err != nil {
		return nil, err
	}
	return c.acceptIDToken(ctx, f, tok, secrets) // openid.go
}

// retrieve sends one token request with params, the grant's parameters,
// and the client's authentication (see postAuthenticated), then holds the
// answer to the rules of RFC 6749 §5. A DPoP client whose request the
// server refuses with use_dpop_nonce sends the whole request once more
// with the nonce: the code is not spent by that refusal (RFC 9449 §8), and
// the new request gets a fresh assertion and proof, whose jti servers may
// remember.
func (c *Client) retrieve(ctx context.Context, op string, secrets redactor, params form) (*Token, error) {
	r, err := c.postAuthenticated(ctx, op, c.config.Endpoint.TokenURL, params, secrets)
	if err != nil {
		return nil, err
	}
	if r.status >= 300 && r.status < 400 {
		return nil, r.errorResponse("RFC 6749 §5.1", "RFC 6749 §5.2")
	}
	m, problem := decodeObject(r.body)
	if problem != "" {
		return nil, r.fail(errNotJSON, withExcerpt(problem, r.excerpt()), "RFC 6749 §5.1", "RFC 6749 §5.2")
	}
	if key := m.caseCollision(tokenMembers...); key != "" {
		return nil, r.fail(ErrInvalidResponse, collisionProblem(key), "RFC 6749 §5.1")
	}
	if oe := r.oauthError(m); oe != nil {
		return nil, oe
	}
	switch {
	case r.status >= 200 && r.status < 300 && r.status != http.StatusOK && !c.tol.acceptsTokenStatus(r.status):
		return nil, r.fail(errUnexpectedStatus, "a successful token response must have status 200 (other 2xx statuses only with tolerate.TokenStatus)", "RFC 6749 §5.1")
	case r.status != http.StatusOK && !c.tol.acceptsTokenStatus(r.status):
		return nil, r.fail(errUnexpectedStatus, "an error status without an error member ("+m.names(secrets)+")", "RFC 6749 §5.2")
	case !isJSONMediaType(r.contentType):
		return nil, r.fail(errNotJSON, "a successful token response must be labelled application/json", "RFC 6749 §5.1")
	}
	tok, problem := c.tokenFrom(m)
	if problem != "" {
		return nil, r.fail(ErrInvalidResponse, problem, "RFC 6749 §5.1")
	}
	return tok, nil
}

// tokenMembers are the members of RFC 6749 §5.1 and §5.2 and OpenID
// Connect's id_token, whose names must be exact.
var tokenMembers = []string{"access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token",
	"error", "error_description", "error_uri"}

// tokenFrom applies RFC 6749 §5.1 to the members of a successful answer
// and builds the token from exactly what it checked. The string result
// describes a failure.
func (c *Client) tokenFrom(m members) (*Token, string) {
	at, ok := m["access_token"].(string)
	switch {
	case m["access_token"] == nil || ok && at == "":
		return nil, "access_token is missing or empty"
	case !ok:
		return nil, "access_token is not a string"
	}
	tt, ok := m["token_type"].(string)
	switch {
	case !ok || tt == "":
		return nil, "token_type is missing"
	case strings.EqualFold(tt, tokenTypeDPoP) && c.dpop == nil:
		return nil, "token_type is DPoP, but the client has no DPoP key (WithDPoP) to use the token with (RFC 9449 §5)"
	case !c.tokenTypeAllowed(tt):
		return nil, fmt.Sprintf("token_type %q is not supported; only Bearer is (RFC 6750), unless allowed with tolerate.TokenTypes", clip(c.redactor().clean(tt), 40))
	case c.dpopRequired && !strings.EqualFold(tt, tokenTypeDPoP):
		return nil, fmt.Sprintf("token_type %q, but DPoP is required (WithDPoPRequired): the server ignored the DPoP proof and issued a token that is not bound to the key (RFC 9449 §5)", clip(c.redactor().clean(tt), 40))
	}
	for _, key := range [...]string{"refresh_token", "scope", "id_token"} {
		if v := m[key]; v != nil {
			if _, ok := v.(string); !ok {
				return nil, key + " is not a string"
			}
		}
	}
	expiresIn, err := parseExpiresIn(m["expires_in"])
	if err != nil {
		return nil, err.Error()
	}
	tok := &oauth2.Token{AccessToken: at, TokenType: tt, RefreshToken: str(m["refresh_token"]), ExpiresIn: expiresIn}
	if expiresIn > 0 {
		tok.Expiry = c.now().Add(time.Duration(expiresIn) * time.Second)
	}
	if c.relyingParty() {
		m[claimsKey] = new(claimsSlot) // filled when the ID token is verified (openid.go)
	}
	return &Token{Token: tok.WithExtra(map[string]any(m))}, ""
}

func (c *Client) tokenTypeAllowed(tt string) bool {
	if strings.EqualFold(tt, "bearer") || c.dpop != nil && strings.EqualFold(tt, tokenTypeDPoP) {
		return true
	}
	for _, t := range c.tokenTypes {
		if strings.EqualFold(tt, t) {
			return true
		}
	}
	return false
}

// parseExpiresIn accepts a non-negative integer number of seconds, as a
// JSON number or a numeric string (some servers send "3600").
func parseExpiresIn(v any) (int64, error) {
	bad := func(why string) (int64, error) {
		return 0, errors.New("expires_in " + why)
	}
	var n int64
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return bad("is not a whole number of seconds")
		}
		if x < 0 || x > math.MaxInt32 {
			return bad(fmt.Sprintf("%v is out of range", x))
		}
		n = int64(x)
	case json.Number:
		return parseExpiresIn(string(x))
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a whole number of seconds", clip(x, 40)))
		}
		if i < 0 || i > math.MaxInt32 {
			return bad(fmt.Sprintf("%d is out of range", i))
		}
		n = i
	default:
		return bad("is neither a number nor a numeric string")
	}
	return n, nil
}
