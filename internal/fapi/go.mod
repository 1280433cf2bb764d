module github.com/pkcekit/pkce/internal/fapi

go 1.26.0

require (
	github.com/pkcekit/pkce v0.0.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/oauth2 v0.37.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect

replace github.com/pkcekit/pkce => ../..
