package pkce

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Limits of the loopback receiver's HTTP server. Only one browser talks to
// it, so they can be tight.
const (
	loopbackReadHeaderTimeout = 10 * time.Second
	loopbackIdleTimeout       = 30 * time.Second
	loopbackWriteTimeout      = 10 * time.Second
	loopbackMaxHeaderBytes    = 64 << 10
)

// SignInLoopback signs a person in from a native app or a command-line
// tool: it receives the authorization response on the loopback interface
// (RFC 8252 §7.3) and returns the token. It is the whole flow in one call.
//
// The client's RedirectURL is the template of the redirect URI and what
// to register with the authorization server: the http scheme, the loopback
// IP literal 127.0.0.1 or [::1], and a path, such as
// "http://127.0.0.1/callback". "localhost" is refused, as RFC 8252 §8.3
// advises, and so are a query and user information. SignInLoopback
// listens on that IP literal only, on an ephemeral port unless the
// template names one; when that IP version is unavailable it listens on
// the other literal instead (RFC 8252 §7.3), so a server that may see
// either should register both. It then starts a flow with opts (Param,
// Scopes; RedirectURL is refused, the redirect is set here) whose
// redirect_uri is the IP literal, the real port and the template's path.
//
// open receives the start URL and should show it in the system browser
// (RFC 8252 §6), then return without waiting for the person. It is called
// once, on the calling goroutine. Programs should also print the URL, for
// when no browser starts; if open returns an error, sign-in stops with
// it. The start URL is on the receiver, http://127.0.0.1:PORT/start/
// followed by 256 random bits, and redirects the browser once to the
// authorization URL: the state and the code challenge never appear on a
// command line, where other users of the computer can read them (a
// browser is usually started with its URL as an argument) and race the
// browser to the receiver with a code for their own account. Whoever
// reads the start URL there instead can use it once; a second visit ends
// the sign-in with an error, since the browser would make it (RFC 8252
// §8.3).
//
// The first GET of the redirect path whose state matches the flow's,
// compared in constant time (RFC 6749 §10.12), finishes the flow with
// Finish, exactly once, and its result is returned. Other requests change
// nothing and are answered 404 or 400: a favicon, another path, a missing
// or wrong state, and so a forged error redirect, which cannot know the
// state (RFC 8252 §8.9). A Host header other than the redirect's own is
// refused too, against DNS rebinding. The browser is shown a minimal page
// that says the person can close the tab, or that sign-in failed, without
// any secret; it loads nothing else and is neither cached nor referred
// from.
//
// SignInLoopback returns when the flow is finished, when ctx is done (the
// error then wraps ctx.Err()), or when the flow expires (ErrFlowExpired,
// see WithFlowLifetime). It always closes the listener before it returns,
// as RFC 8252 §8.3 asks. Calls may run one after another or at the same
// time, each with its own port. The token request uses ctx, so an
// oauth2.HTTPClient in it is honoured.
func (c *Client) SignInLoopback(ctx context.Context, open func(authURL string) error, opts ...StartOption) (*Token, error) {
	if err := c.made(); err != nil {
		return nil, err
	}
	if open == nil {
		return nil, errors.New("pkce: SignInLoopback needs a function that opens the authorization URL")
	}
	target, err := loopbackTemplate(c.config.RedirectURL)
	if err != nil {
		return nil, err
	}
	if c.formPost {
		return nil, errors.New("pkce: SignInLoopback receives the response in the query; a client made WithFormPost cannot use it")
	}
	req, err := c.startRequest(opts)
	if err != nil {
		return nil, err
	}
	if req.redirect != c.config.RedirectURL {
		return nil, errors.New("pkce: SignInLoopback sets the redirect URL itself; remove the RedirectURL option (RFC 8252 §7.3)")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pkce: sign-in not started: %w", err)
	}

	ln, err := listenLoopback(ctx, target)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	req.redirect = (&url.URL{Scheme: "http", Host: ln.Addr().String(), Path: target.Path, RawPath: target.RawPath}).String()
	// The redirect is chosen at run time, as RedirectURL would give it:
	// the flow keeps the one advertised, on either IP literal.
	req.redirectSet = true
	flow, err := c.start(ctx, req)
	if err != nil {
		return nil, err
	}

	path := target.Path
	if path == "" {
		path = "/"
	}
	rcv := &loopbackReceiver{
		client:    c,
		ctx:       ctx,
		flow:      flow,
		host:      ln.Addr().String(),
		path:      path,
		startPath: "/start/" + rand.Text() + rand.Text(),
		pages:     req.pages,
		outcome:   make(chan loopbackOutcome, 1),
	}
	mux := http.NewServeMux()
	mux.Handle("/", rcv)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: loopbackReadHeaderTimeout,
		IdleTimeout:       loopbackIdleTimeout,
		MaxHeaderBytes:    loopbackMaxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	var serveErr error
	served := make(chan struct{})
	go func() {
		serveErr = srv.Serve(ln)
		close(served)
	}()
	defer func() {
		srv.Close()
		<-served
	}()

	startURL := (&url.URL{Scheme: "http", Host: rcv.host, Path: rcv.startPath}).String()
	if err := open(startURL); err != nil && rcv.claim() {
		return nil, fmt.Errorf("pkce: opening the authorization URL failed: %w", err)
	}

	expired := fmt.Errorf("pkce: no redirect reached the loopback receiver before the flow expired: %w", ErrFlowExpired)
	wait, cancel := context.WithTimeoutCause(ctx, flow.Expires.Sub(c.now()), expired)
	defer cancel()
	select {
	case out := <-rcv.outcome:
		return out.token, out.err
	case <-served:
		if rcv.claim() {
			return nil, fmt.Errorf("pkce: the loopback receiver stopped: %w", serveErr)
		}
	case <-wait.Done():
		if rcv.claim() {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("pkce: gave up waiting for the redirect to the loopback receiver: %w", err)
			}
			return nil, context.Cause(wait)
		}
	}
	// The redirect arrived just in time; its token request uses ctx, so
	// it ends soon.
	out := <-rcv.outcome
	return out.token, out.err
}

