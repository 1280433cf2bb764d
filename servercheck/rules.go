package servercheck

import (
	"slices"

	"github.com/pkcekit/pkce"
)

// RulesOf returns every rule that err and the errors it wraps name, in
// order, without repeats: the Rule and Also of each *pkce.CallbackError and
// *pkce.ResponseError, and the Rule of each *pkce.OAuthError.
//
//	slices.Contains(servercheck.RulesOf(err), "RFC 9207 §2.4")
func RulesOf(err error) []string {
	var out []string
	add := func(rules ...string) {
		for _, r := range rules {
			if r != "" && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
			return
		case *pkce.CallbackError:
			add(e.Rule)
			add(e.Also...)
		case *pkce.ResponseError:
			add(e.Rule)
			add(e.Also...)
		case *pkce.OAuthError:
			add(e.Rule)
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}
