// Command servercheck runs package servercheck's battery of RFC checks
// against an authorization server and writes the report as a table, JSON
// or JUnit XML. It exits 1 when a MUST fails, 2 when it cannot run.
//
//	servercheck -issuer https://as.example -client spa -redirect http://127.0.0.1:8400/callback
//	servercheck -pkcetest -format junit   # against an in-process pkcetest server
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/servercheck"
)

func main() {
	issuer := flag.String("issuer", "", "issuer identifier of the server")
	clientID := flag.String("client", "", "client_id of a public client (auth none)")
	redirect := flag.String("redirect", "", "redirection URI registered for the client")
	scope := flag.String("scope", "", "scope to request, e.g. \"openid offline_access\"")
	format := flag.String("format", "table", "table, json or junit")
	embedded := flag.Bool("pkcetest", false, "check an in-process pkcetest server instead")
	flag.Parse()

	cfg := servercheck.Config{Issuer: *issuer, Scope: *scope,
		Clients: []servercheck.Registration{{ID: *clientID, Method: servercheck.AuthNone, RedirectURI: *redirect}}}
	if *embedded {
		const uri = "http://127.0.0.1:9/callback"
		srv := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, Rotate: true, Clients: []pkcetest.Client{
			{ID: "public-app", Method: pkcetest.MethodNone, RedirectURIs: []string{uri}},
			{ID: "basic-app", Secret: "basic-secret-1234", Method: pkcetest.MethodBasic, RedirectURIs: []string{uri}},
		}})
		defer srv.Close()
		cfg = servercheck.Config{Issuer: srv.Issuer(), SignIn: servercheck.FollowRedirects(srv.Client()),
			Clients: []servercheck.Registration{
				{ID: "public-app", Method: servercheck.AuthNone, RedirectURI: uri},
				{ID: "basic-app", Secret: "basic-secret-1234", Method: servercheck.AuthSecretBasic, RedirectURI: uri},
			}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := servercheck.Check(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch *format {
	case "json":
		err = rep.WriteJSON(os.Stdout)
	case "junit":
		err = rep.WriteJUnit(os.Stdout)
	default:
		err = rep.WriteTable(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if rep.MustFailed() {
		os.Exit(1)
	}
}
