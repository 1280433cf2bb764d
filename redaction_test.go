package pkce_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// TestRedaction formats every value that holds a secret in every way a
// program might print or log it, and looks for the secrets in the output.
func TestRedaction(t *testing.T) {
	const (
		secret       = "client-secret-3f9a"
		accessToken  = "access-token-77c1"
		refreshToken = "refresh-token-0b2e"
		idToken      = "id.token.5d4f"
	)
	body := fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":60,"refresh_token":%q,"id_token":%q}`, accessToken, refreshToken, idToken)
	var echo bool // when set, the server echoes what it was sent in its errors
	var te *tokenEndpoint
	te = newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if echo {
			sent := te.last(t)
			user, pass, _ := r.BasicAuth()
			desc := fmt.Sprintf("bad code %s, verifier %s, refresh %s, client %s:%s, header %s",
				sent.form.Get("code"), sent.form.Get("code_verifier"), sent.form.Get("refresh_token"), user, pass, r.Header.Get("Authorization"))
			jsonResponse(400, fmt.Sprintf(`{"error":"invalid_grant","error_description":%q}`, desc))(w, r)
			return
		}
		jsonResponse(200, body)(w, r)
	})
	client := clientFor(t, te, secret)
	flow, err := client.Start(context.Background())
	require.NoError(t, err)
	verifier := flowJSON(t, flow)["verifier"].(string)
	parsed, err := pkce.ParseVerifier(verifier)
	require.NoError(t, err)
	tok, err := client.Exchange(context.Background(), flow, testCode)
	require.NoError(t, err)
	src := source(t, client, tok.Token)

	echo = true
	exchangeErr := func() error {
		f, err := client.Start(context.Background())
		require.NoError(t, err)
		_, err = client.Exchange(context.Background(), f, testCode)
		require.Error(t, err)
		return err
	}()
	refreshErr := func() error {
		_, err := client.Refresh(context.Background(), refreshToken)
		require.Error(t, err)
		return err
	}()
	var retrieve *oauth2.RetrieveError
	require.True(t, errors.As(exchangeErr, &retrieve))

	secrets := map[string]string{
		"client secret":       secret,
		"form-encoded secret": url.QueryEscape(secret),
		"Basic credentials":   base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("app id") + ":" + url.QueryEscape(secret))),
		"access token":        accessToken,
		"refresh token":       refreshToken,
		"id token":            idToken,
		"verifier":            verifier,
		"state":               flow.State,
		"authorization code":  testCode,
	}
	values := map[string]any{
		"*Client":               client,
		"Flow":                  *flow,
		"*Flow":                 flow,
		"Verifier":              parsed,
		"Token":                 *tok,
		"*Token":                tok,
		"*TokenSource":          src,
		"exchange error":        exchangeErr,
		"refresh error":         refreshErr,
		"*oauth2.RetrieveError": retrieve,
		"its response":          retrieve.Response,
		"its request":           retrieve.Response.Request,
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			for _, out := range printed(v) {
				for what, s := range secrets {
					assert.NotContains(t, out, s, "%s leaks the %s", name, what)
				}
			}
		})
	}
}

// printed is v as a program might print or log it.
func printed(v any) []string {
	var outputs []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outputs = append(outputs, fmt.Sprintf(format, v))
	}
	if s, ok := v.(fmt.Stringer); ok {
		outputs = append(outputs, s.String())
	}
	if e, ok := v.(error); ok {
		outputs = append(outputs, e.Error())
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("value", "v", v)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("value", "v", v)
	return append(outputs, buf.String())
}

// The secrets of TestRedactionOfEchoedSecrets: a client secret and a
// Google-style refresh token, with the characters that each encoding
// changes (slash, space, ampersand, angle brackets, plus, non-ASCII).
const (
	echoSecret       = "s3cret/with space&<more>+plus-é"
	echoRefreshToken = "1//0gRefresh-token&x<y>z"
	echoClientID     = "app id"
)

