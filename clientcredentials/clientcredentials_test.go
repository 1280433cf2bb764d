package clientcredentials_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/clientcredentials"
	"github.com/pkcekit/pkce/pkcetest"
)

func service(t *testing.T, lifetime time.Duration) (*pkcetest.Server, *pkce.Client) {
	t.Helper()
	srv := pkcetest.NewServer(pkcetest.Config{
		AccessTokenLifetime: lifetime,
		Clients: []pkcetest.Client{
			{ID: "billing", Secret: "billing-secret", Method: pkcetest.MethodBasic},
			{ID: "public", Method: pkcetest.MethodNone},
		},
	})
	t.Cleanup(srv.Close)
	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "billing", ClientSecret: "billing-secret",
		Endpoint: oauth2.Endpoint{TokenURL: srv.TokenURL()}, Scopes: []string{"invoices"}})
	require.NoError(t, err)
	return srv, c
}

func TestToken(t *testing.T) {
	srv, c := service(t, 0)
	tok, err := clientcredentials.Token(context.Background(), c)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
	form := srv.LastTokenRequest().Form
	assert.Equal(t, clientcredentials.GrantType, form.Get("grant_type"))
	assert.Equal(t, "invoices", form.Get("scope"))
}

func TestTokenOfAPublicClientIsRefused(t *testing.T) {
	srv, _ := service(t, 0)
	c, err := pkce.NewTokenClient(&oauth2.Config{ClientID: "public", Endpoint: oauth2.Endpoint{TokenURL: srv.TokenURL()}})
	require.NoError(t, err)
	_, err = clientcredentials.Token(context.Background(), c)
	var oe *pkce.OAuthError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "unauthorized_client", oe.Code, "the grant is for confidential clients (RFC 6749 §4.4)")
}

func TestSourceSharesOneRequest(t *testing.T) {
	tests := []struct {
		name    string
		sources func(c *pkce.Client) []*clientcredentials.Source
	}{
		{"one Source, many callers", func(c *pkce.Client) []*clientcredentials.Source {
			return []*clientcredentials.Source{{Client: c}}
		}},
		{"Sources sharing a Store and a Key", func(c *pkce.Client) []*clientcredentials.Source {
			store := pkce.NewMemoryStore()
			var ss []*clientcredentials.Source
			for range 4 {
				ss = append(ss, &clientcredentials.Source{Client: c, Store: store, Key: "billing"})
			}
			return ss
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := service(t, 0)
			sources := tt.sources(c)
			var (
				mu     sync.Mutex
				tokens = map[string]bool{}
				wg     sync.WaitGroup
			)
			for i := range 100 {
				wg.Go(func() {
					tok, err := sources[i%len(sources)].Token(context.Background())
					if assert.NoError(t, err) {
						mu.Lock()
						tokens[tok.AccessToken] = true
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			assert.Equal(t, 1, srv.ClientCredentialsRequests())
			assert.Len(t, tokens, 1)
		})
	}
}

func TestSourceRenewsBeforeExpiry(t *testing.T) {
	tests := []struct {
		name     string
		margin   time.Duration
		requests int
	}{
		{"a token valid beyond the margin is kept", 10 * time.Second, 1},
		{"a margin beyond half the lifetime is cut to half", 2 * time.Minute, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := service(t, time.Minute)
			src := &clientcredentials.Source{Client: c, ExpiryMargin: tt.margin}
			for range 2 {
				_, err := src.Token(context.Background())
				require.NoError(t, err)
			}
			assert.Equal(t, tt.requests, srv.ClientCredentialsRequests())
		})
	}
}

func TestSourceWaitsOutADeadHoldersLease(t *testing.T) {
	srv, c := service(t, 0)
	store := pkce.NewMemoryStore()
	ctx := context.Background()
	held, err := store.Lease(ctx, "billing", "a process that died", 300*time.Millisecond)
	require.NoError(t, err)
	require.True(t, held)
	tok, err := (&clientcredentials.Source{Client: c, Store: store, Key: "billing"}).Token(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
	assert.Equal(t, 1, srv.ClientCredentialsRequests())
}

func TestSourceMisuse(t *testing.T) {
	_, c := service(t, 0)
	tests := []struct {
		name string
		src  *clientcredentials.Source
	}{
		{"zero value", &clientcredentials.Source{}},
		{"a Store without a Key", &clientcredentials.Source{Client: c, Store: pkce.NewMemoryStore()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.src.Token(context.Background())
			assert.Error(t, err)
		})
	}
}

func TestSourceGivesUpWhenTheCallerDoes(t *testing.T) {
	_, c := service(t, 0)
	store := pkce.NewMemoryStore()
	_, err := store.Lease(context.Background(), "billing", "another process", time.Minute)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = (&clientcredentials.Source{Client: c, Store: store, Key: "billing"}).Token(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
