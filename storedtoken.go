package pkce

import (
	"encoding/json"
	"fmt"
	"strconv"
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

// encodeToken writes tok's stored form: the bytes json.Marshal makes of
// its storedToken, written directly because a refresh through Tokens
// saves one each time.
func encodeToken(tok *Token) ([]byte, error) {
	idToken := tok.IDToken()
	scope, hasScope := tok.Extra("scope").(string)
	b := make([]byte, 0, 160+len(tok.AccessToken)+len(tok.TokenType)+len(tok.RefreshToken)+len(idToken)+len(scope))
	b = append(b, '{')
	b = appendMember(b, "access_token", tok.AccessToken, false)
	b = appendMember(b, "token_type", tok.TokenType, false)
	b = appendMember(b, "refresh_token", tok.RefreshToken, false)
	if !tok.Expiry.IsZero() {
		b = append(b, `"expiry":"`...)
		var err error
		if b, err = tok.Expiry.AppendText(b); err != nil {
			return nil, fmt.Errorf("pkce: the token's expiry cannot be stored: %w", err)
		}
		b = append(b, `",`...)
	}
	if tok.ExpiresIn != 0 {
		b = append(b, `"expires_in":`...)
		b = strconv.AppendInt(b, tok.ExpiresIn, 10)
		b = append(b, ',')
	}
	b = appendMember(b, "id_token", idToken, false)
	if hasScope {
		b = appendMember(b, "scope", scope, true)
	}
	if tok.Claims() != nil {
		b = append(b, `"id_token_verified":true,`...)
	}
	if b[len(b)-1] == ',' {
		b = b[:len(b)-1]
	}
	return append(b, '}'), nil
}

// appendMember appends "name":value, to b, as json.Marshal writes a
// string; an empty value only when empty is set (a pointer field).
func appendMember(b []byte, name, value string, empty bool) []byte {
	if value == "" && !empty {
		return b
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			// What json.Marshal escapes, and what it must check (UTF-8).
			q, _ := json.Marshal(value)
			return append(append(b, q...), ',')
		}
	}
	b = append(b, '"')
	b = append(b, value...)
	return append(b, `",`...)
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
