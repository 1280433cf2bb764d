package pkce_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// Error messages that name the next step, not only the fault.

func TestIssuerDifferingOnlyByTrailingSlashNamesTheTolerance(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":"%s/tenant/","authorization_endpoint":"%s/a","token_endpoint":"%s/t"}`, srv.URL, srv.URL, srv.URL)
	}))
	defer srv.Close()
	tests := []struct {
		name, issuer, want string
	}{
		{"an issuer published with a trailing slash it was not asked with", srv.URL + "/tenant", "tolerate.IssuerTrailingSlash"},
		{"an issuer that differs otherwise", srv.URL + "/other", "differs from the issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pkce.Discover(context.Background(), tt.issuer)
			require.ErrorIs(t, err, pkce.ErrIssuerMismatch)
			assert.ErrorContains(t, err, tt.want)
		})
	}
	_, err := pkce.Discover(context.Background(), srv.URL+"/other")
	assert.NotContains(t, err.Error(), "trailing slash", "only a trailing slash is named as one")
}

func TestFinishWithoutAFlowNamesTheLostSession(t *testing.T) {
	te := newTokenEndpoint(t, jsonResponse(200, goodBody))
	c := clientFor(t, te, testSecret)
	_, err := c.Finish(httptest.NewRequest(http.MethodGet, "/callback?state=s&code=c", nil), nil)
	require.ErrorIs(t, err, pkce.ErrInvalidFlow)
	assert.ErrorContains(t, err, "session")
	assert.ErrorContains(t, err, "cookie")
	assert.ErrorContains(t, err, "SameSite")
}

func TestDiscoveryFailingAtBothLocationsListsThemInOrder(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := pkce.Discover(context.Background(), srv.URL+"/tenant")
	require.Error(t, err)
	msg := err.Error()
	first := srv.URL + "/.well-known/oauth-authorization-server/tenant"
	second := srv.URL + "/tenant/.well-known/openid-configuration"
	require.Contains(t, msg, first)
	require.Contains(t, msg, second)
	assert.Less(t, strings.Index(msg, first), strings.Index(msg, second), "the locations in the order they were tried: %s", msg)
	assert.Equal(t, 1, strings.Count(msg, "pkce:"), "one prefix: %s", msg)
	assert.Equal(t, 1, strings.Count(msg, "RFC 8414 §3.2"), "the rule once: %s", msg)
	assert.Equal(t, 1, strings.Count(msg, first), "each location once: %s", msg)
}

func TestResponseBodyMessages(t *testing.T) {
	tests := []struct {
		name     string
		respond  http.HandlerFunc
		want     string
		unwanted string
	}{
		{"a body over the size bound names WithMaxResponseBytes", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"%s","token_type":"Bearer"}`, strings.Repeat("a", 600<<10))
		}, "WithMaxResponseBytes", ""},
		{"an empty 400 body is called empty, without an excerpt", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
		}, "an empty body", `0 bytes starting ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, tt.respond)
			_, _, err := exchange(t, clientFor(t, te, testSecret))
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.want)
			if tt.unwanted != "" {
				assert.NotContains(t, err.Error(), tt.unwanted)
			}
		})
	}
}
