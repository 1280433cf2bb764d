package pkce

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// A Flow is a pending authorization: everything the application keeps
// between sending the user to the authorization server and handling the
// redirect back. Start makes one; Finish (or VerifyCallback) takes it back.
//
// A Flow marshals to JSON and back for session stores. The JSON form holds
// the PKCE verifier, which must stay secret until the code exchange, so
// keep it server-side (a session store, Redis), or sealed with an
// authenticated cipher when it travels in a cookie: a stored flow needs
// integrity as well as secrecy. The finishing Client checks a stored flow
// against its own configuration (issuer, redirect URL rules, state format,
// lifetime) before it trusts it. String, Format and LogValue redact the
// state and the verifier, so a Flow can be logged as it is.
type Flow struct {
	// URL is the authorization request to send the user's browser to.
	URL string
	// State binds the callback to this flow (RFC 6749 §10.12). It is also
	// part of URL, and a good key for storing the flow until the callback.
	State string
	// Expires is when the flow can no longer be finished.
	Expires time.Time

	verifier    Verifier
	redirectURL string // the redirect_uri of the request, sent again with the code (RFC 6749 §4.1.3)
	// redirectGiven records that Start was given RedirectURL; without it
	// the flow's redirect must be the client's own.
	redirectGiven bool
	issuer        string // the issuer the callback's iss must equal (RFC 9207), or ""
	created       time.Time
	nonce         string // the OpenID Connect nonce, or "" without openid (openid.go)
	maxAge        string // the max_age asked, or ""
}

// flowJSON is the stored form of a Flow.
type flowJSON struct {
	URL         string `json:"url"`
	State       string `json:"state"`
	Verifier    string `json:"verifier"`
	RedirectURL string `json:"redirect_url"`
	// RedirectGiven is true when Start was given RedirectURL.
	RedirectGiven bool      `json:"redirect_given,omitempty"`
	Issuer        string    `json:"issuer,omitempty"`
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires"`
	Nonce         string    `json:"nonce,omitempty"`
	MaxAge        string    `json:"max_age,omitempty"`
}

// MarshalJSON writes the flow with its verifier, for storage until the
// callback.
func (f Flow) MarshalJSON() ([]byte, error) {
	j := flowJSON{URL: f.URL, State: f.State, RedirectURL: f.redirectURL, RedirectGiven: f.redirectGiven, Issuer: f.issuer,
		Created: f.created, Expires: f.Expires, Nonce: f.nonce, MaxAge: f.maxAge}
	if !f.verifier.isZero() {
		j.Verifier = f.verifier.Reveal()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a stored flow. It checks the verifier's syntax
// (RFC 7636 §4.1); the finishing Client checks the rest.
func (f *Flow) UnmarshalJSON(b []byte) error {
	var j flowJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("pkce: stored flow is not valid JSON: %w", err)
	}
	v, err := ParseVerifier(j.Verifier)
	if err != nil {
		return fmt.Errorf("pkce: stored flow: %w", err)
	}
	*f = Flow{URL: j.URL, State: j.State, Expires: j.Expires, verifier: v,
		redirectURL: j.RedirectURL, redirectGiven: j.RedirectGiven, issuer: j.Issuer, created: j.Created, nonce: j.Nonce, maxAge: j.MaxAge}
	return nil
}

// describe returns a form without the state and the verifier.
func (f Flow) describe() string {
	return fmt.Sprintf("pkce.Flow{redirect_url: %q, issuer: %q, expires: %s, state: redacted, verifier: redacted}",
		f.redirectURL, f.issuer, f.Expires.Format(time.RFC3339))
}

// Format prints the flow without its state and verifier for every verb,
// %#v included.
func (f Flow) Format(s fmt.State, _ rune) { fmt.Fprint(s, f.describe()) }

// LogValue implements slog.LogValuer without the state and the verifier.
func (f Flow) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("redirect_url", f.redirectURL),
		slog.String("issuer", f.issuer),
		slog.Time("expires", f.Expires),
		slog.String("state", "redacted"),
		slog.String("verifier", "redacted"),
	)
}

// A StartOption changes one authorization request. Param, Scopes and
// RedirectURL make them.
type StartOption interface {
	applyStart(*startRequest) error
}

type startOption func(*startRequest) error

func (o startOption) applyStart(r *startRequest) error { return o(r) }

type startRequest struct {
	pages    *template.Template // SignInLoopback's, from LoopbackPages
	params   []string           // key, value, key, value...
	scopes   []string
	scopeSet bool
	redirect string
	// redirectSet records that RedirectURL was given.
	redirectSet bool
}

