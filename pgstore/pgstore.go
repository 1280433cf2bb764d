// Package pgstore is a pkce.Store in PostgreSQL, for backends whose
// replicas share a database: a flow's callback is accepted once across all
// replicas (RFC 6749 §10.12), and one replica at a time refreshes a
// subject's token, so that a rotated refresh token is redeemed once
// (RFC 9700 §4.14).
//
// It serves backends with several replicas; their guide to stores is
// https://github.com/pkcekit/pkce/blob/main/docs/stores.md.
//
// Every step that reads and then writes is one SQL statement (INSERT … ON
// CONFLICT … WHERE, or UPDATE … WHERE), which PostgreSQL runs atomically
// for the row it touches, so the store needs no transaction and works
// through any connection of a pool. Times are the database's clock, so
// that replicas whose clocks disagree still agree on when a claim or a
// lease ends.
//
// # Leases are rows, not advisory locks
//
// A lease is a row holding its owner and an expiry. PostgreSQL's advisory
// locks were the alternative, and they do not fit: a session lock belongs
// to the connection that took it, and a pool hands the next statement,
// Release included, to any connection; pinning one connection per lease
// would take a connection out of the pool for every subject being
// refreshed. A session lock also ends only when the server notices that
// its connection died, after TCP keepalives that the application does not
// control, while pkce.Store promises that a lease whose holder disappears
// ends when its ttl runs out. A row with an expiry keeps that promise,
// and a lease whose holder was killed is taken over by the next owner that
// finds it expired.
//
// It is a separate module so that importers of github.com/pkcekit/pkce do
// not download a database driver.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pkcekit/pkce"
)

// DefaultSchema is the PostgreSQL schema that holds the store's tables,
// unless WithSchema says otherwise.
const DefaultSchema = "pkce"

// A Store is a pkce.Store in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	q      queries
	claims atomic.Uint64 // counts claims, to sweep expired rows now and then
}

var _ pkce.Store = (*Store)(nil)

// An Option configures a Store in New.
type Option func(*Store)

// WithSchema sets the schema that holds the store's tables (DefaultSchema
// if not set), so that several applications, or test runs, can share one
// database.
func WithSchema(schema string) Option { return func(s *Store) { s.schema = schema } }

// New returns a Store whose rows live in the database that pool connects
// to. It creates the schema and its tables if they do not exist (see
// Migration), so the role of the pool needs the CREATE privilege on the
// database the first time; several processes may call New at once.
//
// Subjects, claim keys and lease owners are stored as bytea, byte for
// byte: no two subjects share a row, whatever bytes they hold.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New was given a nil pool")
	}
	s := &Store{pool: pool, schema: DefaultSchema}
	for _, o := range opts {
		o(s)
	}
	if s.schema == "" {
		return nil, errors.New("pgstore: the schema name is empty")
	}
	s.q = newQueries(pgx.Identifier{s.schema}.Sanitize())
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Migration returns the SQL that New runs to create the store's tables in
// schema, for deployments where the application's role may not create
// tables: run it once, with a role that may, before the first New. It is
// idempotent.
func Migration(schema string) string {
	return newQueries(pgx.Identifier{schema}.Sanitize()).migration
}

// migrationLock is the key of the transaction-level advisory lock that
// serialises New's migrations: concurrent CREATE TABLE IF NOT EXISTS of
// one table can fail with a unique violation in the system catalogue.
const migrationLock = 0x706b6365 // "pkce"

func (s *Store) migrate(ctx context.Context) error {
	if err := s.ready(ctx, "create tables"); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.q.migration)
		return err
	})
	if err != nil {
		return s.fail(ctx, "create tables", err)
	}
	return nil
}

// fail wraps a failed call. PostgreSQL's error messages name statements,
// types and constraints; the store's statements pass every value as a
// parameter, and the driver's errors do not quote parameters, so tokens
// do not reach the message. A call cut short by ctx matches ctx's error.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("pgstore: %s: %w (%w)", op, ctxErr, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

var errNonPositiveTTL = errors.New("pgstore: ttl must be positive")

// ready checks, before a call, that the store was made by New and that
// ctx has not ended.
func (s *Store) ready(ctx context.Context, op string) error {
	if s == nil || s.pool == nil {
		return fmt.Errorf("pgstore: %s: the Store was not made by New", op)
	}
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}

