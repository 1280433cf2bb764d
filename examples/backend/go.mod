module github.com/pkcekit/pkce/examples/backend

go 1.26.0

replace github.com/pkcekit/pkce => ../..

require (
	github.com/pkcekit/pkce v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
	golang.org/x/oauth2 v0.37.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
