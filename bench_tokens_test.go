package pkce_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// The benchmarks in this file put a subject's token read through Tokens
// side by side with a plain TokenSource, and count the store round trips
// of a refresh through Tokens. They need no Redis: the store is the
// memory store, wrapped to count its calls.
//
//	go test -run '^$' -bench 'Tokens' -benchmem ./bench_tokens_test.go

// tokensBenchStore counts the calls a Store gets.
type tokensBenchStore struct {
	pkce.Store
	calls atomic.Int64
}

func (s *tokensBenchStore) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	s.calls.Add(1)
	return s.Store.Claim(ctx, key, ttl)
}

func (s *tokensBenchStore) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	s.calls.Add(1)
	return s.Store.LoadToken(ctx, subject)
}

func (s *tokensBenchStore) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	s.calls.Add(1)
	return s.Store.SaveToken(ctx, subject, old, token)
}

func (s *tokensBenchStore) DeleteToken(ctx context.Context, subject string) error {
	s.calls.Add(1)
	return s.Store.DeleteToken(ctx, subject)
}

func (s *tokensBenchStore) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	s.calls.Add(1)
	return s.Store.Lease(ctx, subject, owner, ttl)
}

func (s *tokensBenchStore) Release(ctx context.Context, subject, owner string) error {
	s.calls.Add(1)
	return s.Store.Release(ctx, subject, owner)
}

// LeaseToken and SaveTokenRelease make tokensBenchStore a
// pkce.RefreshStore over the memory store, which is one.
func (s *tokensBenchStore) LeaseToken(ctx context.Context, subject, owner string, ttl time.Duration) (bool, []byte, error) {
	s.calls.Add(1)
	return s.Store.(pkce.RefreshStore).LeaseToken(ctx, subject, owner, ttl)
}

func (s *tokensBenchStore) SaveTokenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error) {
	s.calls.Add(1)
	return s.Store.(pkce.RefreshStore).SaveTokenRelease(ctx, subject, owner, old, token)
}

// tokensBenchSetup starts a server (that does not rotate, so that a plain
// source can refresh with the same token every time), signs a user in
// and returns the client and the token.
func tokensBenchSetup(b *testing.B, opts ...pkce.Option) (*pkcetest.Server, *pkce.Client, *pkce.Token) {
	b.Helper()
	ctx := context.Background()
	srv := pkcetest.NewServer(pkcetest.Config{
		Clients: []pkcetest.Client{{ID: "bench", Method: pkcetest.MethodNone, RedirectURIs: []string{"http://127.0.0.1/cb"}}},
	})
	b.Cleanup(srv.Close)
	c, err := pkce.NewFromIssuer(ctx, srv.Issuer(), &oauth2.Config{ClientID: "bench", RedirectURL: "http://127.0.0.1/cb"}, opts...)
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
	return srv, c, tok
}

// BenchmarkTokensValidToken reads a valid token through Tokens (Source,
// then TokenContext, as a request handler does) and through a plain
// TokenSource, serially and in parallel. A valid token is served from
// memory: store-calls/op is 0.
func BenchmarkTokensValidToken(b *testing.B) {
	_, c, tok := tokensBenchSetup(b)
	ctx := context.Background()
	src, err := c.TokenSource(tok.Token)
	if err != nil {
		b.Fatal(err)
	}
	store := &tokensBenchStore{Store: pkce.NewMemoryStore()}
	tokens, err := c.Tokens(store)
	if err != nil {
		b.Fatal(err)
	}
	if err := tokens.Save(ctx, "alice", tok); err != nil {
		b.Fatal(err)
	}
	if _, err := tokens.Source(ctx, "alice"); err != nil { // loaded once, as by the first request
		b.Fatal(err)
	}
	viaTokens := func() error {
		s, err := tokens.Source(ctx, "alice")
		if err == nil {
			_, err = s.TokenContext(ctx)
		}
		return err
	}
	plain := func() error {
		_, err := src.TokenContext(ctx)
		return err
	}
	for _, bm := range []struct {
		name string
		read func() error
	}{
		{"TokenSource", plain},
		{"Tokens", viaTokens},
	} {
		b.Run(bm.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			before := store.calls.Load()
			for b.Loop() {
				if err := bm.read(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(store.calls.Load()-before)/float64(b.N), "store-calls/op")
		})
		b.Run(bm.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			before := store.calls.Load()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bm.read(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(store.calls.Load()-before)/float64(b.N), "store-calls/op")
		})
	}
}

