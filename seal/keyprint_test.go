package seal_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pkcekit/pkce/seal"
)

// A Key printed or logged by a careless application shows its ID, never
// its secret, in no verb and no encoding.
func TestKeyPrintedWithVerbLeaksSecret(t *testing.T) {
	key := newKey("k1")
	leaks := func(out string) bool {
		for _, enc := range []string{string(key.Secret), hex.EncodeToString(key.Secret), fmt.Sprint(key.Secret),
			base64.StdEncoding.EncodeToString(key.Secret), fmt.Sprintf("%#v", key.Secret), fmt.Sprint(key.Secret[:4])[1:]} {
			if bytes.Contains([]byte(out), []byte(enc)) {
				return true
			}
		}
		return false
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("keys", "key", key, "ptr", &key)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("keys", "key", key, "ptr", &key)
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%d", "%s", "%q"} {
		assert.False(t, leaks(fmt.Sprintf(verb, key)), "secret printed by %s", verb)
	}
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", key), "%+v": fmt.Sprintf("%+v", key), "%#v": fmt.Sprintf("%#v", key),
		"pointer %+v": fmt.Sprintf("%+v", &key), "in a slice": fmt.Sprint([]seal.Key{key}),
		"slog text": text.String(), "slog JSON": js.String(),
	} {
		t.Run(name, func(t *testing.T) {
			assert.False(t, leaks(out), "secret printed: %s", out)
			assert.Contains(t, out, "k1", "the ID helps whoever reads it")
		})
	}
}
