package pkce_test

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

func TestSignInLoopbackPages(t *testing.T) {
	const xss = "<script>alert(1)</script>"

	t.Run("success page headers", func(t *testing.T) {
		_, client := newLoopbackClient(t, pkcetest.Config{}, "http://127.0.0.1/callback")
		s := &script{}
		_, err := client.SignInLoopback(context.Background(), s.open)
		require.NoError(t, err)
		require.NotNil(t, s.final)
		h := s.final.header
		assert.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
		assert.Equal(t, "no-store", h.Get("Cache-Control"))
		assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		assert.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
		assert.NotContains(t, s.final.body, "http", "the page loads nothing and links nowhere")
	})

	t.Run("stray request reflects nothing from its query", func(t *testing.T) {
		_, client := newLoopbackClient(t, pkcetest.Config{}, "http://127.0.0.1/callback")
		s := &script{strays: []strayRequest{
			{http.MethodGet, "/callback?state=" + url.QueryEscape(xss) + "&error=" + url.QueryEscape(xss), "", http.StatusBadRequest},
			{http.MethodGet, "/" + url.PathEscape(xss), "", http.StatusNotFound},
		}}
		_, err := client.SignInLoopback(context.Background(), s.open)
		require.NoError(t, err)
		require.Len(t, s.got, 2)
		for _, v := range s.got {
			assert.NotContains(t, v.body, "<script")
			assert.NotContains(t, v.body, "alert")
			assert.Equal(t, "text/html; charset=utf-8", v.header.Get("Content-Type"))
			assert.Equal(t, "no-store", v.header.Get("Cache-Control"))
		}
	})

	t.Run("error code from the server is escaped", func(t *testing.T) {
		_, client := newLoopbackClient(t, pkcetest.Config{}, "http://127.0.0.1/callback")
		s := &script{edit: func(q url.Values) {
			q.Del("code")
			q.Set("error", xss)
		}}
		_, err := client.SignInLoopback(context.Background(), s.open)
		var authErr *pkce.OAuthError
		require.ErrorAs(t, err, &authErr)
		assert.Equal(t, "authorization", authErr.Op)
		require.NotNil(t, s.final)
		assert.Equal(t, http.StatusBadRequest, s.final.status)
		assert.Contains(t, s.final.body, "Sign-in failed")
		assert.Contains(t, s.final.body, "&lt;script&gt;")
		assert.NotContains(t, s.final.body, "<script")
	})
}

// The success and failure pages can be the application's own, rendered
// by its html/template, which still escapes what the server sent.
func TestSignInLoopbackCustomPages(t *testing.T) {
	pages := template.Must(template.New("p").Parse(`<html><body class="brand">{{if .Failed}}OOPS {{.Detail}}{{else}}WELCOME {{.Title}}{{end}}</body></html>`))
	tests := []struct {
		name   string
		edit   func(q url.Values)
		want   string
		status int
	}{
		{"success page", nil, "WELCOME Signed in", http.StatusOK},
		{"failure page, escaped", func(q url.Values) { q.Del("code"); q.Set("error", "<b>x</b>") }, "OOPS The authorization server answered &#34;&lt;b&gt;x&lt;/b&gt;&#34;.", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, client := newLoopbackClient(t, pkcetest.Config{}, "http://127.0.0.1/callback")
			s := &script{edit: tt.edit}
			_, _ = client.SignInLoopback(context.Background(), s.open, pkce.LoopbackPages(pages))
			require.NoError(t, s.problem)
			require.NotNil(t, s.final)
			assert.Equal(t, tt.status, s.final.status)
			assert.Contains(t, s.final.body, `class="brand"`)
			assert.Contains(t, s.final.body, tt.want)
			assert.Contains(t, s.final.header.Get("Content-Security-Policy"), "default-src 'none'")
		})
	}
	t.Run("Start refuses the option", func(t *testing.T) {
		_, client := newLoopbackClient(t, pkcetest.Config{}, "http://127.0.0.1/callback")
		_, err := client.Start(context.Background(), pkce.LoopbackPages(pages))
		assert.ErrorContains(t, err, "SignInLoopback")
	})
}
