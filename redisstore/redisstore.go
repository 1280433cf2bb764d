// Package redisstore is a pkce.Store in Redis, for backends whose replicas
// share sign-ins and tokens: a flow's callback is accepted once across all
// replicas (RFC 6749 §10.12), and one replica at a time refreshes a
// subject's token, so that a rotated refresh token is redeemed once
// (RFC 9700 §4.14).
//
// It serves backends with several replicas; their guide is
// https://github.com/pkcekit/pkce/blob/main/docs/backend.md.
//
// Every step that reads and then writes is one command or one Lua script,
// so it is atomic in Redis. A refresh through pkce.Tokens is two round
// trips (see pkce.RefreshStore): a script that takes the lease and reads
// the token, and one that saves the new token and releases the lease.
// Those two touch a subject's lease and token keys together, so they run
// only with a client of one server; through a cluster or ring client, or
// once a server refused them (CROSSSLOT), every step touches one key,
// which makes the store usable with Redis Cluster, and a refresh is four
// round trips. It is a separate module so that importers of
// github.com/pkcekit/pkce do not download a Redis client.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pkcekit/pkce"
)

// DefaultPrefix starts every key the store writes, unless WithPrefix
// says otherwise.
const DefaultPrefix = "pkce:"

// DefaultTokenTTL is how long a saved token's key lives, unless the
// token response gave the refresh token a shorter lifetime or
// WithTokenTTL says otherwise.
const DefaultTokenTTL = 90 * 24 * time.Hour

// A Store is a pkce.Store in Redis. It is safe for concurrent use.
type Store struct {
	client   redis.UniversalClient
	prefix   string
	tokenTTL time.Duration
	// oneNode is set when every key is on one server (a *redis.Client,
	// also in Sentinel failover), so that one script may touch a lease
	// and a token key: in a cluster, or on a ring, they may live on
	// different nodes.
	oneNode bool
	// split is set once Redis refused such a script because the two keys
	// are in different hash slots (CROSSSLOT: a cluster, or a proxy in
	// front of one, reached through a plain client): from then on every
	// step touches one key.
	split atomic.Bool
}

var _ pkce.RefreshStore = (*Store)(nil)

// An Option configures a Store in New.
type Option func(*Store)

// WithPrefix sets the string that starts every key the store writes
// (DefaultPrefix if not set), so that several applications, or test runs,
// can share one Redis database.
func WithPrefix(prefix string) Option { return func(s *Store) { s.prefix = prefix } }

// WithTokenTTL sets the longest time a token's key lives after its last
// save (DefaultTokenTTL if not set). Every save, at sign-in and at each
// refresh, sets the key's expiry anew: to the refresh token's lifetime
// when the authorization server said it (pkce.RefreshLifetime) and it is
// shorter, else to ttl. A subject that nobody uses for ttl is dropped, as
// its grant would be by most servers, and must sign in again.
func WithTokenTTL(ttl time.Duration) Option {
	return func(s *Store) {
		if ttl > 0 {
			s.tokenTTL = ttl
		}
	}
}

// New returns a Store that keeps its keys in the Redis that client talks
// to. Keys are the prefix, a kind ("claim:", "token:", "lease:") and the
// claim key or subject as given: Redis keys are binary-safe, so no two
// subjects share a key.
//
// For calls to end when their context does, create the client with
// ContextTimeoutEnabled set: otherwise go-redis bounds a call to an
// unresponsive server by its ReadTimeout and WriteTimeout, not by ctx.
func New(client redis.UniversalClient, opts ...Option) *Store {
	_, oneNode := client.(*redis.Client)
	s := &Store{client: client, prefix: DefaultPrefix, tokenTTL: DefaultTokenTTL, oneNode: oneNode}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Store) key(kind, name string) string { return s.prefix + kind + name }

