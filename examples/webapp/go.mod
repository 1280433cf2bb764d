module github.com/pkcekit/pkce/examples/webapp

go 1.26.0

replace (
	github.com/pkcekit/pkce => ../..
	github.com/pkcekit/pkce/pgstore => ../../pgstore
	github.com/pkcekit/pkce/redisstore => ../../redisstore
)

require (
	github.com/jackc/pgx/v5 v5.13.0
	github.com/pkcekit/pkce v0.0.0-00010101000000-000000000000
	github.com/pkcekit/pkce/pgstore v0.0.0-00010101000000-000000000000
	github.com/pkcekit/pkce/redisstore v0.0.0-00010101000000-000000000000
	github.com/redis/go-redis/v9 v9.23.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/oauth2 v0.38.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)
