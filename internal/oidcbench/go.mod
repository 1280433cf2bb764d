module github.com/pkcekit/pkce/internal/oidcbench

go 1.26.0

require (
	github.com/coreos/go-oidc/v3 v3.21.0
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/pkcekit/pkce v0.0.0
	golang.org/x/oauth2 v0.38.0
)

replace github.com/pkcekit/pkce => ../..
