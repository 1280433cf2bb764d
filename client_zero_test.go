package pkce_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// TestClientZeroValueAndNil: a Client that did not come from New (its
// zero value, or a nil pointer) answers every method with an error that
// names pkce.New, and never panics (THREATS.md: a careless application).
func TestClientZeroValueAndNil(t *testing.T) {
	ctx := context.Background()
	flow := &pkce.Flow{}
	calls := []struct {
		name string
		call func(c *pkce.Client) error
	}{
		{"Start", func(c *pkce.Client) error { _, err := c.Start(ctx); return err }},
		{"Finish", func(c *pkce.Client) error {
			_, err := c.Finish(httptest.NewRequest("GET", "/cb?state=s&code=c", nil), flow)
			return err
		}},
		{"VerifyCallback", func(c *pkce.Client) error {
			_, err := c.VerifyCallback(ctx, flow, url.Values{"state": {"s"}, "code": {"c"}})
			return err
		}},
		{"Exchange", func(c *pkce.Client) error { _, err := c.Exchange(ctx, flow, "c"); return err }},
		{"Refresh", func(c *pkce.Client) error { _, err := c.Refresh(ctx, "refresh token"); return err }},
		{"Revoke", func(c *pkce.Client) error { return c.Revoke(ctx, &oauth2.Token{AccessToken: "a"}) }},
		{"TokenSource", func(c *pkce.Client) error { _, err := c.TokenSource(&oauth2.Token{AccessToken: "a"}); return err }},
		{"Tokens", func(c *pkce.Client) error { _, err := c.Tokens(pkce.NewMemoryStore()); return err }},
		{"SignInLoopback", func(c *pkce.Client) error {
			_, err := c.SignInLoopback(ctx, func(string) error { return nil })
			return err
		}},
	}
	clients := []struct {
		name   string
		client *pkce.Client
	}{
		{"the zero value", &pkce.Client{}},
		{"a nil pointer", nil},
	}
	for _, c := range clients {
		for _, tt := range calls {
			t.Run(c.name+"/"+tt.name+" fails naming pkce.New", func(t *testing.T) {
				var err error
				require.NotPanics(t, func() { err = tt.call(c.client) })
				assert.ErrorContains(t, err, "pkce.New")
			})
		}
		t.Run(c.name+"/Metadata is nil", func(t *testing.T) {
			require.NotPanics(t, func() { assert.Nil(t, c.client.Metadata()) })
		})
		t.Run(c.name+"/prints without panicking", func(t *testing.T) {
			var s string
			require.NotPanics(t, func() { s = fmt.Sprintf("%v %+v", c.client, c.client) })
			assert.NotContains(t, s, "PANIC")
		})
	}
}
