package pkce

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzFormEncode holds form.encode to its promise: byte for byte what
// url.Values.Encode gives for the same members, with over's members in
// place of those of the same name; and appendQueryEscape to
// url.QueryEscape. The input is lines of name=value; the last `over`
// lines are the overriding members. Run it with
//
//	go test -run '^$' -fuzz FuzzFormEncode -fuzztime 60s .
func FuzzFormEncode(f *testing.F) {
	f.Add("grant_type=authorization_code\ncode=a b+c/d:e%f\ncode_verifier=x\nclient_id=app id", uint8(1))
	f.Add("resource=https://a.example/\nresource=https://b.example/\nscope=a b\nclient_id=x\nclient_id=y", uint8(2))
	f.Add("=\n=v\nk=\nk\n\xff\xfe=é~._-\nA=1\na=2\nB=3", uint8(3))
	f.Add("a=1\na=2\na=3\nb=1\na=4", uint8(0))
	f.Fuzz(func(t *testing.T, raw string, over uint8) {
		lines := strings.Split(raw, "\n")
		if len(lines) > 40 {
			return
		}
		var fields form
		for _, l := range lines {
			k, v, _ := strings.Cut(l, "=")
			fields = append(fields, field{k, v})
			if got, want := string(appendQueryEscape(nil, l)), url.QueryEscape(l); got != want {
				t.Fatalf("appendQueryEscape(%q) = %q, url.QueryEscape gives %q", l, got, want)
			}
		}
		n := int(over) % (len(fields) + 1)
		base, extra := fields[:len(fields)-n], fields[len(fields)-n:]
		want := url.Values{}
		for _, x := range base {
			want.Add(x.key, x.value)
		}
		for _, x := range extra {
			want.Del(x.key)
		}
		for _, x := range extra {
			want.Add(x.key, x.value)
		}
		if got := string(base.encode(extra...)); got != want.Encode() {
			t.Fatalf("encode = %q, url.Values.Encode gives %q", got, want.Encode())
		}
		if got := string(formOf(want).encode()); got != want.Encode() {
			t.Fatalf("formOf(v).encode() = %q, v.Encode() gives %q", got, want.Encode())
		}
	})
}

// TestURIClass checks the byte table behind isUnreserved and validState
// against the character classes it stands for, byte by byte.
func TestURIClass(t *testing.T) {
	for i := 0; i < 256; i++ {
		c := byte(i)
		alnum := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if got, want := isUnreserved(c), alnum || strings.IndexByte("-._~", c) >= 0; got != want {
			t.Errorf("isUnreserved(%q) = %v, RFC 3986 §2.3 says %v", c, got, want)
		}
		if got, want := uriClass[c]&base64URL != 0, alnum || c == '-' || c == '_'; got != want {
			t.Errorf("base64URL class of %q = %v, RFC 4648 §5 says %v", c, got, want)
		}
	}
}
