package pkcetest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

func TestAuthorizeFaults(t *testing.T) {
	tests := []struct {
		name       string
		sendIssuer bool
		faults     pkcetest.Faults
		edit       func(url.Values)
		wantIss    string // "" for no iss; "issuer" for the real one
		wantError  string
	}{
		{name: "IssuerOverride sends iss without SendIssuer", faults: pkcetest.Faults{IssuerOverride: "https://evil.example"},
			wantIss: "https://evil.example"},
		{name: "IssuerOverride replaces the real issuer", sendIssuer: true, faults: pkcetest.Faults{IssuerOverride: "https://evil.example"},
			wantIss: "https://evil.example"},
		{name: "OmitIssuer drops iss despite SendIssuer", sendIssuer: true, faults: pkcetest.Faults{OmitIssuer: true}},
		{name: "OmitIssuer wins over IssuerOverride", faults: pkcetest.Faults{OmitIssuer: true, IssuerOverride: "https://evil.example"}},
		{name: "AuthorizeError redirects with the error", sendIssuer: true, faults: pkcetest.Faults{AuthorizeError: "access_denied"},
			wantIss: "issuer", wantError: "access_denied"},
		{name: "AuthorizeError after request validation", faults: pkcetest.Faults{AuthorizeError: "access_denied"},
			edit: func(q url.Values) { q.Del("code_challenge") }, wantError: "invalid_request"},
		{name: "IssuerOverride on error responses", faults: pkcetest.Faults{IssuerOverride: "https://evil.example", AuthorizeError: "server_error"},
			wantIss: "https://evil.example", wantError: "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.SendIssuer = tt.sendIssuer
			h := start(t, cfg)
			h.srv.SetFaults(tt.faults)
			params := authParams(postClient, newVerifier())
			if tt.edit != nil {
				tt.edit(params)
			}

			resp, _ := h.authorize(params.Encode())
			q := h.redirected(resp).Query()

			wantIss := tt.wantIss
			if wantIss == "issuer" {
				wantIss = h.srv.Issuer()
			}
			assert.Equal(t, wantIss != "", q.Has("iss"))
			assert.Equal(t, wantIss, q.Get("iss"))
			assert.Equal(t, "xyz-state", q.Get("state"))
			assert.Equal(t, tt.wantError, q.Get("error"))
			assert.Equal(t, tt.wantError == "", q.Has("code"))
		})
	}
}

func TestTokenErrorFaults(t *testing.T) {
	tests := []struct {
		name      string
		faults    pkcetest.Faults
		wantCode  int
		wantType  string
		wantError string
	}{
		{name: "TokenStatus 500", faults: pkcetest.Faults{TokenStatus: 500},
			wantCode: 500, wantType: "application/json;charset=UTF-8", wantError: "server_error"},
		{name: "TokenStatus 503 is temporarily_unavailable", faults: pkcetest.Faults{TokenStatus: 503},
			wantCode: 503, wantType: "application/json;charset=UTF-8", wantError: "temporarily_unavailable"},
		{name: "HTMLBody", faults: pkcetest.Faults{HTMLBody: true},
			wantCode: 502, wantType: "text/html; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			v := newVerifier()
			form := codeForm(h.code(authParams(publicClient, v)), publicClient.RedirectURIs[0], v)
			h.srv.SetFaults(tt.faults)

			for range 3 { // every request while set
				res := h.authenticated(publicClient, form)

				assert.Equal(t, tt.wantCode, res.status)
				assert.Equal(t, tt.wantType, res.header.Get("Content-Type"))
				assert.Equal(t, tt.wantError, res.str("error"))
			}
			assert.Equal(t, 3, h.srv.TokenRequests(), "faulted requests count")

			h.srv.SetFaults(pkcetest.Faults{})
			res := h.authenticated(publicClient, form)
			assert.Equal(t, http.StatusOK, res.status, "the code was left unused: %s", res.raw)
		})
	}
}

func TestTokenStatusTimes(t *testing.T) {
	h := start(t, testConfig())
	rt := h.tokens(postClient, "profile").str("refresh_token")
	h.srv.SetFaults(pkcetest.Faults{TokenStatus: http.StatusServiceUnavailable, TokenStatusTimes: 2})

	var got []int
	for range 4 {
		got = append(got, h.authenticated(postClient, refreshForm(rt)).status)
	}

	assert.Equal(t, []int{503, 503, 200, 200}, got)
	assert.Equal(t, 4, h.srv.RefreshRequests())

	h.srv.SetFaults(pkcetest.Faults{TokenStatus: http.StatusInternalServerError, TokenStatusTimes: 1})
	assert.Equal(t, 500, h.authenticated(postClient, refreshForm(rt)).status, "SetFaults restarts the count")
	assert.Equal(t, 200, h.authenticated(postClient, refreshForm(rt)).status)
}

