package protected

import (
	"net/http"
	"strings"

	"github.com/pkcekit/pkce/internal/authheader"
	"github.com/pkcekit/pkce/internal/link"
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

// challengeProblem describes the WWW-Authenticate of resp, which does not
// parse, for an error. The API may echo the credentials it was sent in
// it (the access token, the DPoP proof); they are removed, in every
// encoding the redactor knows, before the header is parsed again for the
// message, so that not even a clipped piece of them is quoted. When the
// header parses without them, the message quotes nothing of it.
func challengeProblem(resp *http.Response, accessToken string) string {
	secrets := []string{accessToken}
	if req := resp.Request; req != nil {
		secrets = append(secrets, req.Header.Get("DPoP"))
		if _, credentials, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
			secrets = append(secrets, strings.TrimSpace(credentials))
		}
	}
	clean := make(http.Header)
	for _, line := range resp.Header.Values("WWW-Authenticate") {
		clean.Add("WWW-Authenticate", link.Redact(line, secrets...))
	}
	if _, err := authheader.Parse(clean); err != nil {
		return strings.TrimPrefix(err.Error(), "pkce: ")
	}
	return "WWW-Authenticate does not parse (RFC 9110 §11.6.1); it is not quoted, since the credentials sent were echoed in it"
}

// challenged reports whether resp asks for (other) credentials: a 401, or
// a 403 with error="insufficient_scope" (RFC 6750 §3.1).
func challenged(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
		return bearerChallenge(resp.Header).Param("error") == "insufficient_scope"
	}
	return false
}

// bearerChallenge returns the first Bearer challenge of h, or the zero
// Challenge; a header that does not parse has none.
func bearerChallenge(h http.Header) Challenge {
	cs, err := ParseChallenges(h)
	if err != nil {
		return Challenge{}
	}
	for _, c := range cs {
		if c.Is("Bearer") {
			return c
		}
	}
	return Challenge{}
}
