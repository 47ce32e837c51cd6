package sqlcat

import (
	"context"
	"database/sql"
	"slices"
	"sync"
)

// maxCachedStmts bounds the prepared-statement cache. List statements vary
// with the filters a client combines; past this many distinct texts new
// ones run unprepared rather than grow the cache without end.
const maxCachedStmts = 512

// stmtCache keeps prepared statements by their SQL text: SQLite spends
// more time parsing and planning a statement with correlated subqueries
// than running it against a warm page cache.
type stmtCache struct {
	mu     sync.Mutex
	db     *sql.DB
	m      map[string]*sql.Stmt
	wanted []string // statements to prepare once the connection is free
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// lookup returns the prepared statement for q if there is one, without
// preparing it.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[q]
}

// want records q for prepareWanted. The write connection is the only one
// of its pool and a transaction holds it, so a statement missing from the
// cache cannot be prepared on the pool until the transaction ends.
func (c *stmtCache) want(q string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m != nil && len(c.m)+len(c.wanted) < maxCachedStmts && !slices.Contains(c.wanted, q) {
		c.wanted = append(c.wanted, q)
	}
}

// prepareWanted prepares the statements want recorded; the caller makes
// sure a connection is free.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range c.wanted {
		if _, ok := c.m[q]; ok || c.m == nil {
			continue
		}
		if s, err := c.db.PrepareContext(ctx, q); err == nil {
			c.m[q] = s
		}
	}
	c.wanted = nil
}

// get returns the prepared statement for q, or nil when it cannot be
// cached (the caller then runs q directly).
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[q]; ok {
		return s
	}
	if len(c.m) >= maxCachedStmts {
		return nil
	}
	s, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.m[q] = s
	return s
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
}

// query runs a read statement through the cache.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = db.tr.sql(q)
	if s := db.rstmts.get(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return db.sql.QueryContext(ctx, q, args...)
}

// queryRow runs a one-row read statement through the cache.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = db.tr.sql(q)
	if s := db.rstmts.get(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return db.sql.QueryRowContext(ctx, q, args...)
}

// wtx is a write transaction whose statements come from the write
// connection's cache.
type wtx struct {
	tx    *sql.Tx
	cache *stmtCache // nil: the driver prepares (and keeps) statements itself
	tr    *translator
	d     dialect
}

func (t *wtx) stmt(ctx context.Context, q string) *sql.Stmt {
	if t.cache == nil {
		return nil
	}
	if s := t.cache.lookup(q); s != nil {
		return t.tx.StmtContext(ctx, s)
	}
	t.cache.want(q)
	return nil
}

// ExecContext runs a write statement in the transaction.
func (t *wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = t.tr.sql(q)
	if s := t.stmt(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

// QueryRowContext runs a one-row read inside the transaction.
func (t *wtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	q = t.tr.sql(q)
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}
