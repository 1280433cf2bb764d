// Package seal encrypts what the package keeps outside the process, with
// AES-256-GCM (NIST SP 800-38D) under keys that rotate:
//
//   - Store wraps any pkce.Store so that tokens are encrypted at rest: a
//     dump or a backup of Redis, PostgreSQL or the token files holds no
//     refresh token in clear, and a value copied to another subject does
//     not decrypt;
//   - FlowCookie and OpenFlow carry a pending flow in an HttpOnly cookie,
//     so that a backend needs no session store between the authorization
//     request and the callback.
//
// It serves backends, whose guide to stores is
// https://github.com/pkcekit/pkce/blob/main/docs/stores.md.
//
// Every value names the ID of the key that sealed it. Keys holds one
// current key, which seals, and any number of older ones, which only
// open: to rotate, make the new key current and keep the old one until
// every value sealed with it has been rewritten or has expired.
//
// Besides package pkce, it uses only the standard library.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
)

// KeySize is the size of a key's secret: AES-256.
const KeySize = 32

// A Key is a secret and the ID that values sealed with it carry.
type Key struct {
	// ID names the key in every value it seals; 1 to 255 bytes, unique
	// among the Keys. It is not secret.
	ID string
	// Secret is KeySize random bytes (crypto/rand), kept where the
	// application keeps its other secrets.
	Secret []byte
}

// describe is what printing or logging a Key shows: its ID, never its
// secret, which would let whoever reads the log open every value.
func (k Key) describe() string {
	return fmt.Sprintf("seal.Key{ID:%q, Secret:[%d bytes, redacted]}", k.ID, len(k.Secret))
}

// Format implements fmt.Formatter without the secret, for every verb.
func (k Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.describe()) }

// LogValue implements slog.LogValuer without the secret.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.describe()) }

// Keys are the keys values are sealed and opened with. It is safe for
// concurrent use.
type Keys struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewKeys returns Keys that seal with current and open with current and
// any of older.
func NewKeys(current Key, older ...Key) (*Keys, error) {
	k := &Keys{current: current.ID, aeads: map[string]cipher.AEAD{}}
	for _, key := range append([]Key{current}, older...) {
		if len(key.ID) == 0 || len(key.ID) > 255 {
			return nil, errors.New("seal: a key ID must be 1 to 255 bytes long")
		}
		if _, dup := k.aeads[key.ID]; dup {
			return nil, fmt.Errorf("seal: two keys have the ID %q", key.ID)
		}
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("seal: the secret of key %q is %d bytes long, not %d", key.ID, len(key.Secret), KeySize)
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", key.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", key.ID, err)
		}
		k.aeads[key.ID] = aead
	}
	return k, nil
}

// format is the first byte of every sealed value, so that another layout
// can follow.
const format = 1

// A sealed value is
//
//	format (1 byte) | len(key ID) (1 byte) | key ID | nonce (12 bytes) | ciphertext and tag
//
// and its associated data is a domain string, which keeps tokens and
// flows apart, the binding (the subject, for tokens), and the header up
// to the nonce, so that the key ID cannot be swapped.

var errNoKeys = errors.New("seal: the Keys were not made by NewKeys")

// seal encrypts plain under the current key, bound to domain and binding.
func (k *Keys) seal(domain, binding string, plain []byte) ([]byte, error) {
	if k == nil || k.aeads[k.current] == nil {
		return nil, errNoKeys
	}
	aead := k.aeads[k.current]
	out := make([]byte, 0, 2+len(k.current)+aead.NonceSize()+len(plain)+aead.Overhead())
	out = append(out, format, byte(len(k.current)))
	out = append(out, k.current...)
	header := len(out)
	out = out[:header+aead.NonceSize()]
	rand.Read(out[header:]) // never fails (crypto/rand)
	ad := associated(domain, binding, out[:header])
	return aead.Seal(out, out[header:], plain, ad), nil
}

// open decrypts a value sealed by seal with the same domain and binding.
func (k *Keys) open(domain, binding string, sealed []byte) ([]byte, error) {
	if k == nil || k.aeads == nil {
		return nil, errNoKeys
	}
	if len(sealed) < 2 || sealed[0] != format || len(sealed) < 2+int(sealed[1]) {
		return nil, ErrTampered
	}
	header := 2 + int(sealed[1])
	aead, ok := k.aeads[string(sealed[2:header])]
	if !ok {
		return nil, ErrUnknownKey
	}
	if len(sealed) < header+aead.NonceSize()+aead.Overhead() {
		return nil, ErrTampered
	}
	nonce := sealed[header : header+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, sealed[header+aead.NonceSize():], associated(domain, binding, sealed[:header]))
	if err != nil {
		return nil, ErrTampered
	}
	return plain, nil
}

// associated is the associated data of a value: domain and binding, each
// preceded by its length so that no two pairs give the same bytes, and
// the value's header.
func associated(domain, binding string, header []byte) []byte {
	ad := make([]byte, 0, 16+len(domain)+len(binding)+len(header))
	ad = appendField(ad, domain)
	ad = appendField(ad, binding)
	return append(ad, header...)
}

func appendField(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint64(b, uint64(len(s))), s...)
}
