// Command webapp is a Go web backend that signs people in with the
// authorization code grant and PKCE. It shows what a backend keeps where:
//
//   - /login starts a flow and keeps it, with the page to return to, in a
//     server-side store under a random session cookie; the browser only
//     ever sees the authorization URL;
//   - /callback takes the pending flow out of the store (so it is used
//     once) and finishes it with Finish;
//   - /me calls a protected resource with the session's token, refreshed
//     as needed by a pkce.TokenSource;
//   - /logout forgets the session.
//
// Try it against an authorization server embedded in the process, then
// open http://127.0.0.1:8080/:
//
//	go run ./examples/webapp -demo
//
// or against a real one, with a confidential client whose redirect URI is
// registered as http://127.0.0.1:8080/callback:
//
//	PKCE_CLIENT_SECRET=... go run ./examples/webapp \
//		-auth-url https://as.example/authorize -token-url https://as.example/oauth/token \
//		-client-id my-app -scopes "openid profile" -resource-url https://as.example/userinfo
//
// Provider flags can also come from the environment: PKCE_AUTH_URL,
// PKCE_TOKEN_URL, PKCE_CLIENT_ID, PKCE_CLIENT_SECRET, PKCE_SCOPES,
// PKCE_ISSUER, PKCE_REDIRECT_URL, PKCE_RESOURCE_URL.
//
// Tokens are kept in a pkce.Store through pkce.Tokens, keyed by a random
// subject that the session names, so that whichever replica serves a
// request finds them and one replica at a time refreshes them. Flows are
// finished once across replicas because their state is claimed in the
// same Store (pkce.WithStore). See how replicas behave with
//
//	go run ./examples/webapp -demo -replicas 3
//
// which serves three replicas, each on its own port, behind a round-robin
// proxy on -addr: a sign-in starts on one replica and finishes on the
// next, and the X-Replica header of every response names the replica
// that served it. The replicas share a memory store and the sessions in
// this process; a real deployment shares a Redis store
// (github.com/pkcekit/pkce/redisstore) and keeps sessions in a shared
// store as well. Sessions here live in memory and end with the process.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := serve(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
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

