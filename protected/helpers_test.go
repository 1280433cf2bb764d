package protected_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
)

// Keys of the tests: the client's private_key_jwt key and its DPoP key.
var (
	ecKey, _  = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2Key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// noAnswer reports the error of a request that got no complete answer
// (the connection failed, or the context ended first): none of package
// pkce's answer types, and a message that says so.
func noAnswer(err error) bool {
	var re *pkce.ResponseError
	var oe *pkce.OAuthError
	return err != nil && !errors.As(err, &re) && !errors.As(err, &oe) &&
		strings.HasPrefix(err.Error(), "pkce: request to the ")
}

// get GETs u and returns the status and body.
func get(t *testing.T, hc *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := hc.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
