package protected

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"
	"github.com/pkcekit/pkce/internal/wire"

	"golang.org/x/oauth2"
)

// Step 4 to 6 of the Transport's chain: the client's registration with
// the authorization server, its Client for the chosen scopes, and the
// sign-in, with the key the tokens are stored under.

// findRegistration sets s.reg in the order of step 4.
func (t *Transport) findRegistration(ctx context.Context, s *session) error {
	if t.PreRegistered != nil {
		r, err := t.preRegistered(s.issuer)
		if err != nil {
			return err
		}
		if r != nil {
			if r.ClientID == "" {
				return configErrorf("PreRegistered returned credentials without a ClientID for %q", s.issuer)
			}
			if r.Issuer == "" && r.ClientSecret != "" {
				return configErrorf("PreRegistered returned a client secret without its Issuer; a secret goes only to the server that issued it, so set Registration.Issuer (PreRegistered is given the issuer %q that the API named)", s.issuer)
			}
			if r.Issuer != "" && r.Issuer != s.issuer {
				return fmt.Errorf("pkce: PreRegistered returned credentials for %q when asked for %q; credentials are used with the server they were registered with", wire.Clip(r.Issuer, 200), s.issuer)
			}
			cp := *r
			cp.Issuer = s.issuer
			s.reg = &cp
			return nil
		}
	}
	if t.ClientIDMetadataURL != "" && s.md.ClientIDMetadataDocumentSupported {
		if err := checkClientIDMetadataURL(t.ClientIDMetadataURL); err != nil {
			return err
		}
		s.reg = &Registration{Issuer: s.issuer, ClientID: t.ClientIDMetadataURL, AuthMethod: pkce.AuthNone}
		return nil
	}
	if s.md.RegistrationEndpoint == "" {
		return fmt.Errorf("%w %q: it has no registration_endpoint, does not accept a client ID metadata document (or none is configured), and PreRegistered has no credentials for it", ErrNoRegistration, s.issuer)
	}
	saved, err := t.loadRegistration(ctx, s.issuer)
	if err != nil {
		return fmt.Errorf("pkce: loading the client registration: %w", err)
	}
	// A secret past its client_secret_expires_at (RFC 7591 §3.2.1) would
	// be refused at the code exchange, after the person signed in: a new
	// registration replaces it first.
	expired := saved != nil && !saved.SecretExpiresAt.IsZero() && !time.Now().Before(saved.SecretExpiresAt)
	if saved != nil && saved.Issuer == s.issuer && saved.ClientID != "" && !expired {
		s.reg, s.dynamic = saved, true
		return nil
	}
	return t.registerDynamically(ctx, s)
}

// registerDynamically registers the client at s's server (RFC 7591) and
// saves the registration.
func (t *Transport) registerDynamically(ctx context.Context, s *session) error {
	method, err := registrationAuthMethod(s.md)
	if err != nil {
		return err
	}
	redirect := t.redirectURL()
	appType := "web"
	if ru, err := url.Parse(redirect); err == nil && ru.Scheme == "http" && link.IsLoopbackHost(ru.Hostname()) || err == nil && ru.Scheme != "http" && ru.Scheme != "https" {
		appType = "native"
	}
	name := t.ClientName
	if name == "" {
		name = "pkce client"
	}
	reg, err := register(ctx, t.HTTPClient, s.md, ClientMetadata{
		RedirectURIs:            []string{redirect},
		TokenEndpointAuthMethod: method,
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		ApplicationType:         appType,
		ClientName:              name,
	}, defaultMaxResponseBytes)
	if err != nil {
		return err
	}
	if err := t.saveRegistration(ctx, reg); err != nil {
		return fmt.Errorf("pkce: saving the client registration: %w", err)
	}
	s.reg, s.dynamic = reg, true
	return nil
}