// benchClock is a client clock that a benchmark moves two hours a
// round, so that every round finds its token expired and refreshes it
// with no setup of its own: the rounds of a plain source and of Tokens
// do exactly the calls an application makes.
type benchClock struct{ offset atomic.Int64 }

func (c *benchClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *benchClock) expire() { c.offset.Add(int64(2 * time.Hour)) }

// BenchmarkTokensRefresh refreshes an expired token through Tokens and
// through a plain TokenSource, against a server on the loopback
// interface, and reports the store round trips of each refresh through
// Tokens: two, lease-and-load and save-and-release (pkce.RefreshStore).
func BenchmarkTokensRefresh(b *testing.B) {
	clock := &benchClock{}
	srv, c, tok := tokensBenchSetup(b, pkce.WithClock(clock.Now))
	benchRefreshes(b, c, context.Background(), tok, clock, func() int64 { return int64(srv.RefreshRequests()) })
}

// BenchmarkTokensRefreshInMemory is BenchmarkTokensRefresh on the
// in-memory transport of BenchmarkCallbackAndExchange, where no network
// time hides what Tokens adds to a refresh: the flight, the lease, the
// stored form and the two store calls.
func BenchmarkTokensRefreshInMemory(b *testing.B) {
	body := `{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}`
	var requests atomic.Int64
	hc := &http.Client{Transport: tallyTransport{memoryTransport{body: []byte(body)}, &requests}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	clock := &benchClock{}
	c, err := pkce.New(benchConfig(""), pkce.WithClock(clock.Now))
	if err != nil {
		b.Fatal(err)
	}
	tok := &pkce.Token{Token: &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "tGzv3JOkF0XG5Qx2TlKWIA", Expiry: clock.Now().Add(time.Hour)}}
	benchRefreshes(b, c, ctx, tok, clock, requests.Load)
}

// tallyTransport counts the requests it sends on.
type tallyTransport struct {
	http.RoundTripper
	n *atomic.Int64
}

func (t tallyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.RoundTripper.RoundTrip(req)
}

// benchRefreshes runs the two sides of a refresh benchmark: each round
// moves the clock past the token's expiry and asks the source for a
// token, which refreshes it. refreshes counts the token requests.
func benchRefreshes(b *testing.B, c *pkce.Client, ctx context.Context, tok *pkce.Token, clock *benchClock, refreshes func() int64) {
	b.Run("TokenSource", func(b *testing.B) {
		src, err := c.TokenSource(tok.Token)
		if err != nil {
			b.Fatal(err)
		}
		before := refreshes()
		b.ReportAllocs()
		for b.Loop() {
			clock.expire()
			if _, err := src.TokenContext(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(refreshes()-before)/float64(b.N), "refreshes/op")
	})
	b.Run("Tokens", func(b *testing.B) {
		store := &tokensBenchStore{Store: pkce.NewMemoryStore()}
		tokens, err := c.Tokens(store)
		if err != nil {
			b.Fatal(err)
		}
		if err := tokens.Save(ctx, "alice", tok); err != nil {
			b.Fatal(err)
		}
		src, err := tokens.Source(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		calls, before := store.calls.Load(), refreshes()
		b.ReportAllocs()
		for b.Loop() {
			clock.expire()
			if _, err := src.TokenContext(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(store.calls.Load()-calls)/float64(b.N), "store-calls/refresh")
		b.ReportMetric(float64(refreshes()-before)/float64(b.N), "refreshes/op")
	})
}
