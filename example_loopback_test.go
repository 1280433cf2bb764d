package pkce_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/filestore"
	"github.com/pkcekit/pkce/pkcetest"
)

// A CLI signs in on the loopback interface (RFC 8252 §7.3) and keeps the
// token in a file that later invocations share. Here the package's test
// server stands in for the provider and an HTTP client for the browser.
func ExampleClient_SignInLoopback() {
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{
			ID: "my-cli", Method: pkcetest.MethodNone,
			RedirectURIs: []string{"http://127.0.0.1/callback"},
		}},
		SendIssuer: true,
	})
	defer srv.Close()

	client, err := pkce.New(&oauth2.Config{
		ClientID:    "my-cli",
		Endpoint:    oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
		RedirectURL: "http://127.0.0.1/callback", // any port: the loopback listener's is used
	}, pkce.WithIssuer(srv.Issuer()))
	if err != nil {
		fmt.Println(err)
		return
	}

	// openBrowser would start the user's browser at the URL; this one
	// follows the redirects as a browser would, through the sign-in and
	// back to the loopback listener.
	browser := *srv.Client()
	browser.CheckRedirect = nil
	openBrowser := func(url string) error {
		resp, err := browser.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds the wait
	defer cancel()
	tok, err := client.SignInLoopback(ctx, openBrowser)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The token file is shared by every invocation of the CLI.
	dir, err := os.MkdirTemp("", "example") // os.UserConfigDir() in a real CLI
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	store, err := filestore.New(filepath.Join(dir, "tokens"))
	if err != nil {
		fmt.Println(err)
		return
	}
	tokens, err := client.Tokens(store)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := tokens.Save(ctx, "default", tok); err != nil {
		fmt.Println(err)
		return
	}
	// A later run takes its token source from the file.
	src, err := tokens.Source(ctx, "default")
	if err != nil {
		fmt.Println(err)
		return
	}
	later, err := src.TokenContext(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(later.Type(), later.AccessToken == tok.AccessToken)
	// Output:
	// Bearer true
}
