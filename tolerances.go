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
// authorization servers, offered by package tolerate (through
// internal/link). The package is strict by default; each option relaxes
// one check, for the providers its doc names, and nothing else.

// tolerances are the opt-ins a Client was given.
type tolerances struct {
	// tokenStatuses are 2xx statuses other than 200 accepted for
	// successful token responses (tolerate.TokenStatus).
	tokenStatuses []int
	// issuerSlash lets discovery accept a metadata issuer that differs
	// from the one asked for by one trailing slash
	// (tolerate.IssuerTrailingSlash).
	issuerSlash bool
}

// withAcceptedTokenStatus is tolerate.TokenStatus; its doc says what it tolerates.
func withAcceptedTokenStatus(statuses ...int) Option {
	return func(c *Client) error {
		if len(statuses) == 0 {
			return configErrorf("tolerate.TokenStatus was given no status")
		}
		for _, s := range statuses {
			if s <= http.StatusOK || s > 299 || s == http.StatusNoContent {
				return configErrorf("tolerate.TokenStatus accepts 2xx statuses other than 200 and 204, not %d", s)
			}
		}
		c.tol.tokenStatuses = append(c.tol.tokenStatuses, statuses...)
		return nil
	}
}

// acceptsTokenStatus reports whether status was accepted with
// tolerate.TokenStatus.
func (t tolerances) acceptsTokenStatus(status int) bool {
	return slices.Contains(t.tokenStatuses, status)
}

// withIssuerTrailingSlash is tolerate.IssuerTrailingSlash; its doc says what it tolerates.
func withIssuerTrailingSlash() Option {
	return func(c *Client) error {
		c.tol.issuerSlash = true
		return nil
	}
}

// discover fetches the metadata of issuer for NewFromIssuer. With
// tolerate.IssuerTrailingSlash, a document whose issuer is issuer with
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
			"make the client with NewFromIssuer and tolerate.IssuerTrailingSlash", clip(got, 200))
	}
	return problem
}
