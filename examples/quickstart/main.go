// Command quickstart runs a whole authorization-code flow with PKCE
// against an authorization server embedded in the process, printing each
// step. It needs no network and no configuration:
//
//	go run ./examples/quickstart
//
// Secrets are printed shortened, as a real application should never print
// them at all.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	step := func(n int, title string) { fmt.Fprintf(out, "\n%d. %s\n", n, title) }
	show := func(name string, value any) { fmt.Fprintf(out, "   %-15s %v\n", name, value) }

	// An authorization server on 127.0.0.1 for the tenant "acme", which
	// knows one confidential client, publishes its metadata (RFC 8414),
	// sends RFC 9207 iss on redirects and rotates refresh tokens.
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{
			ID:           "quickstart",
			Secret:       "quickstart-secret",
			Method:       pkcetest.MethodBasic,
			RedirectURIs: []string{"http://127.0.0.1/callback"},
		}},
		PathPrefix: "/acme/oauth2/v1",
		SendIssuer: true,
		Rotate:     true,
	})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	step(1, "Configure the client from the issuer: fetch the server's metadata")
	client, err := pkce.NewFromIssuer(ctx, srv.Issuer(), &oauth2.Config{
		ClientID:     "quickstart",
		ClientSecret: "quickstart-secret",
		RedirectURL:  "http://127.0.0.1/callback",
		Scopes:       []string{"openid", "profile"},
	})
	if err != nil {
		return err
	}
	md := client.Metadata()
	show("issuer", md.Issuer)
	show("metadata", srv.MetadataURL())
	show("authorize", md.AuthorizationEndpoint)
	show("token", md.TokenEndpoint)
	show("revocation", md.RevocationEndpoint)
	show("iss on redirect", md.AuthorizationResponseIssParameterSupported)
	show("client", client)

	step(2, "Start a flow: verifier, S256 challenge, state, authorization URL")
	// A web app does this in its login handler, keeps flow in the user's
	// server-side session and redirects the browser to flow.URL. The
	// verifier stays in flow (it prints redacted); only its challenge
	// travels in the URL.
	flow, err := client.Start(ctx, pkce.Param("audience", "https://api.example"))
	if err != nil {
		return err
	}
	authURL, err := url.Parse(flow.URL)
	if err != nil {
		return err
	}
	show("flow", flow)
	show("challenge", authURL.Query().Get("code_challenge"))
	show("state", short(flow.State))
	show("expires", flow.Expires.Format(time.RFC3339))
	show("URL", redactQuery(flow.URL, "state"))

	step(3, "The user signs in; the server redirects the browser back")
	callbackURL, err := signIn(flow.URL)
	if err != nil {
		return err
	}
	show("redirect", redactQuery(callbackURL.String(), "code", "state"))
	show("iss", callbackURL.Query().Get("iss"))

	step(4, "Finish: check the callback (iss, state, expiry, error, code), then exchange the code with the verifier")
	// A web app's callback handler gets this request from net/http; here
	// it is built from the URL the browser was sent to. Finish makes no
	// token request unless every check of the callback passed. (It is
	// VerifyCallback followed by Exchange; call those two yourself only
	// when the callback does not arrive as an *http.Request.)
	callback := httptest.NewRequest(http.MethodGet, callbackURL.String(), nil).WithContext(ctx)
	tok, err := client.Finish(callback, flow)
	if err != nil {
		return err
	}
	show("token", tok)
	show("access token", short(tok.AccessToken))
	show("refresh token", short(tok.RefreshToken))
	show("scope", tok.Scope())

	step(5, "A replayed callback is refused before any token request")
	replay := httptest.NewRequest(http.MethodGet, callbackURL.String(), nil).WithContext(ctx)
	_, err = client.Finish(replay, flow)
	show("error", err)
	show("finished once", errors.Is(err, pkce.ErrFlowFinished))

	step(6, "Call a protected resource with the access token")
	user, err := userinfo(ctx, srv.ResourceURL(), tok.Token)
	if err != nil {
		return err
	}
	show("userinfo", user)

	step(7, "Refresh the token; the server rotates the refresh token")
	var saved *pkce.Token
	source, err := client.TokenSource(expiredCopy(tok.Token), pkce.OnRefresh(func(_ context.Context, next *pkce.Token) error {
		saved = next // a real application writes it to storage here
		return nil
	}))
	if err != nil {
		return err
	}
	fresh, err := source.TokenContext(ctx)
	if err != nil {
		return err
	}
	show("old refresh", short(tok.RefreshToken))
	show("new refresh", short(fresh.RefreshToken))
	show("rotated", fresh.RefreshToken != tok.RefreshToken)
	show("hook saw it", saved != nil && saved.RefreshToken == fresh.RefreshToken)
	_, err = client.Refresh(ctx, tok.RefreshToken)
	show("old one now", err)
	show("sign in again", errors.Is(err, pkce.ErrSignInRequired))

	step(8, "Sign out: revoke the refresh token and forget the token")
	show("sign-out", source.SignOut(ctx))
	_, err = source.TokenContext(ctx)
	show("token now", err)
	_, err = userinfo(ctx, srv.ResourceURL(), fresh)
	show("resource now", err)

	fmt.Fprintln(out, "\ndone")
	return nil
}

// expiredCopy pretends tok has expired, so that the token source refreshes
// it at once instead of in an hour.
func expiredCopy(tok *oauth2.Token) *oauth2.Token {
	cp := *tok
	cp.Expiry = time.Now().Add(-time.Minute)
	return &cp
}

// signIn plays the browser: it follows the authorization URL and returns
// the redirect the server answers with, without following it.
func signIn(authURL string) (*url.URL, error) {
	browser := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := browser.Get(authURL)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("authorization endpoint answered %s", resp.Status)
	}
	return url.Parse(resp.Header.Get("Location"))
}

func userinfo(ctx context.Context, resource string, tok *oauth2.Token) (string, error) {
	hc := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))
	resp, err := hc.Get(resource)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("resource answered %s", resp.Status)
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		return "", err
	}
	return fmt.Sprintf("sub=%v", claims["sub"]), nil
}

// short shows the start of a secret and its length, enough to follow it
// from step to step.
func short(secret string) string {
	if len(secret) <= 6 {
		return "(redacted)"
	}
	return fmt.Sprintf("%s… (%d chars)", secret[:6], len(secret))
}

// redactQuery shortens the named query parameters of a URL.
func redactQuery(raw string, keys ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	q := u.Query()
	for _, k := range keys {
		if v := q.Get(k); v != "" {
			q.Set(k, v[:min(6, len(v))]+"...")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
