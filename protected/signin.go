package protected

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/wire"
)

// The Transport's SignIn functions: a person at a browser, or an
// automated run against a server that approves without a person.

// LoopbackSignIn returns a Transport.SignIn that signs a person in with
// Client.SignInLoopback; open shows the start URL in the system browser
// (and should print it too).
func LoopbackSignIn(open func(startURL string) error) func(context.Context, *pkce.Client) (*pkce.Token, error) {
	return func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
		return c.SignInLoopback(ctx, open)
	}
}

// headlessTimeout bounds HeadlessSignIn's walk from the start URL back to
// the receiver when the sign-in's context has no deadline: an
// authorization server that never answers must not hold the sign-in, and
// every request waiting for it, for ever. SignInLoopback's own wait for
// the redirect starts only once the walk is over.
var headlessTimeout = 30 * time.Second

// HeadlessSignIn returns a Transport.SignIn for automated runs against
// authorization servers that approve without a person (test servers,
// pre-consented clients): it runs Client.SignInLoopback and, instead of
// opening a browser, GETs the start URL with hc (nil means
// http.DefaultClient), following redirects as hc does, until the
// redirect reaches the loopback receiver. A server that answers with a
// page instead (a login form) makes it fail. Without a deadline in the
// context, the walk stops after 30 seconds. When the authorization
// endpoint is on the network, no redirect is followed to this machine or
// a private network, nor to plain http, except the one to the receiver:
// a remote server cannot make the headless browser request the machine's
// own services or its cloud metadata.
func HeadlessSignIn(hc *http.Client) func(context.Context, *pkce.Client) (*pkce.Token, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	return func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
		return c.SignInLoopback(ctx, func(startURL string) error {
			ctx := ctx
			if _, ok := ctx.Deadline(); !ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, headlessTimeout)
				defer cancel()
			}
			start, err := url.Parse(startURL)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, startURL, nil)
			if err != nil {
				return err
			}
			browser := *hc
			browser.CheckRedirect = headlessRedirects(start, hc.CheckRedirect)
			resp, err := browser.Do(req)
			if err != nil {
				return fmt.Errorf("pkce: following the authorization redirect: %w", originOnly(err))
			}
			defer drain(resp)
			// The last answer must come from the receiver, which also
			// serves the start URL.
			if resp.Request.URL.Host != start.Host {
				return fmt.Errorf("pkce: the authorization server did not send the browser back without a person: %d at %s",
					resp.StatusCode, wire.Clip(resp.Request.URL.Scheme+"://"+resp.Request.URL.Host+resp.Request.URL.Path, 200))
			}
			return nil
		})
	}
}

// originOnly returns the *url.Error err with its URL cut to the origin:
// a hop of the headless browser carries the flow's state and code
// challenge to the authorization endpoint and the code back to the
// receiver, which an error must not quote. errors.Is and errors.As still
// find the cause.
func originOnly(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	origin := "a URL that does not parse"
	if u, perr := url.Parse(ue.URL); perr == nil {
		origin = u.Scheme + "://" + u.Host
	}
	return &url.Error{Op: ue.Op, URL: wire.Clip(origin, 200), Err: ue.Err}
}

// headlessRedirects is the headless browser's redirect rule: next (hc's
// own, or net/http's ten hops), and, when the authorization endpoint (the
// first hop after start, the receiver) is on the network, no hop to this
// machine or a private network, nor to plain http, other than the one
// back to the receiver (RFC 9728 §7.7 names the same request forgery for
// metadata). A development server on loopback may redirect anywhere.
func headlessRedirects(start *url.URL, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		authz := req.URL
		if len(via) > 1 {
			authz = via[1].URL
		}
		if req.URL.Host != start.Host && checkRemote("authorization endpoint", authz.String()) == nil &&
			checkRemote("redirect", req.URL.String()) != nil {
			return fmt.Errorf("pkce: the authorization server at %s redirected the headless browser to %s, on this machine or a private network, or plain http: not followed",
				wire.Clip(authz.Scheme+"://"+authz.Host, 200), wire.Clip(req.URL.Scheme+"://"+req.URL.Host, 200))
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("pkce: the headless browser stopped after 10 redirects")
		}
		return nil
	}
}
