package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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

// sessionStore keeps sessions in the app's pkce.Store, which replicas
// share (memory, Redis or PostgreSQL), as opaque values under subjects of
// their own: "session:" and the SHA-256 of the session identifier, so
// that the store holds no identifier a browser could present.
type sessionStore struct {
	store pkce.Store

	mu      sync.Mutex
	created map[string]time.Time // keys of the sessions this process created, and their expiry
	sweepAt int
}

// sweep deletes the expired sessions this process created, once their
// number has doubled since the last sweep, so that sign-ins nobody
// finished do not pile up in the store. Sessions of a process that ended
// stay until the store expires them (Redis) or for good (memory ends with
// the process anyway).
func (st *sessionStore) sweep(ctx context.Context, key string, expires time.Time) {
	st.mu.Lock()
	if st.created == nil {
		st.created = map[string]time.Time{}
	}
	st.created[key] = expires
	var expired []string
	if len(st.created) >= st.sweepAt {
		now := time.Now()
		for k, e := range st.created {
			if now.After(e) {
				expired = append(expired, k)
				delete(st.created, k)
			}
		}
		st.sweepAt = max(64, 2*len(st.created))
	}
	st.mu.Unlock()
	for _, k := range expired {
		_ = st.store.DeleteToken(ctx, k)
	}
}

// sessionRecord is a session's stored form. The pending flow holds the
// PKCE verifier: it stays on the server.
type sessionRecord struct {
	Flow    *pkce.Flow `json:"flow,omitempty"`
	Next    string     `json:"next,omitempty"`
	Subject string     `json:"subject,omitempty"`
	User    string     `json:"user,omitempty"`
	IDToken string     `json:"id_token,omitempty"`
	Expires time.Time  `json:"expires"`
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "session:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func encodeSession(s *session) ([]byte, error) {
	rec := sessionRecord{Subject: s.subject, User: s.user, IDToken: s.idToken, Expires: s.expires}
	if s.pending != nil {
		rec.Flow, rec.Next = s.pending.flow, s.pending.next
	}
	return json.Marshal(rec)
}

func decodeSession(b []byte) *session {
	var rec sessionRecord
	if b == nil || json.Unmarshal(b, &rec) != nil {
		return nil
	}
	s := &session{subject: rec.Subject, user: rec.User, idToken: rec.IDToken, expires: rec.Expires}
	if rec.Flow != nil {
		s.pending = &pendingLogin{flow: rec.Flow, next: rec.Next}
	}
	return s
}

// create stores s under a new random identifier, which it returns.
func (st *sessionStore) create(ctx context.Context, s *session, expires time.Time) (string, error) {
	id := randomID()
	s.expires = expires
	b, err := encodeSession(s)
	if err != nil {
		return "", err
	}
	if _, err := st.store.SaveToken(ctx, sessionKey(id), nil, b); err != nil {
		return "", err
	}
	st.sweep(ctx, sessionKey(id), expires)
	return id, nil
}

// get returns the live session id names, or nil.
func (st *sessionStore) get(ctx context.Context, id string) *session {
	if id == "" {
		return nil
	}
	b, err := st.store.LoadToken(ctx, sessionKey(id))
	if err != nil {
		return nil
	}
	s := decodeSession(b)
	if s == nil || time.Now().After(s.expires) {
		return nil
	}
	return s
}

// takePending removes and returns the session's pending sign-in, so that a
// callback is handled at most once: the store's compare-and-set lets one
// replica take it. An expired flow is returned too, for Finish to say so.
func (st *sessionStore) takePending(ctx context.Context, id string) *pendingLogin {
	if id == "" {
		return nil
	}
	b, err := st.store.LoadToken(ctx, sessionKey(id))
	if err != nil {
		return nil
	}
	s := decodeSession(b)
	if s == nil || s.pending == nil {
		return nil
	}
	p := s.pending
	s.pending = nil
	rest, err := encodeSession(s)
	if err != nil {
		return nil
	}
	if ok, err := st.store.SaveToken(ctx, sessionKey(id), b, rest); err != nil || !ok {
		return nil
	}
	return p
}

func (st *sessionStore) delete(ctx context.Context, id string) {
	if id == "" {
		return
	}
	st.mu.Lock()
	delete(st.created, sessionKey(id))
	st.mu.Unlock()
	_ = st.store.DeleteToken(ctx, sessionKey(id))
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
