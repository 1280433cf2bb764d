package pkcemcp

import (
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/pkcekit/pkce"
)

// NewClientTransport returns the SDK's streamable HTTP client transport
// for the MCP server at endpoint, with every HTTP request sent through t,
// which signs in when the server asks (see pkce.Transport). Set the
// returned transport's other fields (MaxRetries, DisableStandaloneSSE)
// as usual; leave HTTPClient and OAuthHandler alone.
func NewClientTransport(endpoint string, t *pkce.Transport) *mcp.StreamableClientTransport {
	return &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: t},
	}
}
