package servercheck

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// maxPage bounds the pages a sign-in reads, and maxSteps the requests it
// makes, so that a hostile or looping server cannot hold it.
const (
	maxPage  = 1 << 20
	maxSteps = 20
)

// FollowRedirects signs in at a server that approves at once: it follows
// redirects, keeping cookies, until one goes to the redirection URI. hc
// nil means a client with a 30 second timeout.
func FollowRedirects(hc *http.Client) SignIn {
	return LoginForm{HTTPClient: hc}.SignIn
}

// LoginForm signs in through plain HTML forms, as a person with a browser
// would: it follows redirects, and on each page with a form fills in
// Fields over the form's own values (hidden inputs included) and submits
// it, until a redirect goes to the redirection URI. A login page followed
// by a consent page works when Fields also names the consent button's
// value, e.g. {"username": ..., "password": ..., "decision": "approve"}.
// Pages that need JavaScript need a SignIn of your own (a headless
// browser).
type LoginForm struct {
	// Fields are set in every form submitted, over its own values.
	Fields map[string]string
	// HTTPClient makes the requests; nil means a client with a 30 second
	// timeout.
	HTTPClient *http.Client
}

// SignIn implements SignIn.
func (l LoginForm) SignIn(ctx context.Context, authURL, redirectURI string) (string, error) {
	jar, _ := cookiejar.New(nil) // cannot fail without options
	hc := stopAtRedirects(l.HTTPClient)
	hc.Jar = jar
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return "", fmt.Errorf("servercheck: sign-in: %w", err)
	}
	for range maxSteps {
		resp, err := hc.Do(req)
		if err != nil {
			return "", fmt.Errorf("servercheck: sign-in: %w", err)
		}
		page, _ := io.ReadAll(io.LimitReader(resp.Body, maxPage))
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
			next, err := resp.Request.URL.Parse(loc)
			if err != nil {
				return "", fmt.Errorf("servercheck: sign-in: the server redirected to a malformed URL")
			}
			if atRedirectURI(next.String(), redirectURI) {
				return next.String(), nil
			}
			if req, err = http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil); err != nil {
				return "", fmt.Errorf("servercheck: sign-in: %w", err)
			}
			continue
		}
		form, ok := firstForm(string(page), resp.Request.URL)
		if !ok {
			return "", fmt.Errorf("servercheck: sign-in: the server answered %d with no redirect and no form", resp.StatusCode)
		}
		for k, v := range l.Fields {
			form.values.Set(k, v)
		}
		if form.method == http.MethodPost && atRedirectURI(form.action, redirectURI) {
			// response_mode=form_post: the response is the form itself.
			return form.action + "?" + form.values.Encode(), nil
		}
		if req, err = form.request(ctx); err != nil {
			return "", fmt.Errorf("servercheck: sign-in: %w", err)
		}
	}
	return "", errors.New("servercheck: sign-in: too many steps without reaching the redirection URI")
}

// stopAtRedirects returns a copy of hc (or of a default client) that
// hands redirects back instead of following them.
func stopAtRedirects(hc *http.Client) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Timeout = 30 * time.Second
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

type htmlForm struct {
	method, action string
	values         url.Values
}

var (
	formTag  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputTag = regexp.MustCompile(`(?is)<(input|button)\b([^>]*)>`)
	attr     = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
)

// firstForm reads the first form of page: its method, its action resolved
// against base, and the values of its inputs, with the first submit
// button's.
func firstForm(page string, base *url.URL) (*htmlForm, bool) {
	m := formTag.FindStringSubmatch(page)
	if m == nil {
		return nil, false
	}
	attrs := attributes(m[1])
	f := &htmlForm{method: strings.ToUpper(attrs["method"]), values: url.Values{}}
	if f.method != http.MethodPost {
		f.method = http.MethodGet
	}
	action, err := base.Parse(attrs["action"])
	if err != nil {
		return nil, false
	}
	f.action = action.String()
	submitted := false
	for _, in := range inputTag.FindAllStringSubmatch(m[2], -1) {
		a := attributes(in[2])
		name := a["name"]
		if name == "" {
			continue
		}
		kind := strings.ToLower(a["type"])
		if kind == "submit" || in[1] == "button" && kind != "button" {
			if submitted {
				continue
			}
			submitted = true
		}
		f.values.Set(name, a["value"])
	}
	return f, true
}

func attributes(tag string) map[string]string {
	out := map[string]string{}
	for _, a := range attr.FindAllStringSubmatch(tag, -1) {
		v := strings.Trim(a[2], `"'`)
		out[strings.ToLower(a[1])] = html.UnescapeString(v)
	}
	return out
}

func (f *htmlForm) request(ctx context.Context) (*http.Request, error) {
	if f.method == http.MethodGet {
		u, err := url.Parse(f.action)
		if err != nil {
			return nil, err
		}
		u.RawQuery = f.values.Encode()
		return http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.action, strings.NewReader(f.values.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}
