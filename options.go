package pkce

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// An Option configures a Client in New or NewFromIssuer. New checks every
// option and fails with ErrInvalidConfig on a bad one, a nil one included.
type Option func(*Client) error

// WithIssuer sets the authorization server's issuer identifier. Callbacks
// must then carry an iss parameter equal to it, byte for byte
// (RFC 9207 §2.4). Set it whenever the server supports RFC 9207, and always
// when the client talks to more than one authorization server. The issuer
// from WithMetadata is compared the same way but required only when the
// metadata says the server sends it.
func WithIssuer(issuer string) Option {
	return func(c *Client) error {
		if err := checkIssuer(issuer); err != nil {
			return err
		}
		c.issuer = issuer
		return nil
	}
}

// WithAuthMethod chooses the client authentication explicitly. Without
// it, a client key (WithClientKey) means AuthPrivateKeyJWT; otherwise the
// oauth2.Config's Endpoint.AuthStyle decides, then the metadata's
// token_endpoint_auth_methods_supported, then the secret: AuthSecretBasic
// with one, AuthNone without.
func WithAuthMethod(m AuthMethod) Option {
	return func(c *Client) error {
		switch m {
		case AuthSecretBasic, AuthSecretPost, AuthNone, AuthPrivateKeyJWT:
			c.authMethod = m
			return nil
		}
		return configErrorf("unknown auth method %q", m)
	}
}

// WithHTTPClient sets the HTTP client for requests to the authorization
// server. An *http.Client stored in the request context under
// oauth2.HTTPClient takes precedence, as it does in golang.org/x/oauth2.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return configErrorf("WithHTTPClient was given a nil *http.Client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithFlowLifetime sets how long a pending Flow can be finished; the
// default is 10 minutes.
func WithFlowLifetime(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return configErrorf("flow lifetime %v is not positive", d)
		}
		c.flowLifetime = d
		return nil
	}
}

// WithMaxResponseBytes bounds the bodies the client reads from the
// authorization server; the default is 512 KiB. A longer body fails with
// errResponseTooLarge instead of being cut. n must be between 1 KiB and
// 16 MiB.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) error {
		if n < 1<<10 || n > maxResponseLimit {
			return configErrorf("max response bytes %d is outside 1 KiB..16 MiB", n)
		}
		c.maxResponseBytes = n
		return nil
	}
}

// withTokenTypes is tolerate.TokenTypes; its doc says what it tolerates.
func withTokenTypes(types ...string) Option {
	return func(c *Client) error {
		for _, t := range types {
			if t == "" {
				return configErrorf("tolerate.TokenTypes was given an empty token type")
			}
			if strings.EqualFold(t, tokenTypeDPoP) {
				return configErrorf("DPoP tokens need a proof key: use WithDPoP, not tolerate.TokenTypes")
			}
		}
		c.tokenTypes = append(c.tokenTypes, types...)
		return nil
	}
}

// WithRevocationURL sets the revocation endpoint (RFC 7009) that Revoke and
// TokenSource.SignOut use, for servers configured by hand or whose
// metadata does not list the endpoint they have. When the metadata lists
// one, the two must be equal.
func WithRevocationURL(u string) Option {
	return func(c *Client) error {
		if err := checkEndpoint("revocation URL", u); err != nil {
			return err
		}
		c.revocationURL = u
		return nil
	}
}

// WithFormPost asks the authorization server to deliver its response as a
// POST form (response_mode=form_post, OAuth 2.0 Form Post Response Mode),
// which keeps the code out of the browser's history and logs; some servers
// require it for some requests. Finish then accepts only a POST form as
// the callback. The redirect endpoint must accept POST from the
// authorization server's origin, so a session cookie it relies on needs
// SameSite=None.
func WithFormPost() Option {
	return func(c *Client) error {
		c.formPost = true
		return nil
	}
}

// WithStore sets where the client records that a flow was finished, so
// that a flow is finished once across every Client that shares the store:
// all the replicas of an application, with a shared Store such as Redis.
// Without it, each Client keeps its own record in memory and single use
// holds per Client value only.
func WithStore(s Store) Option {
	return func(c *Client) error {
		if s == nil {
			return configErrorf("WithStore was given a nil Store")
		}
		c.store = s
		return nil
	}
}

// WithResource names a protected resource the client's tokens are for
// (RFC 8707 resource indicators): every authorization request, code
// exchange and refresh of the client then carries resource=uri, so that
// the authorization server can restrict the token's audience to it. uri
// must be an absolute URI without a fragment (RFC 8707 §2); give the
// resource's canonical URI, such as an MCP server's URL. The option may
// be repeated for several resources (RFC 8707 §2); the code exchange then
// leaves resource out, which asks for a token for all of them
// (RFC 8707 §2.2), because golang.org/x/oauth2 can send a parameter once.
// A client with WithResource refuses Param("resource", ...).
func WithResource(uri string) Option {
	return func(c *Client) error {
		if err := checkResourceURI(uri); err != nil {
			return err
		}
		c.resources = append(c.resources, uri)
		return nil
	}
}

// checkResourceURI applies RFC 8707 §2 to a resource indicator.
func checkResourceURI(uri string) error {
	u, err := url.Parse(uri)
	switch {
	case err != nil || !u.IsAbs():
		return configErrorf("resource %q is not an absolute URI (RFC 8707 §2)", uri)
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return configErrorf("resource %q has a fragment (RFC 8707 §2)", uri)
	}
	return nil
}