// Param adds a parameter to the authorization request, such as audience,
// prompt, login_hint or resource (for a resource indicator that only the
// authorization request should carry; WithResource puts it on every
// request). Parameters the package controls
// (response_type, response_mode, client_id, redirect_uri, scope, state,
// code_challenge, code_challenge_method, code_verifier, client_secret,
// request_uri, dpop_jkt, client_assertion, client_assertion_type) cannot
// be set this way: Start fails instead. A key may be
// given once (RFC 6749 §3.1).
func Param(key, value string) StartOption {
	return startOption(func(r *startRequest) error {
		switch {
		case key == "":
			return fmt.Errorf("pkce: authorization request parameter with an empty name")
		case reservedParam(key):
			return fmt.Errorf("pkce: authorization request parameter %q is set by the package and cannot be given with Param", key)
		case indexOfKey(r.params, key):
			return fmt.Errorf("pkce: authorization request parameter %q given twice (RFC 6749 §3.1)", key)
		}
		r.params = append(r.params, key, value)
		return nil
	})
}

// Scopes replaces the configured scopes for one authorization request.
// Scopes() with no scope sends no scope parameter, which asks for the
// server's default scope (RFC 6749 §3.3).
func Scopes(scopes ...string) StartOption {
	return startOption(func(r *startRequest) error {
		if err := checkScopes(scopes); err != nil {
			return err
		}
		r.scopes, r.scopeSet = scopes, true
		return nil
	})
}

// RedirectURL replaces the configured redirect URL for one authorization
// request, for redirects only known at run time such as a loopback port
// (RFC 8252 §7.3). The same checks as in New apply.
func RedirectURL(u string) StartOption {
	return startOption(func(r *startRequest) error {
		if err := checkRedirectURL(u); err != nil {
			return err
		}
		r.redirect, r.redirectSet = u, true
		return nil
	})
}

// checkScopes applies the scope-token syntax of RFC 6749 §3.3: printable
// ASCII without space, quote or backslash.
func checkScopes(scopes []string) error {
	for _, s := range scopes {
		ok := s != ""
		for i := 0; ok && i < len(s); i++ {
			c := s[i]
			ok = c == 0x21 || 0x23 <= c && c <= 0x5B || 0x5D <= c && c <= 0x7E
		}
		if !ok {
			return fmt.Errorf("pkce: scope %q is empty or has a character outside the scope-token syntax (RFC 6749 §3.3)", clip(s, 60))
		}
	}
	return nil
}

// reservedParam reports whether the package sets key itself.
func reservedParam(key string) bool {
	switch key {
	case "response_type", "response_mode", "client_id", "redirect_uri", "scope", "state",
		"code_challenge", "code_challenge_method", "code_verifier", "client_secret", "request_uri",
		"dpop_jkt", "client_assertion", "client_assertion_type":
		return true
	}
	return false
}

// indexOfKey reports whether key is one of the keys (even positions) of kv.
func indexOfKey(kv []string, key string) bool {
	for i := 0; i < len(kv); i += 2 {
		if kv[i] == key {
			return true
		}
	}
	return false
}

// stateBytes is the entropy of a state: 256 bits, twice what
// RFC 6749 §10.10 asks of values an attacker must not guess.
const stateBytes = 32

// stateLength is the length of a state: unpadded base64url of stateBytes.
const stateLength = (stateBytes*8 + 5) / 6

// Start begins an authorization: it makes a fresh verifier and state and
// the authorization request (RFC 6749 §4.1.1 with the S256 challenge of
// RFC 7636 §4.3). Send the browser to flow.URL and keep flow until the
// callback.
//
// When the server requires pushed authorization requests (its metadata's
// require_pushed_authorization_requests) or the client was made with
// WithPushedAuthorization, Start first POSTs the parameters to the PAR
// endpoint with the client's authentication (RFC 9126 §2.1), and flow.URL
// then carries client_id and the returned request_uri only (RFC 9126 §4);
// the flow expires with the request_uri when that comes first. An error
// answer of the PAR endpoint is an *OAuthError with Op opPush, a broken
// answer a *ResponseError. Without pushing, Start makes no request and
// ignores ctx.
func (c *Client) Start(ctx context.Context, opts ...StartOption) (*Flow, error) {
	if err := c.made(); err != nil {
		return nil, err
	}
	req, err := c.startRequest(opts)
	if err != nil {
		return nil, err
	}
	if req.pages != nil {
		return nil, errors.New("pkce: LoopbackPages is an option of SignInLoopback; Start shows no page")
	}
	return c.start(ctx, req)
}

