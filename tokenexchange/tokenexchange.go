// Package tokenexchange exchanges one security token for another at an
// authorization server (OAuth 2.0 Token Exchange, RFC 8693).
//
// It serves services and clients under enterprise-managed authorization,
// whose guide is https://github.com/pkcekit/pkce/blob/main/docs/grants.md.
//
// Its main use here is enterprise-managed authorization: the client
// exchanges the person's ID token at the enterprise identity provider for
// an identity assertion grant (ID-JAG) for the authorization server of the
// resource, then presents that with package jwtbearer:
//
//	jag, err := tokenexchange.Exchange(ctx, idp, tokenexchange.Request{
//		SubjectToken:       idToken,
//		SubjectTokenType:   tokenexchange.IDToken,
//		RequestedTokenType: tokenexchange.IDJAG,
//		Audience:           resourceIssuer,
//		Resource:           []string{resourceURL},
//	})
//	tok, err := jwtbearer.Token(ctx, resourceClient, jag.AccessToken)
//
// idp is a pkce.Client registered with the identity provider
// (pkce.NewTokenClient), resourceClient one registered with the
// resource's authorization server.
package tokenexchange

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/pkcekit/pkce"
)

// GrantType is the grant_type of token exchange (RFC 8693 §2.1).
const GrantType = "urn:ietf:params:oauth:grant-type:token-exchange"

// Token type identifiers (RFC 8693 §3) and the identity assertion grant
// of enterprise-managed authorization.
const (
	AccessToken = "urn:ietf:params:oauth:token-type:access_token"
	IDToken     = "urn:ietf:params:oauth:token-type:id_token"
	JWT         = "urn:ietf:params:oauth:token-type:jwt"
	IDJAG       = "urn:ietf:params:oauth:token-type:id-jag"
)

// A Request is one token exchange request (RFC 8693 §2.1).
type Request struct {
	// SubjectToken is the token exchanged, and SubjectTokenType its type;
	// both are required.
	SubjectToken     string
	SubjectTokenType string
	// RequestedTokenType is the type asked for; "" lets the server choose.
	// When set, the issued type must be it.
	RequestedTokenType string
	// Audience is the logical name of the target service, such as the
	// issuer identifier of the authorization server the token is for.
	Audience string
	// Resource are the URIs of the resources the token is for (RFC 8707).
	Resource []string
	// Scope is the scope asked for.
	Scope []string
	// ActorToken and ActorTokenType name the party acting for the subject
	// (delegation, RFC 8693 §1.1); both or neither.
	ActorToken     string
	ActorTokenType string
}

// Exchange sends r to c's authorization server. The returned token's
// AccessToken is the issued token, whatever its type;
// tok.Extra("issued_token_type") says which, and TokenType is N_A when it
// is not an access token (RFC 8693 §2.2.1). The subject and actor tokens
// never appear in an error.
func Exchange(ctx context.Context, c *pkce.Client, r Request) (*pkce.Token, error) {
	if c == nil {
		return nil, errors.New("pkce/tokenexchange: no client")
	}
	switch {
	case r.SubjectToken == "" || r.SubjectTokenType == "":
		return nil, errors.New("pkce/tokenexchange: subject_token and subject_token_type are required (RFC 8693 §2.1)")
	case (r.ActorToken == "") != (r.ActorTokenType == ""):
		return nil, errors.New("pkce/tokenexchange: actor_token and actor_token_type go together (RFC 8693 §2.1)")
	}
	params := url.Values{
		"grant_type":         {GrantType},
		"subject_token":      {r.SubjectToken},
		"subject_token_type": {r.SubjectTokenType},
	}
	set := func(k, v string) {
		if v != "" {
			params.Set(k, v)
		}
	}
	set("requested_token_type", r.RequestedTokenType)
	set("audience", r.Audience)
	set("actor_token", r.ActorToken)
	set("actor_token_type", r.ActorTokenType)
	if len(r.Resource) > 0 {
		params["resource"] = r.Resource
	}
	if len(r.Scope) > 0 {
		params.Set("scope", strings.Join(r.Scope, " "))
	}
	tok, err := c.Grant(ctx, params)
	if err != nil {
		return nil, err
	}
	issued, _ := tok.Extra("issued_token_type").(string)
	switch {
	case issued == "":
		return nil, errors.New("pkce/tokenexchange: the answer has no issued_token_type (RFC 8693 §2.2.1)")
	case r.RequestedTokenType != "" && issued != r.RequestedTokenType:
		return nil, fmt.Errorf("pkce/tokenexchange: asked for a token of type %q, the server issued %q", r.RequestedTokenType, clip(issued))
	}
	return tok, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
