package pkcetest_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

func consentConfig() pkcetest.Config {
	cfg := testConfig()
	cfg.Consent = true
	cfg.SendIssuer = true
	return cfg
}

func TestConsentPage(t *testing.T) {
	h := start(t, consentConfig())

	resp, body := h.authorize(authParams(postClient, newVerifier()).Encode())

	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Empty(t, resp.Header.Get("Location"), "no answer for the client before the decision")
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), "RFC 6749 §10.13: no framing")
	assert.Contains(t, body, postClient.ID)
	assert.Contains(t, body, `value="approve"`)
	assert.Contains(t, body, `value="deny"`)
	assert.Regexp(t, `name="consent" value="[A-Za-z0-9_-]{43}"`, body)
}

func TestConsentDecision(t *testing.T) {
	tests := []struct {
		name      string
		deny      bool
		formPost  bool
		wantError string
	}{
		{name: "approve redirects with a code"},
		{name: "approve posts a code with form_post", formPost: true},
		{name: "RFC 6749 §4.1.2.1: deny redirects with access_denied", deny: true, wantError: "access_denied"},
		{name: "deny posts access_denied with form_post", deny: true, formPost: true, wantError: "access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, consentConfig())
			v := newVerifier()
			params := authParams(postClient, v)
			if tt.formPost {
				params.Set("response_mode", "form_post")
			}

			cb, err := pkcetest.Browser{Client: h.srv.Client(), Deny: tt.deny}.Authorize(context.Background(), h.srv.AuthURL()+"?"+params.Encode())

			require.NoError(t, err)
			assert.Equal(t, tt.formPost, cb.FormPost)
			assert.Equal(t, "xyz-state", cb.Params.Get("state"))
			assert.Equal(t, h.srv.Issuer(), cb.Params.Get("iss"), "RFC 9207 §2: iss on every response")
			assert.Equal(t, tt.wantError, cb.Params.Get("error"))
			if tt.wantError != "" {
				assert.False(t, cb.Params.Has("code"))
				return
			}
			res := h.authenticated(postClient, codeForm(cb.Params.Get("code"), postClient.RedirectURIs[0], v))
			assert.Equal(t, http.StatusOK, res.status, res.raw)
		})
	}
}

var consentToken = regexp.MustCompile(`name="consent" value="([^"]+)"`)

func TestConsentSubmissionRules(t *testing.T) {
	tests := []struct {
		name       string
		submit     func(h *harness, clk *clock, token string) *http.Response
		wantStatus int
	}{
		{"the consent token is single-use", func(h *harness, _ *clock, token string) *http.Response {
			h.postConsent(token, "approve").Body.Close()
			return h.postConsent(token, "approve")
		}, http.StatusBadRequest},
		{"an unknown consent token", func(h *harness, _ *clock, _ string) *http.Response {
			return h.postConsent("forged", "approve")
		}, http.StatusBadRequest},
		{"an expired consent page", func(h *harness, clk *clock, token string) *http.Response {
			clk.advance(pkcetest.DefaultCodeLifetime)
			return h.postConsent(token, "approve")
		}, http.StatusBadRequest},
		{"a decision other than approve or deny", func(h *harness, _ *clock, token string) *http.Response {
			return h.postConsent(token, "maybe")
		}, http.StatusBadRequest},
		{"GET is not allowed", func(h *harness, _ *clock, token string) *http.Response {
			resp, err := h.http.Get(h.srv.Issuer() + "/consent?consent=" + token + "&decision=approve")
			require.NoError(h.t, err)
			return resp
		}, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, consentConfig())
			clk := newClock()
			h.srv.SetNow(clk.now)
			_, body := h.authorize(authParams(postClient, newVerifier()).Encode())
			m := consentToken.FindStringSubmatch(body)
			require.Len(t, m, 2, body)

			resp := tt.submit(h, clk, m[1])
			resp.Body.Close()

			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"), "nothing sent to the client")
		})
	}
}

// postConsent submits the consent form with token and decision.
func (h *harness) postConsent(token, decision string) *http.Response {
	h.t.Helper()
	form := url.Values{"consent": {token}, "decision": {decision}}
	resp, err := h.http.Post(h.srv.Issuer()+"/consent", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(h.t, err)
	return resp
}

func TestBrowserDenyNeedsConsentPage(t *testing.T) {
	h := start(t, testConfig())
	authURL := h.srv.AuthURL() + "?" + authParams(postClient, newVerifier()).Encode()

	_, err := pkcetest.Browser{Client: h.srv.Client(), Deny: true}.Authorize(context.Background(), authURL)

	assert.ErrorContains(t, err, "Config.Consent")
}
