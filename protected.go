package pkce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

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
//  3. fetch that server's metadata (DiscoverForResource), which must
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
// at most one 401, and after each step up (below); then the answer is
// returned whatever it is.
//
// Tokens live in Store under a key made of the issuer, the client ID, the
// resource and the scopes, and are refreshed as a Tokens refreshes them;
// a token the API refuses with 401 is refreshed once before anyone is
// asked to sign in again. On 403 with error="insufficient_scope", the
// scopes grow by the challenge's scope and the person signs in again (step
// up), unless the token already had every scope asked for, or the
// resource has already been stepped up MaxStepUps times: the 403 is then
// returned as it came, so that a server that always refuses cannot make
// the client loop (MCP 2025-11-25, "Scope Challenge Handling").
//
// Whatever comes from the API's headers is untrusted: the
// resource_metadata URL must have the API's origin (AllowMetadataURL
// widens that), the metadata's resource must identify the URL requested,
// no metadata request follows a redirect across origins, and every body
// is bounded. The authorization server's metadata must name the issuer
// that was asked for, byte for byte (RFC 8414 §3.3), and callbacks are
// checked against it (RFC 9207).
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
	SignIn func(ctx context.Context, c *Client) (*Token, error)
	// RedirectURL is the redirect URI the Client and the registrations
	// use; "" means http://127.0.0.1/callback, the loopback template of
	// SignInLoopback (RFC 8252 §7.3).
	RedirectURL string
	// PreRegistered returns the credentials the application registered
	// with issuer beforehand, or nil. A Registration whose Issuer is set
	// is used with that issuer only; one whose Issuer is "" is used with
	// whichever server the resource names, which trusts the resource to
	// name the right one.
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
	Store Store
	// ChooseAuthorizationServer picks the issuer to use among
	// rm.AuthorizationServers (RFC 9728 §7.6); nil picks the first.
	ChooseAuthorizationServer func(rm *ResourceMetadata) (string, error)
	// AllowMetadataURL decides whether a resource_metadata URL from a
	// challenge may be fetched; nil allows the origin of the request only.
	AllowMetadataURL func(resource, metadata *url.URL) error
	// MaxStepUps bounds the step-up sign-ins per resource; 0 means 2.
	MaxStepUps int
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
	store         Store
	registrations RegistrationStore
	signInMu      sync.Mutex // one sign-in at a time

	mu       sync.Mutex
	sessions []*session
}

// A session is what a Transport knows about one protected resource.
type session struct {
	resource string // the canonical resource identifier
	issuer   string
	md       *Metadata
	reg      *Registration
	dynamic  bool // reg came from dynamic registration
	client   *Client
	tokens   *Tokens
	scopes   []string
	subject  string // the token key
	stepUps  int
}

// defaultRedirectURL is the loopback template of SignInLoopback.
const defaultRedirectURL = "http://127.0.0.1/callback"

func (t *Transport) init() {
	t.initOnce.Do(func() {
		t.store = t.Store
		if t.store == nil {
			t.store = NewMemoryStore()
		}
		t.registrations = t.Registrations
		if t.registrations == nil {
			t.registrations = &memoryRegistrations{}
		}
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
	t.init()
	ctx := req.Context()
	s := t.sessionFor(req.URL)
	sent, err := t.token(ctx, s)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	resp, err := t.send(req, sent)
	// A request is sent again after at most one 401 and after each step
	// up, which MaxStepUps bounds.
	for unauthorized := false; err == nil && replayable && challenged(resp); {
		if resp.StatusCode == http.StatusUnauthorized {
			if unauthorized {
				break
			}
			unauthorized = true
		}
		var retry bool
		s, retry, err = t.authorize(ctx, req.URL, resp, s, sent)
		if err != nil {
			drain(resp)
			return nil, err
		}
		if !retry {
			break
		}
		drain(resp)
		if sent, err = t.token(ctx, s); err != nil {
			return nil, err
		}
		again := req.Clone(ctx)
		if req.GetBody != nil {
			if again.Body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("pkce: the request body cannot be sent again: %w", err)
			}
		}
		resp, err = t.send(again, sent)
	}
	return resp, err
}

// challenged reports whether resp asks for (other) credentials: a 401, or
// a 403 with error="insufficient_scope" (RFC 6750 §3.1).
func challenged(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
		return bearerChallenge(resp.Header).Param("error") == "insufficient_scope"
	}
	return false
}

// bearerChallenge returns the first Bearer challenge of h, or the zero
// Challenge; a header that does not parse has none.
func bearerChallenge(h http.Header) Challenge {
	cs, err := ParseChallenges(h)
	if err != nil {
		return Challenge{}
	}
	for _, c := range cs {
		if c.Is("Bearer") {
			return c
		}
	}
	return Challenge{}
}