// lowerHex lower-cases the hex digits of the percent escapes in s.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = bytes.ToLower(b[i+1 : i+2])[0], bytes.ToLower(b[i+2 : i+3])[0]
			i += 2
		}
	}
	return string(b)
}

// encodeURIComponent is JavaScript's function of that name, written from
// ECMA-262: every UTF-8 byte is escaped but A-Z a-z 0-9 - _ . ! ~ * ' ( ).
func encodeURIComponent(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.ContainsRune("-_.!~*'()", rune(c)) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// jsonEscaped is s inside a JSON string as encoding/json writes it
// (<, > and & as \u003c, \u003e, \u0026), optionally with / as \/ (PHP,
// Java's org.json).
func jsonEscaped(s string, slash bool) string {
	b, _ := json.Marshal(s)
	out := string(b[1 : len(b)-1])
	if slash {
		out = strings.ReplaceAll(out, "/", `\/`)
	}
	return out
}

// encodings are the forms in which a server may echo a secret.
var encodings = []struct {
	name   string
	encode func(string) string
}{
	{"raw", func(s string) string { return s }},
	{"percent-encoded as a query, upper-case hex", url.QueryEscape},
	{"percent-encoded as a query, lower-case hex", func(s string) string { return lowerHex(url.QueryEscape(s)) }},
	{"percent-encoded with %20 for space", url.PathEscape},
	{"percent-encoded with %20 for space, lower-case hex", func(s string) string { return lowerHex(url.PathEscape(s)) }},
	{"percent-encoded as encodeURIComponent does", encodeURIComponent},
	{"percent-encoded as encodeURIComponent does, lower-case hex", func(s string) string { return lowerHex(encodeURIComponent(s)) }},
	{`JSON-escaped with \u0026`, func(s string) string { return jsonEscaped(s, false) }},
	{`JSON-escaped with \/ and \u0026`, func(s string) string { return jsonEscaped(s, true) }},
	{`JSON-escaped with \/ only`, func(s string) string { return strings.ReplaceAll(s, "/", `\/`) }},
	{"HTML-escaped", html.EscapeString},
}

// echoForms are every form of the secrets of TestRedactionOfEchoedSecrets.
func echoForms() map[string]string {
	forms := map[string]string{
		"Basic credentials, form-encoded": base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(echoClientID) + ":" + url.QueryEscape(echoSecret))),
		"Basic credentials, raw":          base64.StdEncoding.EncodeToString([]byte(echoClientID + ":" + echoSecret)),
	}
	for _, e := range encodings {
		forms["client secret, "+e.name] = e.encode(echoSecret)
		forms["refresh token, "+e.name] = e.encode(echoRefreshToken)
	}
	return forms
}

