package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

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
	// Store keeps the sessions, the signed-in sessions' tokens and the
	// claims of finished flows; replicas share one. Nil means a new memory
	// store.
	Store pkce.Store
	// Log gets a line for every step of a sign-in; nil means
	// slog.Default().
	Log *slog.Logger
}

type app struct {
	client        *pkce.Client
	tokens        *pkce.Tokens
	start         []pkce.StartOption
	clientID      string
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
	sessions := &sessionStore{store: store}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
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
		clientID:      cfg.OAuth2.ClientID,
		resourceURL:   cfg.ResourceURL,
		secureCookies: strings.HasPrefix(cfg.OAuth2.RedirectURL, "https:"),
		sessions:      sessions,
		log:           log,
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
	mux.HandleFunc("GET /", a.notFound)
	var endSession string
	if md := a.client.Metadata(); md != nil && md.EndSessionEndpoint != "" {
		if u, err := url.Parse(md.EndSessionEndpoint); err == nil {
			endSession = u.Scheme + "://" + u.Host
		}
	}
	csp := contentSecurityPolicy(endSession)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Pages depend on the session, and /callback's URL holds a code:
		// keep both out of caches and Referer headers.
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", csp)
		mux.ServeHTTP(w, r)
	})
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.get(r.Context(), sessionID(r))
	switch {
	case s == nil || s.subject == "":
		a.page(w, r, http.StatusOK, page{Title: "Welcome", Message: "You are not signed in.", Links: []link{{"/login?next=/me", "Sign in"}}})
	case s.user != "":
		a.page(w, r, http.StatusOK, page{Title: "Signed in", Message: "You are signed in as " + s.user + ".",
			Links: []link{{"/me", "Your profile"}}, LogoutButton: true})
	default:
		a.page(w, r, http.StatusOK, page{Title: "Signed in", Links: []link{{"/me", "Your profile"}}, LogoutButton: true})
	}
}

func (a *app) notFound(w http.ResponseWriter, r *http.Request) {
	a.page(w, r, http.StatusNotFound, page{Title: "Page not found",
		Message: "There is no page at this address.", Links: []link{{"/", "Home"}}})
}

// login starts a flow. The page to return to is the app's own data: it is
// kept with the flow on the server, never put in state.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if next == "" {
		next = "/"
	}
	if !localPath(next) {
		a.page(w, r, http.StatusBadRequest, page{Title: "Bad request",
			Message: "The page to return to must be a path on this site, such as /me.", Links: []link{{"/", "Home"}}})
		return
	}
	flow, err := a.client.Start(r.Context(), a.start...)
	if err != nil {
		a.log.Error("login failed to start", "err", err)
		a.page(w, r, http.StatusInternalServerError, page{Title: "Sign-in could not start", Message: "Try again later."})
		return
	}
	// A new session for every sign-in: whatever cookie the browser had,
	// the session that finishes it is one only this browser knows.
	a.sessions.delete(r.Context(), sessionID(r))
	id, err := a.sessions.create(r.Context(), &session{pending: &pendingLogin{flow: flow, next: next}}, flow.Expires)
	if err != nil {
		a.log.Error("login failed to start", "class", "session not saved", "err", err)
		a.page(w, r, http.StatusServiceUnavailable, page{Title: "Sign-in could not start", Message: "Try again later."})
		return
	}
	a.setCookie(w, r, id)
	// The flow's state and verifier stay out of the log: they are what
	// makes the callback this browser's own.
	a.log.Info("login started", "next", next)
	http.Redirect(w, r, flow.URL, http.StatusFound)
}

// me calls the protected resource with the session's token.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	id := sessionID(r)
	s := a.sessions.get(r.Context(), id)
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
		a.page(w, r, http.StatusOK, page{Title: "Signed in", Fields: []field{
			{"token type", tok.Type()}, {"expires", expires},
		}, Links: []link{{"/", "Home"}}, LogoutButton: true})
		return
	}
	status, body, err := a.callResource(r.Context(), source)
	switch {
	case a.signInAgain(w, r, id, err):
	case status != http.StatusOK:
		a.page(w, r, http.StatusBadGateway, page{Title: "The resource refused",
			Message: fmt.Sprintf("The protected resource answered %d %s.", status, http.StatusText(status))})
	default:
		a.page(w, r, http.StatusOK, page{Title: "Your profile", Message: "The API answered:",
			Fields: fields(body), Links: []link{{"/", "Home"}}, LogoutButton: true})
	}
}

// callResource GETs the protected resource with the bearer token of
// source, refreshed as needed, and returns the status and the body.
func (a *app) callResource(ctx context.Context, source *pkce.TokenSource) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.resourceURL, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := source.Client(ctx).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, err
	}
	a.log.Info("API call", "status", resp.StatusCode)
	return resp.StatusCode, body, nil
}

// signInAgain handles a failure to get a token or to reach the resource,
// and reports whether there was one. When the refresh token was refused
// the session is over and the person is sent to sign in again.
func (a *app) signInAgain(w http.ResponseWriter, r *http.Request, id string, err error) bool {
	if err == nil {
		return false
	}
	a.log.Warn("API call failed", errorAttrs(err)...)
	switch {
	case errors.Is(err, pkce.ErrSignInRequired):
		a.sessions.delete(r.Context(), id)
		http.Redirect(w, r, "/login?next=/me", http.StatusSeeOther)
	default:
		a.page(w, r, http.StatusBadGateway, page{Title: "Try again later", Message: "The protected resource could not be reached."})
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
	a.page(w, r, http.StatusOK, page{Title: "Sign out", LogoutButton: true})
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	id := sessionID(r)
	next := "/"
	if s := a.sessions.get(r.Context(), id); s != nil && s.subject != "" {
		// Sign out at the provider too when it has an end-session endpoint
		// (OpenID Connect RP-Initiated Logout 1.0); it sends the browser
		// back to the home page.
		home := "http://" + r.Host + "/"
		if a.secure(r) {
			home = "https://" + r.Host + "/"
		}
		if u, err := a.client.LogoutURL(s.idToken, home, ""); err == nil && s.idToken != "" {
			next = u
		}
		// Without a revocation endpoint SignOut only deletes the token.
		if err := a.tokens.SignOut(r.Context(), s.subject); err != nil && !errors.Is(err, pkce.ErrInvalidConfig) {
			a.log.Warn("logout: signing out failed", errorAttrs(err)...)
		}
	}
	a.sessions.delete(r.Context(), id)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode})
	a.log.Info("logout")
	http.Redirect(w, r, next, http.StatusSeeOther)
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
