package main

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebappPages(t *testing.T) {
	styleElement := regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	tests := []struct {
		name  string
		check func(t *testing.T, ta *testApp)
	}{
		{"the inline stylesheet is the only resource, allowed by its hash", func(t *testing.T, ta *testApp) {
			resp, body := ta.get(t, "/")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			m := styleElement.FindStringSubmatch(body)
			require.NotNil(t, m, "an inline stylesheet")
			sum := sha256.Sum256([]byte(m[1]))
			csp := resp.Header.Get("Content-Security-Policy")
			assert.Contains(t, csp, "default-src 'none'")
			assert.Contains(t, csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
			assert.NotContains(t, csp, "unsafe-inline")
			for _, external := range []string{"<link", "<script", "src=", "@import", "url("} {
				assert.NotContains(t, body, external)
			}
		}},
		{"an unknown page is a styled 404", func(t *testing.T, ta *testApp) {
			resp, body := ta.get(t, "/no/such/page")
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			assert.NotEmpty(t, resp.Header.Get("Content-Security-Policy"))
			assert.Regexp(t, styleElement, body)
			assert.Contains(t, body, "<h1>Page not found</h1>")
			assert.Contains(t, body, `<a href="/">Home</a>`)
		}},
		{"a page says nobody is signed in", func(t *testing.T, ta *testApp) {
			_, body := ta.get(t, "/")
			assert.Contains(t, body, `<span id="who">Not signed in</span>`)
		}},
		{"every page says who is signed in, as the API names them", func(t *testing.T, ta *testApp) {
			_, body := ta.get(t, "/login?next=/")
			assert.Contains(t, body, "You are signed in as test-user.")
			for _, path := range []string{"/", "/me", "/logout", "/no/such/page"} {
				_, body := ta.get(t, path)
				assert.Contains(t, body, `<span id="who">Signed in as <strong>test-user</strong></span>`, path)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, startApp(t, false))
		})
	}
}
