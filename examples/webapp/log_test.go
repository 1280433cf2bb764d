package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logBuffer collects the app's JSON log lines; handlers write to it while
// the test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log lines with message msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// One line per step of a sign-in, as an operator reads them, and never a
// secret: a person signs in, opens /me, signs out, then declines a second
// sign-in and tries a forged code.
func TestWebappLogs(t *testing.T) {
	ta := startApp(t, false)
	_, body := ta.get(t, "/login?next=/me")
	require.Contains(t, body, "test-user")
	_, body = ta.get(t, "/me")
	require.Contains(t, body, "test-user")
	session := jarSession(t, ta.browser.Jar, ta.srv.URL)
	source, err := ta.app.tokens.Source(context.Background(), ta.app.sessions.get(context.Background(), session).subject)
	require.NoError(t, err)
	tok, err := source.Token()
	require.NoError(t, err)
	resp, err := ta.browser.Post(ta.srv.URL+"/logout", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	for _, edit := range []func(q url.Values){
		func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") },
		func(q url.Values) { q.Set("code", "forged") },
	} {
		browser := ta.noFollow()
		resp, err := browser.Get(ta.srv.URL + "/login?next=/me")
		require.NoError(t, err)
		resp.Body.Close()
		resp, err = browser.Get(resp.Header.Get("Location"))
		require.NoError(t, err)
		resp.Body.Close()
		back, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		ta.callbacks = append(ta.callbacks, back)
		q := back.Query()
		edit(q)
		u := *back
		u.RawQuery = q.Encode()
		ta.get(t, u.String())
	}

	t.Run("login started names the page to return to", func(t *testing.T) {
		recs := ta.logs.records(t, "login started")
		require.Len(t, recs, 3)
		assert.Equal(t, "/me", recs[0]["next"])
	})
	t.Run("callback ok names who signed in", func(t *testing.T) {
		recs := ta.logs.records(t, "callback ok")
		require.Len(t, recs, 1)
		assert.Equal(t, "test-user", recs[0]["user"])
	})
	t.Run("callback failed names the error's Op and class", func(t *testing.T) {
		recs := ta.logs.records(t, "callback failed")
		require.Len(t, recs, 2)
		assert.Equal(t, "WARN", recs[0]["level"])
		assert.Equal(t, "authorization", recs[0]["op"])
		assert.Equal(t, "access_denied", recs[0]["class"])
		assert.Equal(t, "code exchange", recs[1]["op"])
		assert.Equal(t, "invalid_grant", recs[1]["class"])
	})
	t.Run("API call names the status", func(t *testing.T) {
		recs := ta.logs.records(t, "API call")
		require.Len(t, recs, 3, "who signed in, then /me twice")
		for _, rec := range recs {
			assert.EqualValues(t, http.StatusOK, rec["status"])
		}
	})
	t.Run("logout is logged", func(t *testing.T) {
		assert.Len(t, ta.logs.records(t, "logout"), 1)
	})
	t.Run("no line holds a state, a code, a token or a session", func(t *testing.T) {
		logs := ta.logs.String()
		require.Len(t, ta.callbacks, 3)
		secrets := map[string]string{
			"access token":  tok.AccessToken,
			"refresh token": tok.RefreshToken,
			"session":       session,
		}
		for i, cb := range ta.callbacks {
			secrets["state "+string(rune('0'+i))] = cb.Query().Get("state")
			secrets["code "+string(rune('0'+i))] = cb.Query().Get("code")
		}
		for name, secret := range secrets {
			require.NotEmpty(t, secret, name)
			assert.NotContains(t, logs, secret, name)
		}
	})
}
