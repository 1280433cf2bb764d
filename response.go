package pkce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/pkcekit/pkce/internal/wire"
	"golang.org/x/oauth2"
)

// Reading what the authorization server answered: the shared rules of the
// token, PAR, revocation and metadata endpoints.

// serverResponse is one answer of the authorization server, its body read
// in full within the client's bound.
type serverResponse struct {
	op          string
	url         string
	status      int
	contentType string
	body        []byte
	http        *http.Response // its body is read and closed
	secrets     redactor       // the secrets of the request, for every message
	authMethod  AuthMethod
}

func newServerResponse(op string, u string, resp *http.Response, body []byte, secrets redactor, m AuthMethod) *serverResponse {
	return &serverResponse{op: op, url: u, status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"),
		body: body, http: resp, secrets: secrets, authMethod: m}
}

// fail returns a *ResponseError about r.
// rules are the rule broken and any further ones.
func (r *serverResponse) fail(kind error, problem string, rules ...string) error {
	e := &ResponseError{Op: r.op, Err: kind, StatusCode: r.status, ContentType: r.secrets.clean(r.contentType),
		Problem: problem}
	if len(rules) > 0 {
		e.Rule = rules[0]
	}
	if len(rules) > 1 {
		e.Also = rules[1:]
	}
	if r.op == opDiscover || r.op == opResourceMetadata || r.op == opRegister {
		e.URL = r.url
	}
	if r.status < 200 || r.status > 299 {
		e.retrieve = r.retrieveError("", "", "")
	}
	return e
}

// excerpt describes r's body for a message. A registration answer is not
// quoted at all: it may carry a newly issued client secret, which no
// redactor can know beforehand (RFC 7591 §3.2.1).
func (r *serverResponse) excerpt() string {
	if len(r.body) == 0 {
		return "" // nothing to quote, and the problem already says so
	}
	if r.op == opRegister {
		return fmt.Sprintf("%d bytes", len(r.body))
	}
	return r.secrets.excerpt(r.body)
}

// withExcerpt appends the excerpt of a body to a problem, when there is
// one.
func withExcerpt(problem, excerpt string) string {
	if excerpt == "" {
		return problem
	}
	return problem + ": " + excerpt
}

// retrieveError returns an *oauth2.RetrieveError about r that is safe to
// hand out: its body and headers are cleaned of the request's secrets,
// and its response leads to a request that has nothing but the method and
// URL (no header, no body, no context holding the raw answer).
func (r *serverResponse) retrieveError(code, description, uri string) *oauth2.RetrieveError {
	resp := &http.Response{Status: r.secrets.clean(r.http.Status), StatusCode: r.status, Proto: r.http.Proto,
		ProtoMajor: r.http.ProtoMajor, ProtoMinor: r.http.ProtoMinor, Header: make(http.Header, len(r.http.Header)),
		Body: http.NoBody}
	for k, vs := range r.http.Header {
		for _, v := range vs {
			resp.Header.Add(k, r.secrets.clean(v))
		}
	}
	if req := r.http.Request; req != nil {
		resp.Request, _ = http.NewRequestWithContext(context.Background(), req.Method, req.URL.String(), nil)
	}
	return &oauth2.RetrieveError{Response: resp, Body: []byte(r.secrets.clean(string(r.body))),
		ErrorCode: code, ErrorDescription: description, ErrorURI: uri}
}

// errorResponse turns an answer that is not a success into the package's
// errors: an *OAuthError when the body is an RFC 6749 §5.2 error object
// (which RFC 7009 §2.2.1 and RFC 9126 §2.3 reuse), a *ResponseError
// otherwise.
func (r *serverResponse) errorResponse(rules ...string) error {
	if r.status >= 300 && r.status < 400 {
		return r.fail(errUnexpectedStatus, fmt.Sprintf("a redirect to %q, which is not followed: the request carries credentials",
			clip(r.secrets.clean(r.http.Header.Get("Location")), 200)), rules...)
	}
	m, problem := decodeObject(r.body)
	if problem != "" {
		return r.fail(errNotJSON, withExcerpt(problem, r.excerpt()), rules...)
	}
	if key := m.caseCollision(errorMembers...); key != "" {
		return r.fail(ErrInvalidResponse, collisionProblem(key), rules...)
	}
	if oe := r.oauthError(m); oe != nil {
		return oe
	}
	return r.fail(errUnexpectedStatus, "an error status without an error member ("+m.names(r.secrets)+")", rules...)
}

