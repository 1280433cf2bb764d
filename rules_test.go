package pkce_test

import (
	"errors"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/servercheck"
)

// oneRule is one section of one document: what an error's Rule must hold.
var oneRule = regexp.MustCompile(`^(RFC \d+ §\d+(\.\d+)*|MCP \d{4}-\d{2}-\d{2} [A-Z][A-Za-z ]+)$`)

func TestErrorsNameOneRulePerValue(t *testing.T) {
	tests := []struct {
		name   string
		answer http.HandlerFunc
		rule   string
		also   []string
	}{
		{name: "RFC 6749 §5.2: an error object is an *OAuthError with its rule",
			answer: jsonResponse(400, `{"error":"invalid_grant"}`), rule: "RFC 6749 §5.2"},
		{name: "RFC 6749 §5.1 and §5.2: a redirect breaks both, as two values",
			answer: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example/token", http.StatusFound)
			}, rule: "RFC 6749 §5.1", also: []string{"RFC 6749 §5.2"}},
		{name: "RFC 6749 §5.1: a success without token_type",
			answer: jsonResponse(200, `{"access_token":"at-1234567890"}`), rule: "RFC 6749 §5.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTokenEndpoint(t, tt.answer)
			_, _, err := exchange(t, clientFor(t, te, testSecret))
			require.Error(t, err)
			want := append([]string{tt.rule}, tt.also...)
			assert.Equal(t, want, servercheck.RulesOf(err))
			for _, r := range servercheck.RulesOf(err) {
				assert.Regexp(t, oneRule, string(r))
			}
			var oe *pkce.OAuthError
			var re *pkce.ResponseError
			switch {
			case errors.As(err, &oe):
				assert.Equal(t, tt.rule, oe.Rule)
				assert.Empty(t, tt.also)
			case errors.As(err, &re):
				assert.Equal(t, tt.rule, re.Rule)
				assert.Equal(t, tt.also, re.Also)
			default:
				t.Fatalf("neither an *OAuthError nor a *ResponseError: %v", err)
			}
			assert.ErrorContains(t, err, string(tt.rule))
		})
	}
}
