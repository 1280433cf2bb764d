package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// Sign-ins nobody finished do not pile up in the store: expired sessions
// are deleted as new ones are created, and live ones are kept.
func TestExpiredSessionsAreSwept(t *testing.T) {
	ctx := context.Background()
	store := pkce.NewMemoryStore()
	st := &sessionStore{store: store}
	live, err := st.create(ctx, &session{subject: "s"}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	var abandoned []string
	for range 1000 {
		id, err := st.create(ctx, &session{}, time.Now().Add(-time.Second))
		require.NoError(t, err)
		abandoned = append(abandoned, id)
	}
	kept := 0
	for _, id := range abandoned {
		b, err := store.LoadToken(ctx, sessionKey(id))
		require.NoError(t, err)
		if b != nil {
			kept++
		}
	}
	assert.Less(t, kept, 64, "expired sessions still stored, of 1000")
	assert.NotNil(t, st.get(ctx, live), "the live session")
}
