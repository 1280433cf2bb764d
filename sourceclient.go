package pkce

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/pkcekit/pkce/internal/authheader"
	"golang.org/x/oauth2"
)

// Requests to protected resources with the source's token: as a bearer
// token (RFC 6750 §2.1) or, for DPoP-bound tokens, with a proof of
// possession of the key (RFC 9449 §7).

// Client returns an HTTP client that sends the source's access token and
// refreshes it as needed, using each request's context for the wait: a
// Bearer token in the Authorization header (RFC 6750 §2.1), a DPoP token
// as Authorization: DPoP with a fresh proof for each request, bound to the
// token by its ath claim (RFC 9449 §7.1). When a resource answers 401
// with a DPoP challenge whose error is use_dpop_nonce and a DPoP-Nonce
// header, the request is sent once more with a proof that carries the
// nonce (RFC 9449 §9); a request whose body cannot be read again
// (no GetBody) gets the 401 instead.
//
// A redirect to another origin than the request's is followed without
// the token and without a proof: a bearer token is for the resource it
// was sent to (RFC 6750 §5.3), and net/http keeps no header of a
// RoundTripper's from stripping itself. A redirect within the origin
// carries the token, with a proof for the new URL.
//
// The client is built on ctx's oauth2.HTTPClient (its transport, timeout,
// jar and redirect policy) or http.DefaultClient's, and refreshes go
// through that client too.
func (s *TokenSource) Client(ctx context.Context) *http.Client {
	hc := userHTTPClient(ctx, nil)
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	t := &resourceTransport{source: s, base: base}
	if v, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && v != nil {
		t.httpClient = v
	}
	return &http.Client{Transport: t, Timeout: hc.Timeout, Jar: hc.Jar, CheckRedirect: hc.CheckRedirect}
}

type resourceTransport struct {
	source     *TokenSource
	base       http.RoundTripper
	httpClient *http.Client // for refreshes, when Client's ctx had one
}

var errNoDPoPKey = errors.New("pkce: the token is DPoP-bound (token_type DPoP), but the client has no DPoP key: create the Client with WithDPoP and the key the token is bound to")

func (t *resourceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if redirectedAway(req) {
		r := req.Clone(req.Context())
		r.Header.Del("Authorization")
		r.Header.Del("DPoP")
		return t.base.RoundTrip(r)
	}
	ctx := req.Context()
	if t.httpClient != nil && ctx.Value(oauth2.HTTPClient) == nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, t.httpClient)
	}
	tok, err := t.source.TokenContext(ctx)
	if err == nil && strings.EqualFold(tok.Type(), tokenTypeDPoP) && t.source.dpop == nil {
		err = errNoDPoPKey
	}
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, err
	}
	if !strings.EqualFold(tok.Type(), tokenTypeDPoP) {
		r := req.Clone(req.Context())
		tok.SetAuthHeader(r)
		return t.base.RoundTrip(r)
	}
	resp, err := t.sendDPoP(req, tok.AccessToken)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !asksResourceNonce(resp.Header) {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		retry.Body = body
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return t.sendDPoP(retry, tok.AccessToken)
}

// redirectedAway reports whether req is a hop of a redirect (net/http
// sets Response on those) to an origin other than the first request's. A
// chain that cannot be walked back to its first request counts as away.
func redirectedAway(req *http.Request) bool {
	first := req
	for first.Response != nil {
		if first.Response.Request == nil {
			return true
		}
		first = first.Response.Request
	}
	return first != req && !sameOrigin(first.URL, req.URL)
}

// sendDPoP sends req with the DPoP token and a fresh proof
// (RFC 9449 §7.1), and keeps the nonce the answer carries.
func (t *resourceTransport) sendDPoP(req *http.Request, accessToken string) (*http.Response, error) {
	p := t.source.dpop
	proof, err := p.proof(req.Method, req.URL, accessToken)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", tokenTypeDPoP+" "+accessToken)
	r.Header.Set("DPoP", proof)
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		p.remember(originOf(req.URL), resp.Header)
	}
	return resp, err
}

// asksResourceNonce reports whether a resource's 401 asks for a DPoP
// nonce: a DPoP challenge with error="use_dpop_nonce" and a valid
// DPoP-Nonce header (RFC 9449 §9).
func asksResourceNonce(h http.Header) bool {
	if _, ok := parseNonce(h); !ok {
		return false
	}
	challenges, _ := authheader.Parse(h) // what parses before a fault still counts
	for _, ch := range challenges {
		if ch.Is(tokenTypeDPoP) && ch.Param("error") == "use_dpop_nonce" {
			return true
		}
	}
	return false
}
