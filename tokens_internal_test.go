package pkce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestTokensHoldsABoundedNumberOfSources(t *testing.T) {
	c, err := New(&oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "http://127.0.0.1/authorize", TokenURL: "http://127.0.0.1/token"}})
	require.NoError(t, err)
	tokens, err := c.Tokens(NewMemoryStore())
	require.NoError(t, err)
	ctx := context.Background()
	tok := &Token{Token: &oauth2.Token{AccessToken: "at", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}}

	const subjects = maxSubjects + 2_000
	for i := range subjects {
		subject := fmt.Sprint("user-", i)
		require.NoError(t, tokens.Save(ctx, subject, tok))
		_, err := tokens.Source(ctx, subject)
		require.NoError(t, err)
		if i%100 == 0 { // one subject everybody keeps asking for
			_, err := tokens.Source(ctx, "user-0")
			require.NoError(t, err)
		}
	}
	tokens.mu.Lock()
	held := tokens.count
	tokens.mu.Unlock()
	assert.LessOrEqual(t, held, maxSubjects, "idle subjects are evicted")
	_, kept := tokens.sources.Load("user-0")
	assert.True(t, kept, "a subject in use is not evicted")
	n := 0
	tokens.sources.Range(func(any, any) bool { n++; return true })
	assert.Equal(t, held, n, "the count matches the map")
}

// Issue 24: sources not asked for during a while are released, not only
// at the cap; a source in use stays.
func TestTokensReleasesIdleSources(t *testing.T) {
	c, err := New(&oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/cb",
		Endpoint: oauth2.Endpoint{AuthURL: "http://127.0.0.1/authorize", TokenURL: "http://127.0.0.1/token"}})
	require.NoError(t, err)
	tokens, err := c.Tokens(NewMemoryStore())
	require.NoError(t, err)
	tokens.idle = 20 * time.Millisecond
	ctx := context.Background()
	tok := &Token{Token: &oauth2.Token{AccessToken: "at", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}}
	for i := range 100 {
		subject := fmt.Sprint("user-", i)
		require.NoError(t, tokens.Save(ctx, subject, tok))
		_, err := tokens.Source(ctx, subject)
		require.NoError(t, err)
	}
	held := func() int {
		tokens.mu.Lock()
		defer tokens.mu.Unlock()
		return tokens.count
	}
	for deadline := time.Now().Add(10 * time.Second); held() > 1; time.Sleep(time.Millisecond) {
		require.False(t, time.Now().After(deadline), "idle sources are still held: %d", held())
		_, err := tokens.Source(ctx, "user-0") // the one subject in use
		require.NoError(t, err)
	}
	_, kept := tokens.sources.Load("user-0")
	assert.True(t, kept, "a subject in use is not released")
}
