package servercheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
)

// What a check needs of the server before it can run.
type need int

const (
	needNothing need = iota
	needFlow         // authorization and token endpoints
	needRevocation
	needPAR
)

// A check tests one rule. Its name is the rule and what it does.
type check struct {
	rule  string
	grade Grade
	what  string
	needs need
	run   func(*run) verdict
}

func (c check) name() string { return c.rule + ": " + c.what }

type verdict struct {
	outcome  Outcome
	why      string
	evidence []Exchange
}

func pass(why string, ev ...Exchange) verdict { return verdict{Pass, why, ev} }
func fail(why string, ev ...Exchange) verdict { return verdict{Fail, why, ev} }
func notApplicable(why string, ev ...Exchange) verdict {
	return verdict{NotApplicable, why, ev}
}

// checks are run in this order; later ones use what earlier ones found.
var checks = []check{
	{"RFC 8414 §3", Should, "metadata is served at the RFC 8414 well-known URI, without a redirect", needNothing, (*run).metadataAtWellKnown},
	{"RFC 8414 §3.2", Must, "metadata is answered 200 with a JSON object", needNothing, (*run).metadataIsJSON},
	{"RFC 8414 §3.3", Must, "the metadata's issuer is identical to the issuer identifier", needNothing, (*run).metadataIssuer},
	{"RFC 8414 §2", Must, "the metadata has the required members", needNothing, (*run).metadataMembers},
	{"RFC 9700 §2.1.1", Should, "the metadata lists S256 in code_challenge_methods_supported", needNothing, (*run).metadataS256},

	{"RFC 6749 §4.1.3", Must, "a code is redeemed for tokens with its code_verifier", needFlow, (*run).redeem},
	{"RFC 6749 §4.1.2", Must, "state is returned unchanged", needFlow, (*run).state},
	{"RFC 9207 §2", Must, "iss on the authorization response is the issuer identifier", needFlow, (*run).iss},
	{"RFC 9700 §4.1.3", Must, "a redirect_uri that is not registered exactly is refused", needFlow, (*run).redirectExact},

	{"RFC 6749 §5.1", Must, "tokens are answered 200 with a JSON object", needFlow, (*run).tokenJSON},
	{"RFC 6749 §5.1", Must, "the token answer has token_type", needFlow, (*run).tokenType},
	{"RFC 6749 §5.1", Must, "the token answer has Cache-Control: no-store", needFlow, (*run).noStore},

	{"RFC 6749 §4.1.2", Must, "a code used twice is refused", needFlow, (*run).codeTwice},
	{"RFC 9700 §2.1.1", Must, "a code is refused without its code_verifier", needFlow, (*run).noVerifier},
	{"RFC 7636 §4.6", Must, "a wrong code_verifier is refused with invalid_grant", needFlow, (*run).wrongVerifier},
	{"RFC 7636 §4.6", Must, "the S256 code_challenge sent as a plain code_verifier is refused", needFlow, (*run).challengeAsVerifier},
	{"RFC 9700 §2.1.1", Must, "a code_verifier is refused when the authorization request had no code_challenge", needFlow, (*run).downgrade},
	{"RFC 6749 §4.1.3", Must, "a code is refused to another client", needFlow, (*run).codeOtherClient},
	{"RFC 6749 §4.1.3", Must, "a code is refused with another redirect_uri", needFlow, (*run).codeOtherRedirect},

	{"RFC 6749 §5.2", Must, "an error is answered with status 400", needFlow, (*run).errorStatus},
	{"RFC 6749 §5.2", Must, "an error is answered as a JSON object with an error member", needFlow, (*run).errorJSON},
	{"RFC 6749 §5.2", Must, "failed Basic authentication is answered 401 with WWW-Authenticate", needFlow, (*run).basic401},
	{"RFC 6749 §4.1.3", Must, "a confidential client with wrong credentials is refused", needFlow, (*run).wrongCredentials},

	{"RFC 9700 §4.14.2", Must, "a public client's refresh token is rotated or sender-constrained", needFlow, (*run).rotated},
	{"RFC 9700 §4.14.2", Must, "a rotated refresh token is refused", needFlow, (*run).rotatedRefused},
	{"RFC 9700 §4.14.2", Should, "using a rotated refresh token revokes the active one", needFlow, (*run).reuseDetected},

	{"RFC 7009 §2.2", Must, "revoking an unknown token is answered 200", needRevocation, (*run).revokeUnknown},
	{"RFC 7009 §2.1", Must, "a revoked refresh token is refused", needRevocation, (*run).revokedRefused},

	{"RFC 9126 §2.2", Must, "a pushed request is answered 201 with request_uri and expires_in", needPAR, (*run).pushed},
	{"RFC 9126 §4", Should, "a request_uri is used once", needPAR, (*run).requestURIOnce},
}

// Names lists the names of the checks, in the order they run.
func Names() []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c.name()
	}
	return out
}

