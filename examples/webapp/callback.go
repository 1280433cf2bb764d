package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pkcekit/pkce"
)

func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	id := sessionID(r)
	pending := a.sessions.takePending(r.Context(), id)
	if pending == nil {
		if s := a.sessions.get(r.Context(), id); s != nil && s.subject != "" {
			// The back button, a reload or a bookmark brought a finished
			// sign-in back: the person is signed in, so go home.
			a.log.Info("callback replayed while signed in")
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		a.log.Info("callback failed", "class", "no sign-in in progress")
		a.page(w, r, http.StatusBadRequest, page{Title: "No sign-in in progress",
			Message: "No sign-in is in progress in this browser: this sign-in link was used already, or it belongs to another browser or to a session that ended.",
			Links:   []link{{"/login?next=/me", "Sign in again"}}})
		return
	}
	tok, err := a.client.Finish(r, pending.flow)
	if err != nil {
		a.log.Warn("callback failed", errorAttrs(err)...)
		status, p := callbackFailure(err)
		p.Links = []link{{"/login?next=" + url.QueryEscape(pending.next), "Sign in again"}, {"/", "Home"}}
		a.page(w, r, status, p)
		return
	}
	// The tokens are stored under a subject of their own rather than the
	// session identifier, which only the browser and the sessions know.
	subject := randomID()
	if err := a.tokens.Save(r.Context(), subject, tok); err != nil {
		a.log.Error("callback failed", "class", "token not saved", "err", err)
		a.page(w, r, http.StatusServiceUnavailable, page{Title: "Sign-in failed", Message: "Try again later."})
		return
	}
	user := a.whoSignedIn(r.Context(), tok, subject)
	// Signed in: replace the session, so that an identifier seen before
	// sign-in is worth nothing after it.
	a.sessions.delete(r.Context(), id)
	id, err = a.sessions.create(r.Context(), &session{subject: subject, user: user, idToken: tok.IDToken()}, time.Now().Add(sessionLifetime))
	if err != nil {
		a.log.Error("callback failed", "class", "session not saved", "err", err)
		a.page(w, r, http.StatusServiceUnavailable, page{Title: "Sign-in failed", Message: "Try again later."})
		return
	}
	a.setCookie(w, r, id)
	a.log.Info("callback ok", "user", user)
	http.Redirect(w, r, pending.next, http.StatusSeeOther)
}

// callbackFailure tells the person what went wrong, and what the
// authorization server said about it, without secrets.
func callbackFailure(err error) (int, page) {
	p := page{Title: "Sign-in failed"}
	var oauthErr *pkce.OAuthError
	var cbErr *pkce.CallbackError
	if errors.As(err, &oauthErr) {
		// The server's own words (RFC 6749 §4.1.2.1, §5.2), which the
		// package has cleared of secrets and html/template escapes.
		p.Fields = []field{{"error", oauthErr.Code}}
		if oauthErr.Description != "" {
			p.Fields = append(p.Fields, field{"description", oauthErr.Description})
		}
	}
	switch {
	case errors.Is(err, pkce.ErrAccessDenied):
		p.Message = "You declined to sign in."
		return http.StatusForbidden, p
	case oauthErr != nil && oauthErr.Op == "authorization":
		// error=... on the redirect. An OAuthError of the token
		// endpoint (Op "code exchange") falls through to the generic answer.
		p.Message = "The authorization server refused the sign-in."
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

// errorAttrs describe an error of package pkce for a log line: the step
// it came from (its Op) and its class, what an operator tells failures
// apart by. The package's errors hold no secrets, so the message goes
// along.
func errorAttrs(err error) []any {
	var (
		op       string
		class    = "other"
		oauthErr *pkce.OAuthError
		cbErr    *pkce.CallbackError
		respErr  *pkce.ResponseError
		urlErr   *url.Error
	)
	switch {
	case errors.As(err, &cbErr):
		op, class = "authorization", cause(cbErr.Err)
	case errors.As(err, &oauthErr):
		op, class = oauthErr.Op, oauthErr.Code
	case errors.As(err, &respErr):
		op, class = respErr.Op, cause(respErr.Err)
	case errors.As(err, &urlErr):
		class = "no answer"
	}
	// A failed refresh is in one of three classes, which say what to do.
	for _, c := range []error{pkce.ErrSignInRequired, pkce.ErrTryLater, pkce.ErrClientRejected} {
		if errors.Is(err, c) {
			class = cause(c)
		}
	}
	return []any{"op", op, "class", class, "err", err}
}

// cause is the message of a sentinel error of package pkce without its
// prefix, e.g. "flow expired".
func cause(sentinel error) string { return strings.TrimPrefix(sentinel.Error(), "pkce: ") }

// whoSignedIn names the person who signed in: the name in the verified
// ID token (OpenID Connect Core §5.1), or its subject, when the client is
// an OpenID Connect relying party; else the sub that the API answers
// with. "" when neither tells.
func (a *app) whoSignedIn(ctx context.Context, tok *pkce.Token, subject string) string {
	if claims := tok.Claims(); claims != nil {
		if claims.Name != "" {
			return claims.Name
		}
		return claims.Subject
	}
	if a.resourceURL == "" {
		return ""
	}
	source, err := a.tokens.Source(ctx, subject)
	if err != nil {
		return ""
	}
	status, body, err := a.callResource(ctx, source)
	if err != nil {
		a.log.Warn("API call failed", errorAttrs(err)...)
	}
	if err != nil || status != http.StatusOK {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	json.Unmarshal(body, &claims)
	return claims.Sub
}