// send sends a copy of req with tok, or without credentials when tok is
// nil. It does not change req (http.RoundTripper's contract).
func (t *Transport) send(req *http.Request, tok *oauth2.Token) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = req.Body
	if tok != nil {
		out.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	return t.base().RoundTrip(out)
}

// token returns the token to send for s: nil when there is none yet or
// it must be obtained again by signing in.
func (t *Transport) token(ctx context.Context, s *session) (*oauth2.Token, error) {
	if s == nil {
		return nil, nil
	}
	src, err := s.tokens.Source(ctx, s.subject)
	if errors.Is(err, ErrSignInRequired) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tok, err := src.TokenContext(ctx)
	switch {
	case errors.Is(err, ErrSignInRequired):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return tok, nil
}

// sessionFor returns the session whose resource covers u, or nil.
func (t *Transport) sessionFor(u *url.URL) *session {
	ru, err := parseResourceURL(u.String())
	if err != nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sessions {
		if resourceCovers(s.resource, ru) {
			return s
		}
	}
	return nil
}

// authorize acts on a challenge to a request that was sent with sent (or
// without a token): it returns the session to retry with, or retry false
// when the answer must be returned as it is.
func (t *Transport) authorize(ctx context.Context, reqURL *url.URL, resp *http.Response, s *session, sent *oauth2.Token) (*session, bool, error) {
	t.signInMu.Lock()
	defer t.signInMu.Unlock()

	challenge := bearerChallenge(resp.Header)
	if _, err := ParseChallenges(resp.Header); err != nil {
		return nil, false, &ResponseError{Op: OpResource, Err: ErrInvalidResponse, URL: reqURL.String(), StatusCode: resp.StatusCode,
			Problem: strings.TrimPrefix(err.Error(), "pkce: "), Rule: "RFC 9110 §11.6.1"}
	}
	if s == nil {
		// Another request may have signed in while this one waited.
		s = t.sessionFor(reqURL)
	}
	if s != nil {
		if cur, err := t.token(ctx, s); err == nil && cur != nil && (sent == nil || cur.AccessToken != sent.AccessToken) {
			return s, true, nil // someone else obtained a newer token
		}
	}

	wanted := strings.Fields(challenge.Param("scope"))
	if resp.StatusCode == http.StatusForbidden {
		if s == nil || sent == nil {
			return nil, false, nil
		}
		scopes := union(s.scopes, wanted)
		if len(scopes) == len(s.scopes) || s.stepUps >= t.maxStepUps() {
			return nil, false, nil // the token had them all: asking again cannot help
		}
		ns := *s
		ns.stepUps++
		if err := t.rescope(&ns, scopes); err != nil {
			return nil, false, err
		}
		if err := t.signIn(ctx, &ns); err != nil {
			return nil, false, err
		}
		t.replace(s, &ns)
		return &ns, true, nil
	}

	if s != nil {
		if sent != nil && sent.RefreshToken != "" && t.refresh(ctx, s, sent) == nil {
			return s, true, nil
		}
		ns := *s
		if scopes := union(s.scopes, wanted); len(scopes) != len(s.scopes) {
			if err := t.rescope(&ns, scopes); err != nil {
				return nil, false, err
			}
		}
		if err := t.signIn(ctx, &ns); err != nil {
			return nil, false, err
		}
		t.replace(s, &ns)
		return &ns, true, nil
	}

	s, err := t.discover(ctx, reqURL, challenge)
	if err != nil {
		return nil, false, err
	}
	if tok, err := t.token(ctx, s); err != nil || tok == nil {
		if err := t.signIn(ctx, s); err != nil {
			return nil, false, err
		}
	}
	t.mu.Lock()
	t.sessions = append(t.sessions, s)
	t.mu.Unlock()
	return s, true, nil
}

func (t *Transport) maxStepUps() int {
	if t.MaxStepUps > 0 {
		return t.MaxStepUps
	}
	return 2
}

// replace puts ns in the place of old.
func (t *Transport) replace(old, ns *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, s := range t.sessions {
		if s == old {
			t.sessions[i] = ns
		}
	}
}

// refresh refreshes the token the API refused, once, and stores the
// result.
func (t *Transport) refresh(ctx context.Context, s *session, sent *oauth2.Token) error {
	tok, err := s.client.Refresh(ctx, sent.RefreshToken)
	if err != nil {
		return err
	}
	return s.tokens.Save(ctx, s.subject, tok)
}

// discover runs steps 2 to 5 of the chain for a resource seen for the
// first time.
func (t *Transport) discover(ctx context.Context, reqURL *url.URL, challenge Challenge) (*session, error) {
	hc := t.HTTPClient
	allow := t.AllowMetadataURL
	if allow == nil {
		allow = sameOriginMetadata
	}
	metadataURL := challenge.Param("resource_metadata")
	rm, err := fetchResourceMetadata(ctx, hc, reqURL.String(), metadataURL, allow, defaultMaxResponseBytes)
	var md *Metadata
	var resource string
	switch {
	case err != nil && metadataURL == "" && t.AllowMCP20250326Fallback && noMetadataHere(err):
		md, err = legacyMetadata(ctx, hc, reqURL)
		if err != nil {
			return nil, err
		}
		ru, _ := parseResourceURL(reqURL.String())
		resource = ru.String()
	case err != nil:
		return nil, err
	default:
		issuer := rm.AuthorizationServers[0]
		if t.ChooseAuthorizationServer != nil {
			if issuer, err = t.chooseServer(rm); err != nil {
				return nil, err
			}
		}
		if md, err = discoverForResource(ctx, hc, issuer, defaultMaxResponseBytes); err != nil {
			return nil, err
		}
		resource = rm.Resource
	}

	s := &session{resource: resource, issuer: md.Issuer, md: md}
	if err := t.findRegistration(ctx, s); err != nil {
		return nil, err
	}
	scopes := strings.Fields(challenge.Param("scope"))
	if len(scopes) == 0 && rm != nil {
		scopes = slices.Clone(rm.ScopesSupported)
	}
	if len(scopes) > 0 && slices.Contains(md.ScopesSupported, "offline_access") && !slices.Contains(scopes, "offline_access") {
		scopes = append(scopes, "offline_access")
	}
	if err := t.rescope(s, scopes); err != nil {
		return nil, err
	}
	return s, nil
}

// noMetadataHere reports whether err says that the resource has no
// metadata at the locations asked, as opposed to broken metadata.
func noMetadataHere(err error) bool {
	var re *ResponseError
	return errors.As(err, &re) && (errors.Is(err, ErrNotJSON) || errors.Is(err, ErrUnexpectedStatus) && re.StatusCode >= 400 && re.StatusCode < 500)
}

// chooseServer runs the application's choice, which must be one of the
// servers the resource named.
func (t *Transport) chooseServer(rm *ResourceMetadata) (issuer string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("pkce: ChooseAuthorizationServer panicked: %v", v)
		}
	}()
	issuer, err = t.ChooseAuthorizationServer(rm)
	if err != nil {
		return "", err
	}
	if !slices.Contains(rm.AuthorizationServers, issuer) {
		return "", fmt.Errorf("pkce: ChooseAuthorizationServer chose %q, which is not among the resource's authorization_servers", clip(issuer, 200))
	}
	return issuer, nil
}

