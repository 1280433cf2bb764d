package protected_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/pkcetest"
)

// withResourceMetadata is a RoundTripper that answers the RFC 9728
// metadata request for resource itself, naming issuer, and sends every
// other request on: pkcetest's resource publishes no metadata of its own.
type withResourceMetadata struct {
	resource, issuer string
}

func (m withResourceMetadata) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/.well-known/oauth-protected-resource"+strings.TrimPrefix(m.resource, req.URL.Scheme+"://"+req.URL.Host) {
		body, _ := json.Marshal(map[string]any{"resource": m.resource, "authorization_servers": []string{m.issuer}})
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestTransportWithDPoPAndPrivateKeyJWT runs the Transport against
// pkcetest with the client options it gives every client it builds: a
// pre-registered private_key_jwt client (RFC 7523 §2.2) whose tokens are
// DPoP-bound (RFC 9449), with nonces at the token endpoint and at the
// resource, and a scope filter.
func TestTransportWithDPoPAndPrivateKeyJWT(t *testing.T) {
	srv := pkcetest.NewServer(pkcetest.Config{SendIssuer: true, DPoP: true, DPoPNonce: true,
		Clients: []pkcetest.Client{{ID: "app", Method: pkcetest.MethodPrivateKeyJWT, Key: &ecKey.PublicKey,
			RedirectURIs: []string{"http://127.0.0.1/callback"}}}})
	defer srv.Close()
	hc := &http.Client{Transport: withResourceMetadata{resource: srv.ResourceURL(), issuer: srv.Issuer()}}

	var filtered []string
	tr := &protected.Transport{
		SignIn:     protected.HeadlessSignIn(nil),
		HTTPClient: hc,
		PreRegistered: func(iss string) *protected.Registration {
			return &protected.Registration{Issuer: iss, ClientID: "app", AuthMethod: pkce.AuthPrivateKeyJWT}
		},
		Options: []pkce.Option{pkce.WithClientKey(ecKey, "", ""), pkce.WithDPoP(ec2Key)},
		FilterScopes: func(_ string, scopes []string) []string {
			filtered = scopes
			return []string{"openid"}
		},
	}
	api := &http.Client{Transport: tr}
	status, body := get(t, api, srv.ResourceURL())
	require.Equal(t, http.StatusOK, status, body)

	tokenReq := srv.LastTokenRequest()
	assert.Equal(t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", tokenReq.Form.Get("client_assertion_type"), "private_key_jwt at the token endpoint")
	assert.Empty(t, tokenReq.Authorization)
	assert.Equal(t, "openid", srv.LastAuthorizationRequest().Get("scope"), "the filter chose the scopes")
	assert.Empty(t, filtered, "the resource named no scopes")
	proof := srv.LastDPoPProofClaims()
	assert.Equal(t, "GET", proof["htm"], "the API got a DPoP proof")
	assert.Equal(t, srv.ResourceURL(), proof["htu"])
	assert.NotEmpty(t, proof["ath"], "bound to the access token")
	assert.NotEmpty(t, proof["nonce"])

	// The resource's nonce changes: the Transport answers use_dpop_nonce
	// with a new proof, without signing in again (RFC 9449 §9).
	refusals := srv.DPoPNonceRefusals()
	srv.RotateDPoPNonce()
	status, body = get(t, api, srv.ResourceURL())
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, refusals+1, srv.DPoPNonceRefusals(), "one refusal, then the proof with the new nonce")
}

func TestTransportFilterScopesPanicIsAnError(t *testing.T) {
	as := newDocServer(t)
	as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
	api := newDocServer(t)
	protectedAPI(api, as.URL, nil, []string{"read"})
	stub := &stubSignIn{}
	tr := &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered,
		FilterScopes: func(string, []string) []string { panic("filter bug") }}
	_, err := (&http.Client{Transport: tr}).Get(api.URL + "/mcp")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "FilterScopes panicked")
	assert.Empty(t, stub.ids)
}

func TestTransportRefusesOptionsThatChangeTheServerOrResource(t *testing.T) {
	// sameServer is the metadata of the server at issuer with another
	// authorization endpoint, where the person would sign in.
	sameServer := func(issuer string) *pkce.Metadata {
		return &pkce.Metadata{Issuer: issuer, AuthorizationEndpoint: "https://other.example/authorize",
			TokenEndpoint: issuer + "/token", CodeChallengeMethodsSupported: []string{"S256"}}
	}
	for name, opt := range map[string]func(issuer string) pkce.Option{
		"another issuer":   func(string) pkce.Option { return pkce.WithIssuer("https://other.example") },
		"another resource": func(string) pkce.Option { return pkce.WithResource("https://other.example/api") },
		"metadata of the same issuer and token endpoint with another authorization endpoint": func(issuer string) pkce.Option {
			return pkce.WithMetadata(sameServer(issuer))
		},
	} {
		t.Run(name, func(t *testing.T) {
			as := newDocServer(t)
			as.set("/.well-known/oauth-authorization-server", asMetadata(as.URL, nil))
			api := newDocServer(t)
			protectedAPI(api, as.URL, nil, nil)
			stub := &stubSignIn{}
			tr := &protected.Transport{SignIn: stub.signIn(t), PreRegistered: preRegistered, Options: []pkce.Option{opt(as.URL)}}
			_, err := (&http.Client{Transport: tr}).Get(api.URL + "/mcp")
			require.Error(t, err)
			assert.ErrorIs(t, err, pkce.ErrInvalidConfig)
			assert.Empty(t, stub.ids, "no sign-in with a client for something else")
		})
	}
}
