package protected_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pkcekit/pkce/protected"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseChallenges(t *testing.T) {
	type c = protected.Challenge
	p := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		fields []string
		want   []protected.Challenge
	}{
		{"no field is no challenge", nil, nil},
		{"a scheme alone", []string{"Bearer"}, []c{{Scheme: "Bearer"}}},
		{"MCP bearer challenge with resource_metadata and scope",
			[]string{`Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp", scope="files:read files:write"`},
			[]c{{Scheme: "Bearer", Params: p("resource_metadata", "https://mcp.example/.well-known/oauth-protected-resource/mcp", "scope", "files:read files:write")}}},
		{"token values are not quoted", []string{`Bearer error=invalid_token, realm=api`},
			[]c{{Scheme: "Bearer", Params: p("error", "invalid_token", "realm", "api")}}},
		{"auth-param names are case-insensitive", []string{`Bearer Resource_Metadata="u", SCOPE=a`},
			[]c{{Scheme: "Bearer", Params: p("resource_metadata", "u", "scope", "a")}}},
		{"quoted-pair unescapes", []string{`Bearer error_description="say \"no\" \\ twice"`},
			[]c{{Scheme: "Bearer", Params: p("error_description", `say "no" \ twice`)}}},
		{"commas inside quoted strings do not split", []string{`Bearer scope="a,b", realm="x, y"`},
			[]c{{Scheme: "Bearer", Params: p("scope", "a,b", "realm", "x, y")}}},
		{"RFC 9110 §11.6.1 example: two challenges on one line",
			[]string{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`},
			[]c{{Scheme: "Newauth", Params: p("realm", "apps", "type", "1", "title", `Login to "apps"`)}, {Scheme: "Basic", Params: p("realm", "simple")}}},
		{"token68 credentials", []string{`Negotiate YIIBxwYGKwYBBQUCoIIBuzCC==, Bearer realm="r"`},
			[]c{{Scheme: "Negotiate", Token68: "YIIBxwYGKwYBBQUCoIIBuzCC=="}, {Scheme: "Bearer", Params: p("realm", "r")}}},
		{"schemes without credentials separated by commas", []string{`Basic, Bearer`},
			[]c{{Scheme: "Basic"}, {Scheme: "Bearer"}}},
		{"empty list elements are skipped", []string{` , Bearer realm="r" ,, `},
			[]c{{Scheme: "Bearer", Params: p("realm", "r")}}},
		{"bad whitespace around = is allowed", []string{`Bearer realm = "r" , scope= a`},
			[]c{{Scheme: "Bearer", Params: p("realm", "r", "scope", "a")}}},
		{"several field lines keep their order", []string{`Basic realm="b"`, `Bearer error="insufficient_scope", scope="admin"`},
			[]c{{Scheme: "Basic", Params: p("realm", "b")}, {Scheme: "Bearer", Params: p("error", "insufficient_scope", "scope", "admin")}}},
		{"an empty quoted value", []string{`Bearer scope=""`}, []c{{Scheme: "Bearer", Params: p("scope", "")}}},
		{"obs-text in a quoted string", []string{"Bearer realm=\"caf\xc3\xa9\""}, []c{{Scheme: "Bearer", Params: p("realm", "caf\xc3\xa9")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, f := range tt.fields {
				h.Add("WWW-Authenticate", f)
			}
			got, err := protected.ParseChallenges(h)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseChallengesRefuses(t *testing.T) {
	tests := []struct {
		name  string
		field string
	}{
		{"unterminated quoted string", `Bearer realm="abc`},
		{"parameter repeated within a challenge (RFC 9110 §11.2)", `Bearer scope="a", scope="b"`},
		{"parameter without a value", `Bearer realm=, scope="a"`},
		{"control character in a quoted string", "Bearer realm=\"a\x01b\""},
		{"backslash escaping a control character", "Bearer realm=\"a\\\x01\""},
		{"garbage after a quoted value", `Bearer realm="a"b`},
		{"a list element that is not a scheme", `="x"`},
		{"no space between scheme and credentials", "Bearer\trealm=\"a\""},
		{"longer than 16 KiB", "Bearer realm=\"" + strings.Repeat("a", 17<<10) + "\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Www-Authenticate": {tt.field}}
			got, err := protected.ParseChallenges(h)
			assert.Error(t, err)
			assert.Nil(t, got)
		})
	}
}

func TestChallengeAccessorsIgnoreCase(t *testing.T) {
	cs, err := protected.ParseChallenges(http.Header{"Www-Authenticate": {`bEARER Scope="a b"`}})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.True(t, cs[0].Is("Bearer"))
	assert.Equal(t, "a b", cs[0].Param("SCOPE"))
	assert.Empty(t, cs[0].Param("resource_metadata"))
}

// FuzzParseChallenges checks that any header parses or fails without a
// panic, that every result is well-formed, and that a parsed challenge
// list written back out parses to the same list.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer resource_metadata="https://a/b", scope="x y"`,
		`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
		`Negotiate abc==, Basic`,
		`, ,Bearer error="insufficient_scope"`,
		`Bearer realm="unterminated`,
		"Bearer realm=\"\xff\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		cs, err := protected.ParseChallenges(http.Header{"Www-Authenticate": {field}})
		if err != nil {
			return
		}
		var parts []string
		for _, c := range cs {
			require.NotEmpty(t, c.Scheme)
			require.False(t, c.Token68 != "" && len(c.Params) > 0, "a challenge has either token68 or params")
			s := c.Scheme
			switch {
			case c.Token68 != "":
				s += " " + c.Token68
			case len(c.Params) > 0:
				var ps []string
				for k, v := range c.Params {
					require.Equal(t, strings.ToLower(k), k)
					ps = append(ps, k+`="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v)+`"`)
				}
				s += " " + strings.Join(ps, ", ")
			}
			parts = append(parts, s)
		}
		again, err := protected.ParseChallenges(http.Header{"Www-Authenticate": {strings.Join(parts, ", ")}})
		require.NoError(t, err)
		require.Len(t, again, len(cs))
		for i := range cs {
			assert.True(t, strings.EqualFold(cs[i].Scheme, again[i].Scheme))
			assert.Equal(t, cs[i].Token68, again[i].Token68)
			assert.Equal(t, len(cs[i].Params), len(again[i].Params))
			for k, v := range cs[i].Params {
				assert.Equal(t, v, again[i].Params[k])
			}
		}
	})
}
