package pgstore

import "strings"

// queries are the store's statements, for one schema.
type queries struct {
	migration, sweep                             string
	claim                                        string
	loadToken, saveToken, swapToken, deleteToken string
	lease, release                               string
}

// newQueries writes the statements for schema, an identifier already
// quoted. Every value is a parameter; ttls are whole microseconds
// ($n * interval '1 microsecond'), added to clock_timestamp(), the
// database's clock when the statement runs.
func newQueries(schema string) queries {
	r := strings.NewReplacer("§", schema+".")
	return queries{
		migration: r.Replace(`
CREATE SCHEMA IF NOT EXISTS ` + schema + `;
CREATE TABLE IF NOT EXISTS §claims (
	key bytea PRIMARY KEY,
	expires timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS §tokens (
	subject bytea PRIMARY KEY,
	token bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS §leases (
	subject bytea PRIMARY KEY,
	owner bytea NOT NULL,
	expires timestamptz NOT NULL
);`),
		sweep: r.Replace(`
WITH c AS (DELETE FROM §claims WHERE key IN
	(SELECT key FROM §claims WHERE expires < clock_timestamp() LIMIT 1000))
DELETE FROM §leases WHERE subject IN
	(SELECT subject FROM §leases WHERE expires < clock_timestamp() LIMIT 1000)`),
		claim: r.Replace(`
INSERT INTO §claims AS c (key, expires) VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET expires = EXCLUDED.expires
	WHERE c.expires <= clock_timestamp()
RETURNING true`),
		loadToken: r.Replace(`SELECT token FROM §tokens WHERE subject = $1`),
		saveToken: r.Replace(`
INSERT INTO §tokens (subject, token) VALUES ($1, $2)
ON CONFLICT (subject) DO UPDATE SET token = EXCLUDED.token`),
		swapToken:   r.Replace(`UPDATE §tokens SET token = $3 WHERE subject = $1 AND token = $2`),
		deleteToken: r.Replace(`DELETE FROM §tokens WHERE subject = $1`),
		lease: r.Replace(`
INSERT INTO §leases AS l (subject, owner, expires) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 microsecond')
ON CONFLICT (subject) DO UPDATE SET owner = EXCLUDED.owner, expires = EXCLUDED.expires
	WHERE l.owner = EXCLUDED.owner OR l.expires <= clock_timestamp()
RETURNING true`),
		release: r.Replace(`DELETE FROM §leases WHERE subject = $1 AND owner = $2`),
	}
}
