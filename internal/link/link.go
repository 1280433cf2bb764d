// Package link carries what package pkce shares with the other packages
// of this module without exporting it to every importer: functions that
// package pkce sets when it is initialised, which is before any package
// that imports it runs. Values of package pkce's types travel as any,
// since this package cannot name them.
package link

import (
	"context"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"
)

// Redact returns text with each of secrets, in every encoding a server may
// echo it in, replaced by "[redacted]"; package servercheck redacts the
// evidence it keeps with it.
var Redact func(text string, secrets ...string) string

// Requests, as package pkce sends them: the default deadline, the
// caller's HTTP client (the context's oauth2.HTTPClient, else fallback,
// else http.DefaultClient), that client made not to follow redirects,
// redirects allowed within the origin only, and the checks of URLs.
var (
	WithDefaultDeadline func(ctx context.Context) (context.Context, context.CancelFunc)
	UserHTTPClient      func(ctx context.Context, fallback *http.Client) *http.Client
	EndpointClient      func(ctx context.Context, fallback *http.Client) *http.Client
	SameOriginRedirects func(req *http.Request, via []*http.Request) error
	SameOrigin          func(a, b *url.URL) bool
	IsLoopbackHost      func(host string) bool
	RedirectedAway      func(req *http.Request) bool
	CheckIssuer         func(issuer string) error
	CheckEndpoint       func(name, raw string) error
	ClipAll             func(list []string) []string
)

// Answers, as package pkce reads them.
var (
	// FetchJSON GETs u and decodes the JSON object it answers into dst,
	// member names exact (see package pkce's fetchJSON).
	FetchJSON func(ctx context.Context, hc *http.Client, op, u string, limit int64, rule, memberRule string, members []string, dst any) (from string, tryNext bool, err error)
	// FetchMetadata GETs authorization server metadata at u; md is a
	// *pkce.Metadata.
	FetchMetadata func(ctx context.Context, hc *http.Client, u string, limit int64) (md any, from string, tryNext bool, err error)
	// DiscoverAt asks each of locations in turn for the metadata of
	// issuer; the result is a *pkce.Metadata.
	DiscoverAt func(ctx context.Context, fallback *http.Client, issuer string, locations []string, limit int64) (any, error)
	// CheckMetadata checks md, a *pkce.Metadata fetched from the URL
	// from, as discovery does.
	CheckMetadata func(md any, from string) error
	// MetadataURL is issuer's RFC 8414 metadata URL.
	MetadataURL func(issuer string) string
	// ReadAnswer reads resp's body within limit and returns the answer,
	// or the error of a body that does not arrive or is too long.
	ReadAnswer func(op, u string, resp *http.Response, limit int64, authMethod string) (*Answer, error)
	// ErrNotJSON and ErrUnexpectedStatus are the finer causes of a
	// *pkce.ResponseError that discovery tries the next location after.
	ErrNotJSON, ErrUnexpectedStatus error
	// NewRequestError is the error of a request that got no complete
	// answer.
	NewRequestError func(op string, err error) error
)

// An Answer is an endpoint's answer, read and bounded.
type Answer struct {
	Status int
	// Fail returns the *pkce.ResponseError of a broken answer.
	Fail func(kind error, problem string, rules ...string) error
	// ErrorResponse returns the error of a non-success answer: an
	// *pkce.OAuthError for an error object, else a *pkce.ResponseError.
	ErrorResponse func(rules ...string) error
	// Object decodes the body as a JSON object whose members must not
	// differ from known only in case.
	Object func(rule string, known ...string) (map[string]any, error)
	// Secret keeps s out of every later error of the answer.
	Secret func(s string)
}

// Clients, as package pkce builds them.
var (
	// ClientTarget returns the issuer, token endpoint and resources of c,
	// a *pkce.Client.
	ClientTarget func(c any) (issuer, tokenURL string, resources []string)
	// ResourceTransport sends requests with src's token (Bearer, or DPoP
	// with a proof and the resource's nonce); src is a *pkce.TokenSource,
	// hc the client for refreshes (nil for the default).
	ResourceTransport func(src any, base http.RoundTripper, hc *http.Client) http.RoundTripper
	// RefreshRefused refreshes subject's token in tokens, a
	// *pkce.Tokens, after a resource refused cur, as its TokenSource
	// refreshes: joining this process's refresh in flight, under the
	// Store's lease, with the stored token as the truth, so that a
	// token another process refreshed meanwhile is taken instead of
	// presenting cur's refresh token again. This process's source of
	// subject then starts from the result.
	RefreshRefused func(ctx context.Context, tokens any, subject string, cur *oauth2.Token) error
)

// The options of package tolerate; each result is a pkce.Option.
var (
	TokenStatus           func(statuses []int) any
	IssuerTrailingSlash   func() any
	TokenTypes            func(types []string) any
	HS256IDTokens         func() any
	TokenEndpointAudience func() any
)
