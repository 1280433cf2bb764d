// Package pkcemcp plugs the OAuth client of github.com/pkcekit/pkce into
// the official Go MCP SDK (github.com/modelcontextprotocol/go-sdk), so that
// an MCP client signs in to protected MCP servers as the MCP
// authorization specification (2025-11-25) asks: protected resource
// metadata (RFC 9728), authorization server discovery, client ID metadata
// documents or dynamic registration, PKCE, resource indicators (RFC 8707)
// and step-up on insufficient_scope.
//
// It serves clients of protected MCP servers, whose guide is
// https://github.com/pkcekit/pkce/blob/main/docs/protected-apis.md.
//
// It lives in its own module so that importers of package pkce never
// download the SDK. Import it under its name:
//
//	import pkcemcp "github.com/pkcekit/pkce/mcp"
//
//	t := &protected.Transport{SignIn: protected.LoopbackSignIn(openBrowser)}
//	session, err := client.Connect(ctx, pkcemcp.NewClientTransport(serverURL, t), nil)
//
// The SDK's StreamableClientTransport takes an *http.Client; its requests
// then go through the protected.Transport, which answers a 401 or 403 by
// signing in and sending the request again. The SDK's own
// auth.OAuthHandler extension point is not needed for that, and not used.
package pkcemcp
