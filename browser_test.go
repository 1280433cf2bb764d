package pkce_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// The browser's part of a sign-in, for the tests and examples of this
// package. (A public pkcetest package with the same helper will replace
// this file.)

// browser follows no redirect: the test looks at each one itself.
var browser = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

// followAuthorization plays the browser on an authorization URL: it GETs
// it, expects the server to redirect (302 or 303) and returns where to.
// It does not call t, so that code running off the test goroutine (a
// SignInLoopback opener, an Example) can use it.
func followAuthorization(authURL string) (*url.URL, error) {
	resp, err := browser.Get(authURL)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("the authorization endpoint answered %s, not a redirect", resp.Status)
	}
	return url.Parse(resp.Header.Get("Location"))
}

// authorize plays the browser on authURL and returns the query of the
// redirect back: the authorization response.
func authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	back, err := followAuthorization(authURL)
	require.NoError(t, err)
	return back.Query()
}

// callbackRequest is the request the browser makes to the redirect
// endpoint with the authorization response q.
func callbackRequest(ctx context.Context, q url.Values) *http.Request {
	return httptest.NewRequestWithContext(ctx, http.MethodGet, "/callback?"+q.Encode(), nil)
}

// finish hands the authorization response q to c.Finish as the redirect
// endpoint of an application would, with ctx as the request's context.
func finish(ctx context.Context, c *pkce.Client, f *pkce.Flow, q url.Values) (*pkce.Token, error) {
	return c.Finish(callbackRequest(ctx, q), f)
}
