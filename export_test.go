package pkce

import "time"

// WithClock sets the clock of flow and token expiry, for tests that move
// time. It is not part of the package's API.
func WithClock(now func() time.Time) Option {
	return func(c *Client) error {
		c.now = now
		return nil
	}
}