// millis rounds ttl up to whole milliseconds, the unit of PX: rounding
// down could end a claim early.
func millis(ttl time.Duration) time.Duration {
	return (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
}

// fail wraps a failed call. Redis errors name commands and error codes,
// never the values sent, so tokens do not reach the message.
func fail(op string, err error) error { return fmt.Errorf("redisstore: %s: %w", op, err) }

var errNonPositiveTTL = errors.New("redisstore: ttl must be positive")

// Claim implements pkce.Store with SET key 1 NX PX ttl.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fail("claim", err)
	}
	if ttl <= 0 {
		return false, errNonPositiveTTL
	}
	err := s.client.SetArgs(ctx, s.key("claim:", key), 1, redis.SetArgs{Mode: "NX", TTL: millis(ttl)}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fail("claim", err)
	}
	return true, nil
}

// LoadToken implements pkce.Store.
func (s *Store) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail("load token", err)
	}
	tok, err := s.client.Get(ctx, s.key("token:", subject)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fail("load token", err)
	}
	return tok, nil
}

// compareAndSet sets KEYS[1] to ARGV[2], expiring in ARGV[3] ms, if it
// holds ARGV[1]. GET of a missing key gives false, which equals no
// string: a compare-and-set against a missing token fails.
var compareAndSet = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
	return 1
