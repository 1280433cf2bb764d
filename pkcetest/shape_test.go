package pkcetest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
)

func TestTokenTemplate(t *testing.T) {
	h := start(t, pkcetest.Config{Clients: []pkcetest.Client{postClient}, Rotate: true})
	h.srv.SetFaults(pkcetest.Faults{TokenTemplate: `{"ok":true,"access_token":{{json .AccessToken}},"token_type":"bot",` +
		`{{if .RefreshToken}}"refresh_token":{{json .RefreshToken}},{{end}}"expires_in":"{{.ExpiresIn}}","scope":{{json .Scope}},` +
		`"authed_user":{"id":"U1","token_type":"user"}}`})

	res := h.tokens(postClient, "openid chat:write")
	assert.Equal(t, "application/json;charset=UTF-8", res.header.Get("Content-Type"))
	assert.Equal(t, true, res.body["ok"])
	assert.Equal(t, "bot", res.str("token_type"))
	assert.Equal(t, "3600", res.str("expires_in"), "the template decides the member's type")
	assert.Equal(t, "openid chat:write", res.str("scope"))
	assert.Equal(t, map[string]any{"id": "U1", "token_type": "user"}, res.body["authed_user"])
	require.NotEmpty(t, res.str("refresh_token"))

	refreshed := h.authenticated(postClient, refreshForm(res.str("refresh_token")))
	require.Equal(t, http.StatusOK, refreshed.status, refreshed.raw)
	assert.NotEqual(t, res.str("refresh_token"), refreshed.str("refresh_token"), "the templated refresh token is the one the server rotates")
	assert.Equal(t, http.StatusOK, h.userinfo(refreshed.str("access_token")).status,
		"the templated access token is the one the server honours")
}

func TestTokenTemplateWithSuccessStatus(t *testing.T) {
	h := start(t, testConfig())
	h.srv.SetFaults(pkcetest.Faults{TokenSuccessStatus: http.StatusCreated,
		TokenTemplate: `{"access_token":{{json .AccessToken}},"token_type":"Bearer"}`})
	v := newVerifier()
	res := h.authenticated(postClient, codeForm(h.code(authParams(postClient, v)), postClient.RedirectURIs[0], v))
	assert.Equal(t, http.StatusCreated, res.status)
	assert.NotEmpty(t, res.str("access_token"))
}

func TestTokenTemplateThatDoesNotParsePanics(t *testing.T) {
	h := start(t, testConfig())
	assert.PanicsWithValue(t, `pkcetest: Faults.TokenTemplate: template: TokenTemplate:1: function "nope" not defined`, func() {
		h.srv.SetFaults(pkcetest.Faults{TokenTemplate: `{{nope}}`})
	})
}

func TestFormEncodedUnlessJSONAccepted(t *testing.T) {
	for _, tt := range []struct {
		name     string
		accept   []string
		wantForm bool
	}{
		{name: "no Accept header", wantForm: true},
		{name: "Accept */*", accept: []string{"*/*"}, wantForm: true},
		{name: "Accept application/json", accept: []string{"application/json"}},
		{name: "Accept with JSON among others", accept: []string{"text/html, application/json;q=0.9"}},
		{name: "Accept JSON with quality 0", accept: []string{"application/json;q=0"}, wantForm: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig())
			h.srv.SetFaults(pkcetest.Faults{FormEncodedUnlessJSONAccepted: true, ErrorsAs200: true})
			v := newVerifier()
			form := codeForm(h.code(authParams(postClient, v)), postClient.RedirectURIs[0], v)
			form.Set("client_id", postClient.ID)
			form.Set("client_secret", postClient.Secret)
			accept := func(r *http.Request) {
				for _, a := range tt.accept {
					r.Header.Add("Accept", a)
				}
			}

			ok := h.post(form, accept)
			again := h.post(form, accept) // the code is spent: an error, sent with 200

			for _, res := range []tokenResult{ok, again} {
				assert.Equal(t, http.StatusOK, res.status)
				if tt.wantForm {
					assert.Equal(t, "application/x-www-form-urlencoded; charset=utf-8", res.header.Get("Content-Type"))
					assert.Nil(t, res.body, "not JSON: %s", res.raw)
				} else {
					assert.Equal(t, "application/json;charset=UTF-8", res.header.Get("Content-Type"))
					assert.NotNil(t, res.body, res.raw)
				}
			}
			values := func(res tokenResult) url.Values {
				if tt.wantForm {
					v, err := url.ParseQuery(res.raw)
					require.NoError(t, err)
					return v
				}
				v := url.Values{}
				for k, x := range res.body {
					if s, ok := x.(string); ok {
						v.Set(k, s)
					}
				}
				return v
			}
			assert.NotEmpty(t, values(ok).Get("access_token"))
			assert.Equal(t, "invalid_grant", values(again).Get("error"))
		})
	}
}
