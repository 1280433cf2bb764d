// Command desktop signs a person in from a command-line or desktop
// program, the way RFC 8252 says native apps should: in the system
// browser, with the redirect received on the loopback interface. It keeps
// the token in the user's configuration directory and, on later runs,
// uses it again, refreshing it when it has expired and saving the
// refresh token the server rotates.
//
// Try it against an authorization server embedded in the process:
//
//	go run ./examples/desktop -demo
//
// Run it again and the stored token is refreshed, without a browser (see
// demo.go for how a server that is new on every run allows that);
// -demo -logout signs out. When no browser opens, the program says so and
// how long it waits for the printed URL to be visited (-timeout).
//
// or against a real one, with a public client whose redirect URI is
// registered as http://127.0.0.1/callback:
//
//	go run ./examples/desktop \
//		-auth-url https://as.example/authorize -token-url https://as.example/oauth/token \
//		-client-id my-cli -scopes "openid offline_access" \
//		-param audience=https://api.example -resource-url https://api.example/me \
//		-revocation-url https://as.example/oauth/revoke
//
// and sign out with -logout (and the same provider flags), which revokes
// the stored refresh token at the revocation endpoint (RFC 7009), if
// -revocation-url names one, and deletes the token file. Every flag except
// -demo, -logout and -timeout can also come from the environment
// (PKCE_AUTH_URL, PKCE_TOKEN_URL, PKCE_REVOCATION_URL, PKCE_CLIENT_ID,
// PKCE_CLIENT_SECRET, PKCE_SCOPES, PKCE_ISSUER, PKCE_REDIRECT_URL,
// PKCE_RESOURCE_URL); prefer the environment for a secret, which a flag
// shows to everyone who can list processes. Nothing secret is printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	configDir, err := os.UserConfigDir()
	if err == nil {
		err = run(ctx, os.Args[1:], os.Stdout, openBrowser, configDir)
	}
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "desktop:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	authURL, tokenURL, revocationURL         string
	endSessionURL                            string
	clientID, clientSecret                   string
	scopes, issuer, redirectURL, resourceURL string
	params                                   params
	demo, logout                             bool
	timeout                                  time.Duration
}

// params collects repeated -param key=value flags.
type params [][2]string

func (p *params) String() string { return fmt.Sprint(*p) }

func (p *params) Set(v string) error {
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	*p = append(*p, [2]string{key, value})
	return nil
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{}
	fl := flag.NewFlagSet("desktop", flag.ContinueOnError)
	fl.SetOutput(out)
	env := os.Getenv
	fl.StringVar(&o.authURL, "auth-url", env("PKCE_AUTH_URL"), "authorization endpoint `URL`")
	fl.StringVar(&o.tokenURL, "token-url", env("PKCE_TOKEN_URL"), "token endpoint `URL`")
	fl.StringVar(&o.revocationURL, "revocation-url", env("PKCE_REVOCATION_URL"), "revocation endpoint `URL` (RFC 7009) that -logout uses, if the provider has one")
	fl.StringVar(&o.endSessionURL, "end-session-url", env("PKCE_END_SESSION_URL"), "end-session endpoint `URL` (OpenID Connect RP-Initiated Logout) that -logout opens in the browser, if the provider has one; needs -issuer")
	fl.StringVar(&o.clientID, "client-id", env("PKCE_CLIENT_ID"), "client identifier")
	fl.StringVar(&o.clientSecret, "client-secret", env("PKCE_CLIENT_SECRET"), "client secret, if the provider issued one (better: PKCE_CLIENT_SECRET)")
	fl.StringVar(&o.scopes, "scopes", env("PKCE_SCOPES"), "scopes, separated by spaces or commas, e.g. \"openid offline_access\"")
	fl.StringVar(&o.issuer, "issuer", env("PKCE_ISSUER"), "issuer identifier the redirect's iss must equal (RFC 9207), if the provider sends one")
	fl.StringVar(&o.redirectURL, "redirect-url", envOr("PKCE_REDIRECT_URL", "http://127.0.0.1/callback"), "registered loopback redirect `URI`; the port is chosen at run time (RFC 8252 §7.3)")
	fl.StringVar(&o.resourceURL, "resource-url", env("PKCE_RESOURCE_URL"), "protected resource `URL` to GET with the token")
	fl.Var(&o.params, "param", "extra authorization parameter `key=value`, e.g. audience=https://api.example; repeatable")
	fl.BoolVar(&o.demo, "demo", false, "sign in to an authorization server embedded in this process")
	fl.BoolVar(&o.logout, "logout", false, "revoke the stored token (with -revocation-url), delete it and exit")
	fl.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the browser")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	return o, nil
}