func TestTokenShapeFaults(t *testing.T) {
	minus5, zero := -5, 0
	tests := []struct {
		name   string
		faults pkcetest.Faults
		check  func(t *testing.T, res tokenResult)
	}{
		{"OmitTokenType", pkcetest.Faults{OmitTokenType: true}, func(t *testing.T, res tokenResult) {
			assert.NotContains(t, res.body, "token_type")
		}},
		{"TokenType lower case", pkcetest.Faults{TokenType: "bearer"}, func(t *testing.T, res tokenResult) {
			assert.Equal(t, "bearer", res.body["token_type"])
		}},
		{"TokenType DPoP", pkcetest.Faults{TokenType: "DPoP"}, func(t *testing.T, res tokenResult) {
			assert.Equal(t, "DPoP", res.body["token_type"])
		}},
		{"ExpiresInString", pkcetest.Faults{ExpiresInString: true}, func(t *testing.T, res tokenResult) {
			assert.Equal(t, "3600", res.body["expires_in"])
		}},
		{"ExpiresIn negative", pkcetest.Faults{ExpiresIn: &minus5}, func(t *testing.T, res tokenResult) {
			assert.Equal(t, float64(-5), res.body["expires_in"])
		}},
		{"ExpiresIn zero as string", pkcetest.Faults{ExpiresIn: &zero, ExpiresInString: true}, func(t *testing.T, res tokenResult) {
			assert.Equal(t, "0", res.body["expires_in"])
		}},
		{"OmitRefreshToken", pkcetest.Faults{OmitRefreshToken: true}, func(t *testing.T, res tokenResult) {
			assert.NotContains(t, res.body, "refresh_token")
			assert.NotEmpty(t, res.str("access_token"))
		}},
		{"OversizeBody", pkcetest.Faults{OversizeBody: 1 << 20}, func(t *testing.T, res tokenResult) {
			assert.GreaterOrEqual(t, len(res.raw), 1<<20)
			assert.NotEmpty(t, res.str("access_token"), "still a valid token response")
		}},
		{"OversizeBody smaller than the response", pkcetest.Faults{OversizeBody: 10}, func(t *testing.T, res tokenResult) {
			assert.NotContains(t, res.body, "padding")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			h.srv.SetFaults(tt.faults)

			res := h.tokens(publicClient, "profile")

			assert.Equal(t, "application/json;charset=UTF-8", res.header.Get("Content-Type"))
			tt.check(t, res)
		})
	}
}

func TestOmitRefreshTokenKeepsServerState(t *testing.T) {
	cfg := testConfig()
	cfg.Rotate = true
	h := start(t, cfg)
	rt := h.tokens(postClient, "profile").str("refresh_token")
	h.srv.SetFaults(pkcetest.Faults{OmitRefreshToken: true})

	res := h.authenticated(postClient, refreshForm(rt))
	require.Equal(t, http.StatusOK, res.status, res.raw)
	assert.NotContains(t, res.body, "refresh_token")

	h.srv.SetFaults(pkcetest.Faults{})
	res = h.authenticated(postClient, refreshForm(rt))
	assertTokenError(t, res, http.StatusBadRequest, "invalid_grant")
}

func TestSetFaultsCopiesItsArgument(t *testing.T) {
	h := start(t, testConfig())
	n := 10
	raw := &pkcetest.RawResponse{Body: "{}", Header: http.Header{"X-Fault": {"a"}}}
	h.srv.SetFaults(pkcetest.Faults{ExpiresIn: &n})
	n = 20

	assert.Equal(t, float64(10), h.tokens(publicClient, "profile").body["expires_in"])

	h.srv.SetFaults(pkcetest.Faults{Raw: raw})
	raw.Body = "changed"
	raw.Header.Set("X-Fault", "b")
	res := h.post(url.Values{}, nil)
	assert.Equal(t, "{}", res.raw)
	assert.Equal(t, "a", res.header.Get("X-Fault"))
}

