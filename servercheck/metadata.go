package servercheck

import (
	"fmt"
	"slices"
	"strings"
)

// discover fetches the metadata as clients meet it: the RFC 8414
// well-known URI first, then OpenID Connect Discovery's, without following
// redirects (a client that did would have to check the issuer of a
// document it did not ask for).
func (r *run) discover() {
	p := r.p
	r.oauthMD = p.get(r.ctx, wellKnown(p.cfg.Issuer, "oauth-authorization-server", true))
	if r.oauthMD.status == 200 && r.oauthMD.json() {
		p.md = r.oauthMD.obj
		return
	}
	r.oidcMD = p.get(r.ctx, wellKnown(p.cfg.Issuer, "openid-configuration", false))
	if r.oidcMD.status == 200 && r.oidcMD.json() {
		p.md = r.oidcMD.obj
	}
}

// mdEvidence is the answer the metadata came from, or both answers.
func (r *run) mdEvidence() []Exchange {
	var out []Exchange
	for _, a := range []*answer{r.oauthMD, r.oidcMD} {
		if a != nil {
			out = append(out, a.ex)
		}
	}
	return out
}

func (r *run) metadataAtWellKnown() verdict {
	a := r.oauthMD
	switch {
	case a.err != nil:
		return fail("no answer at the RFC 8414 well-known URI: "+a.err.Error(), a.ex)
	case a.status == 200:
		return pass("answered 200 at the RFC 8414 well-known URI", a.ex)
	case a.status/100 == 3:
		return fail(fmt.Sprintf("the RFC 8414 well-known URI answers %d with a redirect to %q; clients do not follow it, since the document must be the one asked for", a.status, a.header.Get("Location")), a.ex)
	case r.p.md != nil:
		return fail(fmt.Sprintf("the RFC 8414 well-known URI answers %d; only OpenID Connect Discovery serves the metadata", a.status), r.mdEvidence()...)
	}
	return fail(fmt.Sprintf("the RFC 8414 well-known URI answers %d", a.status), r.mdEvidence()...)
}

func (r *run) metadataIsJSON() verdict {
	answered := false
	for _, a := range []*answer{r.oauthMD, r.oidcMD} {
		if a == nil || a.err != nil || a.status != 200 {
			continue
		}
		answered = true
		if !a.json() {
			return fail(fmt.Sprintf("a well-known URI answered 200 with %q, not a JSON object labelled application/json", a.header.Get("Content-Type")), a.ex)
		}
	}
	if !answered {
		return notApplicable("neither well-known URI answered 200: no metadata to judge", r.mdEvidence()...)
	}
	return pass("the metadata is a JSON object labelled application/json", r.mdEvidence()...)
}

func (r *run) metadataIssuer() verdict {
	md := r.p.md
	if md == nil {
		return notApplicable("no metadata document", r.mdEvidence()...)
	}
	iss, _ := md["issuer"].(string)
	if iss != r.p.cfg.Issuer {
		return fail(fmt.Sprintf("the metadata's issuer is %q, not %q", iss, r.p.cfg.Issuer), r.mdEvidence()...)
	}
	return pass("issuer is "+iss, r.mdEvidence()...)
}

func (r *run) metadataMembers() verdict {
	md := r.p.md
	if md == nil {
		return notApplicable("no metadata document", r.mdEvidence()...)
	}
	// RFC 8414 §2: authorization_endpoint and token_endpoint are required
	// for a server that supports the authorization code grant.
	var missing []string
	for _, name := range []string{"issuer", "authorization_endpoint", "token_endpoint"} {
		if s, _ := md[name].(string); s == "" {
			missing = append(missing, name)
		}
	}
	if list, _ := md["response_types_supported"].([]any); len(list) == 0 {
		missing = append(missing, "response_types_supported")
	}
	if len(missing) > 0 {
		return fail("missing or not of the right type: "+strings.Join(missing, ", "), r.mdEvidence()...)
	}
	return pass("issuer, authorization_endpoint, token_endpoint and response_types_supported are present", r.mdEvidence()...)
}

func (r *run) metadataS256() verdict {
	md := r.p.md
	if md == nil {
		return notApplicable("no metadata document", r.mdEvidence()...)
	}
	list, ok := md["code_challenge_methods_supported"].([]any)
	if !ok {
		return fail("code_challenge_methods_supported is missing, which RFC 8414 §2 reads as no PKCE support", r.mdEvidence()...)
	}
	if !slices.Contains(list, any("S256")) {
		return fail(fmt.Sprintf("code_challenge_methods_supported is %v, without S256", list), r.mdEvidence()...)
	}
	return pass("S256 is listed", r.mdEvidence()...)
}
