package pkce_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

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
		"",
		"iss&state=STATE&code=abc",
		"error&state=STATE&iss=" + iss,
		"error=&state=STATE&iss=" + iss,
		"state&code=abc&iss=" + iss,
		"code=abc&state=STATE&iss=" + iss + "&ISS=https%3A%2F%2Fevil.example",
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
		flow, err := client.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		params, err := url.ParseQuery(strings.ReplaceAll(query, "STATE", flow.State))
		if err != nil {
			return // Finish refuses these before VerifyCallback
		}
		code, err := client.VerifyCallback(context.Background(), flow, params)
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
		var authErr *pkce.OAuthError
		switch {
		case errors.As(err, &cbErr):
		case errors.As(err, &authErr):
			if authErr.Op != "authorization" {
				t.Fatalf("an OAuthError of %s from a callback", authErr.Op)
			}
			if _, hasError := params["error"]; !hasError {
				t.Fatalf("an OAuthError without an error parameter: %v", err)
			}
		default:
			t.Fatalf("untyped error %T: %v", err, err)
		}
		if msg := err.Error(); strings.Contains(msg, flow.State) || strings.Contains(msg, flowJSON(t, flow)["verifier"].(string)) {
			t.Fatalf("error carries the state or the verifier: %v", msg)
		}
	})
}