// scopes splits a -scopes value at spaces and commas.
func scopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// run is the program: main gives it the real browser and configuration
// directory, tests a scripted browser and a temporary directory.
func run(ctx context.Context, args []string, stdout io.Writer, open func(authURL string) error, configDir string) error {
	o, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	store := tokenStore{path: filepath.Join(configDir, "pkce-desktop", "token.json"), tokenURL: o.tokenURL, clientID: o.clientID}
	if o.demo {
		// See demo.go: the demo's token is kept apart from a real
		// sign-in, and the embedded server honours it on the next run.
		store = tokenStore{path: filepath.Join(configDir, "pkce-desktop", "demo-token.json"),
			tokenURL: demoProvider, clientID: demoClientID, expireOnLoad: true}
		previous, _ := store.load()
		demo, err := startDemoServer(o, previous)
		if err != nil {
			return err
		}
		defer demo.Close()
	}
	if o.logout {
		return logout(ctx, o, store, stdout, open)
	}

	client, err := newClient(o)
	if err != nil {
		return err
	}

	source, err := storedSource(ctx, client, store, stdout)
	if err != nil {
		return err
	}
	if source == nil {
		if source, err = signIn(ctx, client, store, o, stdout, open); err != nil {
			return err
		}
	}
	tok, err := source.TokenContext(ctx)
	if err != nil {
		return err
	}
	describe(stdout, tok)
	if o.resourceURL != "" {
		return callResource(ctx, source, o.resourceURL, stdout)
	}
	return nil
}

func newClient(o *options) (*pkce.Client, error) {
	var opts []pkce.Option
	if o.issuer != "" {
		opts = append(opts, pkce.WithIssuer(o.issuer))
	}
	if o.revocationURL != "" {
		// Configured by hand, without metadata: the revocation endpoint
		// has to be given too.
		opts = append(opts, pkce.WithRevocationURL(o.revocationURL))
	}
	if o.endSessionURL != "" {
		// The provider's end-session endpoint comes with its metadata,
		// here written from the flags.
		opts = append(opts, pkce.WithMetadata(&pkce.Metadata{Issuer: o.issuer, AuthorizationEndpoint: o.authURL,
			TokenEndpoint: o.tokenURL, RevocationEndpoint: o.revocationURL, EndSessionEndpoint: o.endSessionURL}))
	}
	return pkce.New(&oauth2.Config{
		ClientID:     o.clientID,
		ClientSecret: o.clientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: o.authURL, TokenURL: o.tokenURL},
		RedirectURL:  o.redirectURL,
		Scopes:       scopes(o.scopes),
	}, opts...)
}

// logout revokes the stored token at the provider that issued it, when a
// revocation endpoint is configured, and deletes it. The token file is
// deleted even when revocation fails; the error then says that the token
// may still be valid until it expires. With -end-session-url it then ends
// the session at the provider in the browser (RP-Initiated Logout 1.0).
func logout(ctx context.Context, o *options, store tokenStore, stdout io.Writer, open func(string) error) error {
	idToken := store.idToken() // read before the file goes
	if err := revokeAndRemove(ctx, o, store, stdout); err != nil || o.endSessionURL == "" {
		return err
	}
	client, err := newClient(o)
	if err != nil {
		return err
	}
	u, err := client.LogoutURL(idToken, "", "")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Signing out at the provider in the browser.")
	return open(u)
}

