package main

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pgstore"
	"github.com/pkcekit/pkce/redisstore"
	"github.com/pkcekit/pkce/seal"
)

// openStore returns the store that replicas share: Redis at redisAddr,
// PostgreSQL at postgresDSN, or, with neither, a memory store that only
// the replicas of this process share. With sealKey (32 bytes, base64url),
// what it saves (tokens, and sessions with their pending flows) is
// encrypted at rest (package seal). close releases its connections.
func openStore(ctx context.Context, redisAddr, postgresDSN, sealKey string) (store pkce.Store, close func(), err error) {
	store, close, err = openBackend(ctx, redisAddr, postgresDSN)
	if err != nil || sealKey == "" {
		return store, close, err
	}
	secret, err := base64.RawURLEncoding.DecodeString(sealKey)
	if err != nil {
		close()
		return nil, nil, errors.New("PKCE_SEAL_KEY is not base64url")
	}
	keys, err := seal.NewKeys(seal.Key{ID: "1", Secret: secret})
	if err != nil {
		close()
		return nil, nil, err
	}
	sealed, err := seal.NewStore(store, keys)
	if err != nil {
		close()
		return nil, nil, err
	}
	return sealed, close, nil
}

func openBackend(ctx context.Context, redisAddr, postgresDSN string) (store pkce.Store, close func(), err error) {
	switch {
	case redisAddr != "" && postgresDSN != "":
		return nil, nil, errors.New("-redis and -postgres: choose one store")
	case redisAddr != "":
		// Calls end with their request's context, and an unanswered one
		// after 5 seconds at most.
		client := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true,
			DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
		ping, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := client.Ping(ping).Err(); err != nil {
			client.Close()
			return nil, nil, err
		}
		return redisstore.New(client), func() { client.Close() }, nil
	case postgresDSN != "":
		pool, err := pgxpool.New(ctx, postgresDSN)
		if err != nil {
			return nil, nil, errors.New("-postgres: the DSN does not parse") // its error may quote a password
		}
		create, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := pgstore.New(create, pool)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return s, pool.Close, nil
	}
	return pkce.NewMemoryStore(), func() {}, nil
}
