//go:build unix

package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce"
	"github.com/pkcekit/pkce/internal/storetest"
	"github.com/pkcekit/pkce/pgstore"
)

// pgDSN is the address of the server that TestMain started, or that a
// parent test process passed to its children in PG_DSN.
var pgDSN string

// pgMissing is why the tests skip outside CI: no PostgreSQL server.
var pgMissing error

// needPostgres skips t when no PostgreSQL server could be started.
func needPostgres(t testing.TB) {
	t.Helper()
	if pgMissing != nil {
		t.Skip(pgMissing.Error())
	}
}

func TestMain(m *testing.M) {
	if storetest.Role() != "" {
		pgDSN = os.Getenv("PG_DSN")
		os.Exit(m.Run())
	}
	srv, err := initServer()
	if errors.Is(err, errNoPostgres) && os.Getenv("CI") != "true" {
		// Outside CI the tests skip, saying why; in CI they fail.
		pgMissing = err
		os.Exit(m.Run())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pgDSN = srv.DSN
	code := m.Run()
	srv.Remove()
	os.Exit(code)
}

// newPool returns a pool of dsn, closed when the test ends.
func newPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

var schemas atomic.Int64

// uniqueSchema keeps every test's rows apart in the shared server.
func uniqueSchema() string {
	return fmt.Sprintf("pkce_test_%d_%d", os.Getpid(), schemas.Add(1))
}

// newStore returns a store in its own schema of pool's database.
func newStore(t testing.TB, pool *pgxpool.Pool, schema string) *pgstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := pgstore.New(ctx, pool, pgstore.WithSchema(schema))
	require.NoError(t, err)
	return s
}

func TestContract(t *testing.T) {
	needPostgres(t)
	pool := newPool(t, pgDSN)
	storetest.Run(t, func(t *testing.T) pkce.Store { return newStore(t, pool, uniqueSchema()) })
}

func TestSchema(t *testing.T) {
	needPostgres(t)
	ctx := context.Background()
	pool := newPool(t, pgDSN)

	t.Run("the default schema holds the rows", func(t *testing.T) {
		s, err := pgstore.New(ctx, pool)
		require.NoError(t, err)
		_, err = s.SaveToken(ctx, "schema test", nil, []byte("token"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.DeleteToken(ctx, "schema test") })
		var got []byte
		require.NoError(t, pool.QueryRow(ctx, `SELECT token FROM pkce.tokens WHERE subject = $1`, []byte("schema test")).Scan(&got))
		assert.Equal(t, "token", string(got))
	})
	t.Run("creating the tables again keeps the rows", func(t *testing.T) {
		schema := uniqueSchema()
		s := newStore(t, pool, schema)
		_, err := s.SaveToken(ctx, "alice", nil, []byte("token"))
		require.NoError(t, err)
		again := newStore(t, pool, schema)
		got, err := again.LoadToken(ctx, "alice")
		require.NoError(t, err)
		assert.Equal(t, "token", string(got))
	})
	t.Run("the documented migration is what New runs", func(t *testing.T) {
		schema := uniqueSchema()
		_, err := pool.Exec(ctx, pgstore.Migration(schema))
		require.NoError(t, err)
		s := newStore(t, pool, schema)
		_, err = s.SaveToken(ctx, "alice", nil, []byte("token"))
		assert.NoError(t, err)
	})
	t.Run("a schema name that needs quoting", func(t *testing.T) {
		s := newStore(t, pool, `odd "name"; DROP`+uniqueSchema())
		ok, err := s.Claim(ctx, "k", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// New from several processes at once on a fresh schema: each one gets a
// working store (the migration is serialised).
func TestConcurrentMigration(t *testing.T) {
	needPostgres(t)
	if storetest.Role() == "migrator" {
		pool := newPool(t, pgDSN)
		storetest.AwaitStart()
		s := newStore(t, pool, os.Getenv("STORE_SCHEMA"))
		ok, err := s.Claim(context.Background(), storetest.Key("m"), time.Minute)
		require.NoError(t, err)
		storetest.Report("won %t", ok)
		return
	}
	ps := storetest.StartProcesses(t, 4, "migrator", "PG_DSN="+pgDSN, "STORE_SCHEMA="+uniqueSchema())
	ps.Start()
	wins := 0
	for i, lines := range ps.Wait(t) {
		require.Len(t, lines, 1, "child %d", i)
		if lines[0] == "won true" {
			wins++
		}
	}
	assert.Equal(t, 1, wins)
}

// A Store not made by New fails every call with an error; it never
// panics.
func TestZeroStore(t *testing.T) {
	needPostgres(t)
	for name, s := range map[string]*pgstore.Store{"zero value": {}, "nil pointer": nil} {
		for _, c := range storeCalls {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				var err error
				assert.NotPanics(t, func() { err = c.call(context.Background(), s) })
				assert.ErrorContains(t, err, "not made by New")
			})
		}
	}
	_, err := pgstore.New(context.Background(), nil)
	assert.Error(t, err, "New with a nil pool")
}
