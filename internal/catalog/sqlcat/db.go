// Package sqlcat is the SQL catalog: images, properties, tags and members
// stored in Glance's own schema, so a database glance-manage made works under
// glimpse and the reverse.
package sqlcat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"glimpse/internal/catalog"
)

// DB is a catalog on one SQLite file. Reads go through a pool of
// connections (WAL lets them run beside a writer); writes go through one
// connection owned by a group-commit loop, which puts concurrent writes into
// one transaction, each in its own savepoint, so that many creates share one
// fsync instead of queueing for one each.
type DB struct {
	sql *sql.DB // reads
	w   *sql.DB // the single write connection

	rstmts *stmtCache  // prepared reads
	wstmts *stmtCache  // prepared writes, on the write connection
	images *imageCache // nil off SQLite

	d  dialect
	tr *translator // nil on SQLite
	// retries bounds how often a server write that lost a deadlock or a
	// serialization conflict is run again.
	retries int

	reqs    chan *writeReq
	closing chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

var _ catalog.Catalog = (*DB)(nil)

// busyTimeout bounds how long a statement waits for another process holding
// the write lock (several glimpse processes may share one file). Past it
// the client gets 503, never "database is locked".
const busyTimeout = 20 * time.Second

// maxBatch caps how many writes share one commit: large enough to absorb a
// burst, small enough that one slow batch does not delay the next for long.
const maxBatch = 128

// Open opens (creating if needed) the SQLite catalog at path. It does not
// migrate; call Sync or check Version.
func Open(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open catalog: %w", err)
		}
	}
	dsn := func(extra string) string {
		v := url.Values{}
		v.Add("_pragma", "journal_mode(WAL)")
		v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
		// FULL: a commit is on disk when the client hears 201.
		v.Add("_pragma", "synchronous(FULL)")
		v.Add("_pragma", "foreign_keys(1)")
		// Read pages through the kernel's page cache instead of a
		// read(2) per page.
		v.Add("_pragma", "mmap_size(268435456)")
		// Each request in a group commit is a savepoint, and SQLite
		// saves the pages a savepoint changes in a sub-journal: in
		// memory, not a temporary file written page by page.
		v.Add("_pragma", "temp_store(MEMORY)")
		v.Add("_time_format", "sqlite")
		if extra != "" {
			v.Add("_txlock", extra)
		}
		return "file:" + path + "?" + v.Encode()
	}
	r, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	// Keep every read connection: opening one costs pragmas and a cold
	// page cache, far more than the query it serves.
	readers := 4 * runtime.GOMAXPROCS(0)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	// IMMEDIATE takes the write lock at BEGIN, so two processes never
	// deadlock upgrading read locks.
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	images, err := newImageCache(ctx, dsn(""))
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	db := &DB{sql: r, w: w, rstmts: newStmtCache(r), wstmts: newStmtCache(w), images: images,
		reqs: make(chan *writeReq), closing: make(chan struct{})}
	db.wg.Add(1)
	go db.writer()
	return db, nil
}

// Close stops the writer after the writes in flight and closes the files.
func (db *DB) Close() error {
	if db.d != sqliteDialect {
		return db.sql.Close()
	}
	db.once.Do(func() { close(db.closing) })
	db.wg.Wait()
	db.rstmts.close()
	db.wstmts.close()
	return errors.Join(db.w.Close(), db.sql.Close(), db.images.close())
}

type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *wtx) error
	done chan error
}

// write runs fn inside the group-commit loop's transaction and returns once
// the transaction holding it is durable (or fn failed and was rolled back to
// its savepoint).
func (db *DB) write(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	if db.d != sqliteDialect {
		return db.writeServer(ctx, fn)
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closing:
		return catalog.ErrUnavailable
	}
	return <-req.done
}

func (db *DB) writer() {
	defer db.wg.Done()
	for {
		var first *writeReq
		select {
		case first = <-db.reqs:
		case <-db.closing:
			return
		}
		batch := []*writeReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-db.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		db.commit(batch)
		// The write connection is free again: prepare the statements
		// the batch ran unprepared.
		db.wstmts.prepareWanted(context.Background())
	}
}

// commit runs a batch in one transaction. Each request's statements run
// with a context that cannot be cancelled: SQLite answers an interrupt
// inside a transaction by rolling back all of it, other requests' work
// included. A request whose client already left is skipped instead.
func (db *DB) commit(batch []*writeReq) {
	errs := make([]error, len(batch))
	finish := func(all error) {
		for i, r := range batch {
			if all != nil && errs[i] == nil {
				errs[i] = all
			}
			r.done <- errs[i]
		}
	}
	bg := context.Background()
	sqltx, err := db.w.BeginTx(bg, nil)
	if err != nil {
		finish(mapErr(err))
		return
	}
	tx := &wtx{tx: sqltx, cache: db.wstmts, d: sqliteDialect}
	single := len(batch) == 1
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		ctx := context.WithoutCancel(r.ctx)
		if single {
			errs[i] = r.fn(ctx, tx)
			continue
		}
		if _, err := tx.ExecContext(bg, "SAVEPOINT req"); err != nil {
			sqltx.Rollback()
			finish(mapErr(err))
			return
		}
		if err := r.fn(ctx, tx); err != nil {
			errs[i] = err
			if _, rerr := tx.ExecContext(bg, "ROLLBACK TO req"); rerr != nil {
				sqltx.Rollback()
				finish(mapErr(rerr))
				return
			}
		}
		if _, err := tx.ExecContext(bg, "RELEASE req"); err != nil {
			sqltx.Rollback()
			finish(mapErr(err))
			return
		}
	}
	if single && errs[0] != nil {
		sqltx.Rollback()
		finish(nil)
		return
	}
	finish(mapErr(sqltx.Commit()))
}

// mapErr turns driver errors a client could cause or that mean "try later"
// into catalog sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := mapServerErr(err); ok {
		return e
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %v", catalog.ErrUnavailable, err)
		case sqlite3.SQLITE_CONSTRAINT:
			switch se.Code() {
			case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
				return fmt.Errorf("%w: %v", catalog.ErrDuplicate, err)
			}
		}
	}
	return err
}

// timeLayout is how SQLAlchemy stores DATETIME on SQLite; glance-api parses
// exactly this.
const timeLayout = "2006-01-02 15:04:05.000000"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// parseStoredTime reads the layout glimpse and SQLAlchemy write,
// "YYYY-MM-DD HH:MM:SS" with an optional fraction of 1–9 digits, without
// time.Parse: every row read carries several timestamps.
func parseStoredTime(s string) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if rest := s[19:]; rest != "" {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		frac, ok := num(20, len(rest)-1)
		if !ok {
			return time.Time{}, false
		}
		nsec = frac
		for range 9 - (len(rest) - 1) {
			nsec *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// daysIn is the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseTime accepts SQLAlchemy's layout with or without the fraction and
// the forms other tools write into SQLite.
func parseTime(s string) (time.Time, error) {
	if t, ok := parseStoredTime(s); ok {
		return t, nil
	}
	for _, l := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unparseable time %q", s)
}
