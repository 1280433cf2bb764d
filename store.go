package pkce

import (
	"context"
	"time"
)

// A Store is what the processes and replicas of one application share so
// that the package's guarantees hold across all of them: a pending flow is
// finished once, by whichever replica receives the callback first, and a
// subject's token is refreshed once per expiry, by whichever replica holds
// the subject's lease.
//
// The package ships an in-memory Store (NewMemoryStore), a file store for
// command-line tools and desktop apps (package filestore) and a Redis store
// in its own module (github.com/pkcekit/pkce/redisstore). Implementations
// must be safe for concurrent use, and every method must honour ctx. An
// error from a Store is reported to callers as a try-later failure, never
// as sign-in-required: an unreachable store says nothing about the token.
//
// Keys and subjects are opaque strings chosen by the package (claim keys)
// and by the application (subjects); an implementation may encode them as
// it needs but must not confuse two different ones. Tokens are opaque
// bytes that hold secrets: keep them where the application keeps other
// credentials.
type Store interface {
	// Claim reports whether key was unclaimed, and claims it for ttl. Among
	// all users of the store, exactly one call per key gets true until the
	// claim expires. The package claims a fixed-size digest of a flow's
	// state when the flow's callback arrives (RFC 6749 §10.12).
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)

	// LoadToken returns the token saved for subject, or nil and no error
	// when there is none. An error that matches ErrSignInRequired says
	// that a token is stored but can never be used (a wrapping store
	// cannot decrypt it, as package seal's): Tokens then answers
	// sign-in-required, and the next sign-in overwrites it. Any other
	// error is an outage, answered try-later.
	LoadToken(ctx context.Context, subject string) ([]byte, error)

	// SaveToken stores token for subject. When old is nil the save is
	// unconditional; otherwise it happens only if the stored token is
	// still old, byte for byte, and SaveToken reports whether it did
	// (compare-and-set). The check and the write are one atomic step.
	SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error)

	// DeleteToken removes the token saved for subject, if any.
	DeleteToken(ctx context.Context, subject string) error

	// Lease asks for the refresh lease of subject on behalf of owner, for
	// ttl. It reports true when owner holds the lease afterwards (newly
	// taken, or extended because owner already held it) and false when
	// another owner holds it. A lease whose holder disappears ends when
	// its ttl runs out.
	Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error)

	// Release ends owner's lease of subject. It does nothing when owner
	// does not hold the lease (it expired, or another owner took it).
	Release(ctx context.Context, subject, owner string) error
}

// A RefreshStore is a Store that does the steps of a refresh through
// Tokens in two calls rather than four, for stores where each call is a
// round trip: taking the lease and loading the token in one, saving the
// new token and releasing the lease in another. Tokens uses these methods
// when its Store has them. A store that wraps another (package seal's)
// and finds that the store it wraps has no such methods answers them
// with an error matching errors.ErrUnsupported, having done nothing:
// Tokens then uses the four Store methods (Lease, LoadToken, SaveToken,
// Release) instead.
type RefreshStore interface {
	Store

	// LeaseToken is Lease and then LoadToken, as one atomic step: it
	// reports whether owner holds subject's lease afterwards and returns
	// the token saved for subject (nil when there is none) whether or
	// not it does, so that a replica waiting for another's refresh sees
	// the token that refresh saved. An error matching ErrSignInRequired
	// is LoadToken's (the token cannot be read) and comes with held
	// set; any other error is an outage, after which the lease may or
	// may not be held.
	LeaseToken(ctx context.Context, subject, owner string, ttl time.Duration) (held bool, token []byte, err error)

	// SaveTokenRelease is SaveToken and then Release, as one atomic
	// step: it saves token for subject as SaveToken does (if the stored
	// token is still old, byte for byte, when old is not nil), reports
	// whether it did, and ends owner's lease of subject either way. Its
	// ctx carries the token's RefreshLifetime, as SaveToken's does.
	SaveTokenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error)
}

// refreshLifetimeKey carries the refresh token's lifetime into SaveToken.
type refreshLifetimeKey struct{}

// RefreshLifetime returns how long the refresh token being saved lives,
// when ctx is that of a SaveToken call made by Tokens and the token
// response said so: refresh_expires_in (Keycloak) or
// refresh_token_expires_in (Google, GitHub Apps), members that RFC 6749
// does not define. A Store whose values can expire (redisstore) lets the
// token expire then, so that abandoned grants do not stay for ever; a
// lifetime of 0, which Keycloak sends for offline tokens, counts as not
// said.
func RefreshLifetime(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(refreshLifetimeKey{}).(time.Duration)
	return d, ok
}

// withRefreshLifetime gives SaveToken the lifetime of tok's refresh token,
// if its token response said it.
func withRefreshLifetime(ctx context.Context, tok *Token) context.Context {
	if tok == nil || tok.Token == nil || tok.RefreshToken == "" {
		return ctx
	}
	for _, member := range []string{"refresh_expires_in", "refresh_token_expires_in"} {
		if n, err := parseExpiresIn(tok.Extra(member)); err == nil && n > 0 {
			return context.WithValue(ctx, refreshLifetimeKey{}, time.Duration(n)*time.Second)
		}
	}
	return ctx
}