// TestRedactionOfEchoedSecrets: a server that echoes the request's secrets
// back, in any of the encodings a server may use, must not get them into
// anything the package hands out: Error(), %+v, slog, the OAuthError and
// ResponseError fields, and the *oauth2.RetrieveError behind them (its
// Error(), Body, response status and headers, and a request that has no
// context, header or body of the original).
func TestRedactionOfEchoedSecrets(t *testing.T) {
	places := []struct {
		name    string
		respond func(echo string) http.HandlerFunc
	}{
		{"an error object", func(echo string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; note="+echo)
				w.Header().Set("X-Echo", echo)
				w.Header().Set("WWW-Authenticate", `Basic realm="`+echo+`"`)
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"%s","error_uri":"https://as.example/e?%s"}`, echo, echo)
			}
		}},
		{"a description past the clip boundary", func(echo string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"%s %s"}`, strings.Repeat("x", 1015), echo)
			}
		}},
		{"an HTML page", func(echo string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; note="+echo)
				w.Header().Set("X-Echo", echo)
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprintf(w, "<html><body><p>upstream said: %s</p></body></html>", echo)
			}
		}},
		{"the status line", func(echo string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				conn, rw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				body := "<html>bad gateway</html>"
				fmt.Fprintf(rw, "HTTP/1.1 502 %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", echo, len(body), body)
				rw.Flush()
			}
		}},
	}
	forms := echoForms()
	for _, enc := range append(encodings, struct {
		name   string
		encode func(string) string
	}{"Basic credentials", nil}) {
		for _, place := range places {
			t.Run(place.name+"/"+enc.name, func(t *testing.T) {
				echo := "client " + forms["Basic credentials, form-encoded"] + " raw " + forms["Basic credentials, raw"]
				if enc.encode != nil {
					echo = "client " + enc.encode(echoSecret) + " refresh " + enc.encode(echoRefreshToken)
				}
				te := newTokenEndpoint(t, place.respond(echo))
				c, err := pkce.New(&oauth2.Config{
					ClientID:     echoClientID,
					ClientSecret: echoSecret,
					Endpoint:     oauth2.Endpoint{AuthURL: te.URL + "/authorize", TokenURL: te.URL + "/token"},
					RedirectURL:  "http://127.0.0.1/callback",
				}, pkce.WithRevocationURL(te.URL+"/revoke"))
				require.NoError(t, err)

				_, refreshErr := c.Refresh(context.Background(), echoRefreshToken)
				revokeErr := c.Revoke(context.Background(), &oauth2.Token{AccessToken: "at-of-the-test", RefreshToken: echoRefreshToken})
				for op, err := range map[string]error{"refresh": refreshErr, "revoke": revokeErr} {
					require.Error(t, err, op)
					assertNoEchoedSecret(t, forms, op, err)
				}
			})
		}
	}
}

// assertNoEchoedSecret looks for every form of the secrets in everything
// err hands out.
func assertNoEchoedSecret(t *testing.T, forms map[string]string, op string, err error) {
	t.Helper()
	outputs := map[string][]string{"the error": printed(err)}
	var oe *pkce.OAuthError
	if errors.As(err, &oe) {
		outputs["OAuthError fields"] = []string{oe.Code, oe.Description, oe.URI}
	}
	var respErr *pkce.ResponseError
	if errors.As(err, &respErr) {
		outputs["ResponseError fields"] = []string{respErr.ContentType, respErr.Problem, respErr.URL}
	}
	var re *oauth2.RetrieveError
	if assert.True(t, errors.As(err, &re), "%s: errors.As finds the *oauth2.RetrieveError of %v", op, err) {
		out := []string{re.Error(), string(re.Body), re.ErrorDescription, re.ErrorURI}
		out = append(out, printed(re)...)
		if assert.NotNil(t, re.Response, op) {
			resp := re.Response
			out = append(out, resp.Status)
			for k, vs := range resp.Header {
				out = append(out, k+": "+strings.Join(vs, ", "))
			}
			var dump bytes.Buffer
			w := bufio.NewWriter(&dump)
			resp.Header.Write(w)
			w.Flush()
			out = append(out, dump.String())
			if assert.NotNil(t, resp.Request, op) {
				req := resp.Request
				out = append(out, req.URL.String())
				assert.Empty(t, req.Header, "%s: the request handed out has no header", op)
				assert.True(t, req.Body == nil || req.Body == http.NoBody, "%s: the request handed out has no body", op)
				assert.Nil(t, req.GetBody, op)
				assert.Nil(t, req.Context().Value(oauth2.HTTPClient), "%s: the request's context is not the original", op)
				_, hasDeadline := req.Context().Deadline()
				assert.False(t, hasDeadline, "%s: the request's context is not the original", op)
			}
		}
		outputs["*oauth2.RetrieveError"] = out
	}
	for where, outs := range outputs {
		for _, out := range outs {
			for what, form := range forms {
				assert.NotContains(t, out, form, "%s: %s leaks the %s", op, where, what)
			}
			// Redacted before clipping: no start of a secret survives a cut.
			for _, s := range []string{echoSecret, echoRefreshToken} {
				assert.NotContains(t, out, s[:9], "%s: %s leaks the start of a secret", op, where)
			}
		}
	}
}
