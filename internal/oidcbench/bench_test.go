package oidcbench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/pkcekit/pkce"
)

// provider serves the metadata and the JWK Set of one key, and returns
// an ID token signed with it by go-jose, written apart from both
// verifiers.
func provider(b testing.TB, key crypto.Signer, alg jose.SignatureAlgorithm) (issuer, idToken string) {
	b.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	issuer = srv.URL
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: string(alg), Use: "sig"}
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
			"jwks_uri": issuer + "/jwks", "response_types_supported": []string{"code"},
			"id_token_signing_alg_values_supported": []string{string(alg)}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "alice", "aud": "bench", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix(), "name": "Alice", "email": "alice@example.com",
		"email_verified": true})
	jws, err := signer.Sign(claims)
	if err != nil {
		b.Fatal(err)
	}
	idToken, err = jws.CompactSerialize()
	if err != nil {
		b.Fatal(err)
	}
	return issuer, idToken
}

func benchmarkBoth(b *testing.B, key crypto.Signer, alg jose.SignatureAlgorithm) {
	issuer, idToken := provider(b, key, alg)
	ctx := context.Background()

	b.Run("pkce", func(b *testing.B) {
		client, err := pkce.NewFromIssuer(ctx, issuer, &oauth2.Config{ClientID: "bench", RedirectURL: "http://127.0.0.1/cb",
			Scopes: []string{"openid"}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := client.VerifyIDToken(ctx, idToken, ""); err != nil {
			b.Fatal(err) // also fills the key cache
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := client.VerifyIDToken(ctx, idToken, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-oidc", func(b *testing.B) {
		p, err := oidc.NewProvider(ctx, issuer)
		if err != nil {
			b.Fatal(err)
		}
		v := p.Verifier(&oidc.Config{ClientID: "bench"})
		if _, err := v.Verify(ctx, idToken); err != nil {
			b.Fatal(err) // also fills the key cache
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := v.Verify(ctx, idToken); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerifyRS256(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkBoth(b, key, jose.RS256)
}

func BenchmarkVerifyES256(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkBoth(b, key, jose.ES256)
}

// TestBothVerifyTheSameToken keeps the benchmark honest in CI: the two
// verifiers accept the token measured, and both refuse it for another
// client.
func TestBothVerifyTheSameToken(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issuer, idToken := provider(t, key, jose.ES256)
	ctx := context.Background()
	for _, clientID := range []string{"bench", "other"} {
		client, err := pkce.NewFromIssuer(ctx, issuer, &oauth2.Config{ClientID: clientID, RedirectURL: "http://127.0.0.1/cb"})
		if err != nil {
			t.Fatal(err)
		}
		_, ours := client.VerifyIDToken(ctx, idToken, "")
		p, err := oidc.NewProvider(ctx, issuer)
		if err != nil {
			t.Fatal(err)
		}
		_, theirs := p.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, idToken)
		if (ours == nil) != (clientID == "bench") || (theirs == nil) != (clientID == "bench") {
			t.Errorf("client %s: pkce says %v, go-oidc says %v", clientID, ours, theirs)
		}
	}
}
