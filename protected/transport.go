package protected

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/link"
	"github.com/pkcekit/pkce/internal/wire"

	"golang.org/x/oauth2"
)

// A Transport is an http.RoundTripper for APIs protected by OAuth 2.0,
// MCP servers among them, that signs in when the API asks. It sends each
// request with the access token it holds for the API; when the API
// answers 401, or 403 with error="insufficient_scope" (RFC 6750 §3.1), it
// runs the discovery chain of the MCP authorization specification
// (2025-11-25), which is plain OAuth:
//
//  1. parse the WWW-Authenticate challenges (ParseChallenges) and take
//     the Bearer challenge's resource_metadata, scope and error;
//  2. fetch the protected resource metadata (FetchResourceMetadata, RFC
//  9728. and choose an authorization server from its
//     authorization_servers (ChooseAuthorizationServer, the first by
//     default);
//  3. fetch that server's metadata (DiscoverAuthorizationServer), which must
//     advertise S256;
//  4. find the client's registration, in this order: PreRegistered
//     credentials for that issuer; the client ID metadata document URL
//     (ClientIDMetadataURL) when the server says
//     client_id_metadata_document_supported; a registration saved by an
//     earlier dynamic registration; dynamic client registration
//     (Register, RFC 7591) when the server has a registration_endpoint.
//     Without any, it fails with ErrNoRegistration;
//  5. choose the scopes: the challenge's scope, else the resource's
//     scopes_supported, else none (the scope parameter is left out), plus
//     offline_access when there are scopes and the authorization server
//     lists offline_access in scopes_supported;
//  6. look for a stored token for (issuer, client, resource, scopes), and
//     otherwise call SignIn with a Client for that server, registration,
//     scope and resource (WithResource: every authorization, token and
//     refresh request carries the resource's canonical URI, RFC 8707);
//  7. send the request once more with the new token.
//
// The retry happens only when the request can be sent again: it has no
// body, or it has GetBody (http.NewRequest sets it for in-memory bodies).
// Otherwise the 401 is returned as it came. A request is sent again after
// one 401, and after a second one only when the token it was sent again
// with was found in Store rather than obtained for it (a new process's
// stored token, which the API may no longer accept: it is refreshed, or
// replaced by a sign-in, once); and after each step up (below). Then the
// answer is returned whatever it is.
//
// Tokens live in Store under a key made of the issuer, the client ID, the
// resource and the scopes, and are refreshed as a Tokens refreshes them;
// a token the API refuses with 401 is refreshed once before anyone is
// asked to sign in again. On 403 with error="insufficient_scope", the
// scopes grow by the challenge's scope and the person signs in again (step
// up), unless the token already had every scope asked for, or the
// request has already been stepped up MaxStepUps times: the 403 is then
// returned as it came, so that a server that always refuses cannot make
// the client loop (MCP 2025-11-25, "Scope Challenge Handling").
//
// Whatever comes from the API's headers is untrusted: the
// resource_metadata URL must have the API's origin (AllowMetadataURL
// widens that), the metadata's resource must identify the URL requested,
// no metadata request follows a redirect across origins, and every body
// is bounded. The metadata's resource must be the URL requested, byte for
// byte (RFC 9728 §3.3; AllowAncestorResource loosens that for MCP). The
// authorization server's metadata must name the issuer that was asked
// for, byte for byte (RFC 8414 §3.3), and callbacks are checked against
// it (RFC 9207). Unless the API itself is on loopback (or
// AllowLocalAuthorizationServers is set), the issuer and every endpoint
// the client requests must be https on a host that is not this machine
// nor a private or link-local address, so that a remote API cannot make
// the client request the user's own machine or network.
//
// A request the Transport sends does not follow a redirect to another
// origin: the hop fails with an error before anything is sent there, so
// no token, body or sign-in goes to an origin the application never
// named (RFC 6750 §5.3). Redirects within the origin are followed.
//
// A Transport must not be copied after first use. It is safe for
// concurrent use; sign-ins run one at a time.
type Transport struct {
	// Base sends the requests to the API; nil means http.DefaultTransport.
	Base http.RoundTripper
	// HTTPClient sends the requests to the authorization server and the
	// metadata endpoints; nil means http.DefaultClient. An
	// oauth2.HTTPClient in a request's context takes precedence.
	HTTPClient *http.Client
	// SignIn obtains a token with c, a Client for the chosen authorization
	// server, registration, scopes and resource: LoopbackSignIn for a
	// person at a browser, HeadlessSignIn for automated runs against
	// servers that approve without a person, or a function of the
	// application's own. It is required.
	SignIn func(ctx context.Context, c *pkce.Client) (*pkce.Token, error)
	// RedirectURL is the redirect URI the Client and the registrations
	// use; "" means http://127.0.0.1/callback, the loopback template of
	// SignInLoopback (RFC 8252 §7.3).
	RedirectURL string
	// PreRegistered returns the credentials the application registered
	// with issuer beforehand, or nil. A Registration whose Issuer is set
	// is used with that issuer only. A public client's (no ClientSecret)
	// may leave Issuer "" to be used with whichever server the resource
	// names; one with a secret may not, since the secret would go to a
	// server the resource chose: an application that means to trust the
	// resource with it copies the issuer it is given into Issuer.
	PreRegistered func(issuer string) *Registration
	// ClientIDMetadataURL is the https URL of the client's ID metadata
	// document (draft-ietf-oauth-client-id-metadata-document), used as
	// client_id with servers that support it; "" never uses one.
	ClientIDMetadataURL string
	// ClientName is the client_name of dynamic registrations.
	ClientName string
	// Registrations keeps dynamic registrations per issuer; nil keeps them
	// in memory. A registration the server refuses with invalid_client is
	// replaced by a new one.
	Registrations RegistrationStore
	// Store keeps the tokens; nil keeps them in memory.
	Store pkce.Store
	// Options are given to every Client the Transport builds, after the
	// ones it sets (WithMetadata, WithResource, WithAuthMethod,
	// WithHTTPClient): WithDPoP for tokens bound to a key (RFC 9449; the
	// API then gets a proof with each request, and its nonces are
	// honoured), WithClientKey for private_key_jwt with pre-registered
	// credentials, WithPushedAuthorization, WithFAPI2 and the like.
	// Options that change the server, its endpoints or the resource
	// (WithIssuer, WithMetadata, WithResource) are refused.
	Options []pkce.Option
	// FilterScopes, when set, returns the scopes to ask issuer for, given
	// those the chain chose (step 5 and step ups); it may drop scopes the
	// application never wants, or add its own.
	FilterScopes func(issuer string, scopes []string) []string
	// ChooseAuthorizationServer picks the issuer to use among
	// rm.AuthorizationServers (RFC 9728 §7.6); nil picks the first.
	ChooseAuthorizationServer func(rm *ResourceMetadata) (string, error)
	// AllowMetadataURL decides whether a resource_metadata URL from a
	// challenge may be fetched; nil allows the origin of the request only.
	AllowMetadataURL func(resource, metadata *url.URL) error
	// MaxStepUps bounds the step-up sign-ins for one request; 0 means 2.
	// The bound is per request so that a server that always refuses
	// cannot loop, while a long session may step up as often as its
	// requests need.
	MaxStepUps int
	// AllowAncestorResource accepts protected resource metadata whose
	// resource is an ancestor of the URL requested on the same origin (a
	// path prefix ending at a segment boundary, the bare origin
	// included), as MCP clients check it, instead of the URL itself as
	// RFC 9728 §3.3 requires. It risks this: a server at one path (one
	// tenant's /tenant-b/mcp) can name a parent (https://host/) and
	// obtain a token whose audience covers every path below it, other
	// tenants' included. pkcemcp.NewClientTransport sets it; leave it off
	// for other APIs.
	AllowAncestorResource bool
	// AllowLocalAuthorizationServers lets an API that is not on loopback
	// name an authorization server, or endpoints, on loopback, private or
	// link-local addresses, "localhost", or plain http (on loopback). It
	// is for development setups with a remote API and a local server;
	// off, a remote document cannot make the client request the user's
	// own machine or network (server-side request forgery).
	AllowLocalAuthorizationServers bool
	// AllowMCP20250326Fallback accepts servers of the MCP 2025-03-26
	// authorization specification, which publish no protected resource
	// metadata: when neither the challenge nor the well-known locations
	// yield any, the authorization server is taken to be at the API's
	// origin, its RFC 8414 metadata at the root may name an issuer
	// anywhere on that origin, and without metadata the endpoints are
	// /authorize, /token and /register there. It weakens the issuer check
	// to the origin and drops the S256 advertisement requirement for such
	// servers, so it is off by default.
	AllowMCP20250326Fallback bool

	initOnce      sync.Once
	store         pkce.Store
	registrations RegistrationStore
	// signingIn holds a token while a request signs in: one sign-in at a
	// time, and the others wait for it only as long as their context
	// allows (a person may take minutes at the browser).
	signingIn chan struct{}

	mu       sync.Mutex
	sessions []*session
}

