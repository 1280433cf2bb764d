package pkce_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/authserver"
)

// A client configured from its issuer alone, against the package's test
// authorization server serving a tenant under /acme/oauth2/v1: discovery,
// sign-in, then sign-out, which revokes the refresh token.
func ExampleNewFromIssuer() {
	srv := authserver.Start(authserver.Config{
		Clients: []authserver.Client{{
			ID: "web", Secret: "s3cret", Method: authserver.MethodBasic,
			RedirectURIs: []string{"http://127.0.0.1/callback"},
		}},
		PathPrefix: "/acme/oauth2/v1",
		SendIssuer: true,
	})
	defer srv.Close()
	ctx := context.Background()

	// GET /.well-known/oauth-authorization-server/acme/oauth2/v1 (RFC 8414 §3.1).
	client, err := pkce.NewFromIssuer(ctx, srv.Issuer(), &oauth2.Config{
		ClientID:     "web",
		ClientSecret: "s3cret",
		RedirectURL:  "http://127.0.0.1/callback",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.TrimPrefix(client.Metadata().TokenEndpoint, srv.URL()), client.AuthStyle())

	flow, err := client.StartContext(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The browser's part, played by an HTTP client.
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(flow.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	callback, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := client.Finish(ctx, flow, callback.Query())
	if err != nil {
		fmt.Println(err)
		return
	}

	src := client.TokenSource(tok.Token)
	fmt.Println("sign-out:", src.SignOut(ctx))
	_, err = src.Token()
	fmt.Println("sign in again:", errors.Is(err, pkce.ErrSignInRequired))
	// Output:
	// /acme/oauth2/v1/token client_secret_basic
	// sign-out: <nil>
	// sign in again: true
}

// When the metadata says require_pushed_authorization_requests, Start
// refuses and StartContext pushes the parameters first (RFC 9126): the
// browser only sees client_id and a request_uri.
func ExampleClient_StartContext() {
	srv := authserver.Start(authserver.Config{
		Clients: []authserver.Client{{
			ID: "native", Method: authserver.MethodNone,
			RedirectURIs: []string{"http://127.0.0.1/callback"},
		}},
		AuthMethodsSupported: []authserver.AuthMethod{authserver.MethodNone},
		RequirePAR:           true,
	})
	defer srv.Close()
	ctx := context.Background()

	client, err := pkce.NewFromIssuer(ctx, srv.Issuer(), &oauth2.Config{
		ClientID:    "native",
		RedirectURL: "http://127.0.0.1/callback",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = client.Start()
	fmt.Println(err)

	flow, err := client.StartContext(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	u, _ := url.Parse(flow.URL)
	fmt.Println(slices.Sorted(maps.Keys(u.Query())))
	// Output:
	// pkce: the authorization request must be pushed (RFC 9126 §5); use StartContext
	// [client_id request_uri]
}
