// Command quickstart runs a whole authorization-code flow with PKCE
// against an authorization server embedded in the process, printing each
// step. It needs no network and no configuration:
//
//	go run ./examples/quickstart
//
// Each step names the call it makes. The user's sign-in is simulated:
// pkcetest plays the browser. Secrets are printed shortened, as a real
// application should never print them at all.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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
	p := &printer{out: out}

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

	p.step(1, "pkce.NewFromIssuer: fetch the server's metadata, configure the client")
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
	p.show("issuer", md.Issuer)
	p.show("metadata", srv.MetadataURL())
	p.show("authorize", md.AuthorizationEndpoint)
	p.show("token", md.TokenEndpoint)
	p.show("revocation", md.RevocationEndpoint)
	p.show("iss on redirect", md.AuthorizationResponseIssParameterSupported)
	p.show("client", client)

	p.step(2, "client.Start: verifier, S256 challenge, state, authorization URL")
	// A web app does this in its login handler, keeps flow in the user's
	// server-side session and redirects the browser to flow.URL. The
	// verifier stays in flow (it prints redacted); only its challenge
	// travels in the URL.
	flow, err := client.Start(ctx, pkce.Param("audience", "https://api.example"))
	if err != nil {
		return err
	}
	p.show("flow", flow)
	p.show("state", short(flow.State))
	p.show("expires", flow.Expires.Format(time.RFC3339))
	p.showURL("URL", flow.URL, "state")

	p.step(3, "srv.Authorize: the user signs in (simulated: pkcetest plays the browser)")
	// A real user signs in in the browser, and the server redirects the
	// browser back to the redirect URL with a code. Here pkcetest follows
	// flow.URL in place of the browser and returns that callback.
	callback, err := srv.Authorize(ctx, flow.URL)
	if err != nil {
		return err
	}
	p.showURL("redirect", callback.URL.String(), "code", "state")

	p.step(4, "client.Finish: check the callback (iss, state, expiry, error, code), exchange the code")
	// A web app's callback handler gets this request from net/http; here
	// it is the request the browser would send. Finish makes no token
	// request unless every check of the callback passed, and sends the
	// verifier with the code.
	r, err := callback.Request(ctx)
	if err != nil {
		return err
	}
	tok, err := client.Finish(r, flow)
	if err != nil {
		return err
	}
	p.show("token", tok)
	p.show("access token", short(tok.AccessToken))
	p.show("refresh token", short(tok.RefreshToken))
	p.show("scope", tok.Scope())

	p.step(5, "client.Finish again: a replayed callback is refused before any token request")
	replay, err := callback.Request(ctx)
	if err != nil {
		return err
	}
	_, err = client.Finish(replay, flow)
	p.show("error", err)
	p.show("finished once", errors.Is(err, pkce.ErrFlowFinished))

	p.step(6, "oauth2.NewClient: call a protected resource with the access token")
	user, err := userinfo(ctx, srv.ResourceURL(), tok.Token)
	if err != nil {
		return err
	}
	p.show("userinfo", user)

	p.step(7, "source.TokenContext: refresh the expired token; the server rotates it")
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
	p.show("old refresh", short(tok.RefreshToken))
	p.show("new refresh", short(fresh.RefreshToken))
	p.show("rotated", fresh.RefreshToken != tok.RefreshToken)
	p.show("hook saw it", saved != nil && saved.RefreshToken == fresh.RefreshToken)
	_, err = client.Refresh(ctx, tok.RefreshToken)
	p.show("old one now", err)
	p.show("sign in again", errors.Is(err, pkce.ErrSignInRequired))

	p.step(8, "source.SignOut: revoke the refresh token and forget the token")
	p.show("sign-out", source.SignOut(ctx))
	_, err = source.TokenContext(ctx)
	p.show("token now", err)
	_, err = userinfo(ctx, srv.ResourceURL(), fresh)
	p.show("resource now", err)

	p.line("")
	p.line("done")
	return nil
}

// A printer prints the steps, each value after its name, in lines of at
// most maxWidth characters.
type printer struct {
	out   io.Writer
	steps int
}

const (
	maxWidth = 100
	indent   = "   "
	nameCol  = 16 // name column width
)

func (p *printer) line(s string) { fmt.Fprintln(p.out, s) }

func (p *printer) step(n int, title string) {
	if p.steps > 0 {
		p.line("") // a blank line between steps, none before the first
	}
	p.steps++
	p.line(fmt.Sprintf("%d. %s", n, title))
}

// show prints a value, wrapped at spaces; a nil error is "ok".
func (p *printer) show(name string, value any) {
	if err, ok := value.(error); ok || value == nil {
		value = "ok"
		if err != nil {
			value = err.Error()
		}
	}
	p.lines(name, wrap(fmt.Sprint(value), maxWidth-len(indent)-nameCol))
}

// showURL prints a URL as its address and then one query parameter per
// line, decoded, with the values of secretKeys shortened.
func (p *printer) showURL(name, raw string, secretKeys ...string) {
	u, err := url.Parse(raw)
	if err != nil {
		p.show(name, "(unparseable URL)")
		return
	}
	q := u.Query()
	u.RawQuery = ""
	lines := []string{u.String() + "?"}
	for _, key := range slices.Sorted(maps.Keys(q)) {
		value := q.Get(key)
		if slices.Contains(secretKeys, key) {
			value = short(value)
		}
		lines = append(lines, "  "+key+"="+value)
	}
	p.lines(name, lines)
}

func (p *printer) lines(name string, lines []string) {
	for i, l := range lines {
		if i > 0 {
			name = ""
		}
		p.line(fmt.Sprintf("%s%-*s%s", indent, nameCol, name, l))
	}
}

// wrap breaks s at spaces into lines of at most width characters; a word
// longer than width gets a line of its own.
func wrap(s string, width int) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = word
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) <= width:
			cur += " " + word
		default:
			lines = append(lines, cur)
			cur = word
		}
	}
	return append(lines, cur)
}

// expiredCopy pretends tok has expired, so that the token source refreshes
// it at once instead of in an hour.
func expiredCopy(tok *oauth2.Token) *oauth2.Token {
	cp := *tok
	cp.Expiry = time.Now().Add(-time.Minute)
	return &cp
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
