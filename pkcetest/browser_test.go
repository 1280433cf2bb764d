package pkcetest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

// newCallbackServer starts a stand-in for the client's redirection
// endpoint on a loopback address and returns its base URL.
func newCallbackServer(t *testing.T, handle func(*http.Request)) string {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(r)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(app.Close)
	return app.URL
}

func TestAuthorizeReturnsTheRedirect(t *testing.T) {
	h := start(t, testConfig())
	params := authParams(basicClient, newVerifier())

	cb, err := h.srv.Authorize(context.Background(), h.srv.AuthURL()+"?"+params.Encode())

	require.NoError(t, err)
	assert.False(t, cb.FormPost)
	assert.True(t, strings.HasPrefix(cb.URL.String(), basicClient.RedirectURIs[0]+"&"), cb.URL)
	assert.Equal(t, cb.URL.Query(), cb.Params)
	assert.Equal(t, "acme", cb.Params.Get("tenant"), "the redirect URI's own query is kept")
	assert.Len(t, cb.Params.Get("code"), 43)
	assert.Equal(t, "xyz-state", cb.Params.Get("state"))
}

func TestRedirectReachesTheClient(t *testing.T) {
	h := start(t, testConfig())
	received := make(chan string, 1)
	app := newCallbackServer(t, func(r *http.Request) {
		assert.Equal(t, http.MethodGet, r.Method)
		received <- r.URL.Query().Get("code")
	})
	params := authParams(publicClient, newVerifier())
	params.Set("redirect_uri", app+"/callback")

	cb, err := h.srv.Authorize(context.Background(), h.srv.AuthURL()+"?"+params.Encode())
	require.NoError(t, err)
	req, err := cb.Request(context.Background())
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	assert.Equal(t, cb.Params.Get("code"), <-received)
}

func TestAuthorizeReportsErrorPages(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(q map[string][]string)
		wantErr string
	}{
		{"RFC 6749 §4.1.2.1: unknown client shown, not redirected", func(q map[string][]string) { q["client_id"] = []string{"nobody"} },
			"400 Bad Request: authorization request rejected: unknown client_id"},
		{"RFC 6749 §4.1.2.1: unregistered redirect URI shown, not redirected",
			func(q map[string][]string) { q["redirect_uri"] = []string{"https://evil.example/cb"} }, "redirect_uri is not registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			params := authParams(postClient, newVerifier())
			tt.edit(params)

			cb, err := h.srv.Authorize(context.Background(), h.srv.AuthURL()+"?"+params.Encode())

			assert.Nil(t, cb)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestAuthorizeHonoursTheContext(t *testing.T) {
	h := start(t, testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := pkcetest.Browser{Client: h.srv.Client()}.Authorize(ctx, h.srv.AuthURL())

	assert.ErrorIs(t, err, context.Canceled)
}
