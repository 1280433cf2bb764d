// Package protected is the client of APIs protected by OAuth 2.0, MCP
// servers among them, that knows only the API's URL: its Transport sends
// each request with the token it holds for the API and, when the API
// answers 401, finds the authorization server from the answer and signs
// in, following the chain of the MCP authorization specification
// (2025-11-25), which is plain OAuth:
//
//  1. the WWW-Authenticate challenge ([ParseChallenges], RFC 9110
//     §11.6.1, RFC 6750 §3);
//  2. the protected resource metadata ([FetchResourceMetadata],
//     RFC 9728);
//  3. the authorization server's metadata ([DiscoverAuthorizationServer],
//     RFC 8414 and OpenID Connect Discovery, S256 required);
//  4. the client's registration: pre-registered, a client ID metadata
//     document, or dynamic registration ([Register], RFC 7591);
//  5. sign-in with the resource indicator (RFC 8707, pkce.WithResource),
//     by [LoopbackSignIn] for a person at a browser or [HeadlessSignIn]
//     for automated runs;
//  6. the request sent again. 403 insufficient_scope steps the scopes
//     up, within a limit.
//
// For a person at this machine's browser:
//
//	t := &protected.Transport{SignIn: protected.LoopbackSignIn(openBrowser)}
//	resp, err := (&http.Client{Transport: t}).Get("https://mcp.example/mcp")
//
// Each sign-in runs through a *pkce.Client the Transport builds for the
// chosen server, with the options the application gives (Transport.Options:
// DPoP, private_key_jwt, PAR, FAPI 2.0). Tokens are kept per issuer,
// client, resource and scopes ([TokenKey]) in a pkce.Store, and refreshed
// as pkce.Tokens refreshes them. Whatever the API and the servers it
// names send is untrusted: see Transport.
//
// The nested module github.com/pkcekit/pkce/mcp plugs a Transport into the
// Go MCP SDK.
package protected
