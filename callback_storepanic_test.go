package pkce_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// claimPanicStore is a shared Store whose Claim panics with a value that
// holds what a store keeps.
type claimPanicStore struct{ pkce.Store }

func (claimPanicStore) Claim(context.Context, string, time.Duration) (bool, error) {
	panic(storePanicValue)
}

// A panic in the application's Store while a callback is being finished
// (its Claim, RFC 6749 §10.12) is an error of the call, not the end of the
// program (THREATS.md: a careless application), and the flow is not
// finished: no code reaches the token endpoint. The panic's value, which
// may hold what the store keeps, is not quoted.
func TestCallbackStorePanicIsAnError(t *testing.T) {
	tests := []struct {
		name string
		call func(context.Context, *pkce.Client, *pkce.Flow, url.Values) error
	}{
		{"VerifyCallback: a panicking Claim is an error", func(ctx context.Context, c *pkce.Client, f *pkce.Flow, q url.Values) error {
			_, err := c.VerifyCallback(ctx, f, q)
			return err
		}},
		{"Finish: a panicking Claim is an error before the exchange", func(ctx context.Context, c *pkce.Client, f *pkce.Flow, q url.Values) error {
			_, err := finish(ctx, c, f, q)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, jsonResponse(200, goodBody))
			client := clientFor(t, te, testSecret, pkce.WithIssuer(te.URL),
				pkce.WithStore(claimPanicStore{Store: pkce.NewMemoryStore()}))
			ctx := context.Background()
			f, err := client.Start(ctx)
			require.NoError(t, err)
			q := url.Values{"state": {f.State}, "code": {testCode}, "iss": {te.URL}}

			require.NotPanics(t, func() { err = tt.call(ctx, client, f, q) })
			require.Error(t, err)
			assert.ErrorContains(t, err, "Store panicked")
			assert.NotContains(t, err.Error(), "stored-secret-value")
			assert.Zero(t, te.count(), "no code is exchanged when the flow could not be claimed")
		})
	}
}
