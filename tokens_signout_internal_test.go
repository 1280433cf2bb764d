package pkce

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// savesDown is a RefreshStore whose saves fail, as during an outage.
type savesDown struct{ RefreshStore }

var errStoreDown = errors.New("store down")

func (savesDown) SaveToken(context.Context, string, []byte, []byte) (bool, error) {
	return false, errStoreDown
}

func (savesDown) SaveTokenRelease(context.Context, string, string, []byte, []byte) (bool, error) {
	return false, errStoreDown
}

// A refresh through Tokens that took the lease at the end of its wait
// has the refresh timeout after it, and its save of the new token may go
// on into the lease's margin: SignOut waits for it that long, so that it
// revokes the token the refresh obtained, and so do the source's callers,
// which are told of a hook or store that ignores its context only when
// the refresh is overdue. The wait is shortened here, as if the lease had
// been held to its end by two replicas killed one after the other.
func TestTokensWaitersOutwaitARefreshThatTookTheLeaseLate(t *testing.T) {
	tests := []struct {
		name    string
		signOut bool
	}{
		{"SignOut revokes the refresh token the refresh obtained", true},
		{"the source's callers get the refreshed token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each waits out the save's margin
			var mu sync.Mutex
			var revoked []string
			var requests int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body := make([]byte, 4096)
				n, _ := r.Body.Read(body)
				form, _ := url.ParseQuery(string(body[:n]))
				mu.Lock()
				defer mu.Unlock()
				if r.URL.Path == "/revoke" {
					revoked = append(revoked, form.Get("token"))
					return
				}
				requests++
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"AT-2","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-2"}`))
			}))
			defer srv.Close()
			c, err := New(&oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb",
				Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token"}},
				WithRevocationURL(srv.URL+"/revoke"))
			require.NoError(t, err)
			mem := NewMemoryStore()
			tokens, err := c.Tokens(savesDown{mem.(RefreshStore)}, WithRefreshTimeout(time.Second))
			require.NoError(t, err)
			tokens.leaseWait = time.Second
			ctx := context.Background()
			cur := &oauth2.Token{AccessToken: "old-access", TokenType: "Bearer", RefreshToken: "old-refresh", Expiry: time.Now().Add(-time.Minute)}
			_, err = mem.SaveToken(ctx, "alice", nil, mustEncode(t, &Token{Token: cur}))
			require.NoError(t, err)
			held, err := mem.Lease(ctx, "alice", "a killed replica", 100*time.Millisecond)
			require.NoError(t, err)
			require.True(t, held)

			src, err := tokens.Source(ctx, "alice")
			require.NoError(t, err)
			type answer struct {
				tok *oauth2.Token
				err error
			}
			got := make(chan answer, 1)
			go func() { tok, err := src.TokenContext(ctx); got <- answer{tok, err} }()
			if !tt.signOut {
				a := <-got
				require.NoError(t, a.err)
				assert.Equal(t, "RT-2", a.tok.RefreshToken)
				return
			}
			waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return requests == 1 })
			require.NoError(t, tokens.SignOut(ctx, "alice"))
			waitFor(t, func() bool { tokens.flightMu.Lock(); defer tokens.flightMu.Unlock(); return len(tokens.flights) == 0 })
			mu.Lock()
			defer mu.Unlock()
			assert.Contains(t, revoked, "old-refresh")
			assert.Contains(t, revoked, "RT-2", "the refresh token the refresh in flight obtained is revoked")
		})
	}
}

func mustEncode(t *testing.T, tok *Token) []byte {
	t.Helper()
	b, err := encodeToken(tok)
	require.NoError(t, err)
	return b
}
