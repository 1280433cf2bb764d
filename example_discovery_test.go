package pkce_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// A client configured from its issuer alone, against the package's test
// authorization server serving a tenant under /acme/oauth2/v1: discovery,
// sign-in, then sign-out, which revokes the refresh token.
func ExampleNewFromIssuer() {
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{
			ID: "web", Secret: "s3cret", Method: pkcetest.MethodBasic,
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
	md := client.Metadata()
	fmt.Println(strings.TrimPrefix(md.TokenEndpoint, srv.URL), strings.TrimPrefix(md.RevocationEndpoint, srv.URL))

	flow, err := client.Start(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The browser's part, played by the test server.
	callback, err := srv.Authorize(ctx, flow.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
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

	src, err := client.TokenSource(tok.Token)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sign-out:", src.SignOut(ctx))
	_, err = src.Token()
	fmt.Println("sign in again:", errors.Is(err, pkce.ErrSignInRequired))
	// Output:
	// /acme/oauth2/v1/token /acme/oauth2/v1/revoke
	// sign-out: <nil>
	// sign in again: true
}

// When the metadata says require_pushed_authorization_requests, Start
// pushes the parameters first (RFC 9126): the browser only sees client_id
// and a request_uri.
func ExampleClient_Start_pushed() {
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{
			ID: "native", Method: pkcetest.MethodNone,
			RedirectURIs: []string{"http://127.0.0.1/callback"},
		}},
		AuthMethodsSupported: []pkcetest.AuthMethod{pkcetest.MethodNone},
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
	flow, err := client.Start(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	u, _ := url.Parse(flow.URL)
	fmt.Println(slices.Sorted(maps.Keys(u.Query())))
	// Output:
	// [client_id request_uri]
}
