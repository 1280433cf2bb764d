package storetest

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AssertNoSecrets fails the test if raw, bytes as a store keeps them,
// holds any of secrets in clear or in a common encoding: base64 (at any
// alignment), hex or percent-encoding. JSON escapes change none of the
// secrets that pkcetest issues.
func AssertNoSecrets(t *testing.T, raw []byte, secrets ...string) {
	t.Helper()
	require.NotEmpty(t, raw, "storetest: nothing stored to look at")
	for _, s := range secrets {
		require.GreaterOrEqual(t, len(s), 16, "storetest: a secret this short could occur by chance")
		probes := map[string]string{
			"in clear":        s,
			"hex-encoded":     hex.EncodeToString([]byte(s)),
			"percent-encoded": url.QueryEscape(s),
		}
		// A base64 encoding depends on where the secret starts within
		// the encoded bytes; the middle of each of the three alignments
		// does not depend on its neighbours.
		for k := range 3 {
			pad := strings.Repeat("\x00", k)
			for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.RawURLEncoding} {
				e := enc.EncodeToString([]byte(pad + s))
				probes[fmt.Sprintf("%s-encoded (alignment %d)", name, k)] = e[4 : len(e)-4]
			}
		}
		for how, probe := range probes {
			assert.False(t, strings.Contains(string(raw), probe), "a secret is stored %s", how)
		}
	}
}
