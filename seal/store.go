package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pkcekit/pkce"
)

// tokenDomain separates stored tokens from every other use of the keys.
const tokenDomain = "pkce/seal token v1"

// A Store wraps a pkce.Store and encrypts the tokens it saves, bound to
// their subject: the wrapped store holds only sealed values. Claims and
// leases pass through unchanged (their keys and owners are no secrets).
//
// A stored value that does not open (sealed with a retired key, altered,
// or copied from another subject) is not an outage: LoadToken fails with
// an error that matches ErrUnknownKey or ErrTampered and also
// pkce.ErrSignInRequired, which pkce.Tokens reports to its callers as
// sign-in-required (see pkce.Store). The next sign-in overwrites it.
//
// A value sealed with an older key still opens, and is sealed again with
// the current key the next time it is saved, at its next refresh.
//
// When the wrapped store is a pkce.RefreshStore, so is this one (a refresh
// through pkce.Tokens then costs it three calls: the lease with the
// token, a read for the compare-and-set, and the save with the release);
// otherwise its LeaseToken and SaveTokenRelease answer
// errors.ErrUnsupported, and pkce.Tokens uses the Store methods.
type Store struct {
	inner pkce.Store
	keys  *Keys
}

var _ pkce.RefreshStore = (*Store)(nil)

// NewStore returns a Store that seals tokens with keys into inner.
func NewStore(inner pkce.Store, keys *Keys) (*Store, error) {
	if inner == nil || keys == nil {
		return nil, errors.New("seal: NewStore needs a store and keys")
	}
	return &Store{inner: inner, keys: keys}, nil
}

// ready fails for a Store not made by NewStore.
func (s *Store) ready() error {
	if s == nil || s.inner == nil || s.keys == nil {
		return errors.New("seal: the Store was not made by NewStore")
	}
	return nil
}

// unreadableError is a stored token that does not open.
type unreadableError struct{ err error }

func (e *unreadableError) Error() string {
	return "seal: the stored token cannot be read: " + e.err.Error()
}

// Unwrap gives the reason (ErrTampered, ErrUnknownKey) and
// pkce.ErrSignInRequired, which tells pkce.Tokens that the token is lost.
func (e *unreadableError) Unwrap() []error { return []error{e.err, pkce.ErrSignInRequired} }

// Claim implements pkce.Store by calling the wrapped store.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := s.ready(); err != nil {
		return false, err
	}
	return s.inner.Claim(ctx, key, ttl)
}

// LoadToken implements pkce.Store: it opens the stored value.
func (s *Store) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	sealed, err := s.inner.LoadToken(ctx, subject)
	if err != nil || sealed == nil {
		return nil, err
	}
	return s.open(subject, sealed)
}

// open opens subject's sealed token.
func (s *Store) open(subject string, sealed []byte) ([]byte, error) {
	tok, err := s.keys.open(tokenDomain, subject, sealed)
	if errors.Is(err, errNoKeys) {
		return nil, err
	}
	if err != nil {
		return nil, &unreadableError{err: err}
	}
	if tok == nil {
		tok = []byte{} // an empty token is not an absent one
	}
	return tok, nil
}

// SaveToken implements pkce.Store. Sealing is randomised, so a
// compare-and-set cannot compare sealed bytes with old: it reads the
// stored value, opens it and compares, then asks the wrapped store to
// replace exactly the value it read. If another save came between, the
// wrapped store's compare-and-set fails, and so does this one.
func (s *Store) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	if err := s.ready(); err != nil {
		return false, err
	}
	sealed, err := s.keys.seal(tokenDomain, subject, token)
	if err != nil {
		return false, err
	}
	if old == nil {
		return s.inner.SaveToken(ctx, subject, nil, sealed)
	}
	cur, err := s.current(ctx, subject, old)
	if err != nil || cur == nil {
		return false, err // nil: what is stored is not old
	}
	ok, err := s.inner.SaveToken(ctx, subject, cur, sealed)
	if err != nil {
		return false, fmt.Errorf("seal: %w", err)
	}
	return ok, nil
}

// current returns the sealed value stored for subject if it opens to old,
// and nil if it does not (or nothing is stored).
func (s *Store) current(ctx context.Context, subject string, old []byte) ([]byte, error) {
	cur, err := s.inner.LoadToken(ctx, subject)
	if err != nil || cur == nil {
		return nil, err
	}
	plain, err := s.keys.open(tokenDomain, subject, cur)
	if errors.Is(err, errNoKeys) {
		return nil, err
	}
	if err != nil || !bytes.Equal(plain, old) {
		return nil, nil
	}
	return cur, nil
}

// DeleteToken implements pkce.Store by calling the wrapped store.
func (s *Store) DeleteToken(ctx context.Context, subject string) error {
	if err := s.ready(); err != nil {
		return err
	}
	return s.inner.DeleteToken(ctx, subject)
}

// Lease implements pkce.Store by calling the wrapped store.
func (s *Store) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if err := s.ready(); err != nil {
		return false, err
	}
	return s.inner.Lease(ctx, subject, owner, ttl)
}

// Release implements pkce.Store by calling the wrapped store.
func (s *Store) Release(ctx context.Context, subject, owner string) error {
	if err := s.ready(); err != nil {
		return err
	}
	return s.inner.Release(ctx, subject, owner)
}

// LeaseToken implements pkce.RefreshStore over a wrapped store that is
// one: it opens the token that comes with the lease, as LoadToken does.
func (s *Store) LeaseToken(ctx context.Context, subject, owner string, ttl time.Duration) (bool, []byte, error) {
	if err := s.ready(); err != nil {
		return false, nil, err
	}
	inner, ok := s.inner.(pkce.RefreshStore)
	if !ok {
		return false, nil, errors.ErrUnsupported
	}
	held, sealed, err := inner.LeaseToken(ctx, subject, owner, ttl)
	if err != nil || sealed == nil {
		return held, nil, err
	}
	tok, err := s.open(subject, sealed)
	return held, tok, err
}

// SaveTokenRelease implements pkce.RefreshStore over a wrapped store that
// is one, with SaveToken's compare-and-set of opened values; the lease is
// released whether or not the token is saved.
func (s *Store) SaveTokenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error) {
	if err := s.ready(); err != nil {
		return false, err
	}
	inner, ok := s.inner.(pkce.RefreshStore)
	if !ok {
		return false, errors.ErrUnsupported
	}
	sealed, err := s.keys.seal(tokenDomain, subject, token)
	if err != nil {
		return false, err
	}
	var cur []byte
	if old != nil {
		cur, err = s.current(ctx, subject, old)
		if err != nil {
			return false, err
		}
		if cur == nil { // what is stored is not old
			return false, inner.Release(ctx, subject, owner)
		}
	}
	ok, err = inner.SaveTokenRelease(ctx, subject, owner, cur, sealed)
	if err != nil {
		return false, fmt.Errorf("seal: %w", err)
	}
	return ok, nil
}