// run is one run of the checks: the prober and what the checks found
// that later ones use.
type run struct {
	ctx context.Context
	p   *prober

	oauthMD, oidcMD *answer // the answers at the two well-known URIs

	primary Registration
	base    *flow   // the first sign-in, as primary
	baseAns *answer // the redemption of its code

	rot  *rotation // what the refresh checks found
	push *answer   // the pushed authorization request
}

// Check runs every check against the server cfg names and reports the
// results. The error is for a configuration the checks cannot start
// with; what the server does wrong is in the report.
func Check(ctx context.Context, cfg Config) (*Report, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	p := &prober{cfg: cfg, hc: stopAtRedirects(cfg.HTTPClient), signIn: cfg.SignIn}
	if p.signIn == nil {
		p.signIn = FollowRedirects(cfg.HTTPClient)
	}
	r := &run{ctx: ctx, p: p, primary: cfg.Clients[0]}
	rep := &Report{Issuer: cfg.Issuer}
	r.discover()
	for i, c := range checks {
		if i == 5 { // the metadata checks are done: find the endpoints
			if err := p.resolveEndpoints(); err != nil {
				return rep, err
			}
		}
		v := r.precondition(c.needs)
		if v.outcome == "" {
			v = c.run(r)
		}
		rep.Results = append(rep.Results, Result{Name: c.name(), Rule: c.rule, Grade: c.grade,
			Outcome: v.outcome, Why: p.redact(v.why), Evidence: v.evidence})
	}
	// Redact at the end, when every secret of the run is known.
	for i := range rep.Results {
		for j := range rep.Results[i].Evidence {
			ex := &rep.Results[i].Evidence[j]
			ex.Request, ex.Body, ex.Response, ex.Error = p.redact(ex.Request), p.redact(ex.Body), p.redact(ex.Response), p.redact(ex.Error)
		}
	}
	return rep, ctx.Err()
}

// precondition says why a check that needs n cannot run, or nothing.
func (r *run) precondition(n need) verdict {
	ep := r.p.ep
	switch {
	case n == needNothing:
	case ep.Authorization == "" || ep.Token == "":
		return notApplicable("the authorization or token endpoint is unknown: the metadata does not name it and the configuration does not give it")
	case n == needRevocation && ep.Revocation == "":
		return notApplicable("the server offers no revocation endpoint (no revocation_endpoint in its metadata)")
	case n == needPAR && ep.PAR == "":
		return notApplicable("the server offers no pushed authorization request endpoint (no pushed_authorization_request_endpoint in its metadata)")
	}
	return verdict{}
}

// resolveEndpoints fills the endpoints the configuration left empty from
// the metadata, and refuses any that would carry credentials in clear.
func (p *prober) resolveEndpoints() error {
	fill := func(dst *string, member string) {
		if *dst == "" {
			*dst, _ = p.md[member].(string)
		}
	}
	fill(&p.ep.Authorization, "authorization_endpoint")
	fill(&p.ep.Token, "token_endpoint")
	fill(&p.ep.Revocation, "revocation_endpoint")
	fill(&p.ep.PAR, "pushed_authorization_request_endpoint")
	for _, e := range []string{p.ep.Authorization, p.ep.Token, p.ep.Revocation, p.ep.PAR} {
		if e != "" && !secureURL(e) {
			return fmt.Errorf("servercheck: endpoint %q is neither https nor loopback http; no credentials are sent to it", e)
		}
	}
	return nil
}

func checkConfig(cfg Config) error {
	if !secureURL(cfg.Issuer) {
		return errors.New("servercheck: the issuer must be an https URL, or http on a loopback address")
	}
	if len(cfg.Clients) == 0 {
		return errors.New("servercheck: no client registration to act as")
	}
	for _, reg := range cfg.Clients {
		if err := reg.check(); err != nil {
			return err
		}
	}
	return nil
}

// secureURL reports whether u is https, or http on a loopback address.
func secureURL(u string) bool {
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" {
		return false
	}
	if parsed.Scheme == "https" {
		return true
	}
	host := parsed.Hostname()
	ip := net.ParseIP(host)
	return parsed.Scheme == "http" && (host == "localhost" || ip != nil && ip.IsLoopback())
}

// Run runs every check against the server cfg names, from a test: one
// subtest per check, named after it. A failed MUST fails its subtest; a
// failed SHOULD and a check that does not apply skip theirs, with why.
// It returns the report, e.g. to write it as JUnit XML.
func Run(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep, err := Check(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range rep.Results {
		t.Run(res.Name, func(t *testing.T) {
			switch {
			case res.Outcome == Fail && res.Grade == Must:
				t.Errorf("%s", res.Why)
				for _, ex := range res.Evidence {
					t.Logf("\n%s", ex)
				}
			case res.Outcome == Fail:
				t.Skipf("SHOULD not kept: %s", res.Why)
			case res.Outcome == NotApplicable:
				t.Skipf("not applicable: %s", res.Why)
			}
		})
	}
	return rep
}
