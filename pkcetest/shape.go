package pkcetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"text/template"
)

// Shaping successful token responses the way a particular provider
// documents them: Faults.TokenTemplate and
// Faults.FormEncodedUnlessJSONAccepted.

// TokenValues is what Faults.TokenTemplate is executed with: the tokens the
// server issued for the request, so that a templated answer still carries
// codes and tokens the server honours afterwards.
type TokenValues struct {
	// AccessToken is the issued access token.
	AccessToken string
	// RefreshToken is the issued refresh token, or "" when none was
	// issued: a refresh without Config.Rotate issues none.
	RefreshToken string
	// IDToken is an opaque three-part token shaped like a JWS, or "" unless
	// the scope has openid.
	IDToken string
	// Scope is the granted scope.
	Scope string
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int
}

// tokenTemplateFuncs are the functions a TokenTemplate may call: json
// encodes any value as JSON, so that {{json .AccessToken}} is a quoted
// string.
var tokenTemplateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// parseTokenTemplate parses Faults.TokenTemplate; SetFaults panics on an
// error, as NewServer does on an invalid Config.
func parseTokenTemplate(text string) *template.Template {
	if text == "" {
		return nil
	}
	t, err := template.New("TokenTemplate").Funcs(tokenTemplateFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		panic("pkcetest: Faults.TokenTemplate: " + err.Error())
	}
	return t
}

// templateFor returns the parsed Faults.TokenTemplate in force, or nil.
func (s *Server) templateFor() *template.Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenTemplate
}

// writeTemplatedToken writes a successful token response from the
// template t, labelled application/json, with the status of
// Faults.TokenSuccessStatus or 200.
func writeTemplatedToken(w http.ResponseWriter, t *template.Template, f Faults, out issued) {
	var b bytes.Buffer
	err := t.Execute(&b, TokenValues{AccessToken: out.accessToken, RefreshToken: out.refreshToken,
		IDToken: out.idToken, Scope: out.scope, ExpiresIn: out.expiresIn})
	if err != nil {
		http.Error(w, "pkcetest: Faults.TokenTemplate: "+err.Error(), http.StatusInternalServerError)
		return
	}
	status := http.StatusOK
	if f.TokenSuccessStatus != 0 {
		status = f.TokenSuccessStatus
	}
	writeJSON(w, status, b.Bytes())
}

// forRequest returns the faults as they apply to the token request r:
// FormEncodedUnlessJSONAccepted becomes FormEncodedBody when r's Accept
// header does not name application/json.
func (f Faults) forRequest(r *http.Request) Faults {
	if f.FormEncodedUnlessJSONAccepted && !acceptsJSON(r.Header.Values("Accept")) {
		f.FormEncodedBody = true
	}
	return f
}

// acceptsJSON reports whether an Accept header lists application/json
// with a non-zero quality (RFC 9110 §12.5.1). Wildcards do not count: a
// server that answers form-encoded by default does so for */* too.
func acceptsJSON(accept []string) bool {
	for _, line := range accept {
		for _, item := range strings.Split(line, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(item))
			if err != nil || mt != "application/json" {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q == 0 {
				continue // "not acceptable"
			}
			return true
		}
	}
	return false
}

// String describes the values without the tokens, for test failure
// messages.
func (v TokenValues) String() string {
	return fmt.Sprintf("pkcetest.TokenValues{refresh: %t, id_token: %t, scope: %q, expires_in: %d}",
		v.RefreshToken != "", v.IDToken != "", v.Scope, v.ExpiresIn)
}
