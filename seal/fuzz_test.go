package seal_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/seal"
)

// FuzzOpenFlow feeds OpenFlow cookie values as a browser (or an attacker
// behind one) may send them: no value makes it panic, and none that the
// keys did not seal opens. The seeds include a genuine sealed flow and
// near misses of it.
func FuzzOpenFlow(f *testing.F) {
	keys := newKeys(f, newKey("1"))
	srv := authServer(f)
	flow, err := oauthClient(f, srv).Start(f.Context())
	require.NoError(f, err)
	c, err := keys.FlowCookie("login", flow)
	require.NoError(f, err)
	f.Add(c.Value)
	f.Add(c.Value[:len(c.Value)/2])
	f.Add(c.Value + "A")
	f.Add("")
	f.Add("AQ")
	f.Add("%00")
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodGet, "/callback", nil)
		r.AddCookie(&http.Cookie{Name: "login", Value: value})
		got, err := keys.OpenFlow(r, "login")
		if value == c.Value {
			require.NoError(t, err)
			assert.Equal(t, flow.State, got.State)
			return
		}
		if err == nil {
			// Only the genuine value, or one that differs in base64
			// padding bits it does not use, may open, and then to the
			// same flow.
			assert.Equal(t, flow.State, got.State, "a value the keys did not seal opened")
			return
		}
		assert.True(t, errors.Is(err, seal.ErrTampered) || errors.Is(err, seal.ErrUnknownKey) || errors.Is(err, http.ErrNoCookie),
			"an unexpected error: %v", err)
	})
}
