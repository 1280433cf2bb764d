package pkce

import "strconv"

// decodePlainObject decodes the JSON object of body (already trimmed of
// white space) as json.Unmarshal into a map[string]any would, when the
// object is written plainly: every string (names and values) printable
// ASCII without escapes, numbers that fit a float64, objects and arrays
// nested at most maxPlainDepth deep. That is nearly every token answer,
// and decoding it here costs a fraction of encoding/json's reflection.
// For anything else ok is false and the caller decodes with
// encoding/json, whose rules (escapes, UTF-8 repair, errors) then apply;
// so nothing this accepts is read differently from encoding/json
// (FuzzDecodePlainObject checks it).
func decodePlainObject(body []byte) (m members, ok bool) {
	if len(body) == 0 || body[0] != '{' || len(body) > maxPlainBody {
		return nil, false
	}
	// One string for the whole body: every string decoded is a slice of
	// it, one allocation in all rather than one each.
	p := plainParser{s: string(body)}
	v, ok := p.object(0)
	if !ok || p.i != len(p.s) {
		return nil, false
	}
	return members(v), true
}

// maxPlainDepth bounds the nesting decodePlainObject follows itself.
const maxPlainDepth = 16

// maxPlainBody is the longest body decodePlainObject reads. Its strings
// are slices of one copy of the body, which a kept token would hold alive
// whole: padding in a large answer is left to encoding/json, whose
// strings are copies of their own.
const maxPlainBody = 8 << 10

type plainParser struct {
	s string
	i int
}

func (p *plainParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object reads an object; p.s[p.i] is '{'. It leaves p.i after the white
// space that follows the object.
func (p *plainParser) object(depth int) (map[string]any, bool) {
	m := make(map[string]any, 8)
	p.i++
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.space()
		return m, true
	}
	for {
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, false
		}
		key, ok := p.string()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[key] = v // a repeated name: the last wins, as in encoding/json
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			p.space()
			return m, true
		default:
			return nil, false
		}
	}
}

// array reads an array; p.s[p.i] is '['.
func (p *plainParser) array(depth int) ([]any, bool) {
	a := []any{}
	p.i++
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.space()
		return a, true
	}
	for {
		v, ok := p.value(depth)
		if !ok || p.i >= len(p.s) {
			return nil, false
		}
		a = append(a, v)
		switch p.s[p.i] {
		case ',':
			p.i++
			p.space()
		case ']':
			p.i++
			p.space()
			return a, true
		default:
			return nil, false
		}
	}
}

// value reads any value and the white space after it.
func (p *plainParser) value(depth int) (any, bool) {
	if p.i >= len(p.s) {
		return nil, false
	}
	var v any
	ok := true
	switch c := p.s[p.i]; {
	case c == '"':
		v, ok = p.string()
	case c == '{' && depth < maxPlainDepth:
		v, ok = p.object(depth + 1)
		return v, ok
	case c == '[' && depth < maxPlainDepth:
		v, ok = p.array(depth + 1)
		return v, ok
	case c == '-' || c >= '0' && c <= '9':
		v, ok = p.number()
	case c == 't':
		v, ok = true, p.literal("true")
	case c == 'f':
		v, ok = false, p.literal("false")
	case c == 'n':
		v, ok = nil, p.literal("null")
	default:
		return nil, false
	}
	if !ok {
		return nil, false
	}
	p.space()
	return v, true
}

func (p *plainParser) literal(word string) bool {
	if len(p.s)-p.i < len(word) || p.s[p.i:p.i+len(word)] != word {
		return false
	}
	p.i += len(word)
	return true
}

// string reads a string of printable ASCII without escapes; p.s[p.i] is
// '"'.
func (p *plainParser) string() (string, bool) {
	start := p.i + 1
	for j := start; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '"':
			p.i = j + 1
			return p.s[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", false
		}
	}
	return "", false
}

// number reads a number in the grammar of RFC 8259 §6 that a float64
// holds; one beyond it (1e400) is left to encoding/json.
func (p *plainParser) number() (float64, bool) {
	start, j := p.i, p.i
	if j < len(p.s) && p.s[j] == '-' {
		j++
	}
	switch {
	case j < len(p.s) && p.s[j] == '0':
		j++
	case j < len(p.s) && p.s[j] >= '1' && p.s[j] <= '9':
		j = p.digits(j)
	default:
		return 0, false
	}
	if j < len(p.s) && p.s[j] == '.' {
		if k := p.digits(j + 1); k > j+1 {
			j = k
		} else {
			return 0, false
		}
	}
	if j < len(p.s) && (p.s[j] == 'e' || p.s[j] == 'E') {
		j++
		if j < len(p.s) && (p.s[j] == '+' || p.s[j] == '-') {
			j++
		}
		if k := p.digits(j); k > j {
			j = k
		} else {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(p.s[start:j], 64)
	if err != nil {
		return 0, false
	}
	p.i = j
	return f, true
}

func (p *plainParser) digits(j int) int {
	for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
		j++
	}
	return j
}
