package pkce_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

func ExampleNewVerifier() {
	v := pkce.NewVerifier()
	fmt.Println(len(v.Reveal()), len(v.Challenge()))
	// The challenge is S256 (RFC 7636 §4.2).
	sum := sha256.Sum256([]byte(v.Reveal()))
	fmt.Println(v.Challenge() == base64.RawURLEncoding.EncodeToString(sum[:]))
	fmt.Println(v) // a Verifier never prints itself
	// Output:
	// 43 43
	// true
	// pkce.Verifier(redacted)
}

func ExampleParseVerifier() {
	_, err := pkce.ParseVerifier("too-short")
	fmt.Println(err)
	// Output:
	// pkce: invalid code verifier: it has 9 characters; RFC 7636 §4.1 requires 43 to 128
}

func ExampleClient_Start() {
	client, err := pkce.New(&oauth2.Config{
		ClientID: "native-app",
		Endpoint: oauth2.Endpoint{
			AuthURL:  "https://tenant.example/authorize",
			TokenURL: "https://tenant.example/oauth/token",
		},
		RedirectURL: "com.example.app:/callback",
		Scopes:      []string{"openid", "offline_access"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	flow, err := client.Start(context.Background(), pkce.Param("audience", "https://api.example"))
	if err != nil {
		fmt.Println(err)
		return
	}
	u, _ := url.Parse(flow.URL)
	q := u.Query()
	for _, key := range slices.Sorted(maps.Keys(q)) {
		value := q.Get(key)
		if key == "state" || key == "code_challenge" {
			value = "(random)"
		}
		fmt.Printf("%s=%s\n", key, value)
	}
	// Output:
	// audience=https://api.example
	// client_id=native-app
	// code_challenge=(random)
	// code_challenge_method=S256
	// redirect_uri=com.example.app:/callback
	// response_type=code
	// scope=openid offline_access
	// state=(random)
}

// The whole flow against the package's test authorization server: start,
// let the "browser" follow the authorization URL, finish at the callback.
func ExampleClient_Finish() {
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{
			ID: "web", Secret: "s3cret", Method: pkcetest.MethodBasic,
			RedirectURIs: []string{"http://127.0.0.1/callback"},
		}},
		SendIssuer: true,
	})
	defer srv.Close()

	client, err := pkce.New(&oauth2.Config{
		ClientID:     "web",
		ClientSecret: "s3cret",
		Endpoint:     oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
		RedirectURL:  "http://127.0.0.1/callback",
	}, pkce.WithIssuer(srv.Issuer()))
	if err != nil {
		fmt.Println(err)
		return
	}
	flow, err := client.Start(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}

	// In a real application the browser goes to flow.URL and comes back to
	// the redirect URL; here the test server plays the browser and returns
	// the request the browser would send to the redirect endpoint.
	ctx := context.Background()
	callback, err := srv.Authorize(ctx, flow.URL)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The redirect endpoint's handler gets the browser's request.
	r, err := callback.Request(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := client.Finish(r, flow)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Type(), tok.Valid(), tok.RefreshToken != "")

	// The same callback a second time is refused before any token request.
	replay, _ := callback.Request(ctx)
	_, err = client.Finish(replay, flow)
	fmt.Println(errors.Is(err, pkce.ErrFlowFinished))
	// Output:
	// Bearer true true
	// true
}

func ExampleOAuthError() {
	client, _ := pkce.New(&oauth2.Config{
		ClientID:    "app",
		Endpoint:    oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"},
		RedirectURL: "https://app.example/callback",
	})
	flow, _ := client.Start(context.Background())

	// The user declined on the consent screen.
	_, err := client.VerifyCallback(context.Background(), flow, url.Values{
		"error": {"access_denied"},
		"state": {flow.State},
	})
	fmt.Println(errors.Is(err, pkce.ErrAccessDenied))
	var authErr *pkce.OAuthError
	if errors.As(err, &authErr) {
		fmt.Println(authErr.Op, authErr.Code)
	}
	// Output:
	// true
	// authorization access_denied
}
