package protected

import "time"

// SetHeadlessTimeout sets the bound of HeadlessSignIn's walk for a test
// and returns what restores it. It is not part of the package's API.
func SetHeadlessTimeout(d time.Duration) (restore func()) {
	old := headlessTimeout
	headlessTimeout = d
	return func() { headlessTimeout = old }
}