// serve parses the command line, listens and serves until ctx ends.
func serve(ctx context.Context, args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fl.SetOutput(stdout)
	env := os.Getenv
	addr := fl.String("addr", "127.0.0.1:8080", "`address` to listen on")
	authURL := fl.String("auth-url", env("PKCE_AUTH_URL"), "authorization endpoint `URL`")
	tokenURL := fl.String("token-url", env("PKCE_TOKEN_URL"), "token endpoint `URL`")
	clientID := fl.String("client-id", env("PKCE_CLIENT_ID"), "client identifier")
	clientSecret := fl.String("client-secret", env("PKCE_CLIENT_SECRET"), "client secret (better: PKCE_CLIENT_SECRET)")
	scopes := fl.String("scopes", env("PKCE_SCOPES"), "scopes, separated by spaces or commas")
	issuer := fl.String("issuer", env("PKCE_ISSUER"), "issuer identifier the callback's iss must equal (RFC 9207), if the provider sends one")
	redirectURL := fl.String("redirect-url", env("PKCE_REDIRECT_URL"), "this app's callback `URL` as browsers reach it (default http://ADDR/callback)")
	resourceURL := fl.String("resource-url", env("PKCE_RESOURCE_URL"), "protected resource `URL` that /me calls with the token")
	demo := fl.Bool("demo", false, "sign in to an authorization server embedded in this process")
	replicas := fl.Int("replicas", 1, "serve this many replicas, sharing a store, behind a round-robin proxy on -addr")
	var extra params
	fl.Var(&extra, "param", "extra authorization parameter `key=value`, e.g. audience=https://api.example; repeatable")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if *replicas < 1 {
		return fmt.Errorf("-replicas %d: want at least 1", *replicas)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	base := baseURL(ln.Addr())
	if *redirectURL == "" {
		*redirectURL = base + "/callback"
	}
	if *demo {
		secret := randomID()
		srv := pkcetest.NewServer(pkcetest.Config{
			Clients: []pkcetest.Client{{
				ID: "webapp-demo", Secret: secret, Method: pkcetest.MethodBasic,
				RedirectURIs: []string{*redirectURL},
			}},
			SendIssuer: true,
			Rotate:     true,
		})
		defer srv.Close()
		*authURL, *tokenURL, *issuer = srv.AuthURL(), srv.TokenURL(), srv.Issuer()
		*clientID, *clientSecret = "webapp-demo", secret
		if *scopes == "" {
			*scopes = "openid profile offline_access"
		}
		if *resourceURL == "" {
			*resourceURL = srv.ResourceURL()
		}
	}

	cfg := config{
		OAuth2: &oauth2.Config{
			ClientID:     *clientID,
			ClientSecret: *clientSecret,
			Endpoint:     oauth2.Endpoint{AuthURL: *authURL, TokenURL: *tokenURL},
			RedirectURL:  *redirectURL,
			Scopes:       strings.FieldsFunc(*scopes, func(r rune) bool { return r == ' ' || r == ',' }),
		},
		ResourceURL: *resourceURL,
	}
	if *issuer != "" {
		cfg.Options = append(cfg.Options, pkce.WithIssuer(*issuer))
	}
	for _, p := range extra {
		cfg.StartOptions = append(cfg.StartOptions, pkce.Param(p[0], p[1]))
	}
	apps, err := newReplicas(cfg, *replicas)
	if err != nil {
		return err
	}

	servers := []*http.Server{newServer(apps[0].routes())}
	listeners := []net.Listener{ln}
	if len(apps) > 1 {
		var targets []*url.URL
		servers, listeners = nil, nil
		for i, a := range apps {
			rln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			defer rln.Close()
			targets = append(targets, &url.URL{Scheme: "http", Host: rln.Addr().String()})
			servers = append(servers, newServer(a.routes()))
			listeners = append(listeners, rln)
			fmt.Fprintf(stdout, "Replica %d listening on %s/\n", i, baseURL(rln.Addr()))
		}
		servers = append(servers, newServer(roundRobin(targets)))
		listeners = append(listeners, ln)
	}
	fmt.Fprintf(stdout, "Listening on %s/\n", base)
	served := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { served <- srv.Serve(listeners[i]) }()
	}
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		err = errors.Join(err, srv.Shutdown(shutdown))
	}
	return err
}

func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// newReplicas returns n apps for cfg that share a pkce.Store (for flows
// and tokens) and the sessions, as the replicas of one deployment do.
func newReplicas(cfg config, n int) ([]*app, error) {
	if cfg.Store == nil {
		cfg.Store = pkce.NewMemoryStore()
	}
	if cfg.Sessions == nil {
		cfg.Sessions = &sessionStore{}
	}
	apps := make([]*app, n)
	for i := range apps {
		a, err := newApp(cfg)
		if err != nil {
			return nil, err
		}
		apps[i] = a
	}
	return apps, nil
}

// roundRobin is a reverse proxy that sends each request to the next of
// targets, as a load balancer without session affinity does, and names
// the replica that served it in the X-Replica response header.
func roundRobin(targets []*url.URL) http.Handler {
	var next atomic.Uint64
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := int((next.Add(1) - 1) % uint64(len(targets)))
			r.SetURL(targets[i])
			r.Out.Header.Set("X-Replica", strconv.Itoa(i))
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Replica", resp.Request.Header.Get("X-Replica"))
			return nil
		},
	}
}