func TestRawFault(t *testing.T) {
	tests := []struct {
		name       string
		raw        pkcetest.RawResponse
		wantStatus int
		wantType   []string
	}{
		{name: "status, type, body and headers as given",
			raw:        pkcetest.RawResponse{Status: 201, ContentType: "text/plain", Body: `access_token=x&token_type=bearer`, Header: http.Header{"X-Fault": {"raw"}}},
			wantStatus: 201, wantType: []string{"text/plain"}},
		{name: "zero status is 200",
			raw:        pkcetest.RawResponse{ContentType: "application/json", Body: `{"access_token":"x"}`},
			wantStatus: 200, wantType: []string{"application/json"}},
		{name: "no content type is sent when none is given",
			raw:        pkcetest.RawResponse{Status: 200, Body: `{"access_token":"x","token_type":"Bearer"}`},
			wantStatus: 200, wantType: nil},
		{name: "content type from Header",
			raw:        pkcetest.RawResponse{Status: 400, Body: `{"error":"invalid_grant"}`, Header: http.Header{"Content-Type": {"application/problem+json"}}},
			wantStatus: 400, wantType: []string{"application/problem+json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			h.srv.SetFaults(pkcetest.Faults{Raw: &tt.raw})

			res := h.post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"any"}}, nil)

			assert.Equal(t, tt.wantStatus, res.status)
			assert.Equal(t, tt.wantType, res.header.Values("Content-Type"))
			assert.Equal(t, tt.raw.Body, res.raw)
			for k := range tt.raw.Header {
				assert.Equal(t, tt.raw.Header.Values(k), res.header.Values(k))
			}
			assert.Equal(t, 1, h.srv.TokenRequests())
			assert.Equal(t, 1, h.srv.RefreshRequests())
		})
	}
}

func TestDelayFault(t *testing.T) {
	h := start(t, testConfig())
	const delay = 20 * time.Millisecond
	h.srv.SetFaults(pkcetest.Faults{Delay: delay})

	began := time.Now()
	res := h.tokens(publicClient, "profile")

	assert.NotEmpty(t, res.str("access_token"), "answers normally after the delay")
	assert.GreaterOrEqual(t, time.Since(began), delay)
}

// TestHeldTokenRequests checks that Delay and Hang hold a token request
// until the client gives up or the server is closed.
func TestHeldTokenRequests(t *testing.T) {
	tests := []struct {
		name    string
		faults  pkcetest.Faults
		release func(h *harness, cancel context.CancelFunc)
		wantErr error
	}{
		{"Delay ends early when the request context ends", pkcetest.Faults{Delay: time.Hour},
			func(_ *harness, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"Hang ends when the request context ends", pkcetest.Faults{Hang: true},
			func(_ *harness, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"Hang ends without an answer when the server closes", pkcetest.Faults{Hang: true},
			func(h *harness, _ context.CancelFunc) { h.srv.Close() }, nil},
		{"Delay ends without an answer when the server closes", pkcetest.Faults{Delay: time.Hour},
			func(h *harness, _ context.CancelFunc) { h.srv.Close() }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			h.srv.SetFaults(tt.faults)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.TokenURL(),
				strings.NewReader(refreshForm("any").Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			done := make(chan error, 1)
			go func() {
				resp, err := h.http.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()

			require.Eventually(t, func() bool { return h.srv.TokenRequests() == 1 },
				10*time.Second, time.Millisecond, "the request reaches the server")
			select {
			case err := <-done:
				require.Fail(t, "answered while held", "error: %v", err)
			default:
			}
			tt.release(h, cancel)
			err = <-done

			require.Error(t, err, "no answer")
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
		})
	}
}

// TestAnswerDelayServesOnArrival checks that AnswerDelay rotates a
// refresh token when the request arrives: a client that gives up before
// the answer has lost the new one, and the old one is spent.
func TestAnswerDelayServesOnArrival(t *testing.T) {
	cfg := testConfig()
	cfg.Rotate = true
	h := start(t, cfg)
	old := h.tokens(publicClient, "profile").str("refresh_token")
	h.srv.SetFaults(pkcetest.Faults{AnswerDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	form := refreshForm(old)
	form.Set("client_id", publicClient.ID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.TokenURL(), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	done := make(chan error, 1)
	go func() {
		resp, err := h.http.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return h.srv.RefreshRequests() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	require.Error(t, <-done, "no answer")

	h.srv.SetFaults(pkcetest.Faults{})
	again := h.post(form, nil)
	assert.Equal(t, "invalid_grant", again.str("error"), "the refresh token was rotated on arrival: %s", again.raw)
}
