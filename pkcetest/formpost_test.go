package pkcetest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFormPostResponseMode checks response_mode=form_post (OAuth 2.0 Form
// Post Response Mode §2): the answer is a page that posts the parameters
// to the redirect URI, never a redirect carrying them.
func TestFormPostResponseMode(t *testing.T) {
	tests := []struct {
		name       string
		client     string
		edit       func(q map[string][]string)
		sendIssuer bool
		wantError  string
	}{
		{name: "code posted to the redirect URI"},
		{name: "RFC 9207 §2: iss posted too", sendIssuer: true},
		{name: "errors posted too", edit: func(q map[string][]string) { delete(q, "code_challenge") }, wantError: "invalid_request"},
		{name: "RFC 8707 §2: invalid_target posted", edit: func(q map[string][]string) { q["resource"] = []string{"relative"} }, wantError: "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.SendIssuer = tt.sendIssuer
			h := start(t, cfg)
			v := newVerifier()
			params := authParams(postClient, v)
			params.Set("response_mode", "form_post")
			if tt.edit != nil {
				tt.edit(params)
			}

			resp, body := h.authorize(params.Encode())
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.Contains(t, body, `<form method="post" action="https://app.example/callback">`)
			assert.Contains(t, body, `onload="document.forms[0].submit()"`)

			cb, err := h.srv.Authorize(context.Background(), h.srv.AuthURL()+"?"+params.Encode())
			require.NoError(t, err)
			assert.True(t, cb.FormPost)
			assert.Equal(t, postClient.RedirectURIs[0], cb.URL.String())
			assert.Equal(t, "xyz-state", cb.Params.Get("state"))
			assert.Equal(t, tt.sendIssuer, cb.Params.Has("iss"))
			assert.Equal(t, tt.wantError, cb.Params.Get("error"))
			if tt.wantError != "" {
				return
			}
			res := h.authenticated(postClient, codeForm(cb.Params.Get("code"), postClient.RedirectURIs[0], v))
			assert.Equal(t, http.StatusOK, res.status, res.raw)
		})
	}
}

func TestResponseModes(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		wantError string
	}{
		{name: "query is the default for code", mode: ""},
		{name: "query asked for explicitly", mode: "query"},
		{name: "fragment is not supported", mode: "fragment", wantError: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			params := authParams(postClient, newVerifier())
			if tt.mode != "" {
				params.Set("response_mode", tt.mode)
			}

			resp, _ := h.authorize(params.Encode())
			q := h.redirected(resp).Query()

			assert.Equal(t, tt.wantError, q.Get("error"))
			assert.Equal(t, tt.wantError == "", q.Has("code"))
		})
	}
}

func TestFormPostReachesTheClient(t *testing.T) {
	c := publicClient
	h := start(t, testConfig())
	received := make(chan map[string][]string, 1)
	app := newCallbackServer(t, func(r *http.Request) {
		assert.Equal(t, http.MethodPost, r.Method)
		require.NoError(t, r.ParseForm())
		received <- r.PostForm
	})
	params := authParams(c, newVerifier())
	params.Set("redirect_uri", app+"/callback")
	params.Set("response_mode", "form_post")

	cb, err := h.srv.Authorize(context.Background(), h.srv.AuthURL()+"?"+params.Encode())
	require.NoError(t, err)
	req, err := cb.Request(context.Background())
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	got := <-received
	assert.Equal(t, cb.Params.Get("code"), strings.Join(got["code"], ""))
	assert.Equal(t, []string{"xyz-state"}, got["state"])
}
