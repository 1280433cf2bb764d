package pkce_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// jwksOutage fails every request for the JWK Set while down is set.
type jwksOutage struct{ down atomic.Bool }

func (o *jwksOutage) RoundTrip(r *http.Request) (*http.Response, error) {
	if o.down.Load() && strings.HasSuffix(r.URL.Path, "/jwks") {
		return nil, errors.New("connection refused")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A refresh whose answer carries an ID token signed with a key the
// client has not fetched yet, while the JWK Set cannot be fetched: the
// server has rotated the refresh token already, so answering
// sign-in-required (and burying the stored token under a tombstone)
// throws a valid grant away for an outage of the key set.
func TestTokensJWKSOutageDuringRefreshThrowsAwayTheNewRefreshToken(t *testing.T) {
	outage := &jwksOutage{}
	srv, client := rpServer(t, pkcetest.Config{}, pkce.WithHTTPClient(&http.Client{Transport: outage}))
	tok, err := rpSignIn(t, srv, client)
	require.NoError(t, err)
	store := pkce.NewMemoryStore()
	tokens, err := client.Tokens(store)
	require.NoError(t, err)
	tok.Expiry = time.Now().Add(-time.Minute)
	require.NoError(t, tokens.Save(context.Background(), "alice", tok))

	srv.RotateSigningKey(true)
	outage.down.Store(true)
	src, err := tokens.Source(context.Background(), "alice")
	require.NoError(t, err)
	refreshed, err := src.TokenContext(context.Background())
	assert.NotErrorIs(t, err, pkce.ErrSignInRequired, "the grant is valid; only the key set was out of reach")
	require.NoError(t, err)
	require.Equal(t, 1, srv.RefreshRequests())
	stored, err := store.LoadToken(context.Background(), "alice")
	require.NoError(t, err)
	assert.NotContains(t, string(stored), "id_token_verified", "an ID token not verified is not stored as verified")

	outage.down.Store(false)
	other, err := client.Tokens(store) // another replica, once the key set is back
	require.NoError(t, err)
	osrc, err := other.Source(context.Background(), "alice")
	require.NoError(t, err, "the stored token is not a tombstone")
	got, err := osrc.TokenContext(context.Background())
	require.NoError(t, err)
	assert.Equal(t, refreshed.AccessToken, got.AccessToken)
}