// baseURL is where browsers on this machine reach addr.
func baseURL(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// config is what the app needs to know about its provider and itself.
type config struct {
	// OAuth2 is the client registration. RedirectURL is this app's
	// /callback as browsers reach it; when it is https, cookies are
	// Secure even if TLS ends in a proxy in front of the app.
	OAuth2 *oauth2.Config
	// Options configure the pkce.Client, e.g. pkce.WithIssuer.
	Options []pkce.Option
	// StartOptions go with every authorization request, e.g.
	// pkce.Param("audience", ...).
	StartOptions []pkce.StartOption
	// ResourceURL is called by /me with the bearer token; empty to only
	// describe the token.
	ResourceURL string
	// Store keeps the signed-in sessions' tokens and the claims of
	// finished flows; replicas share one. Nil means a new memory store.
	Store pkce.Store
	// Sessions are the sessions; replicas share them. Nil means new ones.
	Sessions *sessionStore
}

type app struct {
	client        *pkce.Client
	tokens        *pkce.Tokens
	start         []pkce.StartOption
	resourceURL   string
	secureCookies bool
	sessions      *sessionStore
	log           *slog.Logger
}

func newApp(cfg config) (*app, error) {
	if cfg.OAuth2 == nil {
		return nil, errors.New("no OAuth 2.0 configuration")
	}
	store := cfg.Store
	if store == nil {
		store = pkce.NewMemoryStore()
	}
	sessions := cfg.Sessions
	if sessions == nil {
		sessions = &sessionStore{}
	}
	client, err := pkce.New(cfg.OAuth2, append(slices.Clip(cfg.Options), pkce.WithStore(store))...)
	if err != nil {
		return nil, err
	}
	tokens, err := client.Tokens(store)
	if err != nil {
		return nil, err
	}
	if cfg.ResourceURL != "" {
		if u, err := url.Parse(cfg.ResourceURL); err != nil || !u.IsAbs() {
			return nil, fmt.Errorf("resource URL %q is not an absolute URL", cfg.ResourceURL)
		}
	}
	return &app{
		client:        client,
		tokens:        tokens,
		start:         cfg.StartOptions,
		resourceURL:   cfg.ResourceURL,
		secureCookies: strings.HasPrefix(cfg.OAuth2.RedirectURL, "https:"),
		sessions:      sessions,
		log:           slog.Default(),
	}, nil
}

// routes returns the app's handler, on its own ServeMux.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("GET /me", a.me)
	mux.HandleFunc("GET /logout", a.logoutForm)
	mux.HandleFunc("POST /logout", a.logout)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Pages depend on the session, and /callback's URL holds a code:
		// keep both out of caches and Referer headers.
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		mux.ServeHTTP(w, r)
	})
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	if s := a.sessions.get(sessionID(r)); s != nil && s.subject != "" {
		a.page(w, http.StatusOK, page{Title: "Signed in", Links: []link{{"/me", "Your profile"}}, LogoutButton: true})
		return
	}
	a.page(w, http.StatusOK, page{Title: "Welcome", Message: "You are not signed in.", Links: []link{{"/login?next=/me", "Sign in"}}})
}

// login starts a flow. The page to return to is the app's own data: it is
// kept with the flow on the server, never put in state.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if next == "" {
		next = "/"
	}
	if !localPath(next) {
		a.page(w, http.StatusBadRequest, page{Title: "Bad request",
			Message: "The page to return to must be a path on this site, such as /me.", Links: []link{{"/", "Home"}}})
		return
	}
	flow, err := a.client.Start(r.Context(), a.start...)
	if err != nil {
		a.log.Error("starting a flow", "err", err)
		a.page(w, http.StatusInternalServerError, page{Title: "Sign-in could not start", Message: "Try again later."})
		return
	}
	// A new session for every sign-in: whatever cookie the browser had,
	// the session that finishes it is one only this browser knows.
	a.sessions.delete(sessionID(r))
	id := a.sessions.create(&session{pending: &pendingLogin{flow: flow, next: next}}, flow.Expires)
	a.setCookie(w, r, id)
	http.Redirect(w, r, flow.URL, http.StatusFound)
}

func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	id := sessionID(r)
	pending := a.sessions.takePending(id)
	if pending == nil {
		a.page(w, http.StatusBadRequest, page{Title: "No sign-in in progress",
			Message: "No sign-in is in progress in this browser: this sign-in link was used already, or it belongs to another browser or to a session that ended.",
			Links:   []link{{"/login?next=/me", "Sign in again"}}})
		return
	}
	tok, err := a.client.Finish(r, pending.flow)
	if err != nil {
		a.log.Warn("sign-in failed", "err", err) // errors of package pkce hold no secrets
		status, p := callbackFailure(err)
		p.Links = []link{{"/login?next=" + url.QueryEscape(pending.next), "Sign in again"}}
		a.page(w, status, p)
		return
	}
	// The tokens are stored under a subject of their own rather than the
	// session identifier, which only the browser and the sessions know.
	subject := randomID()
	if err := a.tokens.Save(r.Context(), subject, tok); err != nil {
		a.log.Error("saving the token", "err", err)
		a.page(w, http.StatusServiceUnavailable, page{Title: "Sign-in failed", Message: "Try again later."})
		return
	}
	// Signed in: replace the session, so that an identifier seen before
	// sign-in is worth nothing after it.
	a.sessions.delete(id)
	id = a.sessions.create(&session{subject: subject}, time.Now().Add(sessionLifetime))
	a.setCookie(w, r, id)
	http.Redirect(w, r, pending.next, http.StatusSeeOther)
}

