package pkce_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// The refresh storm: stormCallers goroutines find one expired token at
// once; one refresh request serves them all. The token endpoint is an
// in-memory transport, so that the package's own cost shows, beside
// golang.org/x/oauth2's ReuseTokenSource doing the same job.

const stormCallers = 1000

// memoryTokenEndpoint answers every request with a fresh token, in
// memory, and counts the requests.
type memoryTokenEndpoint struct{ requests atomic.Int64 }

func (m *memoryTokenEndpoint) RoundTrip(r *http.Request) (*http.Response, error) {
	m.requests.Add(1)
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	const body = `{"access_token":"new-access","token_type":"Bearer","expires_in":3600,"refresh_token":"rt"}`
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

func expiredBenchToken() *oauth2.Token {
	return &oauth2.Token{AccessToken: "old", TokenType: "Bearer", RefreshToken: "rt", Expiry: time.Now().Add(-time.Minute)}
}

// storm has stormCallers goroutines ask token at once and waits for them.
func storm(b *testing.B, token func() (*oauth2.Token, error)) {
	var wg sync.WaitGroup
	for range stormCallers {
		wg.Go(func() {
			if _, err := token(); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

func BenchmarkRefreshStorm(b *testing.B) {
	rt := &memoryTokenEndpoint{}
	c, err := pkce.New(&oauth2.Config{
		ClientID:     "app",
		ClientSecret: "secret",
		Endpoint:     oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"},
		RedirectURL:  "https://app.example/callback",
	}, pkce.WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		src, err := c.TokenSource(expiredBenchToken())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		storm(b, src.Token)
	}
	b.ReportMetric(float64(rt.requests.Load())/float64(b.N), "refreshes/op")
}

func BenchmarkRefreshStormOAuth2(b *testing.B) {
	rt := &memoryTokenEndpoint{}
	cfg := &oauth2.Config{
		ClientID:     "app",
		ClientSecret: "secret",
		Endpoint:     oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token", AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL:  "https://app.example/callback",
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: rt})
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		src := cfg.TokenSource(ctx, expiredBenchToken())
		b.StartTimer()
		storm(b, src.Token)
	}
	b.ReportMetric(float64(rt.requests.Load())/float64(b.N), "refreshes/op")
}