// oauthError returns the *OAuthError that m carries, or nil when m has no
// error member.
func (r *serverResponse) oauthError(m members) *OAuthError {
	code, ok := m["error"].(string)
	if !ok || code == "" {
		return nil
	}
	clean := r.secrets.clean
	code, desc, uri := clean(code), clean(str(m["error_description"])), clean(str(m["error_uri"]))
	return &OAuthError{Op: r.op, StatusCode: r.status, Code: code, Description: desc, URI: uri,
		AuthMethod: r.authMethod, Rule: errorRule(r.op), retrieve: r.retrieveError(code, desc, uri)}
}

// jsonObject reads a successful answer: a JSON object labelled
// application/json (RFC 6749 §5.1, RFC 8414 §3.2, RFC 9126 §2.2) in which
// no member name differs from one of known only in case.
func (r *serverResponse) jsonObject(rule string, known ...string) (members, error) {
	m, problem := decodeObject(r.body)
	if problem != "" {
		return nil, r.fail(errNotJSON, withExcerpt(problem, r.excerpt()), rule)
	}
	if !isJSONMediaType(r.contentType) {
		return nil, r.fail(errNotJSON, "a JSON object, but labelled as something else than application/json", rule)
	}
	if key := m.caseCollision(known...); key != "" {
		return nil, r.fail(ErrInvalidResponse, collisionProblem(key), rule)
	}
	return m, nil
}

// errorMembers are the members of an RFC 6749 §5.2 error object.
var errorMembers = []string{"error", "error_description", "error_uri"}

// decodeObject parses a JSON object. The string result describes a
// failure and is "" on success.
func decodeObject(body []byte) (members, string) {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, "an empty body"
	case trimmed[0] == '<':
		return nil, "an HTML or XML page, not JSON"
	case trimmed[0] == '[':
		return nil, "a JSON array, not an object"
	}
	if m, ok := decodePlainObject(trimmed); ok {
		return m, ""
	}
	var m map[string]any
	err := json.Unmarshal(trimmed, &m)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && strings.HasPrefix(te.Value, "number") {
		// A number beyond float64, such as 1e400: valid JSON, so decode
		// again keeping numbers as written, for the member checks to
		// report.
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		m = nil
		err = dec.Decode(&m)
		if err == nil && dec.More() {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		return nil, "not a valid JSON object"
	}
	if m == nil {
		return nil, "JSON null, not an object"
	}
	return m, ""
}

// members is a decoded JSON object.
type members map[string]any

// caseCollision returns a member name that equals one of known except in
// case, or "". encoding/json matches struct fields case-insensitively, so
// such a name could make a decoder elsewhere use another value than the
// one checked here; the package refuses the object instead.
func (m members) caseCollision(known ...string) string {
	for key := range m {
		for _, k := range known {
			if key != k && strings.EqualFold(key, k) {
				return key
			}
		}
	}
	return ""
}

func collisionProblem(key string) string {
	return fmt.Sprintf("member %q differs from a defined member name only in case; names are case-sensitive (RFC 8259 §4)", clip(key, 40))
}

// names lists the member names only, cleaned: values may be secrets.
func (m members) names(secrets redactor) string {
	if len(m) == 0 {
		return "an empty object"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, clip(secrets.clean(k), 40))
	}
	slices.Sort(keys)
	if len(keys) > 12 {
		keys = append(keys[:12], "…")
	}
	return "members " + strings.Join(keys, ", ")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func isJSONMediaType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// clip shortens s, which may come from an untrusted server, for messages.
// It cuts at a character boundary.
func clip(s string, n int) string { return wire.Clip(s, n) }

// clipAll shortens untrusted list members for messages.
func clipAll(list []string) []string {
	out := make([]string, 0, min(len(list), 8))
	for i, s := range list {
		if i == 8 {
			out = append(out, "…")
			break
		}
		out = append(out, clip(s, 40))
	}
	return out
}

// maxDescription bounds an error_description in messages. Servers such as
// fosite put a long generic sentence first and the actual reason last, so
// the bound is generous.
const maxDescription = 1024
