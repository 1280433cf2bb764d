package pkce

import (
	"net/url"
	"slices"
	"strings"
)

// A form is the body of a POST to the authorization server
// (application/x-www-form-urlencoded), kept as a list rather than a
// url.Values: a token request, which every sign-in and refresh sends, has
// half a dozen members, and a map for them costs more than the request's
// own checks. Encoded, it is byte for byte what url.Values.Encode gives
// for the same members: sorted by name, the values of one name in the
// order they were added.
type form []field

type field struct{ key, value string }

// formOf copies v into a form.
func formOf(v url.Values) form {
	n := 0
	for _, vs := range v {
		n += len(vs)
	}
	f := make(form, 0, n)
	for k, vs := range v {
		for _, s := range vs {
			f = append(f, field{k, s})
		}
	}
	return f
}

// encode returns the form with over's members in place of any of the same
// name, encoded.
func (f form) encode(over ...field) []byte {
	var scratch [8]field // a token request fits; a longer form, such as PAR's, grows past it
	all := scratch[:0]
	for _, x := range f {
		if !slices.ContainsFunc(over, func(o field) bool { return o.key == x.key }) {
			all = append(all, x)
		}
	}
	all = append(all, over...)
	slices.SortStableFunc(all, func(a, b field) int { return strings.Compare(a.key, b.key) })
	n := 0
	for _, x := range all {
		n += len(x.key) + len(x.value) + 2
	}
	buf := make([]byte, 0, n+n/2)
	for i, x := range all {
		if i > 0 {
			buf = append(buf, '&')
		}
		buf = appendQueryEscape(buf, x.key)
		buf = append(buf, '=')
		buf = appendQueryEscape(buf, x.value)
	}
	return buf
}

// appendQueryEscape appends s escaped as url.QueryEscape escapes it: every
// byte but the unreserved ones (RFC 3986 §2.3) as %XX, a space as '+'.
func appendQueryEscape(buf []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isUnreserved(c):
			buf = append(buf, c)
		case c == ' ':
			buf = append(buf, '+')
		default:
			buf = append(buf, '%', hex[c>>4], hex[c&15])
		}
	}
	return buf
}
