package pkce

import (
	"context"
	"net/http"

	"github.com/pkcekit/pkce/internal/link"

	"golang.org/x/oauth2"
)

// The root package's side of internal/link: what package protected,
// package servercheck and the grant packages share with it, set before
// any of them runs.
func init() {
	link.Redact = func(text string, secrets ...string) string { return redactor{extra: secrets}.clean(text) }

	link.WithDefaultDeadline = withDefaultDeadline
	link.UserHTTPClient = userHTTPClient
	link.EndpointClient = endpointClient
	link.SameOriginRedirects = sameOriginRedirects
	link.SameOrigin = sameOrigin
	link.IsLoopbackHost = isLoopbackHost
	link.RedirectedAway = redirectedAway
	link.CheckIssuer = checkIssuer
	link.CheckEndpoint = checkEndpoint
	link.ClipAll = clipAll

	link.FetchJSON = func(ctx context.Context, hc *http.Client, op, u string, limit int64, rule, memberRule string, members []string, dst any) (string, bool, error) {
		return fetchJSON(ctx, hc, op, u, limit, rule, memberRule, members, dst)
	}
	link.FetchMetadata = func(ctx context.Context, hc *http.Client, u string, limit int64) (any, string, bool, error) {
		md, from, tryNext, err := fetchMetadata(ctx, hc, u, limit)
		return md, from, tryNext, err
	}
	link.DiscoverAt = func(ctx context.Context, fallback *http.Client, issuer string, locations []string, limit int64) (any, error) {
		md, err := discoverAt(ctx, fallback, issuer, locations, limit)
		if err != nil {
			return nil, err
		}
		return md, nil
	}
	link.CheckMetadata = func(md any, from string) error { return md.(*Metadata).check(from) }
	link.MetadataURL = func(issuer string) string {
		u, _ := metadataURLs(issuer)
		return u
	}
	link.ReadAnswer = readAnswer
	link.ErrNotJSON, link.ErrUnexpectedStatus = errNotJSON, errUnexpectedStatus
	link.NewRequestError = func(op string, err error) error { return &requestError{Op: op, Err: err} }

	link.TokenStatus = func(statuses []int) any { return withAcceptedTokenStatus(statuses...) }
	link.IssuerTrailingSlash = func() any { return withIssuerTrailingSlash() }
	link.TokenTypes = func(types []string) any { return withTokenTypes(types...) }
	link.HS256IDTokens = func() any { return withHS256IDTokens() }
	link.TokenEndpointAudience = func() any { return withTokenEndpointAudience() }

	link.ClientTarget = func(c any) (string, string, []string) {
		cl := c.(*Client)
		return cl.issuer, cl.config.Endpoint.TokenURL, cl.resources
	}
	link.ResourceTransport = func(src any, base http.RoundTripper, hc *http.Client) http.RoundTripper {
		return &resourceTransport{source: src.(*TokenSource), base: base, httpClient: hc}
	}
	link.RefreshRefused = func(ctx context.Context, tokens any, subject string, cur *oauth2.Token) error {
		return tokens.(*Tokens).refreshRefused(ctx, subject, cur)
	}
}

// readAnswer is link.ReadAnswer: an answer read as the package reads its
// own, for package protected's registration requests.
func readAnswer(op, u string, resp *http.Response, limit int64, authMethod string) (*link.Answer, error) {
	raw, err := readBody(op, resp, limit, redactor{})
	if err != nil {
		return nil, err
	}
	r := newServerResponse(op, u, resp, raw, redactor{}, AuthMethod(authMethod))
	return &link.Answer{
		Status:        r.status,
		Fail:          func(kind error, problem string, rs ...string) error { return r.fail(kind, problem, rs...) },
		ErrorResponse: func(rs ...string) error { return r.errorResponse(rs...) },
		Object: func(rule string, known ...string) (map[string]any, error) {
			m, err := r.jsonObject(rule, known...)
			return m, err
		},
		Secret: func(s string) { r.secrets = r.secrets.with(s) },
	}, nil
}
