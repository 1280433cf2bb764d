package servercheck

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/pkcekit/pkce"
)

// rotation is what the refresh checks found, for the ones after them.
type rotation struct {
	reg      Registration
	old, new string // the refresh token used, and the one answered
	why      string // why the checks cannot go on, or ""
	reused   *answer
}

// rotation refreshes once as a public client, the first time it is
// asked.
func (r *run) rotation() *rotation {
	if r.rot != nil {
		return r.rot
	}
	rot := &rotation{}
	r.rot = rot
	reg, ok := r.registered(AuthNone)
	if !ok {
		rot.why = "no public client is registered; the rule is about refresh tokens of public clients"
		return rot
	}
	rot.reg = reg
	// Fresh tokens: the check of a code used twice may have revoked the
	// first ones, as RFC 6749 §4.1.2 asks.
	var a *answer
	if _, a, rot.why = r.p.tokens(r.ctx, reg); rot.why != "" {
		return rot
	}
	rot.old = a.str("refresh_token")
	if rot.old == "" {
		rot.why = "the server issued no refresh token (some issue one only for a scope such as offline_access; set Config.Scope)"
		return rot
	}
	return rot
}

func (r *run) rotated() verdict {
	rot := r.rotation()
	if rot.why != "" {
		return notApplicable(rot.why)
	}
	a := r.p.refresh(r.ctx, rot.reg, rot.old)
	if !a.issued() || !a.json() {
		rot.why = "the refresh token was refused at its first use: " + a.describe()
		return notApplicable(rot.why, a.ex)
	}
	rot.new = a.str("refresh_token")
	if rot.new == "" || rot.new == rot.old {
		rot.why = "the refresh token was not rotated"
		return fail("the refresh answer keeps the refresh token, and nothing binds it to the client: it is a bearer credential a thief can use as long as it lives (the client sent no DPoP proof, and mutual TLS binding cannot be seen from here)", a.ex)
	}
	return pass("the refresh answer carries a new refresh token", a.ex)
}

func (r *run) rotatedRefused() verdict {
	rot := r.rotation()
	if rot.why != "" {
		return notApplicable(rot.why)
	}
	a := r.p.refresh(r.ctx, rot.reg, rot.old)
	rot.reused = a
	switch {
	case a.err != nil:
		return notApplicable("the token endpoint did not answer: "+a.err.Error(), a.ex)
	case a.refused():
		return pass("the refresh token it replaced was refused: "+a.describe(), a.ex)
	}
	return fail("the refresh token it replaced was accepted again: a stolen copy stays usable", a.ex)
}

func (r *run) reuseDetected() verdict {
	rot := r.rotation()
	switch {
	case rot.why != "":
		return notApplicable(rot.why)
	case rot.reused == nil || !rot.reused.refused():
		return notApplicable("the replaced refresh token was not refused, so there was no reuse to detect")
	}
	a := r.p.refresh(r.ctx, rot.reg, rot.new)
	switch {
	case a.err != nil:
		return notApplicable("the token endpoint did not answer: "+a.err.Error(), a.ex)
	case a.refused():
		return pass("after the replaced token was presented, the active one was refused too: "+a.describe(), rot.reused.ex, a.ex)
	}
	return fail("after the replaced refresh token was presented, the active one still works: the server cannot tell the thief from the client, and should end the grant for both", rot.reused.ex, a.ex)
}

func (r *run) revokeUnknown() verdict {
	a := r.p.post(r.ctx, r.p.ep.Revocation, r.primary, url.Values{"token": {randomString()}})
	switch {
	case a.err != nil:
		return notApplicable("the revocation endpoint did not answer: "+a.err.Error(), a.ex)
	case a.status != http.StatusOK:
		return fail(fmt.Sprintf("a token the server never issued was answered %s, not 200", a.describe()), a.ex)
	}
	return pass("answered 200", a.ex)
}

func (r *run) revokedRefused() verdict {
	_, a, why := r.p.tokens(r.ctx, r.primary)
	if why != "" {
		return notApplicable(why)
	}
	rt := a.str("refresh_token")
	if rt == "" {
		return notApplicable("the server issued no refresh token to revoke")
	}
	rev := r.p.post(r.ctx, r.p.ep.Revocation, r.primary, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}})
	if rev.err != nil || rev.status != http.StatusOK {
		return notApplicable("the revocation request was answered "+rev.describe(), rev.ex)
	}
	after := r.p.refresh(r.ctx, r.primary, rt)
	switch {
	case after.err != nil:
		return notApplicable("the token endpoint did not answer: "+after.err.Error(), rev.ex, after.ex)
	case after.refused():
		return pass("the revoked refresh token was refused: "+after.describe(), rev.ex, after.ex)
	}
	return fail("the revocation was answered 200, yet the refresh token still works", rev.ex, after.ex)
}

func (r *run) pushed() verdict {
	f := &flow{reg: r.primary, redirectURI: r.primary.RedirectURI, state: randomString()}
	v := pkce.NewVerifier()
	f.verifier, f.challenge = v.Reveal(), v.Challenge()
	r.p.secret(f.state, f.verifier)
	a := r.p.post(r.ctx, r.p.ep.PAR, r.primary, r.p.authorizationParams(f, true))
	r.push = a
	expires, _ := a.obj["expires_in"].(float64)
	switch {
	case a.err != nil:
		return notApplicable("the endpoint did not answer: "+a.err.Error(), a.ex)
	case a.status != http.StatusCreated:
		return fail(fmt.Sprintf("answered %s, not 201", a.describe()), a.ex)
	case !a.json():
		return fail("the answer is not a JSON object labelled application/json", a.ex)
	case a.str("request_uri") == "":
		return fail("the answer has no request_uri; its members are "+keysOf(a.obj), a.ex)
	case expires <= 0:
		return fail("the answer has no positive expires_in; its members are "+keysOf(a.obj), a.ex)
	}
	return pass(fmt.Sprintf("201 with request_uri and expires_in %v", expires), a.ex)
}

func (r *run) requestURIOnce() verdict {
	a := r.push
	if a == nil || a.str("request_uri") == "" {
		return notApplicable("no request_uri was pushed (see the previous check)")
	}
	uri := a.str("request_uri")
	first := r.p.authorize(r.ctx, r.primary, flowOptions{requestURI: uri})
	if first.code() == "" {
		return notApplicable("the request_uri was not accepted even once: "+first.failure(), first.ex)
	}
	second := r.p.authorize(r.ctx, r.primary, flowOptions{requestURI: uri})
	if second.code() != "" {
		return fail("the request_uri brought a second code", first.ex, second.ex)
	}
	return pass("the second use brought no code: "+second.failure(), first.ex, second.ex)
}
