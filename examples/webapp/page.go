package main

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"io"
	"net/http"
	"strings"
)

// Pages. html/template escapes everything that goes into them, the
// authorization server's error_description included.

type page struct {
	Title        string
	Message      string
	Fields       []field
	Links        []link
	LogoutButton bool

	// Set by app.page from the request and the status.
	SignedIn bool
	User     string // who is signed in, when the app knows
	Failed   bool
}

type field struct{ Name, Value string }

type link struct{ Href, Text string }

// stylesheet is the pages' only style. It is inline, so the pages load
// nothing else, and the Content-Security-Policy allows exactly this text
// by its hash (CSP Level 3 §8.4) rather than any inline style.
const stylesheet = `
:root { --ink: #1d2430; --muted: #5b6473; --line: #dde2ea; --accent: #1f5fbf; --fail: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f5f8; color: var(--ink);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; }
header { display: flex; justify-content: space-between; align-items: center; gap: 1rem;
  padding: .75rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
header a { color: var(--ink); font-weight: 600; text-decoration: none; }
header span { color: var(--muted); }
main { max-width: 38rem; margin: 3rem auto; padding: 1.75rem 2rem; background: #fff;
  border: 1px solid var(--line); border-top: 4px solid var(--accent); border-radius: 8px; }
main.failed { border-top-color: var(--fail); }
main.failed h1 { color: var(--fail); }
h1 { margin: 0 0 .75rem; font-size: 1.5rem; }
p { margin: .5rem 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.25rem; margin: 1.25rem 0;
  padding: 1rem 1.25rem; background: #f7f8fa; border-radius: 6px; }
dt { color: var(--muted); }
dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
nav { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: 1.5rem; }
nav a, button { display: inline-block; padding: .5rem 1.1rem; border: 1px solid var(--accent);
  border-radius: 6px; background: var(--accent); color: #fff; font: inherit; text-decoration: none; cursor: pointer; }
nav a + a, nav form button { background: #fff; color: var(--accent); }
form { margin: 0; }
`

// contentSecurityPolicy lets the pages load nothing and run no script;
// their only resource is the stylesheet, allowed by its hash. Forms post
// to the app itself; endSession is the origin of the provider's
// end-session endpoint, or "": browsers apply form-action to the
// redirects that follow a form's submission, and signing out ends there.
func contentSecurityPolicy(endSession string) string {
	sum := sha256.Sum256([]byte(stylesheet))
	formAction := "'self'"
	if endSession != "" {
		formAction += " " + endSession
	}
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"form-action " + formAction + "; base-uri 'none'; frame-ancestors 'none'"
}

// The stylesheet goes into the template as template text, not as data,
// so that html/template leaves it byte for byte as hashed.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · webapp</title>
<style>` + stylesheet + `</style>
</head>
<body>
<header><a href="/">webapp</a>
<span id="who">{{if .User}}Signed in as <strong>{{.User}}</strong>{{else if .SignedIn}}Signed in{{else}}Not signed in{{end}}</span></header>
<main{{if .Failed}} class="failed"{{end}}>
<h1>{{.Title}}</h1>
{{with .Message}}<p>{{.}}</p>
{{end}}{{with .Fields}}<dl>
{{range .}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>
{{end}}</dl>
{{end}}{{if or .Links .LogoutButton}}<nav>
{{range .Links}}<a href="{{.Href}}">{{.Text}}</a>
{{end}}{{if .LogoutButton}}<form method="post" action="/logout"><button type="submit">Sign out</button></form>
{{end}}</nav>
{{end}}</main>
</body>
</html>
`))

// page writes p with status; the header says who is signed in, and a
// failure status colours the page as an error.
func (a *app) page(w http.ResponseWriter, r *http.Request, status int, p page) {
	if s := a.sessions.get(r.Context(), sessionID(r)); s != nil && s.subject != "" {
		p.SignedIn, p.User = true, s.user
	}
	p.Failed = status >= 400
	var b strings.Builder
	if err := pageTemplate.Execute(&b, p); err != nil {
		a.log.Error("rendering a page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, b.String())
}