// legacyMetadata finds the authorization server of an MCP 2025-03-26
// server: RFC 8414 metadata at the root of the API's origin, or the
// default endpoints there.
func legacyMetadata(ctx context.Context, fallback *http.Client, reqURL *url.URL) (*Metadata, error) {
	origin := reqURL.Scheme + "://" + reqURL.Host
	if err := checkIssuer(origin); err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	hc := userHTTPClient(ctx, fallback)
	hc = &http.Client{Transport: hc.Transport, CheckRedirect: sameOriginRedirects, Jar: hc.Jar, Timeout: hc.Timeout}
	md, from, tryNext, err := fetchMetadata(ctx, hc, origin+"/.well-known/oauth-authorization-server", defaultMaxResponseBytes)
	switch {
	case tryNext:
		return &Metadata{Issuer: origin, AuthorizationEndpoint: origin + "/authorize", TokenEndpoint: origin + "/token",
			RegistrationEndpoint: origin + "/register"}, nil
	case err != nil:
		return nil, err
	}
	iu, perr := url.Parse(md.Issuer)
	if perr != nil || checkIssuer(md.Issuer) != nil || !sameOrigin(iu, reqURL) {
		return nil, &ResponseError{Op: OpDiscover, Err: ErrIssuerMismatch, URL: from,
			Problem: fmt.Sprintf("the issuer member %q is not on the origin %q of the MCP server", clip(md.Issuer, 200), origin),
			Rule:    "MCP 2025-03-26 Server Metadata Discovery", Also: []Rule{"RFC 8414 §3.3"}}
	}
	if err := md.check(from); err != nil {
		return nil, err
	}
	return md, nil
}

