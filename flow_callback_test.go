package pkce

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerifyCallback(t *testing.T) {
	const issuer = "https://as.example"
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	c, err := New(testConfig(), WithIssuer(issuer), WithClock(func() time.Time { return *clock.Load() }))
	require.NoError(t, err)

	type params = map[string][]string
	tests := []struct {
		name      string
		query     func(f *Flow) params
		later     time.Duration
		wantIs    error
		wantParam string // the CallbackError's Param, when wantIs is a callback sentinel
		wantMsg   string
	}{
		{"good callback", func(f *Flow) params {
			return params{"code": {"c0de"}, "state": {f.State}, "iss": {issuer}}
		}, 0, nil, "", ""},
		{"no parameters at all", func(f *Flow) params {
			return params{}
		}, 0, ErrMalformedCallback, "", "fragment"},
		{"state given twice", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State, f.State}, "iss": {issuer}}
		}, 0, ErrMalformedCallback, "state", `parameter "state"`},
		{"code given twice", func(f *Flow) params {
			return params{"code": {"a", "b"}, "state": {f.State}, "iss": {issuer}}
		}, 0, ErrMalformedCallback, "code", "RFC 6749 §3.1"},
		{"iss missing", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}}
		}, 0, ErrIssuerMismatch, "iss", "has no iss"},
		{"iss present without a value", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {}}
		}, 0, ErrIssuerMismatch, "iss", "RFC 9207 §2.4"},
		{"iss empty", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {""}}
		}, 0, ErrIssuerMismatch, "iss", "RFC 9207 §2.4"},
		{"iss differs from issuer", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {"https://evil.example"}}
		}, 0, ErrIssuerMismatch, "iss", "RFC 9207 §2.4"},
		{"iss differs only in case", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {"https://AS.example"}}
		}, 0, ErrIssuerMismatch, "iss", "RFC 9207 §2.4"},
		{"iss with a trailing slash", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {issuer + "/"}}
		}, 0, ErrIssuerMismatch, "iss", "RFC 9207 §2.4"},
		{"wrong iss and wrong state is an issuer failure", func(f *Flow) params {
			return params{"code": {"c"}, "state": {"forged"}, "iss": {"https://evil.example"}}
		}, 0, ErrIssuerMismatch, "iss", ""},
		{"state missing", func(f *Flow) params {
			return params{"code": {"c"}, "iss": {issuer}}
		}, 0, ErrStateMismatch, "state", "no state"},
		{"state present without a value", func(f *Flow) params {
			return params{"code": {"c"}, "state": {}, "iss": {issuer}}
		}, 0, ErrStateMismatch, "state", "no state"},
		{"state differs", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State[:len(f.State)-1] + "x"}, "iss": {issuer}}
		}, 0, ErrStateMismatch, "state", "RFC 6749 §10.12"},
		{"wrong state with an error parameter is a state failure", func(f *Flow) params {
			return params{"error": {"access_denied"}, "state": {"forged"}, "iss": {issuer}}
		}, 0, ErrStateMismatch, "state", ""},
		{"error present without a value and without state", func(f *Flow) params {
			return params{"error": {}, "iss": {issuer}}
		}, 0, ErrStateMismatch, "state", ""},
		{"flow expired", func(f *Flow) params {
			return params{"code": {"c"}, "state": {f.State}, "iss": {issuer}}
		}, defaultFlowLifetime + time.Second, ErrFlowExpired, "", ""},
		{"error parameter with the right state", func(f *Flow) params {
			return params{"error": {"access_denied"}, "error_description": {"user said no"}, "state": {f.State}, "iss": {issuer}}
		}, 0, ErrAccessDenied, "", "user said no"},
		{"error and code together is an error", func(f *Flow) params {
			return params{"error": {"server_error"}, "code": {"c"}, "state": {f.State}, "iss": {issuer}}
		}, 0, errServerError, "", "RFC 6749 §4.1.2.1"},
		{"code missing", func(f *Flow) params {
			return params{"state": {f.State}, "iss": {issuer}}
		}, 0, ErrMalformedCallback, "code", "RFC 6749 §4.1.2"},
		{"code empty", func(f *Flow) params {
			return params{"code": {""}, "state": {f.State}, "iss": {issuer}}
		}, 0, ErrMalformedCallback, "code", ""},
		{"code present without a value", func(f *Flow) params {
			return params{"code": {}, "state": {f.State}, "iss": {issuer}}
		}, 0, ErrMalformedCallback, "code", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Store(&now)
			f, err := c.Start(context.Background())
			require.NoError(t, err)
			later := now.Add(tt.later)
			clock.Store(&later)
			var code string
			require.NotPanics(t, func() {
				code, err = c.VerifyCallback(context.Background(), f, url.Values(tt.query(f)))
			})
			if tt.wantIs == nil {
				require.NoError(t, err)
				assert.Equal(t, "c0de", code)
				return
			}
			assert.ErrorIs(t, err, tt.wantIs)
			assert.Empty(t, code)
			if tt.wantMsg != "" {
				assert.ErrorContains(t, err, tt.wantMsg)
			}
			var cbErr *CallbackError
			if errors.As(err, &cbErr) {
				assert.Equal(t, tt.wantParam, cbErr.Param)
			} else {
				var oe *OAuthError
				require.ErrorAs(t, err, &oe, "a callback fails with a *CallbackError or an *OAuthError")
				assert.Equal(t, opAuthorize, oe.Op)
			}
			assert.NotContains(t, err.Error(), f.State)
		})
	}

	t.Run("error present without a value and the right state does not panic", func(t *testing.T) {
		clock.Store(&now)
		f, err := c.Start(context.Background())
		require.NoError(t, err)
		var code string
		require.NotPanics(t, func() {
			code, err = c.VerifyCallback(context.Background(), f, url.Values{"error": {}, "state": {f.State}, "iss": {issuer}})
		})
		assert.Error(t, err, "an error parameter, even empty, is not a success")
		assert.Empty(t, code)
	})
}

func TestVerifyCallbackRejectsEmptyFlow(t *testing.T) {
	c, err := New(testConfig())
	require.NoError(t, err)
	for name, f := range map[string]*Flow{
		"nil flow":              nil,
		"zero flow":             {},
		"flow without verifier": {State: strings.Repeat("s", stateLength), redirectURL: "https://app.example/cb"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.VerifyCallback(context.Background(), f, url.Values{"state": {"s"}, "code": {"c"}})
			assert.ErrorIs(t, err, ErrInvalidFlow)
			_, err = c.Exchange(context.Background(), f, "c")
			assert.ErrorIs(t, err, ErrInvalidFlow, "Exchange checks the flow too")
			_, err = c.Finish(&http.Request{Method: http.MethodGet, URL: &url.URL{RawQuery: "state=s&code=c"}}, f)
			assert.ErrorIs(t, err, ErrInvalidFlow)
		})
	}
	_, err = c.Finish(nil, &Flow{})
	assert.ErrorIs(t, err, ErrMalformedCallback, "a nil request")
}
