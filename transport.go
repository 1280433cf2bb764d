package pkce

import (
	"bytes"
	"context"
	"encoding/base64"
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
// Every request to one of its endpoints goes through the HTTP client
// golang.org/x/oauth2 would use for it: the one in the context under
// oauth2.HTTPClient, else the client's WithHTTPClient, else
// http.DefaultClient. The package builds the token requests itself
// (postAuthenticated), as it does those x/oauth2 has no call for (PAR,
// revocation), so that each answer is read once, within the client's
// bound, and checked by one parser. No request carrying credentials
// follows a redirect, and every request without a deadline of its own
// gets defaultRequestTimeout.

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

// basicAuthorization is the Authorization header of client_secret_basic.
func basicAuthorization(id, secret string) string { return "Basic " + basicCredentials(id, secret) }

// basicCredentials are the credentials of client_secret_basic: the id and
// secret form-encoded, then joined and encoded for HTTP Basic (RFC 6749
// §2.3.1).
func basicCredentials(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

// sendOnce sends req with hc and follows no redirect: a request that
// carries credentials must not be replayed elsewhere. A client with
// neither a cookie jar nor a timeout adds nothing to its transport for
// such a request, so req goes to the transport directly, and an error
// reads as the client's would.
func sendOnce(hc *http.Client, req *http.Request) (*http.Response, error) {
	if hc.Jar != nil || hc.Timeout != 0 || req.URL.User != nil {
		return noRedirects(hc).Do(req)
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(req)
	switch {
	case err != nil:
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, &url.Error{Op: clientOp(req.Method), URL: req.URL.Redacted(), Err: err}
	case resp == nil:
		return nil, &url.Error{Op: clientOp(req.Method), URL: req.URL.Redacted(), Err: errors.New("the transport returned neither a response nor an error")}
	case resp.Body == nil:
		resp.Body = http.NoBody
	}
	return resp, nil
}

// wrap returns err with the request's secrets removed from its text. The
// errors of an HTTP client come from the application's transport, which
// may echo the request it was given, headers and body (logging and proxy
// transports do); errors.Is and errors.As still reach the cause.
func (r redactor) wrap(err error) error {
	text := err.Error()
	if clean := r.clean(text); clean != text {
		return &redactedError{text: clean, err: err}
	}
	return err
}

// A redactedError is an error whose text had secrets in it.
type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// endpointClient returns the caller's HTTP client for a request to one of
// the server's endpoints, made not to follow redirects.
func endpointClient(ctx context.Context, fallback *http.Client) *http.Client {
	return noRedirects(userHTTPClient(ctx, fallback))
}

// clientOp is method as http.Client writes it in errors: "Post", "Get".
func clientOp(method string) string { return method[:1] + strings.ToLower(method[1:]) }

// noRedirects returns hc made not to follow redirects.
func noRedirects(hc *http.Client) *http.Client {
	return &http.Client{Transport: hc.Transport, CheckRedirect: wire.StopRedirect, Jar: hc.Jar, Timeout: hc.Timeout}
}

// readBody reads at most limit bytes of a response body and closes it.
// A longer body is an error, never silently cut.
func readBody(op string, resp *http.Response, limit int64, secrets redactor) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		return nil, &requestError{Op: op, Err: secrets.wrap(err), Partial: true}
	case int64(len(body)) > limit:
		return nil, &ResponseError{Op: op, Err: errResponseTooLarge, StatusCode: resp.StatusCode,
			ContentType: secrets.clean(resp.Header.Get("Content-Type")),
			Problem: "the body is longer than " + strconv.FormatInt(limit, 10) + " bytes, the client's bound " +
				"(raise it with WithMaxResponseBytes when the server's answers are legitimately this large)"}
	}
	return body, nil
}

// postAuthenticated POSTs params to endpoint with the client's
// authentication, byte for byte as x/oauth2 would send it: HTTP Basic
// with the id and secret form-encoded (RFC 6749 §2.3.1), both in the body,
// client_id alone for a public client, or client_id with a fresh client
// assertion (RFC 7523 §2.2). The token (RFC 6749 §3.2), PAR (RFC 9126
// §2.1) and revocation (RFC 7009 §2.1) endpoints authenticate clients
// this way. A pushed
// authorization request and a token request of a DPoP client carry a
// proof (RFC 9449 §5, §10.1); each is sent once more, with a fresh proof
// and assertion, when the server asks for a nonce (RFC 9449 §8).
func (c *Client) postAuthenticated(ctx context.Context, op string, endpoint string, params form, secrets redactor) (*serverResponse, error) {
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	withProof := c.dpop != nil && op != opRevoke
	for attempt := 0; ; attempt++ {
		r, err := c.postAuthenticatedOnce(ctx, op, endpoint, params, secrets, withProof)
		if err != nil || attempt > 0 || !withProof || !asksForNonce(r.status, r.http.Header, r.body) {
			return r, err
		}
	}
}

func (c *Client) postAuthenticatedOnce(ctx context.Context, op string, endpoint string, params form, secrets redactor, withProof bool) (*serverResponse, error) {
	id, secret := c.config.ClientID, c.config.ClientSecret
	var scratch [3]field
	auth := scratch[:0]
	switch c.authMethod {
	case AuthSecretPost:
		auth = append(auth, field{"client_id", id}, field{"client_secret", secret})
	case AuthNone:
		auth = append(auth, field{"client_id", id})
	case AuthPrivateKeyJWT:
		a, err := c.clientKey.assertion(id, c.now())
		if err != nil {
			return nil, &requestError{Op: op, Err: err}
		}
		auth = append(auth, field{"client_id", id}, field{"client_assertion_type", assertionType}, field{"client_assertion", a})
		secrets = secrets.with(a)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(params.encode(auth...)))
	if err != nil {
		return nil, &requestError{Op: op, Err: err}
	}
	// One array holds every header value; each slice is capped, so that
	// adding to one never writes over another.
	values := [...]string{"application/x-www-form-urlencoded", "application/json", ""}
	h := make(http.Header, 4)
	h["Content-Type"] = values[0:1:1]
	h["Accept"] = values[1:2:2]
	if c.authMethod == AuthSecretBasic {
		values[2] = c.basicAuth
		h["Authorization"] = values[2:3:3]
	}
	req.Header = h
	if withProof {
		proof, err := c.dpop.proof(http.MethodPost, req.URL, "")
		if err != nil {
			return nil, &requestError{Op: op, Err: err}
		}
		h["Dpop"] = []string{proof}
		secrets = secrets.with(proof)
	}
	resp, err := sendOnce(userHTTPClient(ctx, c.httpClient), req)
	if err != nil {
		return nil, &requestError{Op: op, Err: secrets.wrap(err)}
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
