package pkce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

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
			if !errors.Is(err, pkce.ErrInvalidVerifier) {
				t.Fatalf("untyped error %v", err)
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
		if v.Reveal() != s || !pkce.MatchChallenge(s, v.Challenge()) {
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

func FuzzVerifyCallback(f *testing.F) {
	iss := url.QueryEscape(fuzzIssuer)
	for _, seed := range []string{
		"code=abc&state=STATE&iss=" + iss,
		"code=abc&state=STATE&state=STATE&iss=" + iss,
		"code=abc&code=def&state=STATE&iss=" + iss,
		"error=access_denied&error_description=no+STATE&state=STATE&iss=" + iss,
		"error=access_denied&state=forged&iss=" + iss,
		"code=&state=STATE&iss=" + iss,
		"code=abc&state=STATE",
		"code=abc&state=STATE&iss=https%3A%2F%2FAS.example",
		"code=abc&state=STATE&iss=" + iss + "%2F",
		"code=abc&state=STATE&iss=STATE",
		"code=%00%ff&state=STATE&iss=" + iss,
		"code=" + strings.Repeat("x", 4096) + "&state=STATE&iss=" + iss,
		"state=STATE;code=abc&iss=" + iss,
		"STATE=STATE&STATE=1&state=STATE&iss=" + iss,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		client, err := pkce.New(&oauth2.Config{
			ClientID:    "app",
			Endpoint:    oauth2.Endpoint{AuthURL: fuzzIssuer + "/authorize", TokenURL: fuzzIssuer + "/token"},
			RedirectURL: "https://app.example/callback",
		}, pkce.WithIssuer(fuzzIssuer))
		if err != nil {
			t.Fatal(err)
		}
		flow, err := client.Start()
		if err != nil {
			t.Fatal(err)
		}
		params, err := url.ParseQuery(strings.ReplaceAll(query, "STATE", flow.State))
		if err != nil {
			return // FinishRequest refuses these before VerifyCallback
		}
		code, err := client.VerifyCallback(flow, params)
		if err == nil {
			for key, vs := range params {
				if len(vs) != 1 {
					t.Fatalf("accepted a repeated %q", key)
				}
			}
			if params.Get("state") != flow.State || params.Get("iss") != fuzzIssuer {
				t.Fatal("accepted a callback whose state or iss differ")
			}
			if _, hasError := params["error"]; hasError || code == "" || code != params.Get("code") {
				t.Fatalf("accepted an error response or a wrong code")
			}
			return
		}
		var cbErr *pkce.CallbackError
		var issErr *pkce.IssuerMismatchError
		var authErr *pkce.AuthorizationError
		if !errors.As(err, &cbErr) && !errors.As(err, &issErr) && !errors.As(err, &authErr) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		if msg := err.Error(); strings.Contains(msg, flow.State) || strings.Contains(msg, flow.Verifier.Reveal()) {
			t.Fatalf("error carries the state or the verifier: %v", msg)
		}
	})
}

// fuzzSecret and the code and verifier of each exchange are what the
// token-response target looks for in errors; {secret}, {code} and
// {verifier} in a body stand for them.
const fuzzSecret = "fuzz-client-secret"

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
		flow, err := client.Start()
		if err != nil {
			t.Fatal(err)
		}
		const code = "fuzz-authorization-code"
		tok, err := client.Exchange(context.Background(), flow, code)
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("accepted status %d", status)
			}
			if tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
				t.Fatalf("accepted token without access token or of type %q", tok.TokenType)
			}
			if tok.ExpiresIn < 0 || tok.ExpiresIn > math.MaxInt32 || len(sent) > 4096 {
				t.Fatalf("accepted expires_in %d or a body of %d bytes", tok.ExpiresIn, len(sent))
			}
			return
		}
		var tokErr *pkce.TokenError
		var respErr *pkce.ResponseError
		var reqErr *pkce.RequestError
		if !errors.As(err, &tokErr) && !errors.As(err, &respErr) && !errors.As(err, &reqErr) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		msg := err.Error()
		for _, secret := range []string{fuzzSecret, code, flow.Verifier.Reveal()} {
			if strings.Contains(msg, secret) {
				t.Fatalf("error carries a secret: %v", msg)
			}
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.Request != nil && re.Response.Request.Header.Get("Authorization") != "" {
			t.Fatal("RetrieveError hands out the Authorization header")
		}
	})
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
	flow, err := client.Start()
	if err != nil {
		f.Fatal(err)
	}
	stored, err := json.Marshal(flow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(stored)
	f.Add([]byte(`{"state":"s","verifier":"short","redirect_url":"https://app.example/cb"}`))
	f.Add([]byte(`{"state":"s","verifier":null,"expires":"not a time"}`))
	f.Add([]byte(`{"url":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got pkce.Flow
		if err := json.Unmarshal(data, &got); err != nil {
			return
		}
		if !got.Verifier.IsZero() {
			if _, err := pkce.ParseVerifier(got.Verifier.Reveal()); err != nil {
				t.Fatalf("a stored verifier that breaks RFC 7636 was loaded: %v", err)
			}
		}
		printed := fmt.Sprintf("%v %+v %#v %s", got, &got, got, got.String())
		public := got.RedirectURL + got.Issuer
		for _, secret := range []string{got.State, got.Verifier.Reveal()} {
			if len(secret) >= 8 && !strings.Contains(public, secret) && strings.Contains(printed, secret) {
				t.Fatalf("printed flow carries a secret: %s", printed)
			}
		}
		code, err := client.VerifyCallback(&got, url.Values{"state": {got.State}, "code": {"c"}})
		if err == nil && (code != "c" || got.State == "" || got.Verifier.IsZero()) {
			t.Fatal("an incomplete flow was finished")
		}
	})
}

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
			var mdErr *pkce.MetadataError
			var issErr *pkce.IssuerMismatchError
			if !errors.As(err, &mdErr) && !errors.As(err, &issErr) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if status != http.StatusOK || md.Issuer != issuer {
			t.Fatalf("accepted status %d or issuer %q", status, md.Issuer)
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
