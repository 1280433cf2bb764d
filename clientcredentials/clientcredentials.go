// Package clientcredentials obtains access tokens for a client acting on
// its own behalf, with no person involved: the client credentials grant
// (RFC 6749 §4.4), for services, daemons and machine-to-machine access to
// APIs and MCP servers.
//
// It serves services that call APIs without a person signing in; their
// guide is https://github.com/pkcekit/pkce/blob/main/docs/grants.md.
//
// The client authenticates as its pkce.Client does: with its secret
// (client_secret_basic or client_secret_post) or a signed assertion
// (private_key_jwt, RFC 7523 §2.2, pkce.WithClientKey); with DPoP when it
// has a DPoP key. The grant issues no refresh token (RFC 6749 §4.4.3): a
// new token is requested when the old one nears expiry.
//
//	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "billing", ClientSecret: secret,
//		Endpoint: oauth2.Endpoint{TokenURL: tokenURL}, Scopes: []string{"invoices"}})
//	src := &clientcredentials.Source{Client: c, Store: store, Key: "billing"}
//	tok, err := src.Token(ctx)
//
// With a shared pkce.Store (Redis, a file for CLIs), every process and
// replica that uses the same Key shares one token and makes one token
// request per expiry, as pkce.Tokens does for refresh.
package clientcredentials

import (
	"context"
	"errors"

	"net/url"

	"github.com/pkcekit/pkce"
)

// GrantType is the grant_type of the client credentials grant
// (RFC 6749 §4.4.2).
const GrantType = "client_credentials"

// Token sends one client credentials request to c's authorization server
// and returns the access token it issues. The scope of c's oauth2.Config
// and its resource indicators (pkce.WithResource) go with the request.
// Most applications use a Source, which keeps the token until it nears
// expiry.
func Token(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
	if c == nil {
		return nil, errors.New("pkce/clientcredentials: no client")
	}
	return c.Grant(ctx, url.Values{"grant_type": {GrantType}})
}
