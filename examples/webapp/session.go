package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/pkcekit/pkce"
)

const (
	sessionCookie   = "session"
	sessionLifetime = 8 * time.Hour
)

type session struct {
	pending *pendingLogin // the sign-in in progress, if any
	subject string        // where the signed-in person's tokens are, in app.tokens
	user    string        // who signed in, to show; "" when the app could not tell
	idToken string        // the ID token of the sign-in, the id_token_hint of signing out at the provider
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