// startRequest applies opts to the client's defaults.
func (c *Client) startRequest(opts []StartOption) (startRequest, error) {
	req := startRequest{redirect: c.config.RedirectURL}
	if c.tokenOnly {
		return req, configErrorf("this Client is for grants at the token endpoint (NewTokenClient) and makes no authorization requests; use New")
	}
	for i, opt := range opts {
		if opt == nil {
			return req, fmt.Errorf("pkce: start option %d is nil", i)
		}
		if err := opt.applyStart(&req); err != nil {
			return req, err
		}
	}
	if len(c.resources) > 0 && indexOfKey(req.params, "resource") {
		return req, fmt.Errorf("pkce: the client was made WithResource, so the authorization request carries its resources; Param(\"resource\", ...) would contradict them")
	}
	return req, nil
}

func (c *Client) start(ctx context.Context, req startRequest) (*Flow, error) {
	nonce, maxAge, err := c.openIDRequest(&req) // openid.go
	if err != nil {
		return nil, err
	}
	verifier := NewVerifier()
	var raw [stateBytes]byte
	rand.Read(raw[:])
	var state [stateLength]byte
	b64.Encode(state[:], raw[:])
	now := c.now()
	f := &Flow{
		State:         string(state[:]),
		Expires:       now.Add(c.flowLifetime),
		verifier:      verifier,
		redirectURL:   req.redirect,
		redirectGiven: req.redirectSet,
		issuer:        c.issuer,
		created:       now,
		nonce:         nonce,
		maxAge:        maxAge,
	}
	if c.pushAuthorization {
		if err := c.push(ctx, f, req); err != nil {
			return nil, err
		}
		return f, nil
	}
	prefix := c.authPrefix
	if req.scopeSet || req.redirect != c.config.RedirectURL {
		prefix = c.authorizePrefix(req.redirect, req.scopesOr(c.config.Scopes))
	}
	const (
		stateKey  = "&state="
		chalKey   = "&code_challenge="
		methodKey = "&code_challenge_method=" + methodS256
	)
	extra := encodeParams(req.params) + c.resourceParams()
	if c.dpop != nil {
		// Binds the code to the DPoP key (RFC 9449 §10); the thumbprint is
		// base64url and needs no escaping.
		extra = "&dpop_jkt=" + c.dpop.jkt + extra
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(stateKey) + stateLength + len(chalKey) + challengeLength + len(methodKey) + len(extra))
	b.WriteString(prefix)
	b.WriteString(stateKey)
	b.WriteString(f.State) // base64url needs no escaping
	b.WriteString(chalKey)
	b.WriteString(verifier.Challenge())
	b.WriteString(methodKey)
	b.WriteString(extra)
	f.URL = b.String()
	return f, nil
}

// scopesOr returns the scopes the request set, or def when it set none.
func (r startRequest) scopesOr(def []string) []string {
	if r.scopeSet {
		return r.scopes
	}
	return def
}

// authURLQuery returns the AuthURL ready for parameters: followed by "&"
// when it has a query of its own, by "?" otherwise.
func (c *Client) authURLQuery() string {
	if strings.Contains(c.config.Endpoint.AuthURL, "?") {
		return c.config.Endpoint.AuthURL + "&"
	}
	return c.config.Endpoint.AuthURL + "?"
}

// authorizePrefix escapes the parts of the authorization URL that do not
// change from one flow to the next.
func (c *Client) authorizePrefix(redirect string, scopes []string) string {
	var b strings.Builder
	b.WriteString(c.authURLQuery())
	b.WriteString("response_type=code&client_id=")
	b.WriteString(url.QueryEscape(c.config.ClientID))
	b.WriteString("&redirect_uri=")
	b.WriteString(url.QueryEscape(redirect))
	if len(scopes) > 0 {
		b.WriteString("&scope=")
		b.WriteString(url.QueryEscape(strings.Join(scopes, " ")))
	}
	if c.formPost {
		b.WriteString("&response_mode=form_post")
	}
	return b.String()
}

// resourceParams is the query of the client's resource indicators
// (RFC 8707 §2), one resource parameter each.
func (c *Client) resourceParams() string {
	var b strings.Builder
	for _, r := range c.resources {
		b.WriteString("&resource=")
		b.WriteString(url.QueryEscape(r))
	}
	return b.String()
}

// encodeParams escapes the caller's extra parameters, checked by Param.
func encodeParams(kv []string) string {
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		b.WriteByte('&')
		b.WriteString(url.QueryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	return b.String()
}
