// Command backend is the smallest Go web backend that signs people in with
// the authorization code grant and PKCE and calls an API with their token:
//
//   - GET /login starts a flow, keeps it in memory under a random session
//     cookie and sends the browser to the authorization server;
//   - GET /callback takes that flow out (so it is used once), finishes it
//     with Client.Finish and keeps the token in a pkce.Tokens under the
//     session's subject;
//   - GET /me calls the protected resource with the session's token,
//     refreshed as needed;
//   - POST /logout revokes the token and ends the session.
//
// It is a module of its own, written from the README, go doc and pkcetest,
// as a newcomer's first backend would be. Try it against an authorization
// server embedded in the process, then open http://127.0.0.1:8081/login:
//
//	go run . -demo
//
// or against a real one that publishes RFC 8414 metadata, with a client
// whose redirect URI is registered as http://127.0.0.1:8081/callback:
//
//	PKCE_CLIENT_SECRET=... go run . -issuer https://as.example \
//		-client-id my-app -resource-url https://api.example/me
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	issuer := flag.String("issuer", "", "issuer `URL` of the authorization server (RFC 8414 metadata)")
	clientID := flag.String("client-id", "", "client identifier")
	resource := flag.String("resource-url", "", "protected resource `URL` that /me calls")
	demo := flag.Bool("demo", false, "use an authorization server embedded in this process")
	flag.Parse()
	secret := os.Getenv("PKCE_CLIENT_SECRET")
	if *demo {
		srv := pkcetest.NewServer(pkcetest.Config{
			Clients: []pkcetest.Client{{
				ID: "backend", Secret: "backend-secret", Method: pkcetest.MethodBasic,
				RedirectURIs: []string{"http://127.0.0.1/callback"}, // any loopback port
			}},
			SendIssuer: true,
		})
		defer srv.Close()
		*issuer, *clientID, secret, *resource = srv.Issuer(), "backend", "backend-secret", srv.ResourceURL()
	}
	b, err := newBackend(context.Background(), *issuer, &oauth2.Config{
		ClientID:     *clientID,
		ClientSecret: secret,
		RedirectURL:  "http://" + *addr + "/callback",
		Scopes:       []string{"openid", "profile"},
	}, *resource)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("open http://%s/login", *addr)
	log.Fatal(http.ListenAndServe(*addr, b))
}

// backend is the web application: its OAuth client, the users' tokens
// and the sessions.
type backend struct {
	client   *pkce.Client
	tokens   *pkce.Tokens
	resource string
	mux      *http.ServeMux

	mu       sync.Mutex
	sessions map[string]*session // by session cookie
}

// A session is pending (flow set) until the callback, then signed in
// (subject set: the key of the user's token in tokens).
type session struct {
	flow    *pkce.Flow
	subject string
}

const sessionCookie = "session"

func newBackend(ctx context.Context, issuer string, cfg *oauth2.Config, resource string) (*backend, error) {
	client, err := pkce.NewFromIssuer(ctx, issuer, cfg)
	if err != nil {
		return nil, err
	}
	tokens, err := client.Tokens(pkce.NewMemoryStore())
	if err != nil {
		return nil, err
	}
	b := &backend{client: client, tokens: tokens, resource: resource,
		mux: http.NewServeMux(), sessions: map[string]*session{}}
	b.mux.HandleFunc("GET /login", b.login)
	b.mux.HandleFunc("GET /callback", b.callback)
	b.mux.HandleFunc("GET /me", b.me)
	b.mux.HandleFunc("POST /logout", b.logout)
	return b, nil
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

func (b *backend) login(w http.ResponseWriter, r *http.Request) {
	flow, err := b.client.Start(r.Context())
	if err != nil {
		log.Printf("login: %v", err)
		http.Error(w, "sign-in is unavailable", http.StatusServiceUnavailable)
		return
	}
	// The flow holds the PKCE verifier: it stays on the server.
	b.newSession(w, &session{flow: flow})
	http.Redirect(w, r, flow.URL, http.StatusFound)
}

func (b *backend) callback(w http.ResponseWriter, r *http.Request) {
	s := b.takeSession(r)
	if s == nil || s.flow == nil {
		http.Error(w, "no sign-in in progress: start at /login", http.StatusBadRequest)
		return
	}
	tok, err := b.client.Finish(r, s.flow)
	switch {
	case errors.Is(err, pkce.ErrAccessDenied):
		http.Error(w, "you declined to sign in", http.StatusForbidden)
		return
	case err != nil:
		log.Printf("callback: %v", err) // names the rule that broke; no secrets
		http.Error(w, "sign-in failed", http.StatusBadRequest)
		return
	}
	// A new session for the signed-in user (never keep the pre-login
	// one), whose subject keys the token.
	subject := randomID()
	if err := b.tokens.Save(r.Context(), subject, tok); err != nil {
		http.Error(w, "sign-in failed", http.StatusInternalServerError)
		return
	}
	b.newSession(w, &session{subject: subject})
	http.Redirect(w, r, "/me", http.StatusFound)
}

func (b *backend) me(w http.ResponseWriter, r *http.Request) {
	s := b.session(r)
	if s == nil || s.subject == "" {
		http.Error(w, "not signed in: start at /login", http.StatusUnauthorized)
		return
	}
	src, err := b.tokens.Source(r.Context(), s.subject)
	if err != nil {
		b.tokenFailed(w, r, err)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, b.resource, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := src.Client(r.Context()).Do(req) // adds the bearer token, refreshes it
	if err != nil {
		b.tokenFailed(w, r, err)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, 64<<10))
}

// tokenFailed answers a request whose token could not be had.
func (b *backend) tokenFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, pkce.ErrSignInRequired):
		b.endSession(w, r)
		http.Error(w, "please sign in again at /login", http.StatusUnauthorized)
	default: // pkce.ErrTryLater, pkce.ErrClientRejected, the API unreachable
		log.Printf("me: %v", err)
		http.Error(w, "the API is unavailable; try again later", http.StatusServiceUnavailable)
	}
}

func (b *backend) logout(w http.ResponseWriter, r *http.Request) {
	if s := b.session(r); s != nil && s.subject != "" {
		// Deletes the token and revokes it (RFC 7009).
		if err := b.tokens.SignOut(r.Context(), s.subject); err != nil {
			log.Printf("logout: %v", err)
		}
	}
	b.endSession(w, r)
	fmt.Fprintln(w, "signed out")
}

// newSession stores s under a new random id and sets its cookie.
func (b *backend) newSession(w http.ResponseWriter, s *session) {
	id := randomID()
	now := time.Now()
	b.mu.Lock()
	for old, p := range b.sessions { // pending sign-ins nobody finished
		if p.flow != nil && now.After(p.flow.Expires) {
			delete(b.sessions, old)
		}
	}
	b.sessions[id] = s
	b.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: int((24 * time.Hour).Seconds())})
}

func (b *backend) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions[c.Value]
}

// takeSession returns the request's session and forgets it.
func (b *backend) takeSession(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sessions[c.Value]
	delete(b.sessions, c.Value)
	return s
}

func (b *backend) endSession(w http.ResponseWriter, r *http.Request) {
	b.takeSession(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1})
}

func randomID() string {
	id := make([]byte, 32)
	rand.Read(id)
	return base64.RawURLEncoding.EncodeToString(id)
}