// loopbackTemplate checks the client's redirect URL for use with
// SignInLoopback and returns it parsed.
func loopbackTemplate(raw string) (*url.URL, error) {
	const want = "SignInLoopback needs a RedirectURL such as http://127.0.0.1/callback or http://[::1]/callback (RFC 8252 §7.3)"
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configErrorf("%s; %q does not parse", want, raw)
	}
	host := u.Hostname()
	switch {
	case u.Scheme != "http" || u.Opaque != "":
		return nil, configErrorf("%s; %q is not an http URL", want, raw)
	case strings.EqualFold(host, "localhost"):
		return nil, configErrorf("%s; %q names localhost, which RFC 8252 §8.3 advises against: use the IP literal", want, raw)
	case host != "127.0.0.1" && host != "::1":
		return nil, configErrorf("%s; %q is not on the loopback IP literal", want, raw)
	case u.User != nil:
		return nil, configErrorf("%s; %q has user information", want, raw)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, configErrorf("%s; %q has a query", want, raw)
	}
	return u, nil
}

// listenLoopback listens on the template's IP literal and port, or on the
// other loopback literal when the first is unavailable: RFC 8252 §7.3 asks
// native apps not to assume either IP version.
func listenLoopback(ctx context.Context, target *url.URL) (net.Listener, error) {
	port := target.Port()
	if port == "" {
		port = "0"
	}
	hosts := []string{"127.0.0.1", "::1"}
	networks := []string{"tcp4", "tcp6"}
	if target.Hostname() == "::1" {
		hosts[0], hosts[1] = hosts[1], hosts[0]
		networks[0], networks[1] = networks[1], networks[0]
	}
	var lc net.ListenConfig
	var errs []error
	for i, host := range hosts {
		ln, err := lc.Listen(ctx, networks[i], net.JoinHostPort(host, port))
		if err == nil {
			return ln, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("pkce: cannot listen on the loopback interface for the redirect (RFC 8252 §7.3): %w", errors.Join(errs...))
}

// A loopbackReceiver answers the browser for one SignInLoopback call.
type loopbackReceiver struct {
	client *Client
	ctx    context.Context // the caller's, for the token request
	flow   *Flow
	host   string // host:port of the redirect URI
	path   string
	// startPath is the path of the start URL, which sends the browser to
	// the authorization URL once.
	startPath string
	started   atomic.Bool
	pages     *template.Template // nil: the plain pages

	// claimed is set by whoever ends the flow first: the matching
	// redirect, or SignInLoopback giving up.
	claimed atomic.Bool
	outcome chan loopbackOutcome // buffered; receives at most one value
}

type loopbackOutcome struct {
	token *Token
	err   error
}

func (rcv *loopbackReceiver) claim() bool { return rcv.claimed.CompareAndSwap(false, true) }

func (rcv *loopbackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case !rcv.sameHost(r.Host):
		writeLoopbackPage(w, rcv.pages, http.StatusBadRequest, strayPage)
	case r.Method == http.MethodGet && subtle.ConstantTimeCompare([]byte(r.URL.Path), []byte(rcv.startPath)) == 1:
		rcv.start(w)
	case r.URL.Path != rcv.path:
		writeLoopbackPage(w, rcv.pages, http.StatusNotFound, strayPage)
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		writeLoopbackPage(w, rcv.pages, http.StatusMethodNotAllowed, strayPage)
	case !rcv.stateMatches(r) || !rcv.claim():
		writeLoopbackPage(w, rcv.pages, http.StatusBadRequest, strayPage)
	default:
		rcv.finish(w, r)
	}
}

// sameHost reports whether the Host header names the redirect URI's host
// and port. A web page that rebinds its own DNS name to 127.0.0.1 can
// reach the receiver, but with its own name in Host.
func (rcv *loopbackReceiver) sameHost(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil { // no port: http's default
		host, port = strings.Trim(hostport, "[]"), "80"
	}
	return net.JoinHostPort(host, port) == rcv.host
}

func (rcv *loopbackReceiver) stateMatches(r *http.Request) bool {
	// A malformed query still yields the parameters before the fault;
	// Finish reports the fault if the state matches.
	q, _ := url.ParseQuery(r.URL.RawQuery)
	return subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(rcv.flow.State)) == 1
}

