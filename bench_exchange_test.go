package pkce_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"testing"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// The client-side cost of the callback checks and the code exchange, with
// an in-memory transport so that no network time hides it, side by side
// with golang.org/x/oauth2's bare Exchange in the same run.

// memoryTransport answers every request with one canned token response.
type memoryTransport struct{ body []byte }

func (m memoryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json;charset=UTF-8"}},
		Body:    io.NopCloser(bytes.NewReader(m.body)),
		Request: req}, nil
}

var exchangeShapes = []struct {
	name string
	body string
}{
	{"minimal", `{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}`},
	{"full", `{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,` +
		`"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","scope":"openid profile email",` +
		`"id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl","claims":{"org":"acme","roles":["a","b"]}}`},
}

var exchangeAuths = []struct {
	name   string
	secret string
}{
	{"basic", "s3cret"},
	{"none", ""},
}

func benchConfig(secret string) *oauth2.Config {
	return &oauth2.Config{ClientID: "app", ClientSecret: secret, RedirectURL: "https://app.example/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"}}
}

func BenchmarkCallbackAndExchange(b *testing.B) {
	for _, shape := range exchangeShapes {
		for _, auth := range exchangeAuths {
			hc := &http.Client{Transport: memoryTransport{body: []byte(shape.body)}}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
			b.Run(shape.name+"/"+auth.name+"/pkce", func(b *testing.B) {
				client, err := pkce.New(benchConfig(auth.secret))
				if err != nil {
					b.Fatal(err)
				}
				flows := make([]*pkce.Flow, b.N)
				params := make([]url.Values, b.N)
				for i := range flows {
					if flows[i], err = client.Start(ctx); err != nil {
						b.Fatal(err)
					}
					params[i] = url.Values{"code": {"SplxlOBeZQQYbYS6WxSbIA"}, "state": {flows[i].State}}
				}
				// What the client's store keeps of each finished flow
				// until it expires, as B/flow.
				before := heapAlloc()
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					code, err := client.VerifyCallback(ctx, flows[i], params[i])
					if err != nil {
						b.Fatal(err)
					}
					if _, err := client.Exchange(ctx, flows[i], code); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(int64(heapAlloc())-int64(before))/float64(b.N), "B/flow")
				runtime.KeepAlive(flows)
				runtime.KeepAlive(params)
				runtime.KeepAlive(client)
			})
			b.Run(shape.name+"/"+auth.name+"/oauth2", func(b *testing.B) {
				cfg := benchConfig(auth.secret)
				cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
				if auth.secret == "" {
					cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
				}
				verifier := oauth2.GenerateVerifier()
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := cfg.Exchange(ctx, "SplxlOBeZQQYbYS6WxSbIA", oauth2.VerifierOption(verifier)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