end
return 0
`)

// tokenTTLFor is the expiry of a token key saved with ctx: the refresh
// token's lifetime if the server said it and it is shorter than the
// store's maximum.
func (s *Store) tokenTTLFor(ctx context.Context) time.Duration {
	if d, ok := pkce.RefreshLifetime(ctx); ok && d > 0 && d < s.tokenTTL {
		return millis(d)
	}
	return millis(s.tokenTTL)
}

// SaveToken implements pkce.Store: SET with an expiry, or the
// compare-and-set script when old is not nil (see WithTokenTTL).
func (s *Store) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fail("save token", err)
	}
	k, ttl := s.key("token:", subject), s.tokenTTLFor(ctx)
	if old == nil {
		if err := s.client.Set(ctx, k, token, ttl).Err(); err != nil {
			return false, fail("save token", err)
		}
		return true, nil
	}
	n, err := compareAndSet.Run(ctx, s.client, []string{k}, old, token, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fail("save token", err)
	}
	return n == 1, nil
}

// DeleteToken implements pkce.Store.
func (s *Store) DeleteToken(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return fail("delete token", err)
	}
	if err := s.client.Del(ctx, s.key("token:", subject)).Err(); err != nil {
		return fail("delete token", err)
	}
	return nil
}

// extendLease extends KEYS[1] by ARGV[2] ms if ARGV[1] holds it, and takes
// it if it expired since the SET NX that preceded the script.
var extendLease = redis.NewScript(`
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return 1
end
if not holder then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
end
return 0
`)

// releaseLease deletes KEYS[1] only if ARGV[1] holds it, so that a holder
// whose lease expired cannot end the next holder's.
var releaseLease = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lease implements pkce.Store: SET lease owner NX PX ttl takes a free
// lease in one step; when that fails, a script extends the lease if owner
// already holds it. A holder that disappears holds the lease until ttl
// runs out.
func (s *Store) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fail("lease", err)
	}
	if ttl <= 0 {
		return false, errNonPositiveTTL
	}
	k, ttl := s.key("lease:", subject), millis(ttl)
	err := s.client.SetArgs(ctx, k, owner, redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, redis.Nil) {
		return false, fail("lease", err)
	}
	n, err := extendLease.Run(ctx, s.client, []string{k}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fail("lease", err)
	}
	return n == 1, nil
}

// Release implements pkce.Store.
func (s *Store) Release(ctx context.Context, subject, owner string) error {
	if err := ctx.Err(); err != nil {
		return fail("release", err)
	}
	if err := releaseLease.Run(ctx, s.client, []string{s.key("lease:", subject)}, owner).Err(); err != nil {
		return fail("release", err)
	}
	return nil
}

// leaseToken is Lease and then a GET of the token, in one script:
// KEYS[1] is the lease, KEYS[2] the token, ARGV[1] the owner and ARGV[2]
// the lease's ttl in ms. It returns {held, token}; a missing token is
// false, which Redis sends as a nil.
var leaseToken = redis.NewScript(`
local holder = redis.call('GET', KEYS[1])
local held = 0
if holder == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	held = 1
elseif not holder then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	held = 1
end
return {held, redis.call('GET', KEYS[2])}
`)

// LeaseToken implements pkce.RefreshStore. Against one Redis server it
// is one script, one round trip; through a cluster or ring client, whose
// lease and token keys may be on different nodes, or against a server
// that refuses a script over keys of two hash slots, it is Lease and
// then LoadToken.
func (s *Store) LeaseToken(ctx context.Context, subject, owner string, ttl time.Duration) (bool, []byte, error) {
	if err := ctx.Err(); err != nil {
		return false, nil, fail("lease", err)
	}
	if ttl <= 0 {
		return false, nil, errNonPositiveTTL
	}
	if !s.oneNode || s.split.Load() {
		return s.leaseThenLoad(ctx, subject, owner, ttl)
	}
	keys := []string{s.key("lease:", subject), s.key("token:", subject)}
	reply, err := leaseToken.Run(ctx, s.client, keys, owner, millis(ttl).Milliseconds()).Slice()
	if s.crossSlot(err) {
		return s.leaseThenLoad(ctx, subject, owner, ttl)
	}
	if err != nil {
		return false, nil, fail("lease", err)
	}
	if len(reply) != 2 {
		return false, nil, fail("lease", errors.New("unexpected reply"))
	}
	held, _ := reply[0].(int64)
	if reply[1] == nil {
		return held == 1, nil, nil
	}
	tok, ok := reply[1].(string)
	if !ok {
		return false, nil, fail("lease", errors.New("unexpected reply"))
	}
	return held == 1, []byte(tok), nil
}

// leaseThenLoad is LeaseToken in two round trips, each touching one key.
func (s *Store) leaseThenLoad(ctx context.Context, subject, owner string, ttl time.Duration) (bool, []byte, error) {
	held, err := s.Lease(ctx, subject, owner, ttl)
	if err != nil {
		return false, nil, err
	}
	tok, err := s.LoadToken(ctx, subject)
	return held, tok, err
}

// crossSlot reports whether err is Redis refusing a script over keys in
// different hash slots, which it remembers (see Store.split). The script
// did nothing.
func (s *Store) crossSlot(err error) bool {
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		return false
	}
	s.split.Store(true)
	return true
}

// saveTokenRelease is the compare-and-set of a token and the release of
// its lease, in one script: KEYS[1] is the token, KEYS[2] the lease,
// ARGV[1] the old token, ARGV[2] the new one, ARGV[3] its ttl in ms and
// ARGV[4] the lease's owner.
var saveTokenRelease = redis.NewScript(`
if redis.call('GET', KEYS[2]) == ARGV[4] then
	redis.call('DEL', KEYS[2])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
	return 1
end
return 0
`)

// SaveTokenRelease implements pkce.RefreshStore: one script, one round
// trip, against one Redis server (see LeaseToken).
func (s *Store) SaveTokenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fail("save token", err)
	}
	if old == nil || !s.oneNode || s.split.Load() {
		return s.saveThenRelease(ctx, subject, owner, old, token)
	}
	keys := []string{s.key("token:", subject), s.key("lease:", subject)}
	n, err := saveTokenRelease.Run(ctx, s.client, keys, old, token, s.tokenTTLFor(ctx).Milliseconds(), owner).Int()
	if s.crossSlot(err) {
		return s.saveThenRelease(ctx, subject, owner, old, token)
	}
	if err != nil {
		return false, fail("save token", err)
	}
	return n == 1, nil
}

// saveThenRelease is SaveTokenRelease in two round trips, each touching
// one key.
func (s *Store) saveThenRelease(ctx context.Context, subject, owner string, old, token []byte) (bool, error) {
	saved, err := s.SaveToken(ctx, subject, old, token)
	if err != nil {
		return false, err
	}
	return saved, s.Release(ctx, subject, owner)
}
