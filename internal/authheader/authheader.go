// Package authheader parses WWW-Authenticate fields (RFC 9110 §11.6.1)
// for package pkce (DPoP nonces at a resource) and package protected (the
// challenges of protected resources).
package authheader

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/pkcekit/pkce/internal/wire"
)

// A Challenge is one authentication challenge of a WWW-Authenticate
// header (RFC 9110 §11.6.1): a scheme with either a token68 or auth
// parameters; package protected's Challenge has the same fields.
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

// maxChallengeBytes bounds the WWW-Authenticate field lines Parse
// reads; a resource that sends more is broken or hostile.
const maxChallengeBytes = 16 << 10

// Parse parses every WWW-Authenticate field line of h, in order,
// with the syntax of RFC 9110 §11.2 and §11.6.1: several challenges per
// line separated by commas, each a scheme followed by a token68 or by
// auth parameters whose values are tokens or quoted strings with
// backslash escapes. Empty list elements are skipped (RFC 9110 §5.6.1).
//
// A field that breaks the syntax, repeats a parameter within a challenge
// (RFC 9110 §11.2), or is longer than 16 KiB in all is an error: its
// challenges cannot be trusted to say what they seem to. No field at all
// is no challenge and no error.
func Parse(h http.Header) ([]Challenge, error) {
	lines := h.Values("WWW-Authenticate")
	total := 0
	for _, l := range lines {
		total += len(l)
	}
	if total > maxChallengeBytes {
		return nil, fmt.Errorf("pkce: WWW-Authenticate is longer than %d bytes", maxChallengeBytes)
	}
	var out []Challenge
	for _, l := range lines {
		p := challengeParser{s: l}
		cs, err := p.parse()
		if err != nil {
			return nil, fmt.Errorf("pkce: WWW-Authenticate %q does not parse: %s (RFC 9110 §11.6.1)", wire.Clip(l, 200), err)
		}
		out = append(out, cs...)
	}
	return out, nil
}

// challengeParser reads one field line. Commas separate both challenges
// and the parameters of a challenge, so a name followed by "=" is a
// parameter and any other token starts the next challenge.
type challengeParser struct {
	s string
	i int
}

func (p *challengeParser) parse() ([]Challenge, error) {
	var out []Challenge
	for {
		p.skipListSeparators()
		if p.i == len(p.s) {
			return out, nil
		}
		scheme := p.token()
		if scheme == "" {
			return nil, fmt.Errorf("expected an auth-scheme at byte %d", p.i)
		}
		c := Challenge{Scheme: scheme}
		if p.i < len(p.s) && p.s[p.i] != ',' {
			if !p.space() {
				return nil, fmt.Errorf("expected a space after scheme %q", wire.Clip(scheme, 40))
			}
			if t, ok := p.token68(); ok {
				c.Token68 = t
			} else if err := p.params(&c); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
		p.ows()
		if p.i < len(p.s) && p.s[p.i] != ',' {
			return nil, fmt.Errorf("unexpected %q at byte %d", p.s[p.i], p.i)
		}
	}
}

// params reads the auth-params of c up to the next challenge or the end.
func (p *challengeParser) params(c *Challenge) error {
	for {
		start := p.i
		p.skipListSeparators()
		if p.i == len(p.s) {
			return nil
		}
		name := p.token()
		if name == "" {
			return fmt.Errorf("expected an auth-param at byte %d", p.i)
		}
		p.ows()
		if p.i == len(p.s) || p.s[p.i] != '=' {
			// Not a parameter: the next challenge's scheme.
			p.i = start
			return nil
		}
		p.i++ // '='
		p.ows()
		var value string
		switch {
		case p.i < len(p.s) && p.s[p.i] == '"':
			v, err := p.quoted()
			if err != nil {
				return err
			}
			value = v
		default:
			value = p.token()
			if value == "" {
				return fmt.Errorf("auth-param %q has no value", wire.Clip(name, 40))
			}
		}
		key := strings.ToLower(name)
		if c.Params == nil {
			c.Params = make(map[string]string)
		}
		if _, dup := c.Params[key]; dup {
			return fmt.Errorf("auth-param %q occurs twice in one challenge", wire.Clip(key, 40))
		}
		c.Params[key] = value
		p.ows()
		if p.i < len(p.s) && p.s[p.i] != ',' {
			return fmt.Errorf("unexpected %q after auth-param %q", p.s[p.i], wire.Clip(key, 40))
		}
	}
}

// token68 reads a token68 when the rest of the challenge is exactly one
// (RFC 9110 §11.2), and leaves the position alone otherwise.
func (p *challengeParser) token68() (string, bool) {
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	end := j
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j < len(p.s) && p.s[j] != ',' {
		return "", false
	}
	t := p.s[p.i:end]
	p.i = end
	return t, true
}

// quoted reads a quoted-string and returns it unescaped (RFC 9110 §5.6.4).
func (p *challengeParser) quoted() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			if p.i+1 == len(p.s) || !isQuotedPairChar(p.s[p.i+1]) {
				return "", fmt.Errorf("a bad escape in a quoted string at byte %d", p.i)
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case isQDText(c):
			b.WriteByte(c)
			p.i++
		default:
			return "", fmt.Errorf("a control character in a quoted string at byte %d", p.i)
		}
	}
	return "", fmt.Errorf("an unterminated quoted string")
}

func (p *challengeParser) token() string {
	j := p.i
	for j < len(p.s) && isTChar(p.s[j]) {
		j++
	}
	t := p.s[p.i:j]
	p.i = j
	return t
}

// space reads the 1*SP between a scheme and its credentials.
func (p *challengeParser) space() bool {
	j := p.i
	for j < len(p.s) && p.s[j] == ' ' {
		j++
	}
	ok := j > p.i
	p.i = j
	p.ows()
	return ok
}

func (p *challengeParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *challengeParser) skipListSeparators() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// isTChar is the tchar of RFC 9110 §5.6.2.
func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68Char is the token68 alphabet of RFC 9110 §11.2, without "=".
func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// isQDText is the qdtext of RFC 9110 §5.6.4, obs-text included.
func isQDText(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || 0x23 <= c && c <= 0x5B || 0x5D <= c && c <= 0x7E || c >= 0x80
}

// isQuotedPairChar is what may follow a backslash (RFC 9110 §5.6.4).
func isQuotedPairChar(c byte) bool {
	return c == '\t' || c == ' ' || 0x21 <= c && c <= 0x7E || c >= 0x80
}
