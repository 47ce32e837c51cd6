package sqlcat

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Glance records its schema version in alembic_version. glimpse writes the
// same revisions so that glance-manage and glance-api accept a database
// glimpse made, and the reverse.
const (
	// HeadRevision is the newest Glance schema revision glimpse knows.
	HeadRevision = "2024_1_contract01"
	// MinRevision is the oldest schema glimpse serves without an upgrade:
	// tasks gained image_id, request_id and user_id in wallaby_expand01.
	MinRevision = "wallaby_contract01"
)

// revisions is Glance's contract-branch history, oldest first. A database
// may also be stamped with an expand revision; expandOf maps it to its slot.
var revisions = []string{
	"liberty", "mitaka01", "mitaka02", "ocata_contract01", "pike_contract01",
	"queens_contract01", "rocky_contract01", "rocky_contract02",
	"train_contract01", "ussuri_contract01", "wallaby_contract01",
	"xena_contract01", "yoga_contract01", "zed_contract01",
	"2023_1_contract01", "2024_1_contract01",
}

func revisionIndex(rev string) int {
	rev = strings.Replace(rev, "_expand", "_contract", 1)
	switch rev {
	case "ocata01":
		rev = "ocata_contract01"
	case "pike01":
		rev = "pike_contract01"
	case "rocky_expand02":
		rev = "rocky_contract02"
	}
	return slices.Index(revisions, rev)
}

//go:embed schema_sqlite.sql
var schemaSQLite string

//go:embed cache_tables_sqlite.sql
var cacheTablesSQLite string

//go:embed schema_postgresql.sql
var schemaPostgres string

//go:embed cache_tables_postgresql.sql
var cacheTablesPostgres string

//go:embed schema_mysql.sql
var schemaMySQL string

//go:embed cache_tables_mysql.sql
var cacheTablesMySQL string

// schemaOf returns the DDL of Glance's wallaby head and of the cache
// tables 2024_1_expand01 adds, in db's dialect.
func (db *DB) schemaOf() (head, cacheTables string) {
	switch db.d {
	case postgresDialect:
		return schemaPostgres, cacheTablesPostgres
	case mysqlDialect:
		return schemaMySQL, cacheTablesMySQL
	}
	return schemaSQLite, cacheTablesSQLite
}

// tablesQuery counts the tables of the catalog's database (or schema).
func (db *DB) tablesQuery() string {
	switch db.d {
	case postgresDialect:
		return `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`
	case mysqlDialect:
		return `SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()`
	}
	return `SELECT count(*) FROM sqlite_master WHERE type='table'`
}

