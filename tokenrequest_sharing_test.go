package pkce_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// Attacks on token requests of DPoP clients and of a Client shared or
// copied carelessly (see tokenrequest_attack_test.go).

// TestTokenRequestDPoPProofs: every token request of a DPoP client carries
// a proof for POST to the token URL without its query (RFC 9449 §4.2);
// asked for a nonce, the client sends the request once more, with a fresh
// proof carrying the nonce and a fresh client assertion (RFC 9449 §8), and
// never a third time.
func TestTokenRequestDPoPProofs(t *testing.T) {
	ctx := context.Background()
	grants := []struct {
		name string
		send func(t *testing.T, c *pkce.Client) error
	}{
		{"code exchange", func(t *testing.T, c *pkce.Client) error {
			f, err := c.Start(ctx)
			require.NoError(t, err)
			_, err = c.Exchange(ctx, f, testCode)
			return err
		}},
		{"refresh", func(_ *testing.T, c *pkce.Client) error { _, err := c.Refresh(ctx, "RT-0"); return err }},
		{"another grant", func(_ *testing.T, c *pkce.Client) error {
			_, err := c.Grant(ctx, url.Values{"grant_type": {"urn:example:grant"}})
			return err
		}},
	}
	for _, g := range grants {
		for _, always := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/server always asks %v", g.name, always), func(t *testing.T) {
				var mu sync.Mutex
				var reqs []wireRequest
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					b, _ := io.ReadAll(r.Body)
					mu.Lock()
					reqs = append(reqs, wireRequest{r.Method, r.URL.RequestURI(), r.Header.Clone(), string(b)})
					n := len(reqs)
					mu.Unlock()
					w.Header().Set("Content-Type", "application/json")
					if always || n == 1 {
						w.Header().Set("DPoP-Nonce", fmt.Sprintf("nonce-%d", n))
						w.WriteHeader(http.StatusBadRequest)
						io.WriteString(w, `{"error":"use_dpop_nonce","error_description":"use the nonce"}`)
						return
					}
					io.WriteString(w, `{"access_token":"AT-1","token_type":"DPoP","expires_in":3600}`)
				}))
				t.Cleanup(srv.Close)
				c, err := pkce.New(&oauth2.Config{ClientID: "app", RedirectURL: redirect,
					Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/t/token?tenant=a"}},
					pkce.WithClientKey(ecKey, "key-1", ""), pkce.WithDPoP(ec2Key))
				require.NoError(t, err)

				err = g.send(t, c)
				if always {
					require.Error(t, err)
				} else {
					require.NoError(t, err)
				}
				mu.Lock()
				defer mu.Unlock()
				require.Len(t, reqs, 2, "one request, then one more with the nonce")
				var jtis, assertions []string
				for i, r := range reqs {
					assert.Equal(t, "/t/token?tenant=a", r.path)
					proof := r.header.Values("DPoP")
					require.Len(t, proof, 1, "one proof")
					_, claims := claimsOf(t, proof[0])
					assert.Equal(t, "POST", claims["htm"])
					assert.Equal(t, srv.URL+"/t/token", claims["htu"], "htu without the query (RFC 9449 §4.2)")
					if i == 0 {
						assert.NotContains(t, claims, "nonce")
					} else {
						assert.Equal(t, "nonce-1", claims["nonce"])
					}
					jtis = append(jtis, claims["jti"].(string))
					assertions = append(assertions, r.form(t).Get("client_assertion"))
				}
				assert.NotEqual(t, jtis[0], jtis[1], "a fresh proof")
				assert.NotEmpty(t, assertions[0])
				assert.NotEqual(t, assertions[0], assertions[1], "a fresh assertion")
			})
		}
	}
}

// TestTokenRequestCarelessSharing: one Client used by many goroutines at
// once, a copy of it by value, and its oauth2.Config changed after New:
// each request still carries the credentials New was given, and the race
// detector sees no shared write (run with -race).
func TestTokenRequestCarelessSharing(t *testing.T) {
	for _, m := range allMethods {
		t.Run(string(m), func(t *testing.T) {
			ws := newWireServer(t)
			cfg := &oauth2.Config{ClientID: oddID, RedirectURL: redirect}
			opts := []pkce.Option{pkce.WithMetadata(ws.metadata()), pkce.WithAuthMethod(m), pkce.WithDPoP(ec2Key)}
			switch m {
			case pkce.AuthSecretBasic, pkce.AuthSecretPost:
				cfg.ClientSecret = oddSecret
			case pkce.AuthPrivateKeyJWT:
				opts = append(opts, pkce.WithClientKey(ecKey, "key-1", ""))
			}
			c, err := pkce.New(cfg, opts...)
			require.NoError(t, err)
			cfg.ClientID, cfg.ClientSecret = "other", "other secret"
			cfg.Endpoint.TokenURL = "http://127.0.0.1:1/token"
			copied := *c

			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 48)
			for i := range 16 {
				wg.Add(3)
				go func() {
					defer wg.Done()
					_, err := c.Refresh(ctx, fmt.Sprintf("RT-%d", i), "read")
					errs <- err
				}()
				go func() {
					defer wg.Done()
					f, err := copied.Start(ctx)
					if err == nil {
						_, err = copied.Exchange(ctx, f, testCode)
					}
					errs <- err
				}()
				go func() {
					defer wg.Done()
					_, err := c.Grant(ctx, url.Values{"grant_type": {"urn:example:grant"}, "n": {fmt.Sprint(i)}})
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				assert.NoError(t, err)
			}
			reqs := ws.all()
			require.Len(t, reqs, 48)
			for _, r := range reqs {
				got := r.form(t)
				for k, v := range got {
					assert.Len(t, v, 1, "%s is sent once", k)
				}
				if m == pkce.AuthSecretBasic {
					id, secret, ok := basicCredentials(t, r.header)
					require.True(t, ok)
					assert.Equal(t, oddID, id)
					assert.Equal(t, oddSecret, secret)
				} else {
					assert.Equal(t, oddID, got.Get("client_id"))
				}
				if m == pkce.AuthSecretPost {
					assert.Equal(t, oddSecret, got.Get("client_secret"))
				}
				assert.Len(t, r.header.Values("DPoP"), 1)
			}
		})
	}
}

// TestClientValuePrintsNoSecret: a Client copied by value and printed, as
// a careless application logs its configuration, shows neither the
// secret nor the Basic header made from it (THREATS.md, promise 2).
func TestClientValuePrintsNoSecret(t *testing.T) {
	ws := newWireServer(t)
	c := wireClient(t, ws, pkce.AuthSecretBasic)
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(oddID) + ":" + url.QueryEscape(oddSecret)))
	for _, v := range []any{c, *c, struct{ Client pkce.Client }{*c}} {
		for _, out := range printed(v) {
			assert.NotContains(t, out, oddSecret)
			assert.NotContains(t, out, basic)
		}
	}
	var none *pkce.Client
	require.NotPanics(t, func() { printed(none) })
	assert.Equal(t, "<nil>", fmt.Sprint(none))
}