func revokeAndRemove(ctx context.Context, o *options, store tokenStore, stdout io.Writer) error {
	stored, err := store.load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintln(stdout, "Not signed in.")
		return nil
	case err != nil:
		// Not revoked: a token of another provider must not be sent to
		// this one.
		fmt.Fprintf(stdout, "The stored token was not revoked (%v).\n", err)
		return store.remove(stdout)
	case o.revocationURL == "":
		fmt.Fprintln(stdout, "The stored token was not revoked (no -revocation-url); it stays valid at the provider until it expires.")
		return store.remove(stdout)
	}
	client, err := newClient(o)
	if err == nil {
		// Revoking the refresh token ends the whole grant, its access
		// tokens too at servers that follow RFC 7009 §2.1.
		err = client.Revoke(ctx, stored)
	}
	if err != nil {
		if rmErr := store.remove(stdout); rmErr != nil {
			return errors.Join(err, rmErr)
		}
		return fmt.Errorf("the stored token was deleted but not revoked, so it may stay valid until it expires: %w", err)
	}
	fmt.Fprintln(stdout, "Revoked the token at the provider.")
	return store.remove(stdout)
}

// storedSource returns a token source for the stored token, refreshed if
// it has expired, or nil when the person has to sign in.
func storedSource(ctx context.Context, client *pkce.Client, store tokenStore, stdout io.Writer) (*pkce.TokenSource, error) {
	stored, err := store.load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		fmt.Fprintf(stdout, "The stored sign-in cannot be used (%v); signing in again.\n", err)
		return nil, nil
	}
	source, err := client.TokenSource(stored, pkce.OnRefresh(store.save))
	if err != nil {
		return nil, err
	}
	tok, err := source.TokenContext(ctx)
	switch {
	case errors.Is(err, pkce.ErrSignInRequired):
		fmt.Fprintln(stdout, "The stored sign-in is no longer accepted; signing in again.")
		return nil, nil
	case err != nil:
		return nil, err
	case tok.AccessToken != stored.AccessToken:
		fmt.Fprintln(stdout, "Refreshed the stored sign-in and saved the new token.")
	default:
		fmt.Fprintln(stdout, "Using the stored sign-in.")
	}
	return source, nil
}

// signIn runs the loopback flow and stores its token.
func signIn(ctx context.Context, client *pkce.Client, store tokenStore, o *options, stdout io.Writer, open func(string) error) (*pkce.TokenSource, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var opts []pkce.StartOption
	for _, p := range o.params {
		opts = append(opts, pkce.Param(p[0], p[1]))
	}
	// SignInLoopback hands over a start URL on its loopback receiver, which
	// redirects the browser to the authorization server: the state and the
	// code challenge stay off the browser's command line, which other users
	// of the computer can read (RFC 8252 §8.3).
	tok, err := client.SignInLoopback(ctx, func(startURL string) error {
		fmt.Fprintf(stdout, "Sign in in your browser. If it does not open, visit:\n\n  %s\n\n", startURL)
		if err := open(startURL); err != nil {
			fmt.Fprintf(stdout, "No browser opened: %v. Open the URL above yourself.\n", err)
		}
		fmt.Fprintf(stdout, "Waiting up to %s for the sign-in (-timeout; Ctrl-C to stop).\n", humanDuration(o.timeout))
		return nil // the printed URL is the fallback: keep waiting
	}, opts...)
	if err != nil {
		return nil, err
	}
	if err := store.save(ctx, tok); err != nil {
		return nil, err
	}
	fmt.Fprintln(stdout, "Signed in; the token is saved in", store.path)
	return client.TokenSource(tok.Token, pkce.OnRefresh(store.save))
}

// humanDuration prints d as "5 minutes" or "90 seconds" rather than
// "5m0s".
func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute == 0:
		if d == time.Minute {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", d/time.Minute)
	case d == time.Second:
		return "1 second"
	case d%time.Second == 0:
		return fmt.Sprintf("%d seconds", d/time.Second)
	}
	return d.String()
}

func describe(stdout io.Writer, tok *oauth2.Token) {
	expiry := "does not expire"
	if !tok.Expiry.IsZero() {
		expiry = "expires " + tok.Expiry.Local().Format(time.RFC1123)
	}
	refresh := "no refresh token"
	if tok.RefreshToken != "" {
		refresh = "with a refresh token"
	}
	fmt.Fprintf(stdout, "Token: %s, %s, %s.\n", tok.Type(), expiry, refresh)
}

// callResource GETs url with the token and prints the answer.
func callResource(ctx context.Context, source *pkce.TokenSource, url string, stdout io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := source.Client(ctx).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "GET %s: %s\n%s\n", url, resp.Status, strings.TrimSpace(string(body)))
	return nil
}
