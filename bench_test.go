package pkce_test

import (
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// The benchmarks put each operation of the package beside the
// golang.org/x/oauth2 call that does the same job, in the same run:
//
//	go test -run '^$' -bench . -benchmem -count 6 | tee bench.txt
//	benchstat bench.txt

// validToken is a token that stays valid for the whole benchmark.
func validToken() *oauth2.Token {
	return &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}
}

func benchClient(b *testing.B) *pkce.Client {
	c, err := pkce.New(&oauth2.Config{
		ClientID:     "app",
		ClientSecret: "secret",
		Endpoint:     oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"},
		RedirectURL:  "https://app.example/callback",
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkValidToken(b *testing.B) {
	src := benchClient(b).TokenSource(validToken())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Token(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidTokenOAuth2Reuse(b *testing.B) {
	src := oauth2.ReuseTokenSource(validToken(), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Token(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidTokenParallel(b *testing.B) {
	src := benchClient(b).TokenSource(validToken())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := src.Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkValidTokenParallelOAuth2Reuse(b *testing.B) {
	src := oauth2.ReuseTokenSource(validToken(), nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := src.Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
