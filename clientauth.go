package pkce

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// serverResponse is what an endpoint other than the token endpoint
// answered, with the body read in full within the client's bound.
type serverResponse struct {
	status      int
	contentType string
	location    string
	body        []byte
	http        *http.Response // its body is read and closed
}

// postAuthenticated POSTs form to endpoint with the client authentication
// of the token endpoint, exactly as Exchange sends it: HTTP Basic with the
// id and secret form-encoded (RFC 6749 §2.3.1), both in the body, or
// client_id alone for a public client. The revocation (RFC 7009 §2.1) and
// PAR (RFC 9126 §2.1) endpoints authenticate clients this way. Redirects
// are not followed, and a body longer than the client's bound is an error.
func (c *Client) postAuthenticated(ctx context.Context, grant, endpoint string, form url.Values) (*serverResponse, error) {
	id, secret := c.config.ClientID, c.config.ClientSecret
	basic := false
	switch c.authStyle {
	case AuthClientSecretBasic:
		basic = true
	case AuthClientSecretPost:
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	default: // AuthNone
		form.Set("client_id", id)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &RequestError{Grant: grant, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := endpointClient(ctx, c.httpClient).Do(req)
	if err != nil {
		return nil, &RequestError{Grant: grant, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponseBytes+1))
	r := &serverResponse{
		status:      resp.StatusCode,
		contentType: resp.Header.Get("Content-Type"),
		location:    resp.Header.Get("Location"),
		body:        body,
		http:        resp,
	}
	switch {
	case err != nil:
		return nil, &RequestError{Grant: grant, Err: err, Partial: true}
	case int64(len(body)) > c.maxResponseBytes:
		return nil, &ResponseError{Err: ErrResponseTooLarge, Grant: grant, StatusCode: r.status, ContentType: r.contentType,
			Problem: fmt.Sprintf("the body is longer than %d bytes", c.maxResponseBytes)}
	}
	return r, nil
}

// errorResponse turns an unsuccessful answer into the package's errors,
// as for the token endpoint: a *TokenError when the body is an RFC 6749
// §5.2 error object, which RFC 7009 §2.2.1 and RFC 9126 §2.3 reuse, and a
// *ResponseError otherwise. Both lead errors.As to an *oauth2.RetrieveError
// without the request's credentials.
func (c *Client) errorResponse(grant string, r *serverResponse, secrets redactor, rule string) error {
	re := &oauth2.RetrieveError{Response: r.http, Body: r.body}
	fail := func(kind error, problem string) error {
		return &ResponseError{Err: kind, Grant: grant, StatusCode: r.status, ContentType: r.contentType,
			Problem: problem, Rule: rule, retrieve: secrets.retrieveError(re)}
	}
	if r.status >= 300 && r.status < 400 {
		return fail(ErrUnexpectedStatus, fmt.Sprintf("a redirect to %q, which is not followed: the request carries credentials",
			clip(secrets.clean(r.location), 200)))
	}
	members, problem := decodeObject(r.body)
	if problem != "" {
		return fail(ErrNotJSON, problem+": "+secrets.excerpt(r.body, r.contentType))
	}
	code, ok := members["error"].(string)
	if !ok || code == "" {
		return fail(ErrUnexpectedStatus, "an error status without an error member ("+members.names()+")")
	}
	re.ErrorCode = code
	re.ErrorDescription = str(members["error_description"])
	re.ErrorURI = str(members["error_uri"])
	re = secrets.retrieveError(re)
	return &TokenError{Grant: grant, StatusCode: r.status, Code: re.ErrorCode,
		Description: re.ErrorDescription, URI: re.ErrorURI, AuthStyle: c.authStyle, retrieve: re}
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
	return &http.Client{Transport: hc.Transport, CheckRedirect: stopRedirect, Jar: hc.Jar, Timeout: hc.Timeout}
}
