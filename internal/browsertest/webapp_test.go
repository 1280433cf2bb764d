package browsertest

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shown is a page as the browser shows it.
type shown struct {
	Status  int64
	URL     *url.URL
	Heading string
	Who     string   // the webapp's "signed in as" line; "" on other pages
	Values  []string // the <dd> texts
	Styled  bool     // the webapp's stylesheet applies: the CSP let it in
}

// visit runs actions that load a page (a navigation or a click), reads
// the page and saves a screenshot of it as dir/name.png.
func visit(t *testing.T, ctx context.Context, dir, name string, actions ...chromedp.Action[chromedp.Void]) shown {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, actions...)
	require.NoError(t, err, "loading the page of %s", name)
	var p shown
	p.Status = resp.Status
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	p.URL, err = url.Parse(loc)
	require.NoError(t, err)
	p.Heading, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	require.NoError(t, err)
	p.Who, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#who")?.textContent ?? ""`))
	require.NoError(t, err)
	p.Values, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("dd")].map(e => e.textContent)`))
	require.NoError(t, err)
	// The stylesheet gives main a 4px top border; without it (a CSP that
	// does not match the stylesheet's hash) the border is 0px.
	border, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(m => m ? getComputedStyle(m).borderTopWidth : "")(document.querySelector("main"))`))
	require.NoError(t, err)
	p.Styled = border == "4px"

	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	path := filepath.Join(dir, name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("%s: %d %s %q, screenshot %s", name, p.Status, p.URL.Path, p.Heading, path)
	return p
}

// A newcomer's first session with examples/webapp -demo, in Chromium:
// each step is a rule of the app, and each page is saved as a screenshot.
func TestWebappInChromium(t *testing.T) {
	chromiumPath := chromium(t) // first: without a browser there is nothing to build for
	dir := outputDir(t)
	app := startWebapp(t, dir)
	ctx := startBrowser(t, chromiumPath)
	// A bound on the whole walk, so that a stuck browser ends the test;
	// it decides nothing else.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "starting chromium")
	callbacks := recordRequests(t, ctx, app.URL+"/callback")
	click := func(selector string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(selector)) }

	steps := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"the home page says nobody is signed in", func(t *testing.T) {
			p := visit(t, ctx, dir, "01-home", chromedp.Navigate(app.URL+"/"))
			assert.EqualValues(t, 200, p.Status)
			assert.Equal(t, "Welcome", p.Heading)
			assert.Equal(t, "Not signed in", p.Who)
			assert.True(t, p.Styled, "styled")
		}},
		{"signing in shows the authorization server's consent page", func(t *testing.T) {
			p := visit(t, ctx, dir, "02-consent", click(`a[href^="/login"]`))
			assert.EqualValues(t, 200, p.Status)
			assert.Equal(t, "Authorize webapp-demo", p.Heading)
			assert.NotEqual(t, app.URL, p.URL.Scheme+"://"+p.URL.Host, "the authorization server's page")
		}},
		{"approving signs in and shows the profile from the API", func(t *testing.T) {
			p := visit(t, ctx, dir, "03-profile", click(`button[value="approve"]`))
			assert.EqualValues(t, 200, p.Status)
			assert.Equal(t, "/me", p.URL.Path, "back where sign-in started")
			assert.Equal(t, "Your profile", p.Heading)
			assert.Equal(t, "Signed in as Test User", p.Who)
			assert.Contains(t, p.Values, "test-user")
			assert.True(t, p.Styled, "styled")
			assert.Len(t, callbacks(), 1, "one callback")
		}},
		{"a replayed callback while signed in goes home", func(t *testing.T) {
			p := visit(t, ctx, dir, "04-replay-signed-in", chromedp.Navigate(callbacks()[0]))
			assert.EqualValues(t, 200, p.Status)
			assert.Equal(t, "/", p.URL.Path)
			assert.Equal(t, "Signed in", p.Heading)
			assert.Equal(t, "Signed in as Test User", p.Who)
		}},
		{"signing out ends the session", func(t *testing.T) {
			p := visit(t, ctx, dir, "05-signed-out", click(`form[action="/logout"] button`))
			assert.EqualValues(t, 200, p.Status)
			assert.Equal(t, "/", p.URL.Path)
			assert.Equal(t, "Welcome", p.Heading)
			assert.Equal(t, "Not signed in", p.Who)
		}},
		{"denying on the consent page shows access_denied and the server's description", func(t *testing.T) {
			p := visit(t, ctx, dir, "06-consent-again", click(`a[href^="/login"]`))
			require.Equal(t, "Authorize webapp-demo", p.Heading)
			p = visit(t, ctx, dir, "07-denied", click(`button[value="deny"]`))
			assert.EqualValues(t, 403, p.Status)
			assert.Equal(t, "/callback", p.URL.Path)
			assert.Equal(t, "Sign-in failed", p.Heading)
			assert.Contains(t, p.Values, "access_denied")
			assert.Contains(t, p.Values, "the resource owner denied the request")
			assert.Equal(t, "Not signed in", p.Who)
			assert.True(t, p.Styled, "styled")
		}},
		{"a replayed callback after sign-out finds no sign-in in progress", func(t *testing.T) {
			p := visit(t, ctx, dir, "08-replay-signed-out", chromedp.Navigate(callbacks()[0]))
			assert.EqualValues(t, 400, p.Status)
			assert.Equal(t, "No sign-in in progress", p.Heading)
			assert.True(t, p.Styled, "styled")
		}},
		{"an unknown page is a styled 404", func(t *testing.T) {
			p := visit(t, ctx, dir, "09-not-found", chromedp.Navigate(app.URL+"/no/such/page"))
			assert.EqualValues(t, 404, p.Status)
			assert.Equal(t, "Page not found", p.Heading)
			assert.True(t, p.Styled, "styled")
		}},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.check) {
			return // the later steps start where this one should have ended
		}
	}

	t.Run("the webapp logs each step without secrets", func(t *testing.T) {
		logs, err := os.ReadFile(app.log.Name())
		require.NoError(t, err)
		for _, line := range []string{
			`INFO login started next=/me`,
			`INFO callback ok user="Test User"`,
			`INFO API call status=200`,
			`INFO callback replayed while signed in`,
			`INFO logout`,
			`WARN callback failed op=authorization class=access_denied`,
		} {
			assert.Contains(t, string(logs), line)
		}
		cb, err := url.Parse(callbacks()[0])
		require.NoError(t, err)
		for _, secret := range []string{"state", "code"} {
			v := cb.Query().Get(secret)
			require.NotEmpty(t, v, secret)
			assert.NotContains(t, string(logs), v, "the callback's %s", secret)
		}
		assert.NotRegexp(t, regexp.MustCompile(`(?i)access_token=|refresh_token=|Bearer [A-Za-z0-9]`), string(logs))
	})
}
