package pkce_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// TestRedaction formats every value that holds a secret in every way a
// program might print or log it, and looks for the secrets in the output.
func TestRedaction(t *testing.T) {
	const (
		secret       = "client-secret-3f9a"
		accessToken  = "access-token-77c1"
		refreshToken = "refresh-token-0b2e"
		idToken      = "id.token.5d4f"
	)
	body := fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":60,"refresh_token":%q,"id_token":%q}`, accessToken, refreshToken, idToken)
	var echo bool // when set, the server echoes what it was sent in its errors
	var te *tokenEndpoint
	te = newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if echo {
			sent := te.last(t)
			user, pass, _ := r.BasicAuth()
			desc := fmt.Sprintf("bad code %s, verifier %s, refresh %s, client %s:%s, header %s",
				sent.form.Get("code"), sent.form.Get("code_verifier"), sent.form.Get("refresh_token"), user, pass, r.Header.Get("Authorization"))
			jsonResponse(400, fmt.Sprintf(`{"error":"invalid_grant","error_description":%q}`, desc))(w, r)
			return
		}
		jsonResponse(200, body)(w, r)
	})
	client := clientFor(t, te, secret)
	flow, err := client.Start()
	require.NoError(t, err)
	tok, err := client.Exchange(context.Background(), flow, testCode)
	require.NoError(t, err)
	source := client.TokenSource(tok.Token)

	echo = true
	exchangeErr := func() error {
		f, err := client.Start()
		require.NoError(t, err)
		_, err = client.Exchange(context.Background(), f, testCode)
		require.Error(t, err)
		return err
	}()
	refreshErr := func() error {
		_, err := client.Refresh(context.Background(), refreshToken)
		require.Error(t, err)
		return err
	}()
	var retrieve *oauth2.RetrieveError
	require.True(t, errors.As(exchangeErr, &retrieve))

	secrets := map[string]string{
		"client secret":       secret,
		"form-encoded secret": url.QueryEscape(secret),
		"Basic credentials":   base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("app id") + ":" + url.QueryEscape(secret))),
		"access token":        accessToken,
		"refresh token":       refreshToken,
		"id token":            idToken,
		"verifier":            flow.Verifier.Reveal(),
		"state":               flow.State,
		"authorization code":  testCode,
	}
	values := map[string]any{
		"*Client":               client,
		"Flow":                  *flow,
		"*Flow":                 flow,
		"Verifier":              flow.Verifier,
		"Token":                 *tok,
		"*Token":                tok,
		"*TokenSource":          source,
		"exchange error":        exchangeErr,
		"refresh error":         refreshErr,
		"*oauth2.RetrieveError": retrieve,
		"its response":          retrieve.Response,
		"its request":           retrieve.Response.Request,
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var outputs []string
			for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
				outputs = append(outputs, fmt.Sprintf(format, v))
			}
			if s, ok := v.(fmt.Stringer); ok {
				outputs = append(outputs, s.String())
			}
			if e, ok := v.(error); ok {
				outputs = append(outputs, e.Error())
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("value", "v", v)
			slog.New(slog.NewTextHandler(&buf, nil)).Info("value", "v", v)
			outputs = append(outputs, buf.String())

			for _, out := range outputs {
				for what, s := range secrets {
					assert.NotContains(t, out, s, "%s leaks the %s", name, what)
				}
			}
		})
	}

}
