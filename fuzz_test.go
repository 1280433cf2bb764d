package pkce_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// The fuzz targets cover everything the package reads from outside: the
// redirect back from the authorization server, token responses, verifiers,
// and stored flows. Each asserts properties of what it accepts and rejects,
// not only that nothing panics. Run one with, for example:
//
//	go test -run '^$' -fuzz '^FuzzVerifyCallback$' -fuzztime 2m

func FuzzParseVerifier(f *testing.F) {
	for _, seed := range []string{
		"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
		strings.Repeat("~", 128), strings.Repeat("a", 42), strings.Repeat("a", 129),
		"", "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk", strings.Repeat("é", 30),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := pkce.ParseVerifier(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pkce: invalid code verifier: ") {
				t.Fatalf("unexplained error %v", err)
			}
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error quotes the verifier: %v", err)
			}
			return
		}
		if len(s) < 43 || len(s) > 128 {
			t.Fatalf("accepted a verifier of %d characters", len(s))
		}
		for _, c := range []byte(s) {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", rune(c)) {
				t.Fatalf("accepted character %q", c)
			}
		}
		sum := sha256.Sum256([]byte(s))
		if v.Reveal() != s || v.Challenge() != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Fatal("challenge does not match the verifier")
		}
		if strings.Contains(fmt.Sprintf("%v %+v %#v", v, v, v), s) {
			t.Fatal("verifier printed")
		}
	})
}

// In FuzzVerifyCallback inputs, STATE stands for the flow's real state, so
// that the fuzzer reaches the checks behind the state comparison.
const fuzzIssuer = "https://as.example"

// fuzzSecret and the code and verifier of each exchange are what the
// token-response target looks for in errors; {secret}, {code} and
// {verifier} in a body stand for them.
const fuzzSecret = "fuzz-client-secret"

// tokenMembers are the members of RFC 6749 §5.1 and §5.2 and OpenID
// Connect's id_token, whose names are exact.
var tokenMembers = []string{"access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token",
	"error", "error_description", "error_uri"}

// caseCollision returns a member name of m that differs from one of known
// only in case, as encoding/json (and strings.EqualFold) fold it, or "".
func caseCollision(m map[string]any, known []string) string {
	for key := range m {
		for _, k := range known {
			if key != k && strings.EqualFold(key, k) {
				return key
			}
		}
	}
	return ""
}

