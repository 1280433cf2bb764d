//go:build unix

package redisstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/redisstore"
)

// roundTrips counts the calls a go-redis client sends to the server: a
// command or a pipeline is one round trip.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// BenchmarkTokensRefresh refreshes an expired token through Tokens over
// Redis on loopback and through a plain TokenSource, against a server on
// loopback that does not rotate (so that the plain source can refresh
// with the same token every time), and reports the Redis round trips of
// each refresh through Tokens.
//
//	go test -run '^$' -bench TokensRefresh -benchmem -count 6 ./redisstore
func BenchmarkTokensRefresh(b *testing.B) {
	if redisMissing != nil {
		b.Skip(redisMissing.Error())
	}
	ctx := context.Background()
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{ID: clientID, Method: pkcetest.MethodNone, RedirectURIs: []string{redirectURL}}},
	})
	b.Cleanup(srv.Close)
	c, err := pkce.NewFromIssuer(ctx, srv.Issuer(), &oauth2.Config{ClientID: clientID, RedirectURL: redirectURL})
	if err != nil {
		b.Fatal(err)
	}
	flow, err := c.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cb, err := srv.Authorize(ctx, flow.URL)
	if err != nil {
		b.Fatal(err)
	}
	req, err := cb.Request(ctx)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := c.Finish(req, flow)
	if err != nil {
		b.Fatal(err)
	}
	stale := func(t *oauth2.Token) *oauth2.Token {
		cp := *t
		cp.Expiry = time.Now().Add(-time.Minute)
		return &cp
	}

	b.Run("TokenSource", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			src, err := c.TokenSource(stale(tok.Token))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := src.TokenContext(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Tokens", func(b *testing.B) {
		client := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
		defer client.Close()
		trips := &roundTrips{}
		client.AddHook(trips)
		tokens, err := c.Tokens(redisstore.New(client, redisstore.WithPrefix(uniquePrefix())))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		current := tok.Token
		var n int64
		for b.Loop() {
			b.StopTimer()
			if err := tokens.Save(ctx, subject, &pkce.Token{Token: stale(current)}); err != nil {
				b.Fatal(err)
			}
			src, err := tokens.Source(ctx, subject)
			if err != nil {
				b.Fatal(err)
			}
			before := trips.n.Load()
			b.StartTimer()
			if current, err = src.TokenContext(ctx); err != nil {
				b.Fatal(err)
			}
			n += trips.n.Load() - before
		}
		b.ReportMetric(float64(n)/float64(b.N), "round-trips/refresh")
	})
}
