package protected

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pkcekit/pkce"
)

// ErrNoRegistration is matched by the error of a Transport that found no
// way to identify the client to the authorization server: no pre-registered
// credentials for it, no client ID metadata document it accepts, and no
// registration endpoint.
var ErrNoRegistration = errors.New("pkce: no client registration for the authorization server")

// The steps of a Transport's errors, the Op of its *pkce.ResponseError and
// *pkce.OAuthError values.
const (
	opDiscover         = "metadata discovery"          // RFC 8414 §3
	opResourceMetadata = "protected resource metadata" // RFC 9728 §3
	opRegister         = "dynamic client registration" // RFC 7591 §3
	opResource         = "protected resource"          // a request to the resource itself
)

// defaultMaxResponseBytes bounds the bodies read from the resource's and
// the authorization server's metadata endpoints, as package pkce bounds
// its own (pkce.WithMaxResponseBytes).
const defaultMaxResponseBytes = 512 << 10

// configErrorf returns an error matching pkce.ErrInvalidConfig.
func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{pkce.ErrInvalidConfig}, args...)...)
}

// configProblem is the message of a configuration error without its prefix.
func configProblem(err error) string {
	return strings.TrimPrefix(err.Error(), pkce.ErrInvalidConfig.Error()+": ")
}