// findRegistration sets s.reg in the order of step 4.
func (t *Transport) findRegistration(ctx context.Context, s *session) error {
	if t.PreRegistered != nil {
		if r := t.PreRegistered(s.issuer); r != nil {
			if r.Issuer != "" && r.Issuer != s.issuer {
				return fmt.Errorf("pkce: PreRegistered returned credentials for %q when asked for %q; credentials are used with the server they were registered with", clip(r.Issuer, 200), s.issuer)
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
		s.reg = &Registration{Issuer: s.issuer, ClientID: t.ClientIDMetadataURL, AuthMethod: AuthNone}
		return nil
	}
	if s.md.RegistrationEndpoint == "" {
		return fmt.Errorf("%w %q: it has no registration_endpoint, does not accept a client ID metadata document (or none is configured), and PreRegistered has no credentials for it", ErrNoRegistration, s.issuer)
	}
	saved, err := t.registrations.LoadRegistration(ctx, s.issuer)
	if err != nil {
		return fmt.Errorf("pkce: loading the client registration: %w", err)
	}
	if saved != nil && saved.Issuer == s.issuer && saved.ClientID != "" {
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
	if ru, err := url.Parse(redirect); err == nil && ru.Scheme == "http" && isLoopbackHost(ru.Hostname()) || err == nil && ru.Scheme != "http" && ru.Scheme != "https" {
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
	if err := t.registrations.SaveRegistration(ctx, reg); err != nil {
		return fmt.Errorf("pkce: saving the client registration: %w", err)
	}
	s.reg, s.dynamic = reg, true
	return nil
}

// rescope makes s's Client and token key for scopes.
func (t *Transport) rescope(s *session, scopes []string) error {
	opts := []Option{WithMetadata(s.md), WithResource(s.resource)}
	if s.reg.AuthMethod != "" {
		opts = append(opts, WithAuthMethod(s.reg.AuthMethod))
	}
	if t.HTTPClient != nil {
		opts = append(opts, WithHTTPClient(t.HTTPClient))
	}
	c, err := New(&oauth2.Config{ClientID: s.reg.ClientID, ClientSecret: s.reg.ClientSecret,
		RedirectURL: t.redirectURL(), Scopes: scopes}, opts...)
	if err != nil {
		return err
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
func (t *Transport) signIn(ctx context.Context, s *session) error {
	if t.SignIn == nil {
		return configErrorf("the Transport has no SignIn function")
	}
	tok, err := t.callSignIn(ctx, s.client)
	if err != nil && s.dynamic && errors.Is(err, ErrInvalidClient) {
		if err := t.registerDynamically(ctx, s); err != nil {
			return err
		}
		if err := t.rescope(s, s.scopes); err != nil {
			return err
		}
		tok, err = t.callSignIn(ctx, s.client)
	}
	if err != nil {
		return err
	}
	return s.tokens.Save(ctx, s.subject, tok)
}

func (t *Transport) callSignIn(ctx context.Context, c *Client) (tok *Token, err error) {
	defer func() {
		if v := recover(); v != nil {
			tok, err = nil, fmt.Errorf("pkce: SignIn panicked: %v", v)
		}
	}()
	tok, err = t.SignIn(ctx, c)
	if err == nil && (tok == nil || tok.Token == nil) {
		err = errors.New("pkce: SignIn returned no token and no error")
	}
	return tok, err
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

// union returns a followed by the members of b it lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// LoopbackSignIn returns a Transport.SignIn that signs a person in with
// Client.SignInLoopback; open shows the authorization URL in the system
// browser (and should print it too).
func LoopbackSignIn(open func(authURL string) error) func(context.Context, *Client) (*Token, error) {
	return func(ctx context.Context, c *Client) (*Token, error) {
		return c.SignInLoopback(ctx, open)
	}
}

// HeadlessSignIn returns a Transport.SignIn for automated runs against
// authorization servers that approve without a person (test servers,
// pre-consented clients): it runs Client.SignInLoopback and, instead of
// opening a browser, GETs the authorization URL with hc (nil means
// http.DefaultClient), following redirects as hc does, until the
// redirect reaches the loopback receiver. A server that answers with a
// page instead (a login form) makes it fail.
func HeadlessSignIn(hc *http.Client) func(context.Context, *Client) (*Token, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	return func(ctx context.Context, c *Client) (*Token, error) {
		return c.SignInLoopback(ctx, func(authURL string) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("pkce: following the authorization redirect: %w", err)
			}
			defer drain(resp)
			// The last answer must come from the receiver: the redirect
			// URI's host and port when the URL names it (it does not with
			// PAR), a loopback host otherwise.
			back := isLoopbackHost(resp.Request.URL.Hostname())
			if u, err := url.Parse(authURL); err == nil {
				if ru, err := url.Parse(u.Query().Get("redirect_uri")); err == nil && ru.Host != "" {
					back = resp.Request.URL.Host == ru.Host
				}
			}
			if !back {
				return fmt.Errorf("pkce: the authorization server did not send the browser back without a person: %d at %s",
					resp.StatusCode, clip(resp.Request.URL.Scheme+"://"+resp.Request.URL.Host+resp.Request.URL.Path, 200))
			}
			return nil
		})
	}
}
