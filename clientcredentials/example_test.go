package clientcredentials_test

import (
	"context"
	"fmt"
	"log"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/clientcredentials"
	"github.com/pkcekit/pkce/pkcetest"
)

func ExampleSource() {
	as := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{ID: "billing", Secret: "billing-secret", Method: pkcetest.MethodBasic}},
	})
	defer as.Close()

	c, err := pkce.NewTokenClient(&oauth2.Config{
		ClientID:     "billing",
		ClientSecret: "billing-secret",
		Endpoint:     oauth2.Endpoint{TokenURL: as.TokenURL()},
		Scopes:       []string{"invoices"},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Every replica that shares the store shares the token.
	src := &clientcredentials.Source{Client: c, Store: pkce.NewMemoryStore(), Key: "billing/invoices"}
	ctx := context.Background()
	first, err := src.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	again, err := src.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(first.Scope(), first.AccessToken == again.AccessToken, as.ClientCredentialsRequests())
	// Output: invoices true 1
}
