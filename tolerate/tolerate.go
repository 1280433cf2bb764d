// Package tolerate holds the options of a pkce.Client that accept what a
// real authorization server does against the RFCs. Package pkce is strict
// by default; each option here relaxes one check, for the servers its
// comment names, and nothing else, so that a configuration says in
// writing which deviation it accepts and why:
//
//	client, err := pkce.New(cfg, tolerate.TokenStatus(http.StatusCreated))
//
// The provider table of docs/providers.md says which provider needs which.
package tolerate

import (
	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"
)

// TokenStatus accepts successful token responses (code exchange and
// refresh) sent with the given 2xx statuses as well as 200, which RFC 6749
// §5.1 prescribes. The Supabase Management API's token endpoint
// (https://api.supabase.com/v1/oauth/token) answers 201 Created, for
// instance:
//
//	tolerate.TokenStatus(http.StatusCreated)
//
// Only the status is tolerated: the body must still be a JSON token
// response labelled application/json. Each status must be between 201 and
// 299; 204 No Content is refused, since it has no token to carry.
func TokenStatus(statuses ...int) pkce.Option {
	return link.TokenStatus(statuses).(pkce.Option)
}

// IssuerTrailingSlash lets pkce.NewFromIssuer accept metadata whose issuer
// differs from the issuer asked for by one trailing slash, either way:
// "https://tenant.auth0.com" asked, "https://tenant.auth0.com/" published,
// or the reverse. RFC 8414 §3.3 requires the two to be identical, and
// without this option they must be; the difference is common where one
// configuration value serves several libraries that disagree on the slash
// (Auth0 and authentik publish their issuers with one, Okta, Keycloak and
// Google without).
//
// The metadata's issuer is then the issuer, verbatim: callbacks' iss
// (RFC 9207 §2.4) must equal it byte for byte. Any other difference,
// including two slashes or a different case, is still
// pkce.ErrIssuerMismatch. The option applies to discovery only;
// pkce.WithIssuer and pkce.WithMetadata stay exact.
func IssuerTrailingSlash() pkce.Option {
	return link.IssuerTrailingSlash().(pkce.Option)
}

// TokenTypes accepts token types other than Bearer in token responses
// (compared case-insensitively), such as the "bot" of Slack's bot
// tokens. Without it any other type is refused, because the package only
// knows how to use bearer tokens (RFC 6750) and, with pkce.WithDPoP, DPoP
// ones (RFC 9449).
func TokenTypes(types ...string) pkce.Option {
	return link.TokenTypes(types).(pkce.Option)
}

// HS256IDTokens accepts ID tokens signed with HS256, the HMAC of the
// client secret (OpenID Connect Core §10.1), for providers that sign that
// way for some clients. It needs a ClientSecret. Anyone who knows the
// secret can make such a token, the provider included, which is why the
// client accepts only the issuer's public keys otherwise.
func HS256IDTokens() pkce.Option {
	return link.HS256IDTokens().(pkce.Option)
}

// TokenEndpointAudience makes client assertions name the token endpoint
// URL as their aud instead of the issuer identifier, at every endpoint,
// for servers that accept nothing else: ory/fosite (v0.49 and the ory
// Hydra versions built on it) compares aud with its token URL only.
// RFC 7523bis and FAPI 2.0 require the issuer, since an assertion for the
// token endpoint URL could be replayed to another server that claims that
// URL; pkce.WithFAPI2 refuses this option. It needs pkce.WithClientKey
// before it.
func TokenEndpointAudience() pkce.Option {
	return link.TokenEndpointAudience().(pkce.Option)
}