// defaultRedirectURL is the loopback template of SignInLoopback.
const defaultRedirectURL = "http://127.0.0.1/callback"

func (t *Transport) init() {
	t.initOnce.Do(func() {
		t.store = t.Store
		if t.store == nil {
			t.store = pkce.NewMemoryStore()
		}
		t.registrations = t.Registrations
		if t.registrations == nil {
			t.registrations = &memoryRegistrations{}
		}
		t.signingIn = make(chan struct{}, 1)
	})
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) redirectURL() string {
	if t.RedirectURL != "" {
		return t.RedirectURL
	}
	return defaultRedirectURL
}

// RoundTrip implements http.RoundTripper; see Transport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t == nil {
		closeBody(req)
		return nil, configErrorf("RoundTrip on a nil *protected.Transport; use a &protected.Transport{SignIn: ...}")
	}
	t.init()
	if link.RedirectedAway(req) {
		closeBody(req)
		return nil, fmt.Errorf("pkce: a redirect to %s is not followed: the Transport sends its requests only to the origin the application asked for (RFC 6750 §5.3)",
			wire.Clip(req.URL.Scheme+"://"+req.URL.Host, 200))
	}
	ctx := req.Context()
	s := t.sessionFor(req.URL)
	src, sent, err := t.token(ctx, s)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	resp, err := t.send(req, src)
	// A request is sent again after one 401, and after a second one only
	// when it was sent again with a token that nobody obtained for it (a
	// stored one, which a new process has not used before): that token is
	// refreshed or replaced once, or it would be presented again by every
	// process that sends one request. And after each step up, which
	// MaxStepUps bounds.
	var fresh bool // the last token sent was obtained for this request
	for unauthorized, stepUps := 0, 0; err == nil && replayable && challenged(resp); {
		if resp.StatusCode == http.StatusUnauthorized {
			if unauthorized >= 2 || unauthorized == 1 && (fresh || sent == nil) {
				break
			}
			unauthorized++
		} else {
			if stepUps >= t.maxStepUps() {
				break
			}
			stepUps++
		}
		var retry bool
		s, retry, fresh, err = t.authorize(ctx, req.URL, resp, s, sent)
		if err != nil {
			drain(resp)
			return nil, err
		}
		if !retry {
			break
		}
		drain(resp)
		if src, sent, err = t.token(ctx, s); err != nil {
			return nil, err
		}
		again := req.Clone(ctx)
		if req.GetBody != nil {
			if again.Body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("pkce: the request body cannot be sent again: %w", err)
			}
		}
		resp, err = t.send(again, src)
	}
	return resp, err
}