// micros rounds ttl up to whole microseconds, PostgreSQL's resolution:
// rounding down could end a claim early. It divides before rounding up:
// adding first would overflow a ttl near the largest duration into a
// negative one, which ends the claim at once.
func micros(ttl time.Duration) int64 {
	m := int64(ttl / time.Microsecond)
	if ttl%time.Microsecond != 0 {
		m++
	}
	return m
}

// missingTables reports whether err says that the store's schema or
// tables do not exist: undefined_table or invalid_schema_name.
func missingTables(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000")
}

// exec runs a statement. If the tables are gone (the database was
// restarted without its data, or restored from an older dump), it creates
// them and runs the statement again, once: otherwise every call would
// fail until the process restarts, and users would be told to try later
// for ever instead of signing in again.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if missingTables(err) && s.migrate(ctx) == nil {
		tag, err = s.pool.Exec(ctx, sql, args...)
	}
	return tag, err
}

// queryRow runs a query for one value into dest, as exec does.
func (s *Store) queryRow(ctx context.Context, dest any, sql string, args ...any) error {
	err := s.pool.QueryRow(ctx, sql, args...).Scan(dest)
	if missingTables(err) && s.migrate(ctx) == nil {
		err = s.pool.QueryRow(ctx, sql, args...).Scan(dest)
	}
	return err
}

// sweepEvery is how many claims pass between two sweeps of expired claims
// and leases, so that a busy store does not grow without bound.
const sweepEvery = 256

// Claim implements pkce.Store: an INSERT that, on conflict, takes over
// the key only if its claim has expired.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := s.ready(ctx, "claim"); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, errNonPositiveTTL
	}
	if s.claims.Add(1)%sweepEvery == 0 {
		s.sweep(ctx)
	}
	var won bool
	err := s.queryRow(ctx, &won, s.q.claim, []byte(key), micros(ttl))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.fail(ctx, "claim", err)
	}
	return won, nil
}

// sweep deletes a bounded number of expired claims and leases. A failure
// is harmless: expired rows are ignored and taken over anyway.
func (s *Store) sweep(ctx context.Context) {
	_, _ = s.pool.Exec(ctx, s.q.sweep)
}

// LoadToken implements pkce.Store.
func (s *Store) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	if err := s.ready(ctx, "load token"); err != nil {
		return nil, err
	}
	var tok []byte
	err := s.queryRow(ctx, &tok, s.q.loadToken, []byte(subject))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail(ctx, "load token", err)
	}
	if tok == nil {
		tok = []byte{}
	}
	return tok, nil
}

// SaveToken implements pkce.Store: an upsert, or an UPDATE that matches
// the stored bytes when old is not nil.
func (s *Store) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	if err := s.ready(ctx, "save token"); err != nil {
		return false, err
	}
	if token == nil {
		token = []byte{}
	}
	if old == nil {
		if _, err := s.exec(ctx, s.q.saveToken, []byte(subject), token); err != nil {
			return false, s.fail(ctx, "save token", err)
		}
		return true, nil
	}
	tag, err := s.exec(ctx, s.q.swapToken, []byte(subject), old, token)
	if err != nil {
		return false, s.fail(ctx, "save token", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteToken implements pkce.Store.
func (s *Store) DeleteToken(ctx context.Context, subject string) error {
	if err := s.ready(ctx, "delete token"); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.q.deleteToken, []byte(subject)); err != nil {
		return s.fail(ctx, "delete token", err)
	}
	return nil
}

// Lease implements pkce.Store: an INSERT that, on conflict, takes the
// lease if owner already holds it (extending it) or if it has expired.
func (s *Store) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if err := s.ready(ctx, "lease"); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, errNonPositiveTTL
	}
	var held bool
	err := s.queryRow(ctx, &held, s.q.lease, []byte(subject), []byte(owner), micros(ttl))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.fail(ctx, "lease", err)
	}
	return held, nil
}

// Release implements pkce.Store: it deletes the lease only if owner holds
// it, so that a holder whose lease expired cannot end the next holder's.
func (s *Store) Release(ctx context.Context, subject, owner string) error {
	if err := s.ready(ctx, "release"); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.q.release, []byte(subject), []byte(owner)); err != nil {
		return s.fail(ctx, "release", err)
	}
	return nil
}
