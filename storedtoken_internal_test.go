package pkce

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// encodeToken writes what json.Marshal writes of the storedToken, byte for
// byte: stored values written before it was written out by hand compare
// equal in a compare-and-set, and read back the same.
func TestEncodeTokenIsTheJSONOfItsStoredForm(t *testing.T) {
	expiry := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", 2*3600))
	idToken := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"
	tests := []struct {
		name  string
		tok   *oauth2.Token
		extra map[string]any
	}{
		{"only an access token", &oauth2.Token{AccessToken: "at"}, nil},
		{"every member", &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", Expiry: expiry, ExpiresIn: 3600},
			map[string]any{"id_token": idToken, "scope": "openid profile"}},
		{"an empty scope is kept", &oauth2.Token{AccessToken: "at"}, map[string]any{"scope": ""}},
		{"a scope that is no string is not stored", &oauth2.Token{AccessToken: "at"}, map[string]any{"scope": 5.0}},
		{"a negative expires_in", &oauth2.Token{AccessToken: "at", ExpiresIn: -1}, nil},
		{"quotes, backslashes and control characters are escaped", &oauth2.Token{AccessToken: "a\"b\\c\nd\x00e\x7f", RefreshToken: "\t"}, nil},
		{"HTML characters are escaped as json.Marshal does", &oauth2.Token{AccessToken: "<a>&"}, nil},
		{"UTF-8, and bytes that are not, as json.Marshal writes them", &oauth2.Token{AccessToken: "é\u2028\xff"}, nil},
		{"a UTC expiry", &oauth2.Token{AccessToken: "at", Expiry: expiry.UTC()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := &Token{Token: tt.tok}
			if tt.extra != nil {
				tok.Token = tt.tok.WithExtra(tt.extra)
			}
			want := storedToken{AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken,
				Expiry: tok.Expiry, ExpiresIn: tok.ExpiresIn, IDToken: tok.IDToken(), Verified: tok.Claims() != nil}
			if s, ok := tok.Extra("scope").(string); ok {
				want.Scope = &s
			}
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			got, err := encodeToken(tok)
			require.NoError(t, err)
			assert.Equal(t, string(wantJSON), string(got))
		})
	}

	t.Run("a verified ID token is marked", func(t *testing.T) {
		payload := b64.EncodeToString([]byte(`{"iss":"https://as.example","sub":"alice","aud":"app","exp":1900000000,"iat":1700000000}`))
		verified := "eyJhbGciOiJSUzI1NiJ9." + payload + ".c2lnbmF0dXJl"
		stored, err := decodeToken([]byte(`{"access_token":"at","id_token":"` + verified + `","id_token_verified":true}`))
		require.NoError(t, err)
		require.NotNil(t, stored.Claims(), "the stored claims")
		got, err := encodeToken(stored)
		require.NoError(t, err)
		want, err := json.Marshal(storedToken{AccessToken: "at", IDToken: verified, Verified: true})
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	})

	t.Run("an expiry JSON cannot hold is an error", func(t *testing.T) {
		_, err := encodeToken(&Token{Token: &oauth2.Token{AccessToken: "at", Expiry: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}})
		assert.Error(t, err)
	})
}
