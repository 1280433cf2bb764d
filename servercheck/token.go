package servercheck

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// baseTokens returns the answer that redeemed the first code, or why
// there is none to judge.
func (r *run) baseTokens() (*answer, *verdict) {
	a := r.baseAns
	if a == nil || !a.issued() {
		v := notApplicable("no code was redeemed (see the redemption check)", r.base.ex)
		return nil, &v
	}
	return a, nil
}

func (r *run) tokenJSON() verdict {
	a, v := r.baseTokens()
	if v != nil {
		return *v
	}
	switch {
	case a.status != 200:
		return fail(fmt.Sprintf("tokens were answered %d, not 200", a.status), a.ex)
	case !a.json():
		return fail(fmt.Sprintf("tokens were answered as %q, not a JSON object labelled application/json", a.header.Get("Content-Type")), a.ex)
	}
	return pass("200, application/json", a.ex)
}

func (r *run) tokenType() verdict {
	a, v := r.baseTokens()
	if v != nil {
		return *v
	}
	if !a.json() {
		return notApplicable("the answer is not JSON (see the check of its format)", a.ex)
	}
	if a.str("token_type") == "" {
		return fail("the answer has no token_type; its members are "+keysOf(a.obj), a.ex)
	}
	return pass("token_type is "+a.str("token_type"), a.ex)
}

func (r *run) noStore() verdict {
	a, v := r.baseTokens()
	if v != nil {
		return *v
	}
	for _, cc := range a.header.Values("Cache-Control") {
		for _, d := range strings.Split(cc, ",") {
			if strings.EqualFold(strings.TrimSpace(d), "no-store") {
				return pass("Cache-Control: "+cc, a.ex)
			}
		}
	}
	return fail(fmt.Sprintf("Cache-Control is %q; an answer with tokens must not be stored by caches", a.header.Get("Cache-Control")), a.ex)
}

// unknownCode asks the token endpoint to redeem a code it never issued,
// as reg.
func (r *run) unknownCode(reg Registration) *answer {
	code := randomString()
	return r.p.post(r.ctx, r.p.ep.Token, reg, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {reg.RedirectURI},
		"code_verifier": {randomString() + randomString()},
	})
}

func (r *run) errorStatus() verdict {
	a := r.unknownCode(r.primary)
	switch {
	case a.err != nil:
		return notApplicable("the token endpoint did not answer: "+a.err.Error(), a.ex)
	case a.status != http.StatusBadRequest:
		return fail(fmt.Sprintf("a code the server never issued was answered %d, not 400", a.status), a.ex)
	}
	return pass("answered 400", a.ex)
}

func (r *run) errorJSON() verdict {
	a := r.unknownCode(r.primary)
	switch {
	case a.err != nil:
		return notApplicable("the token endpoint did not answer: "+a.err.Error(), a.ex)
	case a.issued():
		return notApplicable("a code the server never issued was redeemed", a.ex)
	case !a.json():
		return fail(fmt.Sprintf("the error was answered as %q, not a JSON object labelled application/json", a.header.Get("Content-Type")), a.ex)
	case a.str("error") == "":
		return fail("the error object has no error member; its members are "+keysOf(a.obj), a.ex)
	}
	return pass("error is "+a.str("error"), a.ex)
}

// registered returns the first registration with one of methods.
func (r *run) registered(methods ...string) (Registration, bool) {
	for _, reg := range r.p.cfg.Clients {
		for _, m := range methods {
			if reg.Method == m {
				return reg, true
			}
		}
	}
	return Registration{}, false
}

func (r *run) basic401() verdict {
	reg, ok := r.registered(AuthSecretBasic)
	if !ok {
		return notApplicable("no client with client_secret_basic is registered")
	}
	a := r.unknownCode(impostor(reg))
	switch {
	case a.err != nil:
		return notApplicable("the token endpoint did not answer: "+a.err.Error(), a.ex)
	case a.status != http.StatusUnauthorized:
		return fail(fmt.Sprintf("a wrong secret sent with HTTP Basic was answered %s, not 401", a.describe()), a.ex)
	case a.header.Get("WWW-Authenticate") == "":
		return fail("answered 401 without WWW-Authenticate", a.ex)
	}
	return pass("401 with WWW-Authenticate: "+a.header.Get("WWW-Authenticate"), a.ex)
}

func (r *run) wrongCredentials() verdict {
	reg, ok := r.registered(AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT)
	if !ok {
		return notApplicable("no confidential client is registered")
	}
	f, v := r.freshCode(reg, flowOptions{})
	if v != nil {
		return *v
	}
	what := "a wrong secret"
	if reg.Method == AuthPrivateKeyJWT {
		what = "an assertion signed with a key it never registered"
	}
	return refusedCode(f, r.p.exchange(r.ctx, f, impostor(reg), nil), fmt.Sprintf("client %q authenticated (%s) with %s", reg.ID, reg.Method, what))
}
