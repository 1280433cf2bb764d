package pkce

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var plainObjectSeeds = []string{
	`{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}`,
	`{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","scope":"openid profile email",` +
		`"id_token":"a.b.c","claims":{"org":"acme","roles":["a","b"]}}`,
	`{ "a" : [ 1 , -0.5e+3 , true , false , null , { } , [ ] ] }`,
	`{}`,
	`{"a":1,"a":2}`,
	`{"n":1e400}`,
	`{"n":-0}`,
	`{"n":01}`,
	`{"n":1.}`,
	`{"n":.5}`,
	`{"n":1e}`,
	`{"s":"a\"b"}`,
	`{"s":"é"}`,
	"{\"s\":\"\x7f\"}",
	"{\"s\":\"\x01\"}",
	`{"a":1,}`,
	`{"a":1}x`,
	`{"a" 1}`,
	`{"a":tru}`,
	`{"a":[1,]}`,
	`{"a":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}`,
	`{"a":nul}`,
}

// Whatever decodePlainObject accepts, encoding/json decodes to the same
// members; what it does not, it leaves to encoding/json.
func FuzzDecodePlainObject(f *testing.F) {
	for _, s := range plainObjectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, ok := decodePlainObject(body)
		if !ok {
			return
		}
		var want map[string]any
		require.NoError(t, json.Unmarshal(body, &want), "encoding/json refuses what the plain decoder accepted")
		assert.Equal(t, want, map[string]any(m))
	})
}

func TestDecodePlainObject(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		plain bool // decoded here rather than left to encoding/json
	}{
		{"a minimal token answer", plainObjectSeeds[0], true},
		{"nested objects and arrays", plainObjectSeeds[1], true},
		{"white space and every kind of value", plainObjectSeeds[2], true},
		{"an empty object", `{}`, true},
		{"a repeated name: the last wins", `{"a":1,"a":2}`, true},
		{"a number beyond float64 is left to encoding/json", `{"n":1e400}`, false},
		{"a leading zero is no JSON number", `{"n":01}`, false},
		{"a fraction without digits is no JSON number", `{"n":1.}`, false},
		{"an escape is left to encoding/json", `{"s":"a\"b"}`, false},
		{"UTF-8 is left to encoding/json", `{"s":"é"}`, false},
		{"a control character is left to encoding/json", "{\"s\":\"\x01\"}", false},
		{"a trailing comma is no JSON", `{"a":1,}`, false},
		{"trailing data is no JSON", `{"a":1}x`, false},
		{"a missing colon is no JSON", `{"a" 1}`, false},
		{"a truncated literal is no JSON", `{"a":tru}`, false},
		{"nesting deeper than maxPlainDepth is left to encoding/json", plainObjectSeeds[20], false},
		{"an array is not an object", `[1]`, false},
		{"a body longer than maxPlainBody is left to encoding/json", `{"a":"b",` + strings.Repeat(" ", maxPlainBody) + `"c":1}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := decodePlainObject([]byte(tt.body))
			assert.Equal(t, tt.plain, ok)
			if !ok {
				return
			}
			var want map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.body), &want))
			assert.Equal(t, want, map[string]any(m))
		})
	}
}
