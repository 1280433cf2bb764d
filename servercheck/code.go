package servercheck

import (
	"fmt"
	"net/url"

	"github.com/pkcekit/pkce"
)

// redeem signs in as the primary client and redeems the code: the flow
// every other check varies.
func (r *run) redeem() verdict {
	f := r.p.authorize(r.ctx, r.primary, flowOptions{})
	r.base = f
	if f.code() == "" {
		return fail("no code to redeem: "+f.failure(), f.ex)
	}
	a := r.p.exchange(r.ctx, f, r.primary, nil)
	r.baseAns = a
	if !a.issued() {
		return fail("the token endpoint answered "+a.describe(), f.ex, a.ex)
	}
	return pass(fmt.Sprintf("answered %d", a.status), f.ex, a.ex)
}

func (r *run) state() verdict {
	f := r.base
	if f.callback == nil {
		return notApplicable("no redirect to judge: "+f.failure(), f.ex)
	}
	if !f.callback.Has("state") {
		return fail("the redirect has no state", f.ex)
	}
	if f.callback.Get("state") != f.state {
		return fail("the redirect's state differs from the one sent", f.ex)
	}
	return pass("the state came back as sent", f.ex)
}

func (r *run) iss() verdict {
	f := r.base
	if f.callback == nil {
		return notApplicable("no redirect to judge: "+f.failure(), f.ex)
	}
	advertised, _ := r.p.md["authorization_response_iss_parameter_supported"].(bool)
	issuer := r.p.cfg.Issuer
	switch {
	case !f.callback.Has("iss") && advertised:
		return fail("the metadata sets authorization_response_iss_parameter_supported, but the redirect has no iss", f.ex)
	case !f.callback.Has("iss"):
		return notApplicable("the server sends no iss and does not advertise authorization_response_iss_parameter_supported (RFC 9207 §3): clients cannot tell its responses from another server's", f.ex)
	case f.callback.Get("iss") != issuer:
		return fail(fmt.Sprintf("iss is %q, not the issuer identifier %q", f.callback.Get("iss"), issuer), f.ex)
	}
	return pass("iss is the issuer identifier", f.ex)
}

func (r *run) redirectExact() verdict {
	altered := r.primary.RedirectURI + "x"
	f := r.p.authorize(r.ctx, r.primary, flowOptions{redirectURI: altered})
	if f.callback != nil {
		return fail(fmt.Sprintf("the server redirected to %q, which only starts with the registered %q", altered, r.primary.RedirectURI), f.ex)
	}
	return pass("the server did not redirect to "+altered+": "+f.failure(), f.ex)
}

// refusedCode judges a token request that must be refused.
func refusedCode(f *flow, a *answer, what string) verdict {
	switch {
	case a.err != nil:
		return notApplicable("the token endpoint did not answer: "+a.err.Error(), f.ex, a.ex)
	case a.refused():
		return pass("refused: "+a.describe(), f.ex, a.ex)
	}
	return fail(fmt.Sprintf("the server issued tokens for %s (answered %d)", what, a.status), f.ex, a.ex)
}

// freshCode signs in as reg for a check that redeems the code its own way.
func (r *run) freshCode(reg Registration, o flowOptions) (*flow, *verdict) {
	f := r.p.authorize(r.ctx, reg, o)
	if f.code() == "" {
		v := notApplicable("no code to work with: "+f.failure(), f.ex)
		return f, &v
	}
	return f, nil
}

func (r *run) codeTwice() verdict {
	f, a := r.base, r.baseAns
	if f.code() == "" || a == nil || !a.issued() {
		return notApplicable("the code was not redeemed once", f.ex)
	}
	again := r.p.exchange(r.ctx, f, r.primary, nil)
	return refusedCode(f, again, "a code it had redeemed before")
}

func (r *run) noVerifier() verdict {
	f, v := r.freshCode(r.primary, flowOptions{})
	if v != nil {
		return *v
	}
	return refusedCode(f, r.p.exchange(r.ctx, f, r.primary, url.Values{"code_verifier": {""}}), "a code without code_verifier")
}

func (r *run) wrongVerifier() verdict {
	f, v := r.freshCode(r.primary, flowOptions{})
	if v != nil {
		return *v
	}
	other := pkce.NewVerifier().Reveal()
	r.p.secret(other)
	a := r.p.exchange(r.ctx, f, r.primary, url.Values{"code_verifier": {other}})
	res := refusedCode(f, a, "a code with another code_verifier")
	if res.outcome == Pass && a.errorCode() != "invalid_grant" {
		return fail(fmt.Sprintf("refused, but with %s instead of invalid_grant", a.describe()), f.ex, a.ex)
	}
	return res
}

func (r *run) challengeAsVerifier() verdict {
	f, v := r.freshCode(r.primary, flowOptions{})
	if v != nil {
		return *v
	}
	return refusedCode(f, r.p.exchange(r.ctx, f, r.primary, url.Values{"code_verifier": {f.challenge}}), "a code with its S256 challenge as the verifier")
}

func (r *run) downgrade() verdict {
	f := r.p.authorize(r.ctx, r.primary, flowOptions{noChallenge: true})
	if f.code() == "" {
		return pass("the authorization request without code_challenge got no code: "+f.failure(), f.ex)
	}
	return refusedCode(f, r.p.exchange(r.ctx, f, r.primary, nil), "a code_verifier where the authorization request had no code_challenge")
}

func (r *run) codeOtherClient() verdict {
	if len(r.p.cfg.Clients) < 2 {
		return notApplicable("one client is registered; this check redeems a code as a second one")
	}
	other := r.p.cfg.Clients[1]
	f, v := r.freshCode(r.primary, flowOptions{})
	if v != nil {
		return *v
	}
	return refusedCode(f, r.p.exchange(r.ctx, f, other, nil), fmt.Sprintf("a code issued to %q, redeemed by %q", r.primary.ID, other.ID))
}

func (r *run) codeOtherRedirect() verdict {
	f, v := r.freshCode(r.primary, flowOptions{})
	if v != nil {
		return *v
	}
	return refusedCode(f, r.p.exchange(r.ctx, f, r.primary, url.Values{"redirect_uri": {f.redirectURI + "x"}}), "a code with a redirect_uri other than the authorization request's")
}
