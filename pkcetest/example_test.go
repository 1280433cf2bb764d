package pkcetest_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"

	"github.com/pkcekit/pkce/pkcetest"
)

// ExampleNewServer runs the whole authorization code flow with PKCE by
// hand, with net/http only, the way a client under test would.
func ExampleNewServer() {
	srv := pkcetest.NewServer(pkcetest.Config{
		SendIssuer: true,
		Clients: []pkcetest.Client{{
			ID:           "example-app",
			Method:       pkcetest.MethodNone,
			RedirectURIs: []string{"http://127.0.0.1/callback"},
		}},
	})
	defer srv.Close()
	ctx := context.Background()

	// The client makes a code verifier and its S256 challenge
	// (RFC 7636 §4.1, §4.2) and sends the browser to the server.
	verifier := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	sum := sha256.Sum256([]byte(verifier))
	redirectURI := "http://127.0.0.1:8080/callback" // any loopback port (RFC 8252 §7.3)
	authURL := srv.AuthURL() + "?" + url.Values{
		"response_type":         {"code"},
		"client_id":             {"example-app"},
		"redirect_uri":          {redirectURI},
		"scope":                 {"profile"},
		"state":                 {"af0ifjsldkj"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}.Encode()

	// The browser comes back with the authorization response.
	cb, err := srv.Authorize(ctx, authURL)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", cb.Params.Get("state"))
	fmt.Println("iss is the issuer:", cb.Params.Get("iss") == srv.Issuer())

	// The client exchanges the code, proving it holds the verifier
	// (RFC 6749 §4.1.3, RFC 7636 §4.5).
	resp, err := srv.Client().PostForm(srv.TokenURL(), url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {"example-app"},
		"code":          {cb.Params.Get("code")},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	})
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	decode(resp, &tok)
	fmt.Println("token_type:", tok.TokenType, "expires_in:", tok.ExpiresIn)

	// And uses the access token at the protected resource (RFC 6750 §2.1).
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.ResourceURL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var me struct {
		Sub string `json:"sub"`
	}
	decode(resp, &me)
	fmt.Println("sub:", me.Sub)
	// Output:
	// state: af0ifjsldkj
	// iss is the issuer: true
	// token_type: Bearer expires_in: 3600
	// sub: test-user
}

// ExampleBrowser denies an authorization request on the consent page.
func ExampleBrowser() {
	srv := pkcetest.NewServer(pkcetest.Config{
		Consent: true,
		Clients: []pkcetest.Client{{
			ID:           "example-app",
			Method:       pkcetest.MethodNone,
			RedirectURIs: []string{"https://app.example/callback"},
		}},
	})
	defer srv.Close()
	sum := sha256.Sum256(randomBytes(32))
	authURL := srv.AuthURL() + "?" + url.Values{
		"response_type":         {"code"},
		"client_id":             {"example-app"},
		"redirect_uri":          {"https://app.example/callback"},
		"response_mode":         {"form_post"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}.Encode()

	browser := pkcetest.Browser{Client: srv.Client(), Deny: true}
	cb, err := browser.Authorize(context.Background(), authURL)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cb.FormPost, cb.URL, cb.Params.Get("error"))
	// Output: true https://app.example/callback access_denied
}

// ExampleServer_SetFaults makes the token endpoint answer as GitHub's
// does by default: form-encoded, with errors sent as 200.
func ExampleServer_SetFaults() {
	srv := pkcetest.NewServer(pkcetest.Config{Clients: []pkcetest.Client{{
		ID: "example-app", Method: pkcetest.MethodNone, RedirectURIs: []string{"https://app.example/callback"},
	}}})
	defer srv.Close()
	srv.SetFaults(pkcetest.Faults{FormEncodedBody: true, ErrorsAs200: true})

	resp, err := srv.Client().PostForm(srv.TokenURL(), url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {"example-app"},
		"refresh_token": {"expired"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	form, _ := url.ParseQuery(string(body))
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), form.Get("error"))
	// Output: 200 application/x-www-form-urlencoded; charset=utf-8 invalid_grant
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func decode(resp *http.Response, v any) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("%s %s: %s", resp.Request.Method, resp.Request.URL, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		log.Fatal(err)
	}
}
