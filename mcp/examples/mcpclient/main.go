// Command mcpclient connects to an MCP server, signs in when the server
// asks (in the browser, or headless), lists the server's tools and calls
// one.
//
//	mcpclient https://mcp.example/mcp
//	mcpclient -call add -args '{"a":1,"b":2}' https://mcp.example/mcp
//	mcpclient -headless -call test-tool http://localhost:3000/mcp
//	mcpclient -demo -call add -args '{"a":1,"b":2}'
//
// Sign-in follows the MCP authorization specification through
// protected.Transport: protected resource metadata, authorization server
// metadata, then pre-registered credentials (-client-id), a client ID
// metadata document (-client-metadata-url) or dynamic registration, and
// the authorization code flow with PKCE on a loopback redirect. With
// -headless the authorization URL is fetched with an HTTP client instead
// of a browser, for servers that approve without a person, such as the
// MCP conformance suite's. With -demo it starts an MCP server of its own
// on loopback, protected by an in-process authorization server
// (pkcetest) that approves without asking, and signs in to it.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/pkcekit/pkce/protected"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/pkcekit/pkce"
	pkcemcp "github.com/pkcekit/pkce/mcp"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mcpclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcpclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	grants := addGrantFlags(fs)
	var (
		headless     = fs.Bool("headless", false, "follow the authorization redirect with an HTTP client instead of a browser")
		call         = fs.String("call", "", "the tool to call after listing the tools")
		toolArgs     = fs.String("args", "{}", "the tool's arguments, a JSON object")
		clientID     = fs.String("client-id", "", "a pre-registered client ID")
		clientSecret = fs.String("client-secret", "", "the pre-registered client's secret, if it has one")
		clientIssuer = fs.String("client-issuer", "", "the issuer the pre-registered client belongs to; empty trusts the server's choice")
		metadataURL  = fs.String("client-metadata-url", "", "the https URL of this client's ID metadata document")
		legacy       = fs.Bool("mcp-2025-03-26", false, "accept servers of the 2025-03-26 authorization spec, without protected resource metadata")
		timeout      = fs.Duration("timeout", 5*time.Minute, "how long the whole run may take")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mcpclient [flags] SERVER_URL")
		fs.PrintDefaults()
	}
	demoMode := fs.Bool("demo", false, "start a demo MCP server and authorization server on loopback and use them")
	dpop := fs.Bool("dpop", false, "bind the tokens to a new DPoP key of this run (RFC 9449)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 && !(*demoMode && fs.NArg() == 0) {
		fs.Usage()
		return errors.New("give the MCP server's URL (or -demo)")
	}
	var serverURL string
	if *demoMode {
		d, err := startDemo()
		if err != nil {
			return fmt.Errorf("starting the demo servers: %w", err)
		}
		defer d.Close()
		serverURL, *clientID, *clientIssuer = d.url, demoClientID, d.as.Issuer()
		fmt.Fprintf(stderr, "demo: MCP server at %s, authorization server at %s\n", d.url, d.as.Issuer())
	} else {
		serverURL = fs.Arg(0)
	}
	var arguments map[string]any
	if err := json.Unmarshal([]byte(*toolArgs), &arguments); err != nil {
		return fmt.Errorf("-args is not a JSON object: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	t := &protected.Transport{
		SignIn:                   protected.LoopbackSignIn(browser(stderr)),
		ClientName:               "pkce mcpclient",
		ClientIDMetadataURL:      *metadataURL,
		AllowMCP20250326Fallback: *legacy,
	}
	if *headless {
		t.SignIn = protected.HeadlessSignIn(nil)
	}
	if *dpop {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		t.Options = append(t.Options, pkce.WithDPoP(key))
	}
	if *clientID != "" {
		reg := protected.Registration{Issuer: *clientIssuer, ClientID: *clientID, ClientSecret: *clientSecret}
		t.PreRegistered = func(issuer string) *protected.Registration {
			r := reg
			if r.Issuer == "" {
				// -client-issuer "" trusts the server the MCP server
				// names with the secret, as the flag says.
				r.Issuer = issuer
			}
			return &r
		}
	}
	machine, err := grants.signIn(*clientID, serverURL)
	if err != nil {
		return err
	}
	if machine != nil {
		t.SignIn = machine
	}

	client := mcp.NewClient(&mcp.Implementation{Name: "pkce-mcpclient", Version: "0.1.0"}, nil)
	session, err := client.Connect(ctx, pkcemcp.NewClientTransport(serverURL, t), nil)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", serverURL, err)
	}
	defer session.Close()

	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		return fmt.Errorf("listing tools: %w", err)
	}
	for _, tool := range tools.Tools {
		fmt.Fprintf(stdout, "tool %s: %s\n", tool.Name, tool.Description)
	}
	if *call == "" {
		return nil
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: *call, Arguments: arguments})
	if err != nil {
		return fmt.Errorf("calling %s: %w", *call, err)
	}
	for _, c := range res.Content {
		if text, ok := c.(*mcp.TextContent); ok {
			fmt.Fprintf(stdout, "%s: %s\n", *call, text.Text)
		}
	}
	if res.IsError {
		return fmt.Errorf("tool %s reported an error", *call)
	}
	return nil
}

// browser returns the function that shows the start URL of a loopback
// sign-in, which sends the browser on to the authorization URL: it prints
// it, then asks the desktop to open it (RFC 8252 §6).
func browser(stderr io.Writer) func(string) error {
	return func(startURL string) error {
		fmt.Fprintf(stderr, "Sign in at:\n\n  %s\n\n", startURL)
		var cmd *exec.Cmd
		switch runtime.GOOS {
		case "darwin":
			cmd = exec.Command("open", startURL)
		case "windows":
			cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", startURL)
		default:
			cmd = exec.Command("xdg-open", startURL)
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(stderr, "(no browser could be started; open the URL yourself)")
			return nil
		}
		go cmd.Wait()
		return nil
	}
}
