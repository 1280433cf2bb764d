package pkce

import "strings"

// maxChallengeLength bounds the WWW-Authenticate text that is parsed.
const maxChallengeLength = 8 << 10

// A challenge is one authentication challenge of a WWW-Authenticate
// header (RFC 9110 §11.6.1): its scheme and its auth-params, with names
// in lower case (they are case-insensitive) and quoted values unquoted.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges reads the challenges of WWW-Authenticate header values
// (RFC 9110 §11.6.1, §11.3):
//
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// It is lenient where that cannot mislead (extra commas and spaces) and
// skips what it cannot read. A token68 is skipped. Values longer than
// maxChallengeLength in total are ignored.
func parseChallenges(values []string) []challenge {
	var out []challenge
	total := 0
	for _, v := range values {
		total += len(v)
		if total > maxChallengeLength {
			return out
		}
		out = appendChallenges(out, v)
	}
	return out
}

func appendChallenges(out []challenge, s string) []challenge {
	i := 0
	for i < len(s) {
		i = skip(s, i, " \t,")
		scheme, j := readToken(s, i)
		if scheme == "" {
			i++ // not a token: skip the character
			continue
		}
		i = j
		ch := challenge{scheme: scheme, params: map[string]string{}}
		for {
			k := skip(s, i, " \t")
			name, n := readToken(s, k)
			m := skip(s, n, " \t")
			if name == "" || m >= len(s) || s[m] != '=' {
				break // the next challenge, or the end
			}
			m = skip(s, m+1, " \t")
			var value string
			switch {
			case m < len(s) && s[m] == '"':
				value, m = readQuoted(s, m)
			case m < len(s) && s[m] == '=':
				// token68 padding such as "abc==": skip to the next comma.
				for m < len(s) && s[m] != ',' {
					m++
				}
				i = m
				continue
			default:
				value, m = readToken(s, m)
			}
			ch.params[strings.ToLower(name)] = value
			i = skip(s, m, " \t")
			if i < len(s) && s[i] == ',' {
				i++
			}
		}
		out = append(out, ch)
	}
	return out
}

func skip(s string, i int, set string) int {
	for i < len(s) && strings.IndexByte(set, s[i]) >= 0 {
		i++
	}
	return i
}

// readToken reads a token (RFC 9110 §5.6.2) at i.
func readToken(s string, i int) (string, int) {
	j := i
	for j < len(s) && isTChar(s[j]) {
		j++
	}
	return s[i:j], j
}

func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// readQuoted reads a quoted-string (RFC 9110 §5.6.4) starting at the
// quote at i; an unterminated one runs to the end.
func readQuoted(s string, i int) (string, int) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '"':
			return b.String(), j + 1
		case '\\':
			if j+1 < len(s) {
				j++
				b.WriteByte(s[j])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), len(s)
}
