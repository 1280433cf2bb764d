package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/pkcekit/pkce/pkcetest"
)

// demoClientID is the client the demo's authorization server knows.
const demoClientID = "mcpclient-demo"

// demo is an MCP server with one tool, add, protected by a pkcetest
// authorization server, both on loopback: what -demo signs in to.
type demo struct {
	as  *pkcetest.Server
	srv *http.Server
	url string // the MCP endpoint
}

type addArgs struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// startDemo starts the authorization server and the MCP server. The MCP
// server checks each token at the authorization server's userinfo
// endpoint and requires it to be issued for the MCP endpoint (RFC 8707),
// and publishes its protected resource metadata (RFC 9728).
func startDemo() (*demo, error) {
	as := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, Clients: []pkcetest.Client{{
		ID: demoClientID, Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/callback"}}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		as.Close()
		return nil, err
	}
	origin := "http://" + ln.Addr().String()
	resource := origin + "/mcp"

	server := mcp.NewServer(&mcp.Implementation{Name: "pkce-demo", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "add", Description: "adds two numbers"},
		func(_ context.Context, _ *mcp.CallToolRequest, in addArgs) (*mcp.CallToolResult, any, error) {
			sum, _ := json.Marshal(in.A + in.B)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(sum)}}}, nil, nil
		})
	verify := func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, as.ResourceURL(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var info struct {
			Scope string   `json:"scope"`
			Aud   []string `json:"aud"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&info) != nil || !slices.Contains(info.Aud, resource) {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{Scopes: strings.Fields(info.Scope), Expiration: time.Now().Add(time.Hour)}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: origin + "/.well-known/oauth-protected-resource/mcp",
	})(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	mux.Handle("/.well-known/oauth-protected-resource/mcp", auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:             resource,
		AuthorizationServers: []string{as.Issuer()},
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return &demo{as: as, srv: srv, url: resource}, nil
}

func (d *demo) Close() {
	d.srv.Close()
	d.as.Close()
}
