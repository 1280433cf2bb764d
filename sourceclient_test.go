package pkce_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// headerLog records the Authorization and DPoP headers each path received.
type headerLog struct {
	mu   sync.Mutex
	seen map[string][2]string
}

func (l *headerLog) record(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string][2]string{}
	}
	l.seen[r.URL.Path] = [2]string{r.Header.Get("Authorization"), r.Header.Get("DPoP")}
}

func (l *headerLog) get(path string) [2]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[path]
}

// Finding 8 of issue 20: a redirect must not carry the token, nor a DPoP
// proof, to another origin (RFC 6750 §5.3).
func TestClientDoesNotSendTheTokenToAnotherOrigin(t *testing.T) {
	tests := []struct {
		name      string
		tokenType string
		opts      []pkce.Option
	}{
		{"bearer token stays on its origin", "Bearer", nil},
		{"DPoP token and proof stay on their origin", "DPoP", []pkce.Option{pkce.WithDPoP(ecKey)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &headerLog{}
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				log.record(r)
			}))
			defer other.Close()
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				log.record(r)
				switch r.URL.Path {
				case "/away":
					http.Redirect(w, r, other.URL+"/landed", http.StatusFound)
				case "/within":
					http.Redirect(w, r, "/here", http.StatusTemporaryRedirect)
				}
			}))
			defer api.Close()

			c, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: redirect,
				Endpoint: oauth2.Endpoint{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token"}}, tt.opts...)
			require.NoError(t, err)
			src, err := c.TokenSource(&oauth2.Token{AccessToken: "at-secret", TokenType: tt.tokenType, Expiry: time.Now().Add(time.Hour)})
			require.NoError(t, err)
			hc := src.Client(context.Background())

			for _, path := range []string{"/away", "/within"} {
				resp, err := hc.Get(api.URL + path)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
			}
			assert.Equal(t, tt.tokenType+" at-secret", log.get("/away")[0], "the first request carries the token")
			assert.Equal(t, [2]string{"", ""}, log.get("/landed"), "no token and no proof at another origin")
			assert.Equal(t, tt.tokenType+" at-secret", log.get("/here")[0], "a redirect within the origin keeps the token")
			if tt.tokenType == "DPoP" {
				assert.NotEmpty(t, log.get("/here")[1], "with a fresh proof")
			}
		})
	}
}