func FuzzTokenResponse(f *testing.F) {
	for _, seed := range []struct {
		status int
		ct     string
		body   string
	}{
		{200, "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}`},
		{200, "application/json; charset=utf-8", `{"access_token":"a","token_type":"bearer","expires_in":"60"}`},
		{200, "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":-1}`},
		{200, "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":1e400}`},
		{200, "application/json", `{"access_token":"a","token_type":"mac"}`},
		{200, "application/json", `{"access_token":"{code}","token_type":"Bearer","expires_in":3600.5}`},
		{200, "text/html", `{"access_token":"a","token_type":"Bearer"}`},
		{200, "application/json", `[1,2]`},
		{200, "application/json", `{"error":"invalid_grant","error_description":"{secret} {code} {verifier}"}`},
		{400, "application/json", `{"error":"invalid_client","error_description":"secret {secret} is wrong"}`},
		{400, "text/html", `<html><body>{verifier}</body></html>`},
		{502, "", ``},
		{302, "text/plain", `moved`},
		{200, "application/x-www-form-urlencoded", `access_token=a&token_type=Bearer`},
		// v1: exactly 200, and member names that are exact (also in
		// testdata/fuzz/FuzzTokenResponse).
		{201, "application/json", `{"access_token":"a","token_type":"Bearer"}`},
		{200, "application/json", `{"access_token":"AT","token_type":"Bearer","TOKEN_TYPE":"DPoP"}`},
		{200, "application/json", `{"access_token":"checked","Access_Token":"used","token_type":"Bearer"}`},
		{200, "application/json", `{"access_token":"a","token_type":"Bearer","access_token":"b"}`},
		{400, "application/json", `{"error":"invalid_grant","ERROR":"invalid_client"}`},
	} {
		f.Add(seed.status, seed.ct, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		status = 100 + int(math.Abs(float64(status%900)))
		if status < 200 {
			status += 100 // 1xx are interim responses, never final ones
		}
		var sent []byte
		transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			form, _ := io.ReadAll(r.Body)
			vals, _ := url.ParseQuery(string(form))
			b := bytes.ReplaceAll(body, []byte("{secret}"), []byte(fuzzSecret))
			b = bytes.ReplaceAll(b, []byte("{code}"), []byte(vals.Get("code")))
			b = bytes.ReplaceAll(b, []byte("{verifier}"), []byte(vals.Get("code_verifier")))
			sent = b
			h := http.Header{}
			if contentType != "" {
				h.Set("Content-Type", contentType)
			}
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(b)), Request: r}, nil
		})
		client, err := pkce.New(&oauth2.Config{
			ClientID:     "app",
			ClientSecret: fuzzSecret,
			Endpoint:     oauth2.Endpoint{AuthURL: fuzzIssuer + "/authorize", TokenURL: fuzzIssuer + "/token"},
			RedirectURL:  "https://app.example/callback",
		}, pkce.WithHTTPClient(&http.Client{Transport: transport}), pkce.WithMaxResponseBytes(4096))
		if err != nil {
			t.Fatal(err)
		}
		flow, err := client.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		verifier := flowJSON(t, flow)["verifier"].(string)
		const code = "fuzz-authorization-code"
		tok, err := client.Exchange(context.Background(), flow, code)
		if err == nil {
			if status != http.StatusOK {
				t.Fatalf("accepted status %d; RFC 6749 §5.1 says 200", status)
			}
			if len(sent) > 4096 {
				t.Fatalf("accepted a body of %d bytes", len(sent))
			}
			// Decode the body independently: the token must be made of
			// exactly the members with the exact names.
			dec := json.NewDecoder(bytes.NewReader(sent))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("accepted a body that is not a JSON object: %v", err)
			}
			if key := caseCollision(m, tokenMembers); key != "" {
				t.Fatalf("accepted a body with member %q, which differs from a defined name only in case", key)
			}
			at, _ := m["access_token"].(string)
			tt, _ := m["token_type"].(string)
			if tok.AccessToken == "" || tok.AccessToken != at {
				t.Fatalf("the access token is not exactly the access_token member")
			}
			if tok.TokenType != tt || !strings.EqualFold(tt, "bearer") {
				t.Fatalf("token type %q, token_type member %q", tok.TokenType, tt)
			}
			if rt, _ := m["refresh_token"].(string); tok.RefreshToken != rt {
				t.Fatalf("the refresh token is not exactly the refresh_token member")
			}
			switch {
			case tok.ExpiresIn < 0 || tok.ExpiresIn > math.MaxInt32:
				t.Fatalf("accepted expires_in %d", tok.ExpiresIn)
			case m["expires_in"] == nil && (tok.ExpiresIn != 0 || !tok.Expiry.IsZero()):
				t.Fatalf("an expiry without an expires_in member")
			case (tok.ExpiresIn > 0) == tok.Expiry.IsZero():
				t.Fatalf("expires_in %d with expiry %v", tok.ExpiresIn, tok.Expiry)
			}
			if _, hasError := m["error"]; hasError && str(m["error"]) != "" {
				t.Fatal("accepted a response with an error member")
			}
			return
		}
		var tokErr *pkce.OAuthError
		var respErr *pkce.ResponseError
		if !errors.As(err, &tokErr) && !errors.As(err, &respErr) && !noAnswer(err) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		if tokErr != nil && tokErr.Op != "code exchange" {
			t.Fatalf("an OAuthError of %s from a code exchange", tokErr.Op)
		}
		for _, out := range []string{err.Error(), fmt.Sprintf("%+v", err)} {
			for _, secret := range []string{fuzzSecret, code, verifier} {
				if strings.Contains(out, secret) {
					t.Fatalf("error carries a secret: %v", out)
				}
			}
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			if re.Response != nil && re.Response.Request != nil && len(re.Response.Request.Header) != 0 {
				t.Fatal("RetrieveError hands out the request's headers")
			}
			for _, secret := range []string{fuzzSecret, code, verifier} {
				if strings.Contains(string(re.Body), secret) || strings.Contains(re.Error(), secret) {
					t.Fatalf("RetrieveError carries a secret: %v", re)
				}
			}
		}
	})
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func FuzzFlowJSON(f *testing.F) {
	client, err := pkce.New(&oauth2.Config{
		ClientID:    "app",
		Endpoint:    oauth2.Endpoint{AuthURL: fuzzIssuer + "/authorize", TokenURL: fuzzIssuer + "/token"},
		RedirectURL: "https://app.example/callback",
	})
	if err != nil {
		f.Fatal(err)
	}
	flow, err := client.Start(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	stored, err := json.Marshal(flow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(stored)
	f.Add(bytes.Replace(stored, []byte(`"expires":"`), []byte(`"expires":"9999`), 1))
	f.Add(bytes.Replace(stored, []byte(`https://app.example/callback`), []byte(`http://evil.example/cb`), 1))
	f.Add(bytes.Replace(stored, []byte(`"redirect_url":"https://app.example/callback"`), []byte(`"redirect_url":"https://evil.example/cb","redirect_given":true`), 1))
	f.Add(bytes.Replace(stored, []byte(`https://app.example/callback`), []byte(`https://evil.example/cb`), 1))
	f.Add([]byte(`{"state":"s","verifier":"short","redirect_url":"https://app.example/cb"}`))
	f.Add([]byte(`{"state":"s","verifier":null,"expires":"not a time"}`))
	f.Add([]byte(`{"url":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got pkce.Flow
		if err := json.Unmarshal(data, &got); err != nil {
			return
		}
		// What the stored form says, read independently.
		var j struct {
			State         string    `json:"state"`
			Verifier      string    `json:"verifier"`
			RedirectURL   string    `json:"redirect_url"`
			RedirectGiven bool      `json:"redirect_given"`
			Issuer        string    `json:"issuer"`
			Created       time.Time `json:"created"`
			Expires       time.Time `json:"expires"`
		}
		if err := json.Unmarshal(data, &j); err != nil {
			t.Fatalf("a flow loaded from JSON that does not decode: %v", err)
		}
		if _, err := pkce.ParseVerifier(j.Verifier); err != nil {
			t.Fatalf("a stored verifier that breaks RFC 7636 was loaded: %v", err)
		}
		printed := fmt.Sprintf("%v %+v %#v %s", got, &got, got, fmt.Sprint(got))
		public := j.RedirectURL + j.Issuer
		for _, secret := range []string{j.State, j.Verifier} {
			if len(secret) >= 8 && !strings.Contains(public, secret) && strings.Contains(printed, secret) {
				t.Fatalf("printed flow carries a secret: %s", printed)
			}
		}
		code, err := client.VerifyCallback(context.Background(), &got, url.Values{"state": {j.State}, "code": {"c"}})
		if err != nil {
			return
		}
		if code != "c" {
			t.Fatal("a wrong code")
		}
		// Only a flow this client could have started is finished.
		if len(j.State) != 43 || strings.Trim(j.State, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("finished a flow with state of %d characters", len(j.State))
		}
		if j.Issuer != "" {
			t.Fatalf("finished a flow for issuer %q with a client that has none", j.Issuer)
		}
		if lifetime := j.Expires.Sub(j.Created); lifetime > 10*time.Minute || lifetime < 0 || !time.Now().Before(j.Expires) {
			t.Fatalf("finished a flow living %v, expiring %v", lifetime, j.Expires)
		}
		u, err := url.Parse(j.RedirectURL)
		if err != nil || !u.IsAbs() || strings.Contains(j.RedirectURL, "#") ||
			u.Scheme == "http" && u.Hostname() != "localhost" && !net.ParseIP(u.Hostname()).IsLoopback() {
			t.Fatalf("finished a flow with redirect URL %q", j.RedirectURL)
		}
		if !j.RedirectGiven && j.RedirectURL != "https://app.example/callback" {
			t.Fatalf("finished a flow started without RedirectURL with redirect URL %q", j.RedirectURL)
		}
	})
}

// metadataMembers are the member names of pkce.Metadata.
var metadataMembers = []string{"issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint",
	"pushed_authorization_request_endpoint", "require_pushed_authorization_requests", "response_types_supported",
	"code_challenge_methods_supported", "token_endpoint_auth_methods_supported",
	"authorization_response_iss_parameter_supported"}

// In FuzzMetadata bodies, {issuer} stands for the issuer asked for.
func FuzzMetadata(f *testing.F) {
	for _, seed := range []struct {
		status int
		ct     string
		body   string
	}{
		{200, "application/json", `{"issuer":"{issuer}","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t","code_challenge_methods_supported":["S256"]}`},
		{200, "application/json", `{"issuer":"{issuer}","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t","code_challenge_methods_supported":["plain"]}`},
		{200, "application/json", `{"issuer":"{issuer}/","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t"}`},
		{200, "application/json", `{"issuer":"{issuer}","authorization_endpoint":"http://as.example/a","token_endpoint":"https://as.example/t"}`},
		{200, "application/json", `{"issuer":"{issuer}","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t","require_pushed_authorization_requests":true}`},
		{200, "application/json", `{"issuer":"{issuer}","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t","token_endpoint_auth_methods_supported":"client_secret_basic"}`},
		{200, "text/html", `<html>login</html>`},
		{404, "text/plain", `not found`},
		{302, "", ``},
		{200, "application/json", `[]`},
		{200, "application/json", `{"issuer":"{issuer}","ISSUER":"https://evil.example","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t"}`},
		{200, "application/json", `{"ISSUER":"{issuer}","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t"}`},
		{200, "application/json", `{"issuer":"{issuer}","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t","Token_Endpoint":"https://evil.example/t"}`},
	} {
		f.Add(seed.status, seed.ct, []byte(seed.body))
	}
	const issuer = "https://as.example/tenant/oauth2/v1"
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		status = 200 + int(math.Abs(float64(status%800)))
		doc := bytes.ReplaceAll(body, []byte("{issuer}"), []byte(issuer))
		transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{}
			if contentType != "" {
				h.Set("Content-Type", contentType)
			}
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(doc)), Request: r}, nil
		})
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: transport})
		md, err := pkce.Discover(ctx, issuer)
		if err != nil {
			var respErr *pkce.ResponseError
			if !errors.As(err, &respErr) && !noAnswer(err) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if respErr != nil && respErr.Op != "metadata discovery" {
				t.Fatalf("a ResponseError of %s from discovery", respErr.Op)
			}
			return
		}
		if status != http.StatusOK || md.Issuer != issuer {
			t.Fatalf("accepted status %d or issuer %q", status, md.Issuer)
		}
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("accepted metadata that is not a JSON object: %v", err)
		}
		if key := caseCollision(m, metadataMembers); key != "" {
			t.Fatalf("accepted metadata with member %q, which differs from a defined name only in case", key)
		}
		if m["issuer"] != issuer {
			t.Fatalf("the issuer member is %v", m["issuer"])
		}
		for _, endpoint := range []string{md.AuthorizationEndpoint, md.TokenEndpoint} {
			u, err := url.Parse(endpoint)
			if err != nil || u.Scheme != "https" || u.Host == "" {
				t.Fatalf("accepted endpoint %q", endpoint)
			}
		}
		if md.CodeChallengeMethodsSupported != nil && !slices.Contains(md.CodeChallengeMethodsSupported, "S256") {
			t.Fatal("accepted a server without S256")
		}
	})
}
