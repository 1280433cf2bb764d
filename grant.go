package pkce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// The other grants: a token request at the token endpoint with the
// client's authentication, DPoP proof and strict reading of the answer,
// for grants that need no redirect (RFC 6749 §4.4, §4.5). The packages
// clientcredentials, jwtbearer and tokenexchange build their requests on
// it.

// Grant types whose requests Grant refuses, because the Client has its
// own method for them.
var ownGrants = map[string]string{
	"authorization_code": "use Exchange or Finish",
	"refresh_token":      "use Refresh or a TokenSource",
}

// clientParams are the body parameters of client authentication, which
// the Client adds itself (RFC 6749 §2.3, RFC 7523 §2.2).
var clientParams = []string{"client_id", "client_secret", "client_assertion", "client_assertion_type"}

// grantSecrets are the parameters of grants that carry credentials:
// assertions (RFC 7521 §4.1, RFC 7523 §2.1), token exchange's tokens
// (RFC 8693 §2.1), the device code (RFC 8628 §3.4), CIBA's auth_req_id
// (OpenID Connect CIBA §10.1), and the second factors of the MFA grants
// some servers offer (Auth0's mfa-otp, mfa-oob and mfa-recovery-code).
// They are kept out of every error.
var grantSecrets = []string{"assertion", "subject_token", "actor_token", "password", "device_code", "auth_req_id",
	"mfa_token", "otp", "oob_code", "binding_code", "recovery_code"}

// Grant types of RFC 8693 §2.1 and RFC 7523 §2.1.
const (
	tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
	jwtBearerGrant     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// checkAssertionAudience sends a JWT bearer assertion only to a server it
// names in aud, the issuer identifier or the token endpoint (RFC 7523 §3
// item 3): a bearer assertion shown to another server, such as one a
// hostile resource named, could be replayed by it where it is valid.
func (c *Client) checkAssertionAudience(assertion string) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errors.New("pkce: the assertion is not a JWS compact JWT (RFC 7523 §2.1); it was not sent")
	}
	payload, err := b64.DecodeString(parts[1])
	var claims struct {
		Aud any `json:"aud"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		return errors.New("pkce: the assertion's claims do not decode (RFC 7519 §7.2); it was not sent")
	}
	if repeatedMember(payload, "aud") != "" {
		// encoding/json reads the last of them in any case; a server
		// may read the first (RFC 7519 §4: the JWT must be rejected).
		return errors.New("pkce: the assertion's claims have aud more than once (RFC 7519 §4); it was not sent")
	}
	var auds []string
	switch a := claims.Aud.(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	for _, a := range auds {
		if a != "" && (a == c.issuer || a == c.config.Endpoint.TokenURL) {
			return nil
		}
	}
	return fmt.Errorf("pkce: the assertion's aud does not name this authorization server (issuer %q, token endpoint %q), so it was not sent: a server it is not for could replay it (RFC 7523 §3)",
		c.issuer, c.config.Endpoint.TokenURL)
}

// repeatedMember returns the first of names that the JSON object b has
// more than once in any case (encoding/json matches names in any case and
// keeps the last member), or "".
func repeatedMember(b []byte, names ...string) string {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	seen := make(map[string]bool, len(names))
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return ""
		}
		if k, ok := t.(string); ok {
			for _, n := range names {
				if strings.EqualFold(k, n) {
					if seen[n] {
						return n
					}
					seen[n] = true
				}
			}
		}
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

// NewTokenClient returns a Client for grants that need no redirect: a
// service, workload or gateway that obtains its tokens at the token
// endpoint alone, with Grant or the packages built on it
// (clientcredentials, jwtbearer, tokenexchange). cfg needs ClientID and
// Endpoint.TokenURL (or WithMetadata); it must have no RedirectURL, since
// no authorization request is ever made: Start fails. Options and checks
// are those of New.
func NewTokenClient(cfg *oauth2.Config, opts ...Option) (*Client, error) {
	if cfg != nil && cfg.RedirectURL != "" {
		return nil, configErrorf("NewTokenClient makes no authorization requests, but RedirectURL is set; use New for the authorization code flow")
	}
	c, err := newClient(cfg, opts)
	if err != nil {
		return nil, err
	}
	c.tokenOnly = true
	if err := c.init(); err != nil {
		return nil, err
	}
	return c, nil
}

// Grant sends one token request of the grant in params (RFC 6749 §4.5):
// grant_type and the grant's own parameters. The client adds its
// authentication (client_secret_basic, client_secret_post, none or
// private_key_jwt), a DPoP proof with WithDPoP (and the request once more
// on a use_dpop_nonce answer, RFC 9449 §8), the scope of its
// oauth2.Config unless params has scope, and its resource indicators
// (WithResource) unless params has resource. The answer gets the checks
// of Exchange, and the request the same default deadline; token_type N_A
// is accepted for token exchange, whose issued token need not be an
// access token (RFC 8693 §2.2.1).
//
// params must not carry client authentication, which is the Client's, and
// its grant_type must not be authorization_code or refresh_token, which
// have their own methods. Assertions and tokens in params never appear in
// an error. Errors are an *OAuthError (the server's refusal), a
// *ResponseError or a *requestError, with Op opGrant.
func (c *Client) Grant(ctx context.Context, params url.Values) (*Token, error) {
	gt := params.Get("grant_type")
	switch {
	case gt == "":
		return nil, &requestError{Op: opGrant, Err: configErrorf("Grant needs a grant_type parameter (RFC 6749 §4.5)")}
	case ownGrants[gt] != "":
		return nil, &requestError{Op: opGrant, Err: configErrorf("Grant does not send the %s grant: %s", gt, ownGrants[gt])}
	}
	if gt == jwtBearerGrant {
		if len(params["assertion"]) > 1 {
			// Only one is checked, and a server may read either.
			return nil, &requestError{Op: opGrant, Err: errors.New("pkce: the grant has more than one assertion (RFC 7523 §2.1); it was not sent")}
		}
		if err := c.checkAssertionAudience(params.Get("assertion")); err != nil {
			return nil, &requestError{Op: opGrant, Err: err}
		}
	}
	for _, k := range clientParams {
		if params.Has(k) {
			return nil, &requestError{Op: opGrant, Err: configErrorf("Grant was given %s; the client adds its own authentication (RFC 6749 §2.3)", k)}
		}
	}
	form := url.Values{}
	for k, v := range params {
		form[k] = slices.Clone(v)
	}
	if !form.Has("resource") && len(c.resources) > 0 {
		form["resource"] = slices.Clone(c.resources) // RFC 8707 §2.2
	}
	if !form.Has("scope") && len(c.config.Scopes) > 0 {
		form.Set("scope", strings.Join(c.config.Scopes, " "))
	}
	var secrets []string
	for _, k := range grantSecrets {
		secrets = append(secrets, form[k]...)
	}
	g := c
	if gt == tokenExchangeGrant {
		cp := *c
		cp.tokenTypes = append(slices.Clip(c.tokenTypes), "N_A")
		g = &cp
	}
	return g.retrieve(ctx, opGrant, c.redactor().with(secrets...), formOf(form))
}
