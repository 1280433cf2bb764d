package pkcemcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkcekit/pkce/protected"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	pkcemcp "github.com/pkcekit/pkce/mcp"
	"github.com/pkcekit/pkce/pkcetest"
)

type addArgs struct {
	A int `json:"a"`
	B int `json:"b"`
}

// protectedMCPServer serves an MCP server of the SDK at /mcp, behind the
// SDK's bearer-token middleware, which checks tokens at the pkcetest
// server's userinfo endpoint and requires them to be issued for this
// resource (RFC 8707). It publishes its RFC 9728 metadata, naming the
// pkcetest server, with the SDK's handler.
func protectedMCPServer(t *testing.T, as *pkcetest.Server) *httptest.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "adder", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "add", Description: "adds two numbers"},
		func(ctx context.Context, req *mcp.CallToolRequest, in addArgs) (*mcp.CallToolResult, any, error) {
			sum, _ := json.Marshal(in.A + in.B)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(sum)}}}, nil, nil
		})
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	resource := srv.URL + "/mcp"

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
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux.Handle("/mcp", auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: srv.URL + "/.well-known/oauth-protected-resource/mcp",
	})(mcpHandler))
	mux.Handle("/.well-known/oauth-protected-resource/mcp", auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:             resource,
		AuthorizationServers: []string{as.Issuer()},
	}))
	return srv
}

func TestSDKClientSignsInToAProtectedMCPServer(t *testing.T) {
	as := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, Clients: []pkcetest.Client{{
		ID: "mcp-cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback"}}}})
	defer as.Close()
	srv := protectedMCPServer(t, as)

	var signIns atomic.Int32
	headless := protected.HeadlessSignIn(nil)
	tr := &protected.Transport{
		SignIn: func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
			signIns.Add(1)
			return headless(ctx, c)
		},
		PreRegistered: func(iss string) *protected.Registration {
			return &protected.Registration{Issuer: iss, ClientID: "mcp-cli"}
		},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	session, err := client.Connect(ctx, pkcemcp.NewClientTransport(srv.URL+"/mcp", tr), nil)
	require.NoError(t, err)
	defer session.Close()

	tools, err := session.ListTools(ctx, nil)
	require.NoError(t, err)
	require.Len(t, tools.Tools, 1)
	assert.Equal(t, "add", tools.Tools[0].Name)

	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 2, "b": 3}})
	require.NoError(t, err)
	require.Len(t, res.Content, 1)
	assert.Equal(t, "5", res.Content[0].(*mcp.TextContent).Text)

	assert.Equal(t, int32(1), signIns.Load(), "one sign-in for the whole session")
	assert.Equal(t, []string{srv.URL + "/mcp"}, as.LastAuthorizationRequest()["resource"], "RFC 8707 resource on the authorization request")
	assert.Equal(t, "S256", as.LastAuthorizationRequest().Get("code_challenge_method"))
}

// Finding 11 of issue 20: the adapter's client does not send a JSON-RPC
// message again to another origin that a redirect names.
func TestSDKClientDoesNotReplayAMessageAcrossOrigins(t *testing.T) {
	var reached atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer other.Close()
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
	}))
	defer moved.Close()

	var signIns atomic.Int32
	tr := &protected.Transport{SignIn: func(context.Context, *pkce.Client) (*pkce.Token, error) {
		signIns.Add(1)
		return nil, context.Canceled
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	_, err := client.Connect(ctx, pkcemcp.NewClientTransport(moved.URL+"/mcp", tr), nil)
	require.Error(t, err)
	assert.Zero(t, reached.Load(), "the message was not sent to the other origin")
	assert.Zero(t, signIns.Load())
	assert.True(t, tr.AllowAncestorResource, "MCP's resource rule is used for MCP servers")
}

// TestNewClientTransportWithANilTransport: a nil *protected.Transport
// (a careless application) is no crash at construction; every request
// then fails with an error that names the mistake.
func TestNewClientTransportWithANilTransport(t *testing.T) {
	var ct *mcp.StreamableClientTransport
	require.NotPanics(t, func() { ct = pkcemcp.NewClientTransport("https://mcp.example/mcp", nil) })
	_, err := ct.HTTPClient.Get("https://mcp.example/mcp")
	require.Error(t, err)
	assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "nil *protected.Transport")
}
