// Command backend is the smallest Go web backend that signs people in with
// the authorization code grant and PKCE and calls an API with their token:
//
//   - GET /login starts a flow, seals it (package seal: AES-GCM) into an
//     HttpOnly cookie and sends the browser to the authorization server:
//     no session store holds pending sign-ins;
//   - GET /callback opens that cookie, finishes the flow with
//     Client.Finish, which claims it in the Store so that it is used once,
//     and keeps the token in a pkce.Tokens under a new session's subject;
//   - GET /me calls the protected resource with the session's token,
//     refreshed as needed;
//   - POST /logout revokes the token and ends the session.
//
// The session cookie is a random ID and the subject is its SHA-256, so
// the Store holds no session ID. Replicas share the Store and the sealing
// key (PKCE_SEAL_KEY: 32 random bytes, base64url); without it, each
// process makes its own key, and a sign-in started before a restart
// must start again.
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
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/seal"
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
	keys, err := sealKeys(os.Getenv("PKCE_SEAL_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	b, err := newBackend(context.Background(), *issuer, keys, pkce.NewMemoryStore(), &oauth2.Config{
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

// sealKeys returns the key that seals pending flows: the one given
// (base64url), or a new one.
func sealKeys(encoded string) (*seal.Keys, error) {
	secret := make([]byte, seal.KeySize)
	if encoded == "" {
		log.Print("PKCE_SEAL_KEY is not set: using a key of this process only")
		rand.Read(secret)
	} else {
		var err error
		if secret, err = base64.RawURLEncoding.DecodeString(encoded); err != nil {
			return nil, errors.New("PKCE_SEAL_KEY is not base64url")
		}
	}
	return seal.NewKeys(seal.Key{ID: "1", Secret: secret})
}

// backend is the web application: its OAuth client, the users' tokens
// and the key that seals pending flows. It keeps no session state: what
// replicas share is the Store and the key.
type backend struct {
	client   *pkce.Client
	tokens   *pkce.Tokens
	keys     *seal.Keys
	resource string
	mux      *http.ServeMux
}

const (
	sessionCookie = "session"
	flowCookie    = "pkce-flow"
)

func newBackend(ctx context.Context, issuer string, keys *seal.Keys, store pkce.Store, cfg *oauth2.Config, resource string) (*backend, error) {
	// The Store also records finished flows, so that a callback is
	// accepted once by whichever replica gets it.
	client, err := pkce.NewFromIssuer(ctx, issuer, cfg, pkce.WithStore(store))
	if err != nil {
		return nil, err
	}
	tokens, err := client.Tokens(store)
	if err != nil {
		return nil, err
	}
	b := &backend{client: client, tokens: tokens, keys: keys, resource: resource, mux: http.NewServeMux()}
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
	// The flow holds the PKCE verifier: it travels sealed (encrypted and
	// authenticated), in a cookie that scripts cannot read.
	c, err := b.keys.FlowCookie(flowCookie, flow)
	if err != nil {
		log.Printf("login: %v", err)
		http.Error(w, "sign-in is unavailable", http.StatusServiceUnavailable)
		return
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, flow.URL, http.StatusFound)
}

func (b *backend) callback(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, seal.ClearFlowCookie(flowCookie))
	flow, err := b.keys.OpenFlow(r, flowCookie)
	if err != nil {
		// No cookie, altered, expired, or sealed for another purpose.
		log.Printf("callback: %v", err)
		http.Error(w, "no sign-in in progress: start at /login", http.StatusBadRequest)
		return
	}
	tok, err := b.client.Finish(r, flow) // claims the flow: a replay fails
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
	id := randomID()
	if err := b.tokens.Save(r.Context(), subjectOf(id), tok); err != nil {
		http.Error(w, "sign-in failed", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: int((24 * time.Hour).Seconds())})
	http.Redirect(w, r, "/me", http.StatusFound)
}

// subject returns the request's session's subject, or "".
func subject(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	return subjectOf(c.Value)
}

// subjectOf keys a session's token in the Store: the SHA-256 of the
// session ID, so that whoever reads the Store learns no session ID.
func subjectOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (b *backend) me(w http.ResponseWriter, r *http.Request) {
	sub := subject(r)
	if sub == "" {
		http.Error(w, "not signed in: start at /login", http.StatusUnauthorized)
		return
	}
	src, err := b.tokens.Source(r.Context(), sub)
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
		endSession(w)
		http.Error(w, "please sign in again at /login", http.StatusUnauthorized)
	default: // pkce.ErrTryLater, pkce.ErrClientRejected, the API unreachable
		log.Printf("me: %v", err)
		http.Error(w, "the API is unavailable; try again later", http.StatusServiceUnavailable)
	}
}

func (b *backend) logout(w http.ResponseWriter, r *http.Request) {
	if sub := subject(r); sub != "" {
		// Deletes the token and revokes it (RFC 7009).
		if err := b.tokens.SignOut(r.Context(), sub); err != nil {
			log.Printf("logout: %v", err)
		}
	}
	endSession(w)
	fmt.Fprintln(w, "signed out")
}

func endSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1})
}

func randomID() string {
	id := make([]byte, 32)
	rand.Read(id)
	return base64.RawURLEncoding.EncodeToString(id)
}
