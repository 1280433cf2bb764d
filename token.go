package pkce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// A Token is what the token endpoint issued: an *oauth2.Token, so it works
// with everything in golang.org/x/oauth2, that prints without its secrets.
// Members of the response the package does not model (scope, id_token,
// vendor members) are reachable through Extra.
type Token struct {
	*oauth2.Token
}

// IDToken returns the OpenID Connect id_token member, or "". The package
// does not verify it; use an OpenID Connect library for that.
func (t Token) IDToken() string { return t.member("id_token") }

// Scope returns the scope member: the granted scope, which servers must
// send when it differs from the requested one (RFC 6749 §5.1). "" means
// either that the server left the member out (the requested scope was
// granted) or that it granted no scope; Extra("scope") tells them apart.
func (t Token) Scope() string { return t.member("scope") }

func (t Token) member(key string) string {
	if t.Token == nil {
		return ""
	}
	s, _ := t.Extra(key).(string)
	return s
}

// String describes the token without the access or refresh token.
func (t Token) String() string {
	if t.Token == nil {
		return "pkce.Token(nil)"
	}
	return fmt.Sprintf("pkce.Token{type: %s, expiry: %s, access_token: %s, refresh_token: %s, id_token: %s}",
		t.Type(), expiryString(t.Expiry), presence(t.AccessToken), presence(t.RefreshToken), presence(t.IDToken()))
}

// Format prints the String form for every verb, %#v included.
func (t Token) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue implements slog.LogValuer without the secrets.
func (t Token) LogValue() slog.Value {
	if t.Token == nil {
		return slog.StringValue("pkce.Token(nil)")
	}
	return slog.GroupValue(
		slog.String("type", t.Type()),
		slog.String("expiry", expiryString(t.Expiry)),
		slog.String("access_token", presence(t.AccessToken)),
		slog.String("refresh_token", presence(t.RefreshToken)),
	)
}

func expiryString(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.RFC3339)
}

// Exchange redeems an authorization code (RFC 6749 §4.1.3) with the flow's
// verifier (RFC 7636 §4.5) and redirect URI. Most callers use Finish, which
// verifies the callback first.
//
// The request goes through golang.org/x/oauth2 with the client's
// authentication style set explicitly, so the secret is sent once and the
// code is presented once. The response must be a JSON object labelled
// application/json with a non-empty access_token, a token_type of Bearer
// (or one allowed with AllowTokenType) and, if present, a non-negative
// integer expires_in (RFC 6749 §5.1).
func (c *Client) Exchange(ctx context.Context, f *Flow, code string) (*Token, error) {
	if f == nil || f.Verifier.IsZero() || f.RedirectURL == "" {
		return nil, &CallbackError{Err: ErrInvalidFlow}
	}
	if code == "" {
		return nil, &CallbackError{Err: ErrMissingCode, Param: "code", Rule: "RFC 6749 §4.1.3"}
	}
	cfg := &c.config
	if f.RedirectURL != cfg.RedirectURL {
		cp := c.config
		cp.RedirectURL = f.RedirectURL
		cfg = &cp
	}
	verifier := f.Verifier.Reveal()
	secrets := c.redactor(code, verifier)
	return c.retrieve(ctx, "authorization_code", secrets, func(ctx context.Context) (*oauth2.Token, error) {
		return cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	})
}

// retrieve runs one token request through call, which must use the context
// it is given, and holds the response to the rules of RFC 6749 §5.
func (c *Client) retrieve(ctx context.Context, grant string, secrets redactor, call func(context.Context) (*oauth2.Token, error)) (*Token, error) {
	rec := &recorder{limit: c.maxResponseBytes}
	tok, err := call(c.recording(ctx, rec))
	if rec.tooLarge {
		return nil, &ResponseError{Err: ErrResponseTooLarge, Grant: grant, StatusCode: rec.status, ContentType: rec.contentType,
			Problem: fmt.Sprintf("the body is longer than %d bytes", rec.limit)}
	}
	if err != nil {
		return nil, c.diagnose(grant, rec, err, secrets)
	}
	if !isJSONMediaType(rec.contentType) {
		return nil, &ResponseError{Err: ErrContentType, Grant: grant, StatusCode: rec.status, ContentType: rec.contentType,
			Problem: "a successful token response must be labelled application/json", Rule: "RFC 6749 §5.1"}
	}
	expiresIn, err := c.checkMembers(tok)
	if err != nil {
		return nil, c.memberError(grant, rec, err)
	}
	tok.ExpiresIn = expiresIn
	tok.Expiry = time.Time{}
	if expiresIn > 0 {
		tok.Expiry = c.now().Add(time.Duration(expiresIn) * time.Second)
	}
	return &Token{Token: tok}, nil
}

