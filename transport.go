package pkce

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pkcekit/pkce/internal/wire"
	"golang.org/x/oauth2"
)

// How requests reach the authorization server.
//
// Token requests (code exchange and refresh) are built and sent by
// golang.org/x/oauth2, which the package relies on for three things, each
// pinned by TestOAuth2Behaviours:
//
//  1. it sends the request with the *http.Client it finds in the context
//     under oauth2.HTTPClient, so the package can put its own recording
//     transport there;
//  2. clientcredentials.Config sends EndpointParams over its own
//     grant_type, which gives a refresh request with an optional scope;
//  3. it returns the error of its HTTP client's transport as the call's
//     error: once the recording transport has the real answer, it reads
//     it itself, once, within its own bound, builds the token from what it
//     checked, and ends x/oauth2's part of the call with errRecorded.
//     (x/oauth2 would otherwise decode the body twice, build a token the
//     package does not use, and cut the body silently at 1 MiB.)
//
// Requests x/oauth2 has no call for (PAR, revocation, metadata) are sent
// by postAuthenticated and fetchMetadata with the same HTTP client choice.
// No request carrying credentials follows a redirect, and every request
// without a deadline of its own gets defaultRequestTimeout.

// defaultRequestTimeout bounds a request whose context has no deadline.
const defaultRequestTimeout = 30 * time.Second

// withDefaultDeadline returns ctx with defaultRequestTimeout when it has
// no deadline.
func withDefaultDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultRequestTimeout)
}

// userHTTPClient returns the HTTP client the caller chose: ctx's
// oauth2.HTTPClient, else fallback (WithHTTPClient), else
// http.DefaultClient, as golang.org/x/oauth2 does.
func userHTTPClient(ctx context.Context, fallback *http.Client) *http.Client {
	if v, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && v != nil {
		return v
	}
	if fallback != nil {
		return fallback
	}
	return http.DefaultClient
}

// endpointClient returns the caller's HTTP client for a request to one of
// the server's endpoints, made not to follow redirects.
func endpointClient(ctx context.Context, fallback *http.Client) *http.Client {
	hc := userHTTPClient(ctx, fallback)
	return &http.Client{Transport: hc.Transport, CheckRedirect: wire.StopRedirect, Jar: hc.Jar, Timeout: hc.Timeout}
}

// readBody reads at most limit bytes of a response body and closes it.
// A longer body is an error, never silently cut.
func readBody(op string, resp *http.Response, limit int64, secrets redactor) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		return nil, &requestError{Op: op, Err: err, Partial: true}
	case int64(len(body)) > limit:
		return nil, &ResponseError{Op: op, Err: errResponseTooLarge, StatusCode: resp.StatusCode,
			ContentType: secrets.clean(resp.Header.Get("Content-Type")),
			Problem: "the body is longer than " + strconv.FormatInt(limit, 10) + " bytes, the client's bound " +
				"(raise it with WithMaxResponseBytes when the server's answers are legitimately this large)"}
	}
	return body, nil
}

// postAuthenticated POSTs form to endpoint with the client authentication
// of the token endpoint, exactly as x/oauth2 sends it there: HTTP Basic
// with the id and secret form-encoded (RFC 6749 §2.3.1), both in the body,
// client_id alone for a public client, or client_id with a fresh client
// assertion (RFC 7523 §2.2). The PAR (RFC 9126 §2.1) and revocation
// (RFC 7009 §2.1) endpoints authenticate clients this way. A pushed
// authorization request of a DPoP client carries a proof (RFC 9449 §10.1)
// and is sent once more with the server's nonce when it asks for one
// (RFC 9449 §8).
func (c *Client) postAuthenticated(ctx context.Context, op string, endpoint string, form url.Values, secrets redactor) (*serverResponse, error) {
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	withProof := op == opPush && c.dpop != nil
	for attempt := 0; ; attempt++ {
		r, err := c.postAuthenticatedOnce(ctx, op, endpoint, form, secrets, withProof)
		if err != nil || attempt > 0 || !withProof || !asksForNonce(r.status, r.http.Header, r.body) {
			return r, err
		}
	}
}

func (c *Client) postAuthenticatedOnce(ctx context.Context, op string, endpoint string, form url.Values, secrets redactor, withProof bool) (*serverResponse, error) {
	id, secret := c.config.ClientID, c.config.ClientSecret
	switch c.authMethod {
	case AuthSecretPost:
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	case AuthNone:
		form.Set("client_id", id)
	case AuthPrivateKeyJWT:
		auth, err := c.clientAuthParams()
		if err != nil {
			return nil, &requestError{Op: op, Err: err}
		}
		form.Set("client_id", id)
		for k, v := range auth {
			form[k] = v
		}
		secrets = secrets.with(auth.Get("client_assertion"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &requestError{Op: op, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.authMethod == AuthSecretBasic {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	if withProof {
		proof, err := c.dpop.proof(http.MethodPost, req.URL, "")
		if err != nil {
			return nil, &requestError{Op: op, Err: err}
		}
		req.Header.Set("DPoP", proof)
		secrets = secrets.with(proof)
	}
	resp, err := endpointClient(ctx, c.httpClient).Do(req)
	if err != nil {
		return nil, &requestError{Op: op, Err: err}
	}
	if c.dpop != nil {
		c.dpop.remember(originOf(req.URL), resp.Header)
	}
	body, err := readBody(op, resp, c.maxResponseBytes, secrets)
	if err != nil {
		return nil, err
	}
	return newServerResponse(op, endpoint, resp, body, secrets, c.authMethod), nil
}

// A recorder is the transport of one token request sent by x/oauth2. It
// sends the request with the caller's transport, adding Accept:
// application/json (without it some servers, GitHub among them, answer
// form-encoded), reads the real answer within the client's bound, and
// ends x/oauth2's part with errRecorded (see the top of this file).
type recorder struct {
	base    http.RoundTripper
	client  http.Client
	limit   int64
	op      string
	secrets redactor
	dpop    *dpopProver // adds a DPoP proof (RFC 9449 §5) when set

	proof   string         // the DPoP proof sent, for the redactor
	resp    *http.Response // the real answer, its body read into body
	body    []byte
	readErr error // a requestError or a ResponseError for an oversized body
}

// errRecorded ends x/oauth2's part of a token request once the recording
// transport has the answer, which the package reads itself.
var errRecorded = errors.New("pkce: the answer was recorded")

// recording returns a context whose HTTP client is rec, built on the
// caller's client: its transport, jar and timeout, and no redirects, since
// a token request carries credentials and must not be replayed elsewhere.
func (c *Client) recording(ctx context.Context, rec *recorder) context.Context {
	hc := userHTTPClient(ctx, c.httpClient)
	rec.base = hc.Transport
	if rec.base == nil {
		rec.base = http.DefaultTransport
	}
	rec.client = http.Client{Transport: rec, CheckRedirect: wire.StopRedirect, Jar: hc.Jar, Timeout: hc.Timeout}
	return context.WithValue(ctx, oauth2.HTTPClient, &rec.client)
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	// x/oauth2 made this request for this call alone and never looks at
	// it again, so headers are set in place rather than on a copy.
	req.Header.Set("Accept", "application/json")
	if r.dpop != nil {
		proof, err := r.dpop.proof(req.Method, req.URL, "")
		if err != nil {
			return nil, err
		}
		req.Header.Set("DPoP", proof)
		r.proof = proof
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if r.dpop != nil {
		r.dpop.remember(originOf(req.URL), resp.Header)
	}
	r.resp = resp
	r.body, r.readErr = readBody(r.op, resp, r.limit, r.secrets)
	return nil, errRecorded
}
