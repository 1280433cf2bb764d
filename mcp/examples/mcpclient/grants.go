package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/clientcredentials"
	"github.com/pkcekit/pkce/jwtbearer"
	"github.com/pkcekit/pkce/tokenexchange"
	"golang.org/x/oauth2"
)

// Grants other than the authorization code: how a service, a workload or
// an enterprise user obtains the token when no browser sign-in is wanted.
// Each is a Transport.SignIn: the Transport still discovers the
// authorization server from the MCP server and stores the token.

// grantFlags are the flags of the other grants.
type grantFlags struct {
	grant         *string
	clientKey     *string
	clientKeyAlg  *string
	assertionFile *string
	idTokenFile   *string
	idpTokenURL   *string
	idpClientID   *string
	idpSecret     *string
}

func addGrantFlags(fs *flag.FlagSet) *grantFlags {
	return &grantFlags{
		grant: fs.String("grant", "", "sign in without a browser: client_credentials (the client acts for itself), "+
			"jwt-bearer (present -assertion-file, such as a workload identity token) or "+
			"id-jag (exchange -id-token-file at the enterprise identity provider, then present the grant)"),
		clientKey:     fs.String("client-key", "", "a PEM file with the client's private key (PKCS #8) for private_key_jwt authentication"),
		clientKeyAlg:  fs.String("client-key-alg", "", "the JWS algorithm of -client-key; empty lets the key decide"),
		assertionFile: fs.String("assertion-file", "", "the file holding the JWT that -grant jwt-bearer presents"),
		idTokenFile:   fs.String("id-token-file", "", "the file holding the user's ID token from the enterprise identity provider (-grant id-jag)"),
		idpTokenURL:   fs.String("idp-token-url", "", "the enterprise identity provider's token endpoint (-grant id-jag)"),
		idpClientID:   fs.String("idp-client-id", "", "this client's ID at the enterprise identity provider (-grant id-jag)"),
		idpSecret:     fs.String("idp-client-secret", "", "this client's secret at the enterprise identity provider, if it has one"),
	}
}

// signIn returns the Transport.SignIn of the chosen grant, or nil for
// the authorization code flow. clientID is -client-id; resource is the
// MCP server's URL.
func (g *grantFlags) signIn(clientID, resource string) (func(context.Context, *pkce.Client) (*pkce.Token, error), error) {
	var key crypto.Signer
	if *g.clientKey != "" {
		k, err := readKey(*g.clientKey)
		if err != nil {
			return nil, err
		}
		key = k
	}
	// client returns the Client to send the grant with: the Transport's,
	// or one for the same server that signs private_key_jwt assertions.
	client := func(c *pkce.Client) (*pkce.Client, error) {
		if key == nil {
			return c, nil
		}
		return pkce.NewTokenClient(&oauth2.Config{ClientID: clientID},
			pkce.WithMetadata(c.Metadata()), pkce.WithResource(resource), pkce.WithClientKey(key, "", *g.clientKeyAlg))
	}
	switch *g.grant {
	case "":
		if key != nil {
			return nil, errors.New("-client-key is for -grant client_credentials")
		}
		return nil, nil
	case "client_credentials":
		if clientID == "" {
			return nil, errors.New("-grant client_credentials needs -client-id")
		}
		return func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
			c, err := client(c)
			if err != nil {
				return nil, err
			}
			return clientcredentials.Token(ctx, c)
		}, nil
	case "jwt-bearer":
		assertion, err := readSecretFile("-assertion-file", *g.assertionFile)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
			return jwtbearer.Token(ctx, c, assertion)
		}, nil
	case "id-jag":
		idToken, err := readSecretFile("-id-token-file", *g.idTokenFile)
		if err != nil {
			return nil, err
		}
		if *g.idpTokenURL == "" || *g.idpClientID == "" {
			return nil, errors.New("-grant id-jag needs -idp-token-url and -idp-client-id")
		}
		idp, err := pkce.NewTokenClient(&oauth2.Config{ClientID: *g.idpClientID, ClientSecret: *g.idpSecret,
			Endpoint: oauth2.Endpoint{TokenURL: *g.idpTokenURL}})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *pkce.Client) (*pkce.Token, error) {
			// The identity provider issues the grant for the MCP server's
			// authorization server (audience) and the MCP server itself.
			jag, err := tokenexchange.Exchange(ctx, idp, tokenexchange.Request{
				SubjectToken:       idToken,
				SubjectTokenType:   tokenexchange.IDToken,
				RequestedTokenType: tokenexchange.IDJAG,
				Audience:           c.Metadata().Issuer,
				Resource:           []string{resource},
			})
			if err != nil {
				return nil, fmt.Errorf("exchanging the ID token at the identity provider: %w", err)
			}
			return jwtbearer.Token(ctx, c, jag.AccessToken)
		}, nil
	}
	return nil, fmt.Errorf("-grant %q is not one of client_credentials, jwt-bearer, id-jag", *g.grant)
}

// readSecretFile reads a token from a file (never from the command line,
// which other local users can read).
func readSecretFile(flagName, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s is required", flagName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: the file is empty", flagName)
	}
	return s, nil
}

// readKey reads a PKCS #8 private key from a PEM file.
func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-client-key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("-client-key: the file holds no PEM \"PRIVATE KEY\" block (PKCS #8)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("-client-key: the key does not parse as PKCS #8")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("-client-key: the key cannot sign")
	}
	return s, nil
}