// recording returns a context whose HTTP client records the response in
// rec, bounds its body, and does not follow redirects: a token request
// carries credentials and must not be replayed elsewhere.
func (c *Client) recording(ctx context.Context, rec *recorder) context.Context {
	hc := userHTTPClient(ctx, c.httpClient)
	rec.base = hc.Transport
	if rec.base == nil {
		rec.base = http.DefaultTransport
	}
	rec.client = http.Client{Transport: rec, CheckRedirect: stopRedirect, Jar: hc.Jar, Timeout: hc.Timeout}
	return context.WithValue(ctx, oauth2.HTTPClient, &rec.client)
}

func stopRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// A recorder is the transport of one token request. It keeps the status,
// content type and body for diagnosis and fails reads past its limit, so
// that an oversized body is an error instead of being cut short.
type recorder struct {
	base   http.RoundTripper
	client http.Client
	limit  int64

	status      int
	contentType string
	location    string
	body        []byte
	tooLarge    bool
	readErr     error
}

var errBodyLimit = errors.New("pkce: response body exceeds the limit")

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.status = resp.StatusCode
	r.contentType = resp.Header.Get("Content-Type")
	r.location = resp.Header.Get("Location")
	resp.Body = &recordedBody{rec: r, body: resp.Body}
	return resp, nil
}

type recordedBody struct {
	rec  *recorder
	body interface {
		Read([]byte) (int, error)
		Close() error
	}
}

func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	r := b.rec
	if int64(len(r.body)+n) > r.limit {
		r.tooLarge = true
		return 0, errBodyLimit
	}
	if r.body == nil && n > 0 {
		r.body = make([]byte, 0, 512)
	}
	r.body = append(r.body, p[:n]...)
	if err != nil && !errors.Is(err, io.EOF) {
		r.readErr = err
	}
	return n, err
}

func (b *recordedBody) Close() error { return b.body.Close() }

// checkMembers applies RFC 6749 §5.1 to the members of a successful
// response and returns expires_in in seconds (0 when absent).
func (c *Client) checkMembers(m interface{ Extra(string) any }) (int64, error) {
	at, ok := m.Extra("access_token").(string)
	switch {
	case m.Extra("access_token") == nil || ok && at == "":
		return 0, memberProblem{ErrMissingAccessToken, "access_token is missing or empty"}
	case !ok:
		return 0, memberProblem{ErrMalformedResponse, "access_token is not a string"}
	}
	tt, ok := m.Extra("token_type").(string)
	switch {
	case !ok || tt == "":
		return 0, memberProblem{ErrTokenType, "token_type is missing"}
	case !c.tokenTypeAllowed(tt):
		return 0, memberProblem{ErrTokenType, fmt.Sprintf("token_type %q is not supported; only Bearer is (RFC 6750), unless allowed with AllowTokenType", clip(tt, 40))}
	}
	for _, key := range [...]string{"refresh_token", "scope", "id_token"} {
		if v := m.Extra(key); v != nil {
			if _, ok := v.(string); !ok {
				return 0, memberProblem{ErrMalformedResponse, key + " is not a string"}
			}
		}
	}
	return parseExpiresIn(m.Extra("expires_in"))
}

func (c *Client) tokenTypeAllowed(tt string) bool {
	if strings.EqualFold(tt, "bearer") {
		return true
	}
	for _, t := range c.tokenTypes {
		if strings.EqualFold(tt, t) {
			return true
		}
	}
	return false
}

// parseExpiresIn accepts a non-negative integer number of seconds, as a
// JSON number or a numeric string (some servers send "3600").
func parseExpiresIn(v any) (int64, error) {
	bad := func(why string) (int64, error) {
		return 0, memberProblem{ErrExpiresIn, "expires_in " + why}
	}
	var n int64
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return bad("is not a whole number of seconds")
		}
		if x < 0 || x > math.MaxInt32 {
			return bad(fmt.Sprintf("%v is out of range", x))
		}
		n = int64(x)
	case json.Number:
		return parseExpiresIn(string(x))
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a whole number of seconds", clip(x, 40)))
		}
		if i < 0 || i > math.MaxInt32 {
			return bad(fmt.Sprintf("%d is out of range", i))
		}
		n = i
	default:
		return bad("is neither a number nor a numeric string")
	}
	return n, nil
}

