package pkcetest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Callback is an authorization response as it reaches the client's
// redirection endpoint (RFC 6749 §4.1.2).
type Callback struct {
	// URL is where the browser was sent: for a redirect, the redirect URI
	// with the response in its query; for response_mode=form_post, the
	// redirect URI the form is posted to.
	URL *url.URL
	// FormPost reports that the response came as a form to POST
	// (OAuth 2.0 Form Post Response Mode §2) rather than as a redirect.
	FormPost bool
	// Params are the response parameters: code, state and iss, or error,
	// error_description, state and iss. For a redirect they are
	// URL.Query(), which includes the redirect URI's own query parameters.
	Params url.Values
}

// Request returns the request a browser would send to the client's
// redirection endpoint: a GET of URL, or for a form post a POST of Params
// as application/x-www-form-urlencoded. Send it with an http.Client, or
// serve it with the client's handler.
func (c *Callback) Request(ctx context.Context) (*http.Request, error) {
	if !c.FormPost {
		return http.NewRequestWithContext(ctx, http.MethodGet, c.URL.String(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL.String(), strings.NewReader(c.Params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// Browser plays the resource owner's user agent at the authorization
// endpoint, in place of the copies of "follow the Location header" that
// tests otherwise grow. It works with this package's Server only: it
// knows the consent and form_post pages by their shape.
type Browser struct {
	// Client sends the requests, with its CheckRedirect replaced so that
	// the browser stops at the redirect to the client. Nil means
	// http.DefaultClient; use Server.Client for a server from
	// NewTLSServer.
	Client *http.Client
	// Deny makes the browser press Deny on the consent page instead of
	// Approve. With Deny set, Authorize fails if the server shows no
	// consent page, that is without Config.Consent, so that a test cannot
	// get a code while it believes it was refused.
	Deny bool
}

// maxBrowserSteps bounds the pages Authorize walks through; the server
// needs at most two (consent, then form_post).
const maxBrowserSteps = 10

// Authorize sends the browser to authURL, walks through the consent page
// if there is one, and returns the authorization response meant for the
// client, whether it carries a code or an error such as access_denied. It
// does not contact the client. It returns an error when the server shows
// an error page instead of answering the client (RFC 6749 §4.1.2.1), with
// the page's text, or when it cannot follow what the server sent.
func (b Browser) Authorize(ctx context.Context, authURL string) (*Callback, error) {
	hc := *http.DefaultClient
	if b.Client != nil {
		hc = *b.Client
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, fmt.Errorf("pkcetest: %w", err)
	}
	consented := false
	for range maxBrowserSteps {
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("pkcetest: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("pkcetest: reading %s: %w", req.URL, err)
		}
		var cb *Callback
		switch mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("pkcetest: %s without a usable Location: %w", resp.Status, err)
			}
			if loc.Scheme == req.URL.Scheme && loc.Host == req.URL.Host {
				req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
				if err != nil {
					return nil, fmt.Errorf("pkcetest: %w", err)
				}
				continue
			}
			cb = &Callback{URL: loc, Params: loc.Query()}
		case resp.StatusCode == http.StatusOK && mt == "text/html":
			form, err := readForm(body, resp.Request.URL)
			if err != nil {
				return nil, err
			}
			if form.buttons.Has("decision") {
				if consented {
					return nil, errors.New("pkcetest: the consent page came back after a decision")
				}
				consented = true
				if req, err = form.submit(ctx, b.decision()); err != nil {
					return nil, err
				}
				continue
			}
			cb = &Callback{URL: form.action, FormPost: true, Params: form.fields}
		default:
			return nil, fmt.Errorf("pkcetest: the authorization server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
		}
		if b.Deny && !consented {
			return nil, errors.New("pkcetest: Browser.Deny is set but the server showed no consent page; set Config.Consent")
		}
		return cb, nil
	}
	return nil, fmt.Errorf("pkcetest: no answer for the client after %d pages", maxBrowserSteps)
}

func (b Browser) decision() string {
	if b.Deny {
		return "deny"
	}
	return "approve"
}

// Authorize is Browser{Client: s.Client()}.Authorize: it approves on the
// consent page when there is one. Use a Browser to deny.
func (s *Server) Authorize(ctx context.Context, authURL string) (*Callback, error) {
	return Browser{Client: s.Client()}.Authorize(ctx, authURL)
}

// htmlForm is the first form of a page, as a browser would submit it.
type htmlForm struct {
	action  *url.URL
	fields  url.Values // hidden inputs
	buttons url.Values // named submit buttons
}

// readForm finds the first form of page, whose URL is base. The pages of
// this server are well-formed XML, which encoding/xml reads in its lenient
// HTML mode; the standard library has no HTML parser.
func readForm(page []byte, base *url.URL) (*htmlForm, error) {
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var form *htmlForm
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pkcetest: reading the page at %s: %w", base, err)
		}
		if end, ok := tok.(xml.EndElement); ok && form != nil && strings.EqualFold(end.Name.Local, "form") {
			break
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := func(name string) string {
			for _, a := range start.Attr {
				if strings.EqualFold(a.Name.Local, name) {
					return a.Value
				}
			}
			return ""
		}
		switch el := strings.ToLower(start.Name.Local); {
		case el == "form" && form == nil:
			if !strings.EqualFold(attr("method"), http.MethodPost) {
				return nil, fmt.Errorf("pkcetest: the form at %s is not posted", base)
			}
			action, err := base.Parse(attr("action"))
			if err != nil {
				return nil, fmt.Errorf("pkcetest: the form at %s has a bad action: %w", base, err)
			}
			form = &htmlForm{action: action, fields: url.Values{}, buttons: url.Values{}}
		case form == nil || attr("name") == "":
		case el == "input" && strings.EqualFold(attr("type"), "hidden"):
			form.fields.Add(attr("name"), attr("value"))
		case el == "button":
			form.buttons.Add(attr("name"), attr("value"))
		}
	}
	if form == nil {
		return nil, fmt.Errorf("pkcetest: the page at %s has no form", base)
	}
	return form, nil
}

// submit returns the POST a browser sends when the button named
// "decision" with the given value is pressed.
func (f *htmlForm) submit(ctx context.Context, decision string) (*http.Request, error) {
	vals := cloneValues(f.fields)
	vals.Set("decision", decision)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.action.String(), strings.NewReader(vals.Encode()))
	if err != nil {
		return nil, fmt.Errorf("pkcetest: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}
