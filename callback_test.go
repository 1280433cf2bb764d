package pkce_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// flowJSON returns the stored form of f as a JSON object: the only way
// outside the package to see (and tamper with) its verifier, redirect URL,
// issuer and creation time.
func flowJSON(t *testing.T, f *pkce.Flow) map[string]any {
	t.Helper()
	b, err := json.Marshal(f)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// flowFromJSON loads a stored flow, as an application reads it back from
// its session store.
func flowFromJSON(t *testing.T, m map[string]any) *pkce.Flow {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var f pkce.Flow
	require.NoError(t, json.Unmarshal(b, &f))
	return &f
}

// TestStoredFlowTampering: the finishing client checks a stored flow
// against its own configuration before it trusts it (v1). Each row
// tampers with the JSON form of a good flow; the callback, the exchange and
// Finish all refuse it with ErrInvalidFlow, before any token request.
func TestStoredFlowTampering(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	issuer := te.URL
	client := clientFor(t, te, testSecret, pkce.WithIssuer(issuer))
	tests := []struct {
		name   string
		tamper func(m map[string]any)
		// from makes the flow with another client instead of tampering.
		from func(t *testing.T) *pkce.Client
	}{
		{name: "expires pushed to 9999", tamper: func(m map[string]any) { m["expires"] = "9999-12-31T23:59:59Z" }},
		{name: "created moved back to lengthen the lifetime", tamper: func(m map[string]any) {
			expires, err := time.Parse(time.RFC3339Nano, m["expires"].(string))
			if err == nil {
				m["created"] = expires.Add(-time.Hour).Format(time.RFC3339Nano)
			}
		}},
		{name: "expires before created", tamper: func(m map[string]any) { m["expires"] = "2000-01-01T00:00:00Z" }},
		{name: "created and expires in the future", tamper: func(m map[string]any) {
			now := time.Now()
			m["created"] = now.Add(24 * time.Hour).Format(time.RFC3339Nano)
			m["expires"] = now.Add(24*time.Hour + time.Minute).Format(time.RFC3339Nano)
		}},
		{name: "redirect_url rewritten to http://evil.example/cb", tamper: func(m map[string]any) { m["redirect_url"] = "http://evil.example/cb" }},
		{name: "redirect_url with a fragment", tamper: func(m map[string]any) { m["redirect_url"] = "https://app.example/cb#x" }},
		{name: "redirect_url removed", tamper: func(m map[string]any) { delete(m, "redirect_url") }},
		{name: "1-char state", tamper: func(m map[string]any) { m["state"] = "s" }},
		{name: "state of 43 characters outside base64url", tamper: func(m map[string]any) { m["state"] = strings.Repeat("~", 43) }},
		{name: "empty state", tamper: func(m map[string]any) { m["state"] = "" }},
		{name: "issuer rewritten", tamper: func(m map[string]any) { m["issuer"] = "https://evil.example" }},
		{name: "issuer removed", tamper: func(m map[string]any) { delete(m, "issuer") }},
		{name: "a flow from a client with another issuer", from: func(t *testing.T) *pkce.Client {
			return clientFor(t, te, testSecret, pkce.WithIssuer("https://other.example"))
		}},
		{name: "a flow from a client without an issuer", from: func(t *testing.T) *pkce.Client {
			return clientFor(t, te, testSecret)
		}},
		{name: "a flow from a client with a longer flow lifetime", from: func(t *testing.T) *pkce.Client {
			return clientFor(t, te, testSecret, pkce.WithIssuer(issuer), pkce.WithFlowLifetime(time.Hour))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			starter := client
			if tt.from != nil {
				starter = tt.from(t)
			}
			good, err := starter.Start(ctx)
			require.NoError(t, err)
			m := flowJSON(t, good)
			if tt.tamper != nil {
				tt.tamper(m)
			}
			f := flowFromJSON(t, m)
			before := te.count()
			q := url.Values{"state": {f.State}, "code": {testCode}, "iss": {issuer}}

			code, err := client.VerifyCallback(ctx, f, q)
			assert.Empty(t, code)
			assertInvalidFlow(t, err)

			tok, err := client.Exchange(ctx, f, testCode)
			assert.Nil(t, tok)
			assertInvalidFlow(t, err)

			tok, err = finish(ctx, client, f, q)
			assert.Nil(t, tok)
			assertInvalidFlow(t, err)

			assert.Equal(t, before, te.count(), "no token request for a tampered flow")
		})
	}

	t.Run("the untampered flow is accepted", func(t *testing.T) {
		good, err := client.Start(context.Background())
		require.NoError(t, err)
		f := flowFromJSON(t, flowJSON(t, good))
		tok, err := finish(context.Background(), client, f, url.Values{"state": {f.State}, "code": {testCode}, "iss": {issuer}})
		require.NoError(t, err)
		assert.Equal(t, "AT-1", tok.AccessToken)
	})

	t.Run("a verifier that breaks RFC 7636 does not load", func(t *testing.T) {
		good, err := client.Start(context.Background())
		require.NoError(t, err)
		for _, v := range []any{nil, "", "short", strings.Repeat("a", 129), strings.Repeat("+", 43)} {
			m := flowJSON(t, good)
			m["verifier"] = v
			b, err := json.Marshal(m)
			require.NoError(t, err)
			var f pkce.Flow
			err = json.Unmarshal(b, &f)
			assert.ErrorContains(t, err, "pkce: stored flow: pkce: invalid code verifier", "verifier %v", v)
		}
	})
}

func assertInvalidFlow(t *testing.T, err error) {
	t.Helper()
	assert.ErrorIs(t, err, pkce.ErrInvalidFlow)
	var cbErr *pkce.CallbackError
	assert.ErrorAs(t, err, &cbErr)
}

// TestFinishReadsTheCallbackRequest covers Finish's two transports of the
// authorization response: the query of a GET (default) and a POST form
// (WithFormPost, response_mode=form_post).
func TestFinishReadsTheCallbackRequest(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	form := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/callback", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	tests := []struct {
		name     string
		formPost bool
		request  func(f *pkce.Flow) *http.Request
		wantIs   error // nil: a token
	}{
		{"GET with the response in the query", false, func(f *pkce.Flow) *http.Request {
			return callbackRequest(context.Background(), url.Values{"state": {f.State}, "code": {testCode}})
		}, nil},
		{"RFC 3986 §3.4: a query that does not parse", false, func(f *pkce.Flow) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/callback", nil)
			r.URL.RawQuery = "code=%zz&state=" + f.State
			return r
		}, pkce.ErrMalformedCallback},
		{"RFC 6749 §4.1.2: an empty query hints at the fragment or form_post", false, func(f *pkce.Flow) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/callback", nil)
		}, pkce.ErrMalformedCallback},
		{"a POST where the client expects the query", false, func(f *pkce.Flow) *http.Request {
			return form(url.Values{"state": {f.State}, "code": {testCode}}.Encode())
		}, pkce.ErrMalformedCallback},
		{"form_post: a POST form", true, func(f *pkce.Flow) *http.Request {
			return form(url.Values{"state": {f.State}, "code": {testCode}}.Encode())
		}, nil},
		{"form_post: a GET means the server ignored response_mode", true, func(f *pkce.Flow) *http.Request {
			return callbackRequest(context.Background(), url.Values{"state": {f.State}, "code": {testCode}})
		}, pkce.ErrMalformedCallback},
		{"form_post: a body that is not a form", true, func(f *pkce.Flow) *http.Request {
			r := form(`{"state":"` + f.State + `","code":"c"}`)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, pkce.ErrMalformedCallback},
		{"form_post: a form over 64 KiB", true, func(f *pkce.Flow) *http.Request {
			return form(url.Values{"state": {f.State}, "code": {testCode}, "pad": {strings.Repeat("x", 64<<10)}}.Encode())
		}, pkce.ErrMalformedCallback},
		{"form_post: a form that does not parse", true, func(f *pkce.Flow) *http.Request {
			return form("code=%zz&state=" + f.State)
		}, pkce.ErrMalformedCallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []pkce.Option
			if tt.formPost {
				opts = append(opts, pkce.WithFormPost())
			}
			c := clientFor(t, te, testSecret, opts...)
			f, err := c.Start(context.Background())
			require.NoError(t, err)
			if tt.formPost {
				assert.Equal(t, "form_post", authURLQuery(t, f).Get("response_mode"))
			} else {
				assert.NotContains(t, authURLQuery(t, f), "response_mode")
			}
			before := te.count()

			tok, err := c.Finish(tt.request(f), f)

			if tt.wantIs == nil {
				require.NoError(t, err)
				assert.Equal(t, "AT-1", tok.AccessToken)
				assert.Equal(t, before+1, te.count())
				return
			}
			assert.Nil(t, tok)
			assert.ErrorIs(t, err, tt.wantIs)
			assert.Equal(t, before, te.count(), "no token request")
			assert.NotContains(t, err.Error(), f.State)
		})
	}
}

func authURLQuery(t *testing.T, f *pkce.Flow) url.Values {
	t.Helper()
	u, err := url.Parse(f.URL)
	require.NoError(t, err)
	return u.Query()
}