type memberProblem struct {
	err     error
	problem string
}

func (p memberProblem) Error() string { return p.problem }

func (c *Client) memberError(grant string, rec *recorder, err error) error {
	p := err.(memberProblem)
	return &ResponseError{Err: p.err, Grant: grant, StatusCode: rec.status, ContentType: rec.contentType,
		Problem: p.problem, Rule: "RFC 6749 §5.1"}
}

// diagnose turns a failed token request into the package's errors. x/oauth2
// has given up; rec holds what the server actually sent.
func (c *Client) diagnose(grant string, rec *recorder, err error, secrets redactor) error {
	if rec.status == 0 {
		return &RequestError{Grant: grant, Err: err}
	}
	if rec.readErr != nil {
		return &RequestError{Grant: grant, Err: rec.readErr, Partial: true}
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		re = secrets.retrieveError(re)
		if re.ErrorCode != "" {
			return &TokenError{Grant: grant, StatusCode: rec.status, Code: secrets.clean(re.ErrorCode),
				Description: secrets.clean(re.ErrorDescription), URI: secrets.clean(re.ErrorURI),
				AuthStyle: c.authStyle, retrieve: re}
		}
	}
	fail := func(kind error, problem, rule string) error {
		return &ResponseError{Err: kind, Grant: grant, StatusCode: rec.status, ContentType: rec.contentType,
			Problem: problem, Rule: rule, retrieve: re}
	}
	if rec.status >= 300 && rec.status < 400 {
		return fail(ErrUnexpectedStatus, fmt.Sprintf("a redirect to %q; token requests are not redirected, as they carry credentials",
			clip(secrets.clean(rec.location), 200)), "RFC 6749 §5.1, §5.2")
	}
	members, jsonErr := decodeObject(rec.body)
	if jsonErr != "" {
		return fail(ErrNotJSON, jsonErr+": "+secrets.excerpt(rec.body, rec.contentType), "RFC 6749 §5.1, §5.2")
	}
	if code, ok := members["error"].(string); ok && code != "" {
		// A 2xx carrying an error: x/oauth2 rejects it too; keep the
		// server's code for the caller.
		return &TokenError{Grant: grant, StatusCode: rec.status, Code: secrets.clean(code),
			Description: secrets.clean(str(members["error_description"])), URI: secrets.clean(str(members["error_uri"])),
			AuthStyle: c.authStyle, retrieve: re}
	}
	if rec.status < 200 || rec.status > 299 {
		return fail(ErrUnexpectedStatus, "an error status without an error member ("+members.names()+")", "RFC 6749 §5.2")
	}
	if !isJSONMediaType(rec.contentType) {
		return fail(ErrContentType, "a successful token response must be labelled application/json", "RFC 6749 §5.1")
	}
	if _, err := c.checkMembers(members); err != nil {
		return c.memberError(grant, rec, err)
	}
	// The body follows the rules but x/oauth2 refused it; say so without
	// guessing. Its messages carry no secrets.
	return fail(ErrMalformedResponse, fmt.Sprintf("golang.org/x/oauth2 rejected the response (%v)", err), "RFC 6749 §5.1")
}

// decodeObject parses a JSON object, keeping numbers exact. The string
// result describes a failure and is "" on success.
func decodeObject(body []byte) (members, string) {
	trimmed := strings.TrimSpace(string(body))
	switch {
	case trimmed == "":
		return nil, "an empty body"
	case trimmed[0] == '<':
		return nil, "an HTML or XML page, not JSON"
	case trimmed[0] == '[':
		return nil, "a JSON array, not an object"
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || dec.More() {
		return nil, "not a valid JSON object"
	}
	if m == nil {
		return nil, "JSON null, not an object"
	}
	return m, ""
}

// members is a decoded JSON object with the accessor checkMembers needs.
type members map[string]any

func (m members) Extra(key string) any { return m[key] }

// names lists the member names only: values may be secrets.
func (m members) names() string {
	if len(m) == 0 {
		return "an empty object"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, clip(k, 40))
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
