package servercheck

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/pkcekit/pkce"
)

// A flow is one authorization request, completed by the SignIn, and what
// came back on the redirect.
type flow struct {
	reg         Registration
	redirectURI string
	verifier    string
	challenge   string
	state       string
	callback    url.Values // nil when no redirect came
	ex          Exchange
	err         error // why no redirect came
}

// code returns the code of the redirect, or "".
func (f *flow) code() string { return f.callback.Get("code") }

// flowOptions vary an authorization request from the usual one.
type flowOptions struct {
	redirectURI string // instead of the registered one
	noChallenge bool   // send no code_challenge
	requestURI  string // a pushed request_uri: send only it and client_id
}

// authorize sends reg's browser to the authorization endpoint with a
// fresh verifier and state, and lets the SignIn complete it.
func (p *prober) authorize(ctx context.Context, reg Registration, o flowOptions) *flow {
	f := &flow{reg: reg, redirectURI: reg.RedirectURI, state: randomString()}
	if o.redirectURI != "" {
		f.redirectURI = o.redirectURI
	}
	v := pkce.NewVerifier()
	f.verifier, f.challenge = v.Reveal(), v.Challenge()
	p.secret(f.verifier, f.state)
	q := url.Values{"client_id": {reg.ID}}
	if o.requestURI != "" {
		q.Set("request_uri", o.requestURI)
	} else {
		q = p.authorizationParams(f, !o.noChallenge)
	}
	authURL, err := withQuery(p.ep.Authorization, q)
	if err != nil {
		f.err = err
		return f
	}
	f.ex = Exchange{Request: "GET " + authURL + "\n(completed by the sign-in)"}
	callback, err := p.signIn(ctx, authURL, f.redirectURI)
	if err != nil {
		f.err = err
		f.ex.Error = err.Error()
		return f
	}
	f.ex.Response = "redirect to " + callback
	u, err := url.Parse(callback)
	if err != nil {
		f.err = fmt.Errorf("the redirect URL is malformed")
		return f
	}
	f.callback = u.Query()
	p.secret(f.code())
	return f
}

// authorizationParams are the parameters of f's authorization request
// (RFC 6749 §4.1.1, RFC 7636 §4.3).
func (p *prober) authorizationParams(f *flow, challenge bool) url.Values {
	q := cloneValues(p.cfg.AuthorizationParams)
	q.Set("response_type", "code")
	q.Set("client_id", f.reg.ID)
	q.Set("redirect_uri", f.redirectURI)
	q.Set("state", f.state)
	if p.cfg.Scope != "" {
		q.Set("scope", p.cfg.Scope)
	}
	if challenge {
		q.Set("code_challenge", f.challenge)
		q.Set("code_challenge_method", "S256")
	}
	return q
}

// exchange redeems f's code at the token endpoint with form's
// parameters over the usual ones (RFC 6749 §4.1.3); a parameter set to
// "" is left out.
func (p *prober) exchange(ctx context.Context, f *flow, reg Registration, form url.Values) *answer {
	params := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {f.code()},
		"redirect_uri":  {f.redirectURI},
		"code_verifier": {f.verifier},
	}
	for k, vs := range form {
		if len(vs) == 1 && vs[0] == "" {
			delete(params, k)
			continue
		}
		params[k] = vs
	}
	return p.post(ctx, p.ep.Token, reg, params)
}

// refresh uses a refresh token (RFC 6749 §6).
func (p *prober) refresh(ctx context.Context, reg Registration, rt string) *answer {
	return p.post(ctx, p.ep.Token, reg, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// tokens signs in as reg and redeems the code, for the checks that need
// tokens to work on. It returns the flow, the answer, and why there are
// no tokens when there are none.
func (p *prober) tokens(ctx context.Context, reg Registration) (*flow, *answer, string) {
	f := p.authorize(ctx, reg, flowOptions{})
	if f.code() == "" {
		return f, nil, "no code to redeem: " + f.failure()
	}
	a := p.exchange(ctx, f, reg, nil)
	if !a.issued() || !a.json() {
		return f, a, "the code was not redeemed for tokens: " + a.describe()
	}
	return f, a, ""
}

// failure says why f brought no code.
func (f *flow) failure() string {
	switch {
	case f.err != nil:
		return "the sign-in failed: " + f.err.Error()
	case f.callback.Get("error") != "":
		return fmt.Sprintf("the server redirected with error %q", f.callback.Get("error"))
	}
	return "the redirect had no code"
}

func withQuery(endpoint string, q url.Values) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || endpoint == "" {
		return "", fmt.Errorf("the authorization endpoint %q is not a URL", endpoint)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + q.Encode()
	} else {
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// wellKnown returns the URL of a metadata document for issuer: the
// well-known suffix inserted between host and path (RFC 8414 §3), or
// appended for OpenID Connect Discovery.
func wellKnown(issuer, suffix string, insert bool) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	path := strings.TrimSuffix(u.Path, "/")
	if insert {
		u.Path = "/.well-known/" + suffix + path
	} else {
		u.Path = path + "/.well-known/" + suffix
	}
	u.RawPath = ""
	return u.String()
}
