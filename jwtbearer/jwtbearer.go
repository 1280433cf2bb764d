// Package jwtbearer obtains access tokens with the JWT bearer grant
// (RFC 7523 §2.1): the client presents a JWT that another party issued
// about a subject, and the authorization server trusts that party.
//
// It serves workloads and clients under enterprise-managed authorization,
// whose guide is https://github.com/pkcekit/pkce/blob/main/docs/grants.md.
//
// Two uses are common. A workload (a CI job, a pod, a cloud function)
// presents the identity token its platform gives it, and no person is
// involved (workload identity federation). And in enterprise-managed
// authorization the client presents an identity assertion grant (ID-JAG)
// that the enterprise's identity provider issued for a person through
// token exchange (see package tokenexchange).
//
// The client authenticates as its pkce.Client does (or not at all, for a
// public client: RFC 7523 §3.1 does not require it), with DPoP when the
// client has a DPoP key:
//
//	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "build-agent", Endpoint: oauth2.Endpoint{TokenURL: tokenURL}},
//		pkce.WithIssuer(issuer))
//	tok, err := jwtbearer.Token(ctx, c, workloadJWT)
//
// A refused assertion is the server's answer, not a fault to retry: the
// error is a *pkce.OAuthError (invalid_grant, invalid_scope,
// unauthorized_client), and Token sends one request per call.
package jwtbearer

import (
	"context"
	"errors"
	"net/url"

	"github.com/pkcekit/pkce"
)

// GrantType is the grant_type of the JWT bearer grant (RFC 7523 §2.1).
const GrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// Token presents assertion, one JWT, to c's authorization server and
// returns the access token it issues. The scope of c's oauth2.Config and
// its resource indicators (pkce.WithResource) go with the request. The
// assertion never appears in an error, and it is sent only when its aud
// names c's authorization server, by issuer identifier or token endpoint
// URL (RFC 7523 §3): an assertion for another audience could be replayed
// by a server it was not meant for, such as one a hostile API named.
func Token(ctx context.Context, c *pkce.Client, assertion string) (*pkce.Token, error) {
	if c == nil {
		return nil, errors.New("pkce/jwtbearer: no client")
	}
	if assertion == "" {
		return nil, errors.New("pkce/jwtbearer: the assertion is empty (RFC 7523 §2.1)")
	}
	return c.Grant(ctx, url.Values{"grant_type": {GrantType}, "assertion": {assertion}})
}