// send sends a copy of req with src's token, as TokenSource.Client sends
// it (a Bearer token, or a DPoP token with a proof and the resource's
// nonce), or without credentials when src is nil. It does not change req
// (http.RoundTripper's contract).
func (t *Transport) send(req *http.Request, src *pkce.TokenSource) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = req.Body
	if src == nil {
		return t.base().RoundTrip(out)
	}
	return link.ResourceTransport(src, t.base(), t.HTTPClient).RoundTrip(out)
}

// authorize acts on a challenge to a request that was sent with sent (or
// without a token): it returns the session to retry with, or retry false
// when the answer must be returned as it is, and fresh when it signed in
// or refreshed for this request (rather than finding a stored token, or
// one another request obtained).
func (t *Transport) authorize(ctx context.Context, reqURL *url.URL, resp *http.Response, s *session, sent *oauth2.Token) (_ *session, retry, fresh bool, err error) {
	slot := &signInSlot{t: t}
	select {
	case t.signingIn <- struct{}{}:
		defer slot.release()
	case <-ctx.Done():
		return nil, false, false, fmt.Errorf("pkce: gave up waiting for another request's sign-in: %w", ctx.Err())
	}

	challenge := bearerChallenge(resp.Header)
	if _, err := ParseChallenges(resp.Header); err != nil {
		var accessToken string
		if sent != nil {
			accessToken = sent.AccessToken
		}
		return nil, false, false, &pkce.ResponseError{Op: opResource, Err: pkce.ErrInvalidResponse, URL: reqURL.String(), StatusCode: resp.StatusCode,
			Problem: challengeProblem(resp, accessToken), Rule: "RFC 9110 §11.6.1"}
	}
	if s == nil {
		// Another request may have signed in while this one waited.
		s = t.sessionFor(reqURL)
	}
	if s != nil {
		if _, cur, err := t.token(ctx, s); err == nil && cur != nil && (sent == nil || cur.AccessToken != sent.AccessToken) {
			return s, true, false, nil // someone else obtained a newer token
		}
	}
	var moved *session
	if s != nil && resp.StatusCode == http.StatusUnauthorized && t.migrated(ctx, reqURL, challenge, s) {
		moved, s = s, nil // discover anew, and register with the new server
	}

	wanted := strings.Fields(challenge.Param("scope"))
	if resp.StatusCode == http.StatusForbidden {
		if s == nil || sent == nil {
			return nil, false, false, nil
		}
		scopes := union(s.scopes, wanted)
		if len(scopes) == len(s.scopes) {
			return nil, false, false, nil // the token had them all: asking again cannot help
		}
		ns := t.copyOf(s)
		if err := t.rescope(&ns, scopes); err != nil {
			return nil, false, false, err
		}
		if err := t.signIn(ctx, &ns, slot); err != nil {
			return nil, false, false, err
		}
		t.replace(s, &ns)
		return &ns, true, true, nil
	}

	if s != nil {
		t.mu.Lock()
		rejected := s.rejected
		t.mu.Unlock()
		if !rejected && sent != nil && sent.RefreshToken != "" {
			err := t.refresh(ctx, s, sent)
			if err == nil {
				return s, true, true, nil
			}
			rejected = s.dynamic && errors.Is(err, pkce.ErrorCode("invalid_client"))
			// A refresh that failed otherwise than with a dead grant (the
			// server down, a Store outage, a rejected pre-registered
			// client) says nothing about the grant: a sign-in would throw
			// away a refresh token that may still work.
			if !rejected && !errors.Is(err, pkce.ErrSignInRequired) {
				return nil, false, false, err
			}
		}
		ns := t.copyOf(s)
		ns.rejected = false
		if rejected {
			if err := t.registerDynamically(ctx, &ns); err != nil {
				return nil, false, false, err
			}
		}
		if scopes := union(s.scopes, wanted); rejected || len(scopes) != len(s.scopes) {
			if err := t.rescope(&ns, scopes); err != nil {
				return nil, false, false, err
			}
		}
		if err := t.signIn(ctx, &ns, slot); err != nil {
			return nil, false, false, err
		}
		t.replace(s, &ns)
		return &ns, true, true, nil
	}

	if s, err = t.discover(ctx, reqURL, challenge); err != nil {
		return nil, false, false, err
	}
	// A Store that fails says nothing about the token (pkce.Store): the
	// request fails, rather than ask the person to sign in again.
	_, tok, err := t.token(ctx, s)
	if err != nil {
		return nil, false, false, err
	}
	if tok == nil {
		if err := t.signIn(ctx, s, slot); err != nil {
			return nil, false, false, err
		}
		fresh = true
	}
	if moved != nil {
		t.replace(moved, s)
		return s, true, fresh, nil
	}
	t.mu.Lock()
	t.sessions = append(t.sessions, s)
	t.mu.Unlock()
	return s, true, fresh, nil
}

// drainTime bounds how long drain reads a body away, so that the
// connection can carry the next request; a body that is slower than that,
// or never ends, costs the connection instead of the request.
const drainTime = time.Second

// drain reads away at most 64 KiB of resp's body, for at most drainTime,
// and closes it: closing the body ends a read in progress.
func drain(resp *http.Response) {
	stop := time.AfterFunc(drainTime, func() { resp.Body.Close() })
	defer stop.Stop()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