// rescope makes s's Client and token key for scopes.
func (t *Transport) rescope(s *session, scopes []string) error {
	if t.FilterScopes != nil {
		var err error
		if scopes, err = t.filterScopes(s.issuer, scopes); err != nil {
			return err
		}
	}
	for i, o := range t.Options {
		if o == nil {
			return configErrorf("Transport.Options[%d] is nil", i)
		}
	}
	opts := []pkce.Option{pkce.WithMetadata(s.md), pkce.WithResource(s.resource)}
	if s.reg.AuthMethod != "" {
		opts = append(opts, pkce.WithAuthMethod(s.reg.AuthMethod))
	}
	if t.HTTPClient != nil {
		opts = append(opts, pkce.WithHTTPClient(t.HTTPClient))
	}
	opts = append(opts, t.Options...)
	c, err := pkce.New(&oauth2.Config{ClientID: s.reg.ClientID, ClientSecret: s.reg.ClientSecret,
		RedirectURL: t.redirectURL(), Scopes: scopes}, opts...)
	if err != nil {
		return err
	}
	// The metadata is compared whole: an option's WithMetadata may name
	// the same issuer and token endpoint and still send the person to
	// another authorization endpoint, or pushes elsewhere.
	if issuer, tokenURL, resources := link.ClientTarget(c); issuer != s.issuer || tokenURL != s.md.TokenEndpoint ||
		!slices.Equal(resources, []string{s.resource}) || !reflect.DeepEqual(c.Metadata(), s.md) {
		return configErrorf("Transport.Options change the authorization server, its endpoints or the resource, which the Transport takes from the API's metadata; leave WithIssuer, WithMetadata and WithResource out")
	}
	tokens, err := c.Tokens(t.store)
	if err != nil {
		return err
	}
	s.client, s.tokens, s.scopes = c, tokens, scopes
	s.subject = TokenKey(s.issuer, s.reg.ClientID, s.resource, scopes)
	return nil
}

// signIn obtains a token for s through SignIn and stores it. A dynamic
// registration that the server no longer knows (invalid_client) is
// replaced once.
func (t *Transport) signIn(ctx context.Context, s *session, slot *signInSlot) error {
	if t.SignIn == nil {
		return configErrorf("the Transport has no SignIn function")
	}
	tok, err := t.callSignIn(ctx, s, slot)
	if err != nil && s.dynamic && errors.Is(err, pkce.ErrorCode("invalid_client")) {
		if err := t.registerDynamically(ctx, s); err != nil {
			return err
		}
		if err := t.rescope(s, s.scopes); err != nil {
			return err
		}
		tok, err = t.callSignIn(ctx, s, slot)
	}
	if err != nil {
		return err
	}
	return t.save(ctx, s, tok)
}

// callSignIn runs the application's SignIn with s's Client; a panic in
// it is an error without the client's secret. The request waits for it
// only as long as ctx allows: a SignIn that ignores its context goes on
// without it, holding slot until it returns, so that sign-ins stay one
// at a time; what it obtains then is dropped.
func (t *Transport) callSignIn(ctx context.Context, s *session, slot *signInSlot) (*pkce.Token, error) {
	type result struct {
		tok *pkce.Token
		err error
	}
	done := make(chan result, 1)
	c, secret := s.client, s.reg.ClientSecret
	go func() {
		var r result
		func() {
			defer recovered(&r.err, "SignIn", true, secret)
			r.tok, r.err = t.SignIn(ctx, c)
		}()
		done <- r
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		select {
		case r = <-done: // it returned as well
		default:
			handOffSlot(slot, done)
			return nil, fmt.Errorf("pkce: gave up waiting for SignIn: %w", ctx.Err())
		}
	}
	if r.err == nil && (r.tok == nil || r.tok.Token == nil) {
		r.err = errors.New("pkce: SignIn returned no token and no error")
	}
	return r.tok, r.err
}

// TokenKey is the key under which a Transport stores a token in its
// Store: a digest of the issuer, the client ID, the resource and the
// scopes (in any order), so that a token is used only for what it was
// issued for. It is exported for applications that look tokens up
// themselves.
func TokenKey(issuer, clientID, resource string, scopes []string) string {
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	h := sha256.New()
	for _, part := range []string{issuer, clientID, resource, strings.Join(sorted, " ")} {
		fmt.Fprintf(h, "%d:%s\x00", len(part), part)
	}
	return "resource-token:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// filterScopes runs the application's FilterScopes; a panic in it is an
// error.
func (t *Transport) filterScopes(issuer string, scopes []string) (out []string, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("pkce: FilterScopes panicked: %v", v)
		}
	}()
	return t.FilterScopes(issuer, slices.Clone(scopes)), nil
}
