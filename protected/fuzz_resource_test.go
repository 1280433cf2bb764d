package protected_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pkcekit/pkce/protected"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// fuzzServer answers every request with status, contentType and body.
func fuzzServer(status int, contentType string, body []byte) context.Context {
	transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
	})
	return context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: transport})
}

// FuzzResourceMetadata feeds protected resource metadata documents, as a
// resource serves them (RFC 9728 §3.2), to FetchResourceMetadata: it must
// not panic, must fail with the package's error types, and what it accepts
// must name the resource asked about and at least one https issuer.
func FuzzResourceMetadata(f *testing.F) {
	for _, seed := range []struct {
		status int
		ct     string
		body   string
	}{
		{200, "application/json", `{"resource":"https://api.example/mcp","authorization_servers":["https://as.example"]}`},
		{200, "application/json", `{"resource":"https://api.example","authorization_servers":["https://as.example"],"scopes_supported":["read"]}`},
		{200, "application/json", `{"resource":"https://evil.example/mcp","authorization_servers":["https://as.example"]}`},
		{200, "application/json", `{"resource":"https://api.example/mcp","authorization_servers":[]}`},
		{200, "application/json", `{"resource":"https://api.example/mcp","authorization_servers":["http://as.example"]}`},
		{200, "application/json", `{"resource":"https://api.example/mcp","RESOURCE":"https://evil.example","authorization_servers":["https://as.example"]}`},
		{200, "application/json", `{"resource":"https://api.example/mcpx","authorization_servers":["https://as.example"]}`},
		{200, "text/html", `<html>login</html>`},
		{401, "application/json", `{"error":"unauthorized"}`},
		{200, "application/json", `[]`},
	} {
		f.Add(seed.status, seed.ct, []byte(seed.body))
	}
	const resource = "https://api.example/mcp"
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		status = 200 + int(math.Abs(float64(status%800)))
		rm, err := protected.FetchResourceMetadata(fuzzServer(status, contentType, body), resource, "")
		if err != nil {
			var respErr *pkce.ResponseError
			if !errors.As(err, &respErr) && !noAnswer(err) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		u, err := url.Parse(rm.Resource)
		if err != nil || u.Scheme != "https" || u.Host != "api.example" ||
			!(u.Path == "" || u.Path == "/" || u.Path == "/mcp") {
			t.Fatalf("accepted resource %q for %q", rm.Resource, resource)
		}
		if len(rm.AuthorizationServers) == 0 {
			t.Fatal("accepted metadata without authorization servers")
		}
		for _, as := range rm.AuthorizationServers {
			if !strings.HasPrefix(as, "https://") {
				t.Fatalf("accepted issuer %q", as)
			}
		}
	})
}

// FuzzRegistration feeds dynamic client registration answers (RFC 7591
// §3.2) to Register: it must not panic, must fail with the package's
// error types, and what it accepts must carry a client_id and be bound to
// the server it came from.
func FuzzRegistration(f *testing.F) {
	for _, seed := range []struct {
		status int
		ct     string
		body   string
	}{
		{201, "application/json", `{"client_id":"c1","token_endpoint_auth_method":"none"}`},
		{201, "application/json", `{"client_id":"c1","client_secret":"s3cret-value","token_endpoint_auth_method":"client_secret_basic","client_secret_expires_at":0}`},
		{201, "application/json", `{"client_id":"c1","token_endpoint_auth_method":"client_secret_post"}`},
		{201, "application/json", `{"client_id":"","token_endpoint_auth_method":"none"}`},
		{201, "application/json", `{"client_id":"c1","CLIENT_ID":"c2"}`},
		{200, "application/json", `{"client_id":"c1"}`},
		{400, "application/json", `{"error":"invalid_redirect_uri","error_description":"no"}`},
		{201, "text/html", `<html></html>`},
		{201, "application/json", `{"client_id":"c1","client_secret_expires_at":"soon"}`},
	} {
		f.Add(seed.status, seed.ct, []byte(seed.body))
	}
	md := &pkce.Metadata{Issuer: "https://as.example", AuthorizationEndpoint: "https://as.example/a",
		TokenEndpoint: "https://as.example/t", RegistrationEndpoint: "https://as.example/register"}
	cm := protected.ClientMetadata{RedirectURIs: []string{"http://127.0.0.1/callback"}, TokenEndpointAuthMethod: pkce.AuthNone,
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, ApplicationType: "native"}
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		status = 200 + int(math.Abs(float64(status%800)))
		reg, err := protected.Register(fuzzServer(status, contentType, body), md, cm)
		if err != nil {
			var respErr *pkce.ResponseError
			var oauthErr *pkce.OAuthError
			if !errors.As(err, &respErr) && !noAnswer(err) && !errors.As(err, &oauthErr) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if strings.Contains(err.Error(), "s3cret-value") {
				t.Fatal("an issued secret reached an error")
			}
			return
		}
		if status != http.StatusCreated || reg.ClientID == "" || reg.Issuer != md.Issuer {
			t.Fatalf("accepted status %d, client_id %q, issuer %q", status, reg.ClientID, reg.Issuer)
		}
	})
}
