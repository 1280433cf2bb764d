package protected_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/pkcekit/pkce/protected"

	"github.com/pkcekit/pkce/pkcetest"
)

// A client of a protected API knows only the API's URL: the Transport
// signs in when the API answers 401 (RFC 9728 resource metadata, RFC 8414
// discovery, PKCE, the RFC 8707 resource indicator) and sends the request
// again with the token. Here pkcetest is the authorization server, and
// HeadlessSignIn plays the browser.
func ExampleTransport() {
	srv := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, Clients: []pkcetest.Client{{
		ID: "cli", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/callback"},
	}}})
	defer srv.Close()

	// The API publishes its metadata and accepts the tokens that the
	// authorization server's protected resource accepts.
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/api" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"resource": api.URL + "/api", "authorization_servers": []string{srv.Issuer()}})
			return
		}
		check, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, srv.ResourceURL(), nil)
		check.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := http.DefaultClient.Do(check)
		if err != nil {
			http.Error(w, "no answer", http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "hello from the API")
	}))
	defer api.Close()

	t := &protected.Transport{
		SignIn: protected.HeadlessSignIn(nil), // protected.LoopbackSignIn(openBrowser) for a person
		PreRegistered: func(issuer string) *protected.Registration {
			return &protected.Registration{Issuer: issuer, ClientID: "cli"}
		},
	}
	resp, err := (&http.Client{Transport: t}).Get(api.URL + "/api")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 200 hello from the API
}
