package pkcemcp

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/pkcekit/pkce/protected"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// NewClientTransport returns the SDK's streamable HTTP client transport
// for the MCP server at endpoint, with every HTTP request sent through t,
// which signs in when the server asks (see protected.Transport). Set the
// returned transport's other fields (MaxRetries, DisableStandaloneSSE)
// as usual; leave HTTPClient and OAuthHandler alone.
//
// It sets t.AllowAncestorResource: MCP clients accept protected resource
// metadata whose resource is the server's URL or a parent of it on the
// same origin (see that field for what this risks). The HTTP client never
// follows a redirect to another origin, so that a JSON-RPC message is
// never sent again to a server the application did not name.
func NewClientTransport(endpoint string, t *protected.Transport) *mcp.StreamableClientTransport {
	if t != nil { // a nil one fails each request, naming the mistake
		t.AllowAncestorResource = true
	}
	return &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: t, CheckRedirect: sameOriginRedirects},
	}
}

// sameOriginRedirects stops at a redirect to another origin (scheme,
// host and port, RFC 6454 §4) and at the tenth hop.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("pkcemcp: stopped after %d redirects", len(via))
	}
	first := via[0].URL
	if !strings.EqualFold(first.Scheme, req.URL.Scheme) || !strings.EqualFold(first.Host, req.URL.Host) {
		return fmt.Errorf("pkcemcp: the MCP server redirected to %s://%s, another origin; the message is not sent there", req.URL.Scheme, req.URL.Host)
	}
	return nil
}
