package pkcetest

import (
	"bytes"
	"html/template"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
)

// askConsent shows the resource owner a page to approve or deny p. The
// page's form carries a fresh, single-use token bound to p, so that only
// a submission of this very page decides p: another site cannot forge one
// (RFC 6749 §10.12).
func (s *Server) askConsent(w http.ResponseWriter, p *pendingAuthorization) {
	token := randomToken()
	s.mu.Lock()
	p.expires = s.now().Add(s.cfg.CodeLifetime)
	s.consents[token] = p
	s.mu.Unlock()

	h := w.Header()
	// RFC 6749 §10.13: the page must not be framed, or another site could
	// trick the user into clicking Approve.
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	writeHTML(w, consentPage, map[string]string{
		"Action":   s.Issuer() + consentPath,
		"Token":    token,
		"ClientID": p.clientID,
		"Scope":    p.scope,
		"User":     TestUser,
	})
}

// consent receives the decision posted from the consent page.
func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenRequestBody))
	form, parseErr := url.ParseQuery(string(body))
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || parseErr != nil || mt != "application/x-www-form-urlencoded" {
		badAuthorizeRequest(w, "the consent form is malformed")
		return
	}
	decision := form.Get("decision")
	if decision != "approve" && decision != "deny" {
		badAuthorizeRequest(w, "decision must be approve or deny")
		return
	}
	token := form.Get("consent")
	s.mu.Lock()
	p, ok := s.consents[token]
	delete(s.consents, token)
	expired := ok && !s.now().Before(p.expires)
	s.mu.Unlock()
	if !ok || expired {
		badAuthorizeRequest(w, "the consent form is unknown, expired or was already submitted")
		return
	}
	if decision == "deny" {
		// RFC 6749 §4.1.2.1: the resource owner denied the request.
		s.fail(w, p, "access_denied", "the resource owner denied the request")
		return
	}
	s.approve(w, p)
}

// writeFormPost sends an authorization response as an HTML form that the
// browser posts to redirectURI as soon as it loads (OAuth 2.0 Form Post
// Response Mode §2), so that the parameters stay out of URLs and logs.
func writeFormPost(w http.ResponseWriter, redirectURI string, params url.Values) {
	type field struct{ Name, Value string }
	var fields []field
	for _, name := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[name] {
			fields = append(fields, field{name, v})
		}
	}
	writeHTML(w, formPostPage, map[string]any{"Action": redirectURI, "Fields": fields})
}

// writeHTML renders a page that must never be cached: it carries a code
// or a single-use token (RFC 6749 §10.3, §10.5).
func writeHTML(w http.ResponseWriter, page *template.Template, data any) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		http.Error(w, "pkcetest: rendering a page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// The pages are well-formed XML as well as HTML, so that Browser can read
// them with encoding/xml.
var (
	consentPage = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><title>Authorize {{.ClientID}}</title>
<style>
body { font-family: system-ui, sans-serif; background: #f3f4f6; color: #1f2937; margin: 0; padding: 3rem 1rem; }
h1, p, form { max-width: 32rem; margin: 0 auto 1rem; }
h1 { font-size: 1.5rem; }
form { display: flex; gap: .75rem; }
button { font: inherit; padding: .5rem 1.25rem; border-radius: .375rem; border: 1px solid #1d4ed8; cursor: pointer; }
button[value=approve] { background: #1d4ed8; color: #fff; }
button[value=deny] { background: #fff; color: #1d4ed8; }
</style></head>
<body>
<h1>Authorize {{.ClientID}}</h1>
<p>{{.ClientID}} asks to act as {{.User}}{{if .Scope}} with the scope {{.Scope}}{{end}}.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="consent" value="{{.Token}}"/>
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</body>
</html>
`))
	formPostPage = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"/><title>Submit This Form</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}"/>
{{end}}<noscript><button type="submit">Continue</button></noscript>
</form>
</body>
</html>
`))
)
