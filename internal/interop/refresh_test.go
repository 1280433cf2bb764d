package interop_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/interop"
)

// TestTokenSourceSharesOneRefresh lets many goroutines find the token
// expired at once. fosite rotates refresh tokens and takes a second use of
// the old one for theft (RFC 9700 §4.14.2), revoking the whole grant; so
// anything but exactly one refresh request would show as an error here.
func TestTokenSourceSharesOneRefresh(t *testing.T) {
	reg := registration(interop.ClientSecretBasic)
	srv := start(t, interop.Config{Clients: []interop.Client{reg}})
	client := newClient(t, srv, reg)
	tok := signedIn(t, srv, client)
	require.Equal(t, 1, srv.TokenRequests())

	expired := *tok.Token
	expired.Expiry = time.Now().Add(-time.Minute)
	var (
		mu    sync.Mutex
		saved []*pkce.Token
	)
	ts, err := client.TokenSource(&expired, pkce.OnRefresh(func(_ context.Context, t *pkce.Token) error {
		mu.Lock()
		defer mu.Unlock()
		saved = append(saved, t)
		return nil
	}))
	require.NoError(t, err)

	const callers = 16
	got := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			tok, err := ts.TokenContext(context.Background())
			errs[i] = err
			if err == nil {
				got[i] = tok.AccessToken
			}
		})
	}
	wg.Wait()

	for i := range callers {
		require.NoError(t, errs[i], "caller %d", i)
		assert.Equal(t, got[0], got[i], "caller %d got the shared token", i)
	}
	assert.Equal(t, 2, srv.TokenRequests(), "one code exchange and one refresh")
	require.Len(t, saved, 1)
	assert.Equal(t, got[0], saved[0].AccessToken)
	status, _ := callResource(t, bearer(srv, got[0]), srv)
	assert.Equal(t, http.StatusOK, status, "the grant was not revoked")
}

// TestRefreshScope records how fosite treats the scope parameter of a
// refresh request (RFC 6749 §6): it ignores it and grants the original
// scope again, telling the client in the scope member as RFC 6749 §3.3
// requires when the granted scope differs from the requested one. The
// package hands the response over as it is; callers that narrow the scope
// must read Token.Scope.
func TestRefreshScope(t *testing.T) {
	tests := []struct {
		name      string
		requested []string
		wantScope string
	}{
		{"no scope asks for the original scope (RFC 6749 §6)", nil, "read write"},
		{"a narrower scope is ignored by fosite, which says so in scope (RFC 6749 §3.3)", []string{"read"}, "read write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := registration(interop.ClientSecretPost)
			reg.Scopes = []string{"read", "write"}
			srv := start(t, interop.Config{Clients: []interop.Client{reg}})
			client := newClient(t, srv, reg)
			tok := signedIn(t, srv, client)
			require.Equal(t, "read write", tok.Scope())

			next, err := client.Refresh(context.Background(), tok.RefreshToken, tt.requested...)
			require.NoError(t, err)
			assert.Equal(t, tt.wantScope, next.Scope())
			_, res := callResource(t, bearer(srv, next.AccessToken), srv)
			assert.Equal(t, tt.wantScope, res.Scope, "what the resource server sees")
		})
	}
}
