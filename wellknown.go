package pkce

// Fetching metadata from its well-known locations: RFC 8414 §3 and
// OpenID Connect Discovery 1.0 §4, with the fallbacks and redirects real
// servers need.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// metadataURLs returns the RFC 8414 §3.1 URL and the OpenID Connect
// Discovery 1.0 §4 URL of issuer's metadata. Both drop a terminating slash
// of the issuer's path.
func metadataURLs(issuer string) (oauth, openid string) {
	u, _ := url.Parse(issuer) // checked by checkIssuer
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return origin + "/.well-known/oauth-authorization-server" + path,
		origin + path + "/.well-known/openid-configuration"
}

func discover(ctx context.Context, fallback *http.Client, issuer string, limit int64) (*Metadata, error) {
	if err := checkIssuer(issuer); err != nil {
		return nil, err
	}
	oauthURL, openidURL := metadataURLs(issuer)
	return discoverAt(ctx, fallback, issuer, []string{oauthURL, openidURL}, limit)
}

// discoverAt asks the locations in order until one yields metadata (see
// Discover for what makes it try the next), and checks the issuer and the
// document.
func discoverAt(ctx context.Context, fallback *http.Client, issuer string, locations []string, limit int64) (*Metadata, error) {
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	hc := userHTTPClient(ctx, fallback)
	hc = &http.Client{Transport: hc.Transport, CheckRedirect: sameOriginRedirects, Jar: hc.Jar, Timeout: hc.Timeout}
	var (
		md       *Metadata
		from     string
		err      error
		previous []string
	)
	for i, u := range locations {
		var tryNext bool
		md, from, tryNext, err = fetchMetadata(ctx, hc, u, limit)
		if !tryNext || i == len(locations)-1 {
			break
		}
		var re *ResponseError
		if errors.As(err, &re) {
			previous = append(previous, re.attempt())
		} else {
			previous = append(previous, fmt.Sprintf("at %q: %s", clip(u, 200), strings.TrimPrefix(err.Error(), "pkce: ")))
		}
	}
	if err != nil {
		var re *ResponseError
		if len(previous) > 0 && errors.As(err, &re) {
			re.tried = previous
		}
		return nil, err
	}
	if md.Issuer != issuer {
		problem := issuerMismatch(md.Issuer, issuer) // tolerances.go
		return nil, &ResponseError{Op: opDiscover, Err: ErrIssuerMismatch, URL: from, Problem: problem, Rule: "RFC 8414 §3.3"}
	}
	if err := md.check(from); err != nil {
		return nil, err
	}
	return md, nil
}

// maxMetadataRedirects bounds the redirects a metadata GET follows.
const maxMetadataRedirects = 3

// sameOriginRedirects lets a metadata GET, which carries no credentials,
// follow a few redirects within the origin it started at (a server that
// adds a trailing slash, say). The issuer check afterwards keeps a
// redirect from changing whom the client trusts.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) > maxMetadataRedirects {
		return fmt.Errorf("pkce: more than %d redirects", maxMetadataRedirects)
	}
	if !sameOrigin(req.URL, via[0].URL) {
		return &crossOriginRedirect{target: req.URL.String()}
	}
	return nil
}

type crossOriginRedirect struct{ target string }

func (e *crossOriginRedirect) Error() string {
	return "pkce: a redirect leaves the origin of the metadata URL"
}

// metadataMembers are the member names of Metadata, which must be exact.
var metadataMembers = []string{"issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint",
	"pushed_authorization_request_endpoint", "require_pushed_authorization_requests", "response_types_supported",
	"code_challenge_methods_supported", "token_endpoint_auth_methods_supported",
	"authorization_response_iss_parameter_supported", "registration_endpoint", "scopes_supported",
	"client_id_metadata_document_supported",
	"token_endpoint_auth_signing_alg_values_supported", "dpop_signing_alg_values_supported",
	"jwks_uri", "userinfo_endpoint", "end_session_endpoint"}

// fetchMetadata GETs one metadata document (RFC 8414 §3.1, §3.2) and
// returns it with the URL it came from. tryNext reports an answer after
// which the next location may be tried: any 4xx, or a 2xx that is not a
// JSON object labelled as JSON.
func fetchMetadata(ctx context.Context, hc *http.Client, u string, limit int64) (md *Metadata, from string, tryNext bool, err error) {
	md = new(Metadata)
	from, tryNext, err = fetchJSON(ctx, hc, opDiscover, u, limit, "RFC 8414 §3.2", "RFC 8414 §2", metadataMembers, md)
	if err != nil {
		return nil, from, tryNext, err
	}
	return md, from, false, nil
}

// fetchJSON GETs the JSON object at u into dst, for the metadata
// documents of RFC 8414 and RFC 9728. The body is bounded by limit;
// members are the names that must be exact (see caseCollision). rule is
// where the answer's form is written, memberRule where the members are.
// tryNext reports an answer after which another location may be tried:
// any 4xx, or a 2xx that is not a JSON object labelled as JSON.
func fetchJSON(ctx context.Context, hc *http.Client, op string, u string, limit int64, rule, memberRule string, members []string, dst any) (from string, tryNext bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return u, false, &requestError{Op: op, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		var cross *crossOriginRedirect
		if errors.As(err, &cross) {
			return u, false, &ResponseError{Op: op, Err: errUnexpectedStatus, URL: u,
				Problem: fmt.Sprintf("a redirect to %q, outside the origin of the metadata URL, which is not followed", clip(cross.target, 200)),
				Rule:    rule}
		}
		return u, false, &requestError{Op: op, Err: err}
	}
	from = resp.Request.URL.String()
	body, err := readBody(op, resp, limit, redactor{})
	if err != nil {
		return from, false, err
	}
	r := newServerResponse(op, from, resp, body, redactor{}, "")
	switch {
	case r.status >= 400 && r.status < 500:
		return from, true, r.fail(errUnexpectedStatus, "no metadata here", rule)
	case r.status >= 300 && r.status < 400:
		return from, false, r.fail(errUnexpectedStatus, fmt.Sprintf("a redirect to %q, which is not followed", clip(resp.Header.Get("Location"), 200)), rule)
	case r.status != http.StatusOK:
		return from, false, r.fail(errUnexpectedStatus, "metadata must be served with status 200", rule)
	}
	if _, err := r.jsonObject(rule, members...); err != nil {
		return from, errors.Is(err, errNotJSON), err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return from, false, r.fail(ErrInvalidResponse, fmt.Sprintf("member %s is not a JSON %s", clip(te.Field, 60), jsonKind(te.Type.Kind().String())), memberRule)
		}
		return from, false, r.fail(ErrInvalidResponse, "the JSON object cannot be read", memberRule)
	}
	return from, false, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice":
		return "array of strings"
	case "bool":
		return "boolean"
	}
	return goKind
}