// statements splits a DDL file into its statements: each ends with ";"
// at the end of a line; lines starting with "--" are comments.
func statements(ddl string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(ddl) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// ErrNewerSchema means the database was migrated by a newer Glance or
// glimpse than this binary; serving it could corrupt data.
var ErrNewerSchema = errors.New("database schema is newer than this glimpse")

// ErrOldSchema means the database needs `glimpse db sync` first.
var ErrOldSchema = errors.New("database schema is too old")

// Version returns the revision in alembic_version, "" for an empty database.
func (db *DB) Version(ctx context.Context) (string, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, db.tablesQuery()+` AND `+map[bool]string{true: "name", false: "table_name"}[db.d == sqliteDialect]+` = 'alembic_version'`).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("read schema version: %w", err)
	}
	if n == 0 {
		return "", nil
	}
	var v string
	err = db.sql.QueryRowContext(ctx, `SELECT version_num FROM alembic_version`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// CheckVersion returns nil when this binary can serve the database as it is.
func CheckVersion(rev string) error {
	i := revisionIndex(rev)
	switch {
	case rev == "":
		return fmt.Errorf("%w: the database is empty, run `glimpse db sync`", ErrOldSchema)
	case i < 0:
		return fmt.Errorf("%w: unknown revision %q (this glimpse knows up to %s)", ErrNewerSchema, rev, HeadRevision)
	case i < revisionIndex(MinRevision):
		return fmt.Errorf("%w: revision %s is older than %s; run `glimpse db sync`", ErrOldSchema, rev, MinRevision)
	}
	return nil
}

// Sync brings the schema to HeadRevision: it creates Glance's head schema in
// an empty database and applies the later revisions to a served one. It
// refuses schemas older than MinRevision (upgrade those with
// glance-manage first) and newer than HeadRevision.
func (db *DB) Sync(ctx context.Context) (from, to string, err error) {
	if db.d != sqliteDialect {
		// Two glimpse processes starting on one empty database (or two
		// operators) must not both create the schema: the second waits,
		// then finds it made.
		release, err := db.schemaLock(ctx)
		if err != nil {
			return "", "", fmt.Errorf("lock the schema: %w", err)
		}
		defer release()
	}
	from, err = db.Version(ctx)
	if err != nil {
		return "", "", err
	}
	if from == HeadRevision {
		return from, from, nil
	}
	if from != "" {
		if err := CheckVersion(from); err != nil {
			if errors.Is(err, ErrOldSchema) {
				return from, from, fmt.Errorf("%w: revision %s predates %s; upgrade it with glance-manage db_sync first", ErrOldSchema, from, MinRevision)
			}
			return from, from, err
		}
	}
	head, cacheTables := db.schemaOf()
	var stmts []string
	resuming := false
	if from == "" {
		var tables int
		if err := db.sql.QueryRowContext(ctx, db.tablesQuery()).Scan(&tables); err != nil {
			return from, from, err
		}
		if tables > 0 {
			// MySQL commits each DDL statement by itself: tables that
			// are all Glance's, with no revision stamped, are what an
			// interrupted sync left, and the sync goes on from there.
			ok, err := db.onlyTablesOf(ctx, head+cacheTables)
			if err != nil {
				return from, from, err
			}
			if !ok || db.d != mysqlDialect {
				return from, from, errors.New("database has tables but no alembic_version: not a Glance database")
			}
			resuming = true
		}
		stmts = append(stmts, head, cacheTables,
			`INSERT INTO alembic_version (version_num) VALUES ('`+HeadRevision+`')`)
	} else {
		// Every revision after wallaby up to 2024_1_expand01 is empty;
		// 2024_1_expand01 adds the cache tables.
		if revisionIndex(from) < revisionIndex(HeadRevision) {
			stmts = append(stmts, cacheTables)
		}
		stmts = append(stmts, `UPDATE alembic_version SET version_num = '`+HeadRevision+`'`)
	}
	if db.d == sqliteDialect {
		// SQLite runs a script whole.
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			for _, s := range stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("migrate schema: %w", err)
				}
			}
			return nil
		})
		return synced(from, err)
	}
	var split []string
	for _, s := range stmts {
		split = append(split, statements(s)...)
	}
	run := func(ex interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}) error {
		for _, s := range split {
			if _, err := ex.ExecContext(ctx, s); err != nil && !(resuming && alreadyMade(err)) {
				return fmt.Errorf("migrate schema: %w\n%s", err, s)
			}
		}
		return nil
	}
	if db.d == mysqlDialect {
		// MySQL commits each DDL statement by itself, as alembic's
		// migrations do there; the version is stamped last, so an
		// interrupted sync is seen as not done.
		return synced(from, run(db.sql))
	}
	return synced(from, db.inTx(ctx, func(tx *sql.Tx) error { return run(tx) }))
}

// synced is Sync's answer after a migration from revision from.
func synced(from string, err error) (string, string, error) {
	if err != nil {
		return from, from, err
	}
	return from, HeadRevision, nil
}

// inTx runs fn in one transaction.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// schemaLockKey names the lock schema changes hold on a database server.
const schemaLockKey = "glimpse-schema"

// schemaLock takes the server's named lock for schema changes on a
// connection of its own, held until release is called.
func (db *DB) schemaLock(ctx context.Context) (release func(), err error) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	take, give := `SELECT pg_advisory_lock(hashtext('`+schemaLockKey+`'))`, `SELECT pg_advisory_unlock(hashtext('`+schemaLockKey+`'))`
	if db.d == mysqlDialect {
		take, give = `SELECT GET_LOCK('`+schemaLockKey+`', 600)`, `SELECT RELEASE_LOCK('`+schemaLockKey+`')`
	}
	if db.d == postgresDialect {
		if _, err := conn.ExecContext(ctx, take); err != nil {
			conn.Close()
			return nil, mapErr(err)
		}
	} else {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, take).Scan(&got); err != nil {
			conn.Close()
			return nil, mapErr(err)
		}
		if got.Int64 != 1 {
			conn.Close()
			return nil, errors.New("timed out waiting for another schema change")
		}
	}
	return func() {
		conn.ExecContext(context.WithoutCancel(ctx), give)
		conn.Close()
	}, nil
}

// createTable finds the table names a DDL script creates.
var createTable = regexp.MustCompile(`(?m)^CREATE TABLE (?:IF NOT EXISTS )?` + "`?" + `([a-z_]+)`)

// onlyTablesOf reports whether every table of the database is one the DDL
// creates.
func (db *DB) onlyTablesOf(ctx context.Context, ddl string) (bool, error) {
	want := map[string]bool{}
	for _, m := range createTable.FindAllStringSubmatch(ddl, -1) {
		want[m[1]] = true
	}
	rows, err := db.sql.QueryContext(ctx, strings.Replace(db.tablesQuery(), "count(*)", "table_name", 1))
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return false, err
		}
		if !want[name] {
			return false, nil
		}
	}
	return true, rows.Err()
}

// alreadyMade reports MySQL's "table exists" and "duplicate key name":
// the statement's object was made before an interruption.
func alreadyMade(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1050 || me.Number == 1061)
}
