package sqlcat

import (
	"context"
	"testing"
	"time"
)

// SetAnswerTimeout shortens how long the catalog waits for a server's
// answer, for catalogs opened after it, until the test ends.
func SetAnswerTimeout(t *testing.T, d time.Duration) {
	old := opTimeout
	opTimeout = d
	t.Cleanup(func() { opTimeout = old })
}

// What the tests in package sqlcat_test (which may import sqlcattest, and
// so run on the servers) reach inside.

// TwoHandles races two handles on one database.
func TwoHandles(t *testing.T, first, second *DB) { twoHandles(t, first, second) }

// Exec runs one statement in a write transaction of its own kind.
type Exec func(q string, args ...any) error

// Write runs fn as a catalog write: in the group commit on SQLite, in a
// transaction retried after deadlocks on the servers. fn may run more than
// once.
func (db *DB) Write(ctx context.Context, fn func(exec Exec) error) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		return fn(func(q string, args ...any) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return mapErr(err)
		})
	})
}

// AsOracleMySQL makes a catalog on MariaDB write its statements as for
// Oracle's MySQL (no ORDER BY in JSON_ARRAYAGG), which MariaDB also runs.
func AsOracleMySQL(db *DB) { db.tr.unorderedAggregates = true }