// start sends the browser to the authorization URL, the first time. A
// second visit means that someone other than the browser knows the start
// URL, and may know the state: the sign-in ends.
func (rcv *loopbackReceiver) start(w http.ResponseWriter) {
	if rcv.started.CompareAndSwap(false, true) {
		h := w.Header()
		h.Set("Location", rcv.flow.URL)
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(http.StatusFound)
		return
	}
	if !rcv.claim() {
		writeLoopbackPage(w, rcv.pages, http.StatusBadRequest, strayPage)
		return
	}
	err := errors.New("pkce: the sign-in's start URL was visited twice, so another program on this computer may know the flow's state; sign in again (RFC 8252 §8.3)")
	writeLoopbackPage(w, rcv.pages, http.StatusBadRequest, failurePage(err))
	rcv.outcome <- loopbackOutcome{nil, err}
}

// finish runs the callback checks and the code exchange for the redirect
// that claimed the flow, shows the result to the browser, then hands it to
// SignInLoopback, which closes the server.
func (rcv *loopbackReceiver) finish(w http.ResponseWriter, r *http.Request) {
	// The exchange runs on the caller's context: the browser leaving must
	// not cancel it.
	tok, err := rcv.client.Finish(r.WithContext(rcv.ctx), rcv.flow)
	page, status := successPage, http.StatusOK
	if err != nil {
		page, status = failurePage(err), http.StatusBadRequest
	}
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(loopbackWriteTimeout))
	w.Header().Set("Connection", "close")
	writeLoopbackPage(w, rcv.pages, status, page)
	rc.Flush()
	rcv.outcome <- loopbackOutcome{tok, err}
}

// loopbackPage is what the browser shows. Nothing in it comes from the
// request; html/template escapes the rest.
type loopbackPage struct {
	Title   string
	Message string
	Detail  string
	Failed  bool
}

// LoopbackPages gives SignInLoopback the html/template that renders the
// pages the browser is shown at the loopback receiver, in place of the
// plain ones: the success page, the failure page and the page for stray
// requests. The template is executed with a value whose fields are Title,
// Message, Detail (why sign-in failed, when known; never a secret) and
// Failed (true for the failure page). html/template escapes what goes
// into the page; nothing in it comes from the request. The page is served
// with a Content-Security-Policy that loads nothing (default-src 'none')
// but allows inline style, so a page can be styled, not scripted. A
// template that fails to execute gives a bare 500.
func LoopbackPages(t *template.Template) StartOption {
	return startOption(func(r *startRequest) error {
		if t == nil {
			return errors.New("pkce: LoopbackPages needs a template")
		}
		r.pages = t
		return nil
	})
}

var (
	successPage = loopbackPage{
		Title:   "Signed in",
		Message: "You are signed in. You can close this tab and return to the application.",
	}
	strayPage = loopbackPage{
		Title:   "Nothing here",
		Message: "This address receives a sign-in for an application on this computer, and this request is not part of it. You can close this tab.",
	}
)

// failurePage says that sign-in failed and, when the authorization server
// said why, its error code; never a secret.
func failurePage(err error) loopbackPage {
	p := loopbackPage{
		Failed:  true,
		Title:   "Sign-in failed",
		Message: "Sign-in did not complete. Return to the application for details; you can close this tab.",
	}
	var authErr *OAuthError
	switch {
	case errors.As(err, &authErr) && authErr.Op == opAuthorize:
		p.Detail = fmt.Sprintf("The authorization server answered %q.", clip(authErr.Code, 100))
	case errors.Is(err, ErrFlowExpired):
		p.Detail = "The sign-in took too long."
	}
	return p
}

var loopbackTemplateHTML = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{with .Detail}}<p>{{.}}</p>
{{end}}</body>
</html>
`))

// writeLoopbackPage writes p with headers that keep the page (and the
// code in its URL) out of caches and Referer headers and stop it from
// loading anything.
func writeLoopbackPage(w http.ResponseWriter, pages *template.Template, status int, p loopbackPage) {
	if pages == nil {
		pages = loopbackTemplateHTML
	}
	var body bytes.Buffer
	if err := executePage(pages, &body, p); err != nil {
		status = http.StatusInternalServerError
		body.Reset()
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(status)
	w.Write(body.Bytes())
}

// executePage runs the application's template; a panic in it becomes an
// error, and so a bare 500.
func executePage(t *template.Template, w io.Writer, p loopbackPage) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("pkce: the loopback page template panicked: %v", v)
		}
	}()
	return t.Execute(w, p)
}
