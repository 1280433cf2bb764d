package pkce

import (
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/oauth2"
)

// storedToken is a Token's stored form. A stored refresh token the server
// refused is replaced by a tombstone, {"dead":true}, so that every
// replica answers sign-in-required without presenting it again.
type storedToken struct {
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	ExpiresIn    int64     `json:"expires_in,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Scope        *string   `json:"scope,omitempty"`
	Verified     bool      `json:"id_token_verified,omitempty"` // Claims came from a verified ID token (openid.go)
	Dead         bool      `json:"dead,omitempty"`
}

// deadToken is the tombstone of a refused refresh token.
var deadToken = []byte(`{"dead":true}`)

func encodeToken(tok *Token) ([]byte, error) {
	st := storedToken{AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken,
		Expiry: tok.Expiry, ExpiresIn: tok.ExpiresIn, IDToken: tok.IDToken(), Verified: tok.Claims() != nil}
	if s, ok := tok.Extra("scope").(string); ok {
		st.Scope = &s
	}
	return json.Marshal(st)
}

// decodeToken reads a stored token. A tombstone, and bytes that are no
// token (truncated, edited, another program's), are sign-in-required: no
// refresh can come from them, and "try later" would never end.
func decodeToken(b []byte) (*Token, error) {
	var st storedToken
	err := json.Unmarshal(b, &st)
	switch {
	case err == nil && st.Dead:
		return nil, &refreshError{class: ErrSignInRequired, err: errDeadToken}
	case err != nil:
		// Not the JSON error itself: it may quote a character of a token.
		return nil, &refreshError{class: ErrSignInRequired, err: fmt.Errorf("%w: it is not a JSON object", errUndecodableToken)}
	case st.AccessToken == "":
		return nil, &refreshError{class: ErrSignInRequired, err: fmt.Errorf("%w: it has no access_token", errUndecodableToken)}
	}
	extra := map[string]any{"access_token": st.AccessToken, "token_type": st.TokenType}
	if st.RefreshToken != "" {
		extra["refresh_token"] = st.RefreshToken
	}
	if st.IDToken != "" {
		extra["id_token"] = st.IDToken
	}
	if st.Scope != nil {
		extra["scope"] = *st.Scope
	}
	extra[claimsKey] = storedSlot(st.IDToken, st.Verified) // openid.go
	tok := &oauth2.Token{AccessToken: st.AccessToken, TokenType: st.TokenType, RefreshToken: st.RefreshToken,
		Expiry: st.Expiry, ExpiresIn: st.ExpiresIn}
	return &Token{Token: tok.WithExtra(extra)}, nil
}