// callbackFailure tells the person what went wrong, without secrets.
func callbackFailure(err error) (int, page) {
	p := page{Title: "Sign-in failed"}
	var oauthErr *pkce.OAuthError
	var cbErr *pkce.CallbackError
	switch {
	case errors.Is(err, pkce.ErrAccessDenied):
		p.Message = "You declined to sign in."
		return http.StatusForbidden, p
	case errors.As(err, &oauthErr) && oauthErr.Op == pkce.OpAuthorize:
		// error=... on the redirect (RFC 6749 §4.1.2.1). An OAuthError
		// of the token endpoint (OpExchange) falls through to the
		// generic answer below.
		p.Message = fmt.Sprintf("The authorization server answered %q.", oauthErr.Code)
		return http.StatusBadRequest, p
	case errors.Is(err, pkce.ErrFlowExpired):
		p.Message = "The sign-in took too long and has expired. Start again."
		return http.StatusBadRequest, p
	case errors.Is(err, pkce.ErrFlowFinished):
		p.Message = "This sign-in was completed already."
		return http.StatusBadRequest, p
	case errors.As(err, &cbErr): // wrong state or iss, malformed callback
		p.Message = "The response from the authorization server does not belong to this sign-in."
		return http.StatusBadRequest, p
	}
	p.Message = "The authorization server did not issue a token. Try again later."
	return http.StatusBadGateway, p
}

// me calls the protected resource with the session's token.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	id := sessionID(r)
	s := a.sessions.get(id)
	if s == nil || s.subject == "" {
		http.Redirect(w, r, "/login?next=/me", http.StatusSeeOther)
		return
	}
	source, err := a.tokens.Source(r.Context(), s.subject)
	if a.signInAgain(w, r, id, err) {
		return
	}
	if a.resourceURL == "" {
		tok, err := source.TokenContext(r.Context())
		if a.signInAgain(w, r, id, err) {
			return
		}
		expires := "never"
		if !tok.Expiry.IsZero() {
			expires = tok.Expiry.Format(time.RFC1123)
		}
		a.page(w, http.StatusOK, page{Title: "Signed in", Fields: []field{
			{"token type", tok.Type()}, {"expires", expires},
		}, LogoutButton: true})
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, a.resourceURL, nil)
	if err != nil {
		a.page(w, http.StatusInternalServerError, page{Title: "Error", Message: "The resource URL is not valid."})
		return
	}
	resp, err := source.Client(r.Context()).Do(req)
	if a.signInAgain(w, r, id, err) {
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode != http.StatusOK:
		a.page(w, http.StatusBadGateway, page{Title: "The resource refused",
			Message: "The protected resource answered " + resp.Status + "."})
		return
	case err != nil:
		a.signInAgain(w, r, id, err)
		return
	}
	a.page(w, http.StatusOK, page{Title: "Your profile", Fields: fields(body), LogoutButton: true})
}

// signInAgain handles a failure to get a token or to reach the resource,
// and reports whether there was one. When the refresh token was refused
// the session is over and the person is sent to sign in again.
func (a *app) signInAgain(w http.ResponseWriter, r *http.Request, id string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, pkce.ErrSignInRequired):
		a.sessions.delete(id)
		http.Redirect(w, r, "/login?next=/me", http.StatusSeeOther)
	default:
		a.log.Warn("calling the resource", "err", err)
		a.page(w, http.StatusBadGateway, page{Title: "Try again later", Message: "The protected resource could not be reached."})
	}
	return true
}

