package protected

import (
	"net/http"
	"strings"

	"github.com/pkcekit/pkce/internal/authheader"
)

// A Challenge is one authentication challenge of a WWW-Authenticate
// header (RFC 9110 §11.6.1): a scheme with either a token68 or auth
// parameters. A protected resource answers 401 with a Bearer challenge
// (RFC 6750 §3) whose parameters say where its metadata is
// (resource_metadata, RFC 9728 §5.1), which scope the request needs
// (scope) and what was wrong (error).
type Challenge struct {
	// Scheme is the authentication scheme as sent; schemes are
	// case-insensitive (RFC 9110 §11.1), so compare with strings.EqualFold
	// or use Is.
	Scheme string
	// Token68 is the token68 form of the credentials, or "".
	Token68 string
	// Params are the auth parameters, with names lower-cased (they are
	// case-insensitive, RFC 9110 §11.2) and quoted values unescaped.
	Params map[string]string
}

// Is reports whether the challenge's scheme is scheme, compared
// case-insensitively (RFC 9110 §11.1).
func (c Challenge) Is(scheme string) bool { return strings.EqualFold(c.Scheme, scheme) }

// Param returns the auth parameter name (case-insensitive), or "".
func (c Challenge) Param(name string) string { return c.Params[strings.ToLower(name)] }

// ParseChallenges parses every WWW-Authenticate field line of h, in order,
// with the syntax of RFC 9110 §11.2 and §11.6.1: several challenges per
// line separated by commas, each a scheme followed by a token68 or by
// auth parameters whose values are tokens or quoted strings with
// backslash escapes. Empty list elements are skipped (RFC 9110 §5.6.1).
//
// A field that breaks the syntax, repeats a parameter within a challenge
// (RFC 9110 §11.2), or is longer than 16 KiB in all is an error: its
// challenges cannot be trusted to say what they seem to. No field at all
// is no challenge and no error.
func ParseChallenges(h http.Header) ([]Challenge, error) {
	parsed, err := authheader.Parse(h)
	if err != nil || parsed == nil {
		return nil, err
	}
	out := make([]Challenge, len(parsed))
	for i, c := range parsed {
		out[i] = Challenge(c)
	}
	return out, nil
}
