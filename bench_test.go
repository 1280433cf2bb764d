package pkce_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// benchSource returns a source holding a valid token.
func benchSource(b *testing.B) *pkce.TokenSource {
	src, err := benchClient(b).TokenSource(validToken())
	if err != nil {
		b.Fatal(err)
	}
	return src
}

func BenchmarkValidToken(b *testing.B) {
	src := benchSource(b)
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
	src := benchSource(b)
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

func BenchmarkVerifier(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		v := pkce.NewVerifier()
		sink = v.Challenge()
	}
}

func BenchmarkVerifierOAuth2(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		v := oauth2.GenerateVerifier()
		sink = oauth2.S256ChallengeFromVerifier(v)
	}
}

// sink keeps results alive so that the compiler cannot drop the work.
var sink string

func BenchmarkStart(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f, err := c.Start(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sink = f.URL
	}
}

// BenchmarkStartOAuth2 does with x/oauth2 what Start does: a verifier, its
// challenge, a 256-bit state from crypto/rand, and the URL.
func BenchmarkStartOAuth2(b *testing.B) {
	cfg := oauth2Config("https://as.example")
	b.ReportAllocs()
	for b.Loop() {
		v := oauth2.GenerateVerifier()
		var raw [32]byte
		rand.Read(raw[:])
		sink = cfg.AuthCodeURL(base64.RawURLEncoding.EncodeToString(raw[:]), oauth2.S256ChallengeOption(v))
	}
}

func oauth2Config(base string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     "app",
		ClientSecret: "secret",
		Endpoint:     oauth2.Endpoint{AuthURL: base + "/authorize", TokenURL: base + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL:  "https://app.example/callback",
	}
}

// benchTokenServer answers every token request with the same small token
// response, on loopback, so that both sides of the comparison pay the same
// network and server cost.
func benchTokenServer(b *testing.B) *httptest.Server {
	body := []byte(`{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","scope":"openid"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func BenchmarkFinish(b *testing.B) {
	srv := benchTokenServer(b)
	c, err := pkce.New(oauth2Config(srv.URL))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// Flows are single-use: make them, and the callback requests, before
	// the clock starts.
	flows := make([]*pkce.Flow, b.N)
	requests := make([]*http.Request, b.N)
	for i := range flows {
		flows[i], err = c.Start(ctx)
		if err != nil {
			b.Fatal(err)
		}
		requests[i] = callbackRequest(ctx, url.Values{"code": {"the-code"}, "state": {flows[i].State}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Finish(requests[i], flows[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFinishOAuth2Exchange(b *testing.B) {
	srv := benchTokenServer(b)
	cfg := oauth2Config(srv.URL)
	verifier := oauth2.GenerateVerifier()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Exchange(ctx, "the-code", oauth2.VerifierOption(verifier)); err != nil {
			b.Fatal(err)
		}
	}
}