// fields shows the members of a JSON object, or the body as text.
func fields(body []byte) []field {
	var members map[string]any
	if err := json.Unmarshal(body, &members); err != nil {
		return []field{{"response", string(body)}}
	}
	out := make([]field, 0, len(members))
	for k, v := range members {
		out = append(out, field{k, fmt.Sprint(v)})
	}
	slices.SortFunc(out, func(a, b field) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// logoutForm asks for a POST, which a SameSite=Lax cookie does not follow
// from another site, so that no other page can sign the person out.
func (a *app) logoutForm(w http.ResponseWriter, r *http.Request) {
	a.page(w, http.StatusOK, page{Title: "Sign out", LogoutButton: true})
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	id := sessionID(r)
	if s := a.sessions.get(id); s != nil && s.subject != "" {
		// Without a revocation endpoint SignOut only deletes the token.
		if err := a.tokens.SignOut(r.Context(), s.subject); err != nil && !errors.Is(err, pkce.ErrInvalidConfig) {
			a.log.Warn("signing out", "err", err)
		}
	}
	a.sessions.delete(id)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// localPath reports whether next is a path on this site, so that /login
// cannot be made to send people elsewhere after sign-in (an open
// redirect). Browsers read "//host", "/\host" and control characters in
// ways that lead off-site, so those are refused too.
func localPath(next string) bool {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return false
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	u, err := url.Parse(next)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

// Sessions.

const (
	sessionCookie   = "session"
	sessionLifetime = 8 * time.Hour
)

type session struct {
	pending *pendingLogin // the sign-in in progress, if any
	subject string        // where the signed-in person's tokens are, in app.tokens
	expires time.Time
}

// pendingLogin is what /login keeps for /callback.
type pendingLogin struct {
	flow *pkce.Flow
	next string
}

// sessionStore keeps sessions in memory, keyed by random identifiers.
type sessionStore struct {
	mu      sync.Mutex
	m       map[string]*session
	sweepAt int
}

func (st *sessionStore) create(s *session, expires time.Time) string {
	id := randomID()
	s.expires = expires
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.m == nil {
		st.m = make(map[string]*session)
	}
	if len(st.m) >= st.sweepAt {
		now := time.Now()
		for k, v := range st.m {
			if now.After(v.expires) {
				delete(st.m, k)
			}
		}
		st.sweepAt = max(64, 2*len(st.m))
	}
	st.m[id] = s
	return id
}

func (st *sessionStore) get(id string) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.m[id]
	if s == nil || time.Now().After(s.expires) {
		return nil
	}
	return s
}

// takePending removes and returns the session's pending sign-in, so that a
// callback is handled at most once.
func (st *sessionStore) takePending(id string) *pendingLogin {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.m[id]
	if s == nil {
		return nil
	}
	p := s.pending
	s.pending = nil
	return p
}

func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, id)
}

func sessionID(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// randomID returns 256 bits from crypto/rand, base64url encoded.
func randomID() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *app) secure(r *http.Request) bool { return r.TLS != nil || a.secureCookies }

func (a *app) setCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		Secure:   a.secure(r),
		// Lax: the cookie comes along when the authorization server
		// redirects the browser back to /callback (a top-level GET), but
		// not with cross-site POSTs.
		SameSite: http.SameSiteLaxMode,
	})
}

// Pages. html/template escapes everything that goes into them.

type page struct {
	Title        string
	Message      string
	Fields       []field
	Links        []link
	LogoutButton bool
}

type field struct{ Name, Value string }

type link struct{ Href, Text string }

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
</head>
<body>
<h1>{{.Title}}</h1>
{{with .Message}}<p>{{.}}</p>
{{end}}{{with .Fields}}<dl>
{{range .}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>
{{end}}</dl>
{{end}}{{range .Links}}<p><a href="{{.Href}}">{{.Text}}</a></p>
{{end}}{{if .LogoutButton}}<form method="post" action="/logout"><button type="submit">Sign out</button></form>
{{end}}</body>
</html>
`))

func (a *app) page(w http.ResponseWriter, status int, p page) {
	var b strings.Builder
	if err := pageTemplate.Execute(&b, p); err != nil {
		a.log.Error("rendering a page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, b.String())
}
