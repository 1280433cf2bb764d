package pkce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Tolerances: named, narrow opt-ins for documented deviations of real
// authorization servers. The package is strict by default; each option
// below relaxes one check, for the providers its comment names, and
// nothing else. The provider table of docs/providers.md says which
// provider needs which.

// tolerances are the opt-ins a Client was given.
type tolerances struct {
	// tokenStatuses are 2xx statuses other than 200 accepted for
	// successful token responses (WithAcceptedTokenStatus).
	tokenStatuses []int
	// issuerSlash lets discovery accept a metadata issuer that differs
	// from the one asked for by one trailing slash
	// (WithIssuerTrailingSlashTolerance).
	issuerSlash bool
}

// WithAcceptedTokenStatus accepts successful token responses (code
// exchange and refresh) sent with the given 2xx statuses as well as 200,
// which RFC 6749 §5.1 prescribes. The Supabase Management API's token
// endpoint (https://api.supabase.com/v1/oauth/token) answers 201 Created,
// for instance:
//
//	pkce.WithAcceptedTokenStatus(http.StatusCreated)
//
// Only the status is tolerated: the body must still be a JSON token
// response labelled application/json. Each status must be between 201 and
// 299; 204 No Content is refused, since it has no token to carry.
func WithAcceptedTokenStatus(statuses ...int) Option {
	return func(c *Client) error {
		if len(statuses) == 0 {
			return configErrorf("WithAcceptedTokenStatus was given no status")
		}
		for _, s := range statuses {
			if s <= http.StatusOK || s > 299 || s == http.StatusNoContent {
				return configErrorf("WithAcceptedTokenStatus accepts 2xx statuses other than 200 and 204, not %d", s)
			}
		}
		c.tol.tokenStatuses = append(c.tol.tokenStatuses, statuses...)
		return nil
	}
}

// acceptsTokenStatus reports whether status was accepted with
// WithAcceptedTokenStatus.
func (t tolerances) acceptsTokenStatus(status int) bool {
	return slices.Contains(t.tokenStatuses, status)
}

// WithIssuerTrailingSlashTolerance lets NewFromIssuer accept metadata whose
// issuer differs from the issuer asked for by one trailing slash, either
// way: "https://tenant.auth0.com" asked, "https://tenant.auth0.com/"
// published, or the reverse. RFC 8414 §3.3 requires the two to be
// identical, and without this option they must be; the difference is
// common where one configuration value serves several libraries that
// disagree on the slash (Auth0 and authentik publish their issuers with
// one, Okta, Keycloak and Google without).
//
// The metadata's issuer is then the issuer, verbatim: callbacks' iss
// (RFC 9207 §2.4) must equal it byte for byte. Any other difference,
// including two slashes or a different case, is still ErrIssuerMismatch.
// The option applies to discovery only; WithIssuer and WithMetadata stay
// exact.
func WithIssuerTrailingSlashTolerance() Option {
	return func(c *Client) error {
		c.tol.issuerSlash = true
		return nil
	}
}

// discover fetches the metadata of issuer for NewFromIssuer. With
// WithIssuerTrailingSlashTolerance, a document whose issuer is issuer with
// its trailing slash toggled is fetched again as that issuer: both issuers
// have the same metadata URLs (RFC 8414 §3.1 drops a terminating slash),
// and discover's exact check then holds for the published one.
func (c *Client) discover(ctx context.Context, issuer string) (*Metadata, error) {
	md, err := discover(ctx, c.httpClient, issuer, c.maxResponseBytes)
	if err == nil || !c.tol.issuerSlash || !errors.Is(err, ErrIssuerMismatch) {
		return md, err
	}
	toggled := issuer + "/"
	if strings.HasSuffix(issuer, "/") {
		toggled = strings.TrimSuffix(issuer, "/")
	}
	if other, err2 := discover(ctx, c.httpClient, toggled, c.maxResponseBytes); err2 == nil {
		return other, nil
	}
	return nil, err
}

// issuerMismatch describes a metadata issuer that differs from the one
// asked for, and names the tolerance when only a trailing slash differs.
func issuerMismatch(got, asked string) string {
	problem := fmt.Sprintf("the issuer member %q differs from the issuer %q that was asked for", clip(got, 200), asked)
	if strings.TrimSuffix(got, "/") == strings.TrimSuffix(asked, "/") {
		problem += fmt.Sprintf(" only by a trailing slash: ask for %q, or, for a server that publishes one form and is reached by the other, "+
			"make the client with NewFromIssuer and WithIssuerTrailingSlashTolerance", clip(got, 200))
	}
	return problem
}
