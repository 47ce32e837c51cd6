package sqlcat

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"glimpse/internal/catalog"
)

// Options are the [database] pool settings, as oslo.db names them. Zero
// MaxPoolSize, RecycleTime and RetryInterval take oslo.db's defaults.
type Options struct {
	// MaxPoolSize connections stay open; MaxOverflow more may be opened
	// under load and are closed when idle again (-1: no limit).
	MaxPoolSize, MaxOverflow int
	// RecycleTime closes a connection older than this before its next use
	// (servers and proxies drop idle connections after a while).
	RecycleTime time.Duration
	// MaxRetries is how many more times the first connection is tried
	// at start when it fails (-1: forever), RetryInterval apart.
	MaxRetries    int
	RetryInterval time.Duration
	// Retrying, when set, hears of each failed first connection that
	// will be tried again after wait (attempt counts from 1; of is -1
	// when the attempts are endless).
	Retrying func(err error, wait time.Duration, attempt, of int)
}

func (o Options) withDefaults() Options {
	if o.MaxPoolSize <= 0 {
		o.MaxPoolSize = 5
	}
	if o.RecycleTime <= 0 {
		o.RecycleTime = time.Hour
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 10 * time.Second
	}
	return o
}

// connectTimeout bounds one attempt to reach the server, and opTimeout one
// write transaction and the wait for any one answer: a server that vanished
// or froze (or a network that drops everything) costs a request a 503 after
// this long, never a hang.
const connectTimeout = 5 * time.Second

var opTimeout = 30 * time.Second

// idleTime is how long a connection beyond the ones in use stays open.
const idleTime = time.Minute

// serverRetries bounds how often a write transaction that lost a deadlock
// or a serialization conflict runs again.
const serverRetries = 8

// OpenURL opens the catalog that [database] connection names, in
// SQLAlchemy's URL form: sqlite:///path, postgresql://… (also
// postgresql+psycopg2://), or mysql://… (also mysql+pymysql://). It does
// not migrate; call Sync or check Version.
func OpenURL(ctx context.Context, conn string, opt Options) (*DB, error) {
	scheme, _, ok := strings.Cut(conn, "://")
	if !ok {
		return nil, errors.New("[database] connection is not a URL (want, for example, postgresql://user:password@host/glance)")
	}
	backend, driverName, _ := strings.Cut(scheme, "+")
	switch backend {
	case "sqlite":
		if driverName != "" && driverName != "pysqlite" {
			return nil, fmt.Errorf("[database] connection: unknown SQLite driver %q", driverName)
		}
		path, ok := strings.CutPrefix(conn[len(scheme):], ":///")
		if !ok || path == "" {
			return nil, errors.New("[database] connection sqlite:// (in memory) cannot be shared between requests; name a file: sqlite:///path")
		}
		return Open(ctx, path)
	}
	d, sqldb, err := openRaw(conn)
	if err != nil {
		return nil, err
	}
	return openServer(ctx, d, sqldb, opt)
}

// CheckURL reports whether conn is a [database] connection URL glimpse can
// use, without connecting.
func CheckURL(conn string) error {
	if strings.HasPrefix(conn, "sqlite") {
		scheme, rest, ok := strings.Cut(conn, "://")
		_, driverName, _ := strings.Cut(scheme, "+")
		switch {
		case !ok || scheme != "sqlite" && driverName != "pysqlite":
			return fmt.Errorf("[database] connection %q: not an SQLite URL (sqlite:///path)", redact(conn))
		case rest == "" || rest == "/":
			return errors.New("[database] connection sqlite:// (in memory) cannot be shared between requests; name a file: sqlite:///path")
		case !strings.HasPrefix(rest, "/"):
			return fmt.Errorf("[database] connection %q: want sqlite:///path", conn)
		}
		return nil
	}
	_, sqldb, err := openRaw(conn)
	if err != nil {
		return err
	}
	return sqldb.Close()
}

// OpenRaw returns a plain connection pool for a PostgreSQL or MySQL URL of
// [database] connection's form, and the dialect's name (as Dialect names
// it); it does not connect yet. Tools and tests use it for what the
// catalog does not do (creating databases, reading the schema).
func OpenRaw(conn string) (*sql.DB, string, error) {
	d, sqldb, err := openRaw(conn)
	return sqldb, d.String(), err
}

// escapeStrayPercents escapes a % in the user name or password that does
// not start an escape: SQLAlchemy takes such a password as written, Go's URL
// parsers refuse it.
func escapeStrayPercents(rest string) string {
	at := strings.LastIndexByte(rest, '@')
	if at < 0 || !strings.Contains(rest[:at], "%") {
		return rest
	}
	var b strings.Builder
	for i := 0; i < at; i++ {
		if rest[i] == '%' && (i+2 >= at || !isHex(rest[i+1]) || !isHex(rest[i+2])) {
			b.WriteString("%25")
			continue
		}
		b.WriteByte(rest[i])
	}
	return b.String() + rest[at:]
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func openRaw(conn string) (dialect, *sql.DB, error) {
	scheme, rest, ok := strings.Cut(conn, "://")
	rest = escapeStrayPercents(rest)
	if !ok {
		return 0, nil, errors.New("[database] connection is not a URL (want, for example, postgresql://user:password@host/glance)")
	}
	backend, driverName, _ := strings.Cut(scheme, "+")
	switch backend {
	case "postgresql", "postgres":
		if driverName != "" && driverName != "psycopg2" && driverName != "psycopg" && driverName != "pg8000" {
			return 0, nil, fmt.Errorf("[database] connection: unknown PostgreSQL driver %q", driverName)
		}
		cfg, err := pgConfig(rest)
		if err != nil {
			return 0, nil, err
		}
		return postgresDialect, stdlib.OpenDB(*cfg), nil
	case "mysql", "mariadb":
		if driverName != "" && driverName != "pymysql" && driverName != "mysqldb" && driverName != "mysqlconnector" {
			return 0, nil, fmt.Errorf("[database] connection: unknown MySQL driver %q", driverName)
		}
		cfg, err := mysqlConfig(rest)
		if err != nil {
			return 0, nil, err
		}
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return 0, nil, fmt.Errorf("[database] connection: %w", err)
		}
		return mysqlDialect, sql.OpenDB(c), nil
	}
	return 0, nil, fmt.Errorf("[database] connection: unsupported database %q (sqlite, postgresql and mysql are)", backend)
}

// redact hides the password of a connection URL in messages.
func redact(conn string) string {
	if u, err := url.Parse(conn); err == nil {
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			}
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	// Not a URL Go parses (a raw % in the password, say): keep only
	// what comes after the last @, which holds no credentials.
	if i := strings.LastIndexByte(conn, '@'); i >= 0 {
		scheme, _, _ := strings.Cut(conn, "://")
		return scheme + "://xxxxx@" + conn[i+1:]
	}
	return conn
}

// pgConfig reads the part of a SQLAlchemy PostgreSQL URL after "://":
// libpq's own URL form, which pgx parses, with the socket directory
// SQLAlchemy takes as ?host=.
func pgConfig(rest string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig("postgresql://" + rest)
	if err != nil {
		return nil, fmt.Errorf("[database] connection: %s", redact("postgresql://"+rest))
	}
	if !strings.Contains(rest, "connect_timeout=") {
		cfg.ConnectTimeout = connectTimeout
	}
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &answerDeadline{Conn: c, wait: opTimeout}, nil
	}
	return cfg, nil
}

// answerDeadline bounds the wait for the server's answer to what was just
// sent, as the MySQL driver's read timeout does: pgx has no such limit,
// and a frozen server or a silent network would otherwise hold a request
// (and its connection) forever. pgx still sets its own, earlier deadlines
// to cancel a query; this one only stops the wait from being endless.
type answerDeadline struct {
	net.Conn
	wait time.Duration
}

func (c *answerDeadline) Write(p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.wait)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// mysqlConfig reads the part of a SQLAlchemy MySQL URL after "://":
// user:password@host:port/database?options, with PyMySQL's option names.
func mysqlConfig(rest string) (*mysql.Config, error) {
	u, err := url.Parse("mysql://" + rest)
	if err != nil {
		return nil, errors.New("[database] connection: the MySQL URL does not parse")
	}
	cfg := mysql.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.Net, cfg.Addr = "tcp", "127.0.0.1:3306"
	if u.Host != "" {
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = "3306"
		}
		cfg.Addr = net.JoinHostPort(host, port)
	}
	cfg.Timeout = connectTimeout
	cfg.ReadTimeout, cfg.WriteTimeout = opTimeout, opTimeout
	cfg.Params = map[string]string{
		// oslo.db's default mysql_sql_mode: errors, never silent
		// truncation.
		"sql_mode": "'TRADITIONAL'",
		// JSON_ARRAYAGG (an image's tags and locations) is cut at
		// this length without an error; the default is 1 MiB, some
		// configurations set 1 KiB.
		"group_concat_max_len": "67108864",
	}
	charset := "utf8"
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "charset":
			charset = v
		case "unix_socket":
			cfg.Net, cfg.Addr = "unix", v
		case "connect_timeout", "read_timeout", "write_timeout":
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil || secs <= 0 {
				return nil, fmt.Errorf("[database] connection: %s=%q is not a number of seconds", k, v)
			}
			d := time.Duration(secs * float64(time.Second))
			switch k {
			case "connect_timeout":
				cfg.Timeout = d
			case "read_timeout":
				cfg.ReadTimeout = d
			default:
				cfg.WriteTimeout = d
			}
		case "ssl", "ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert":
			return nil, fmt.Errorf("[database] connection: MySQL option %s is not supported; connect over a local or trusted network", k)
		default:
			// SQLAlchemy and PyMySQL options with no effect here
			// (plugin, binary_prefix, …).
		}
	}
	if err := cfg.Apply(mysql.Charset(charset, "")); err != nil {
		return nil, fmt.Errorf("[database] connection: charset %q: %w", charset, err)
	}
	// An UPDATE that matched a row reports it even when nothing changed:
	// the compare-and-set checks count matched rows.
	cfg.ClientFoundRows = true
	// One round trip per statement instead of prepare, execute, close.
	cfg.InterpolateParams = true
	// The driver's own log lines report connections it drops and
	// replaces; what a request cannot recover from comes back as its
	// error.
	cfg.Logger = &mysql.NopLogger{}
	return cfg, nil
}

// openServer sets up the pool and waits for the server as oslo.db does:
// MaxRetries attempts, RetryInterval apart.
func openServer(ctx context.Context, d dialect, sqldb *sql.DB, opt Options) (*DB, error) {
	opt = opt.withDefaults()
	idle := opt.MaxPoolSize + opt.MaxOverflow
	if opt.MaxOverflow >= 0 {
		sqldb.SetMaxOpenConns(opt.MaxPoolSize + opt.MaxOverflow)
	} else {
		idle = opt.MaxPoolSize + 50
	}
	// Unlike SQLAlchemy's pool, which closes an overflow connection as
	// soon as it is handed back, idle connections are kept for a while:
	// under a steady load above max_pool_size, closing and reopening one
	// per request (a process fork on PostgreSQL) made one request in a
	// hundred wait 100 ms.
	sqldb.SetMaxIdleConns(idle)
	sqldb.SetConnMaxIdleTime(idleTime)
	sqldb.SetConnMaxLifetime(opt.RecycleTime)
	for attempt := 0; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, connectTimeout+time.Second)
		err := sqldb.PingContext(pctx)
		cancel()
		if err == nil {
			break
		}
		if opt.MaxRetries >= 0 && attempt >= opt.MaxRetries || ctx.Err() != nil || refused(err) {
			sqldb.Close()
			return nil, fmt.Errorf("open catalog on %s: %w", d, err)
		}
		if opt.Retrying != nil {
			opt.Retrying(err, opt.RetryInterval, attempt+1, opt.MaxRetries)
		}
		select {
		case <-time.After(opt.RetryInterval):
		case <-ctx.Done():
			sqldb.Close()
			return nil, fmt.Errorf("open catalog on %s: %w", d, ctx.Err())
		}
	}
	db := &DB{sql: sqldb, d: d, tr: newTranslator(d), retries: serverRetries}
	if d == mysqlDialect {
		var version string
		if err := sqldb.QueryRowContext(ctx, `SELECT VERSION()`).Scan(&version); err != nil {
			sqldb.Close()
			return nil, fmt.Errorf("open catalog on %s: %w", d, err)
		}
		mariadb, err := checkMySQLVersion(version)
		if err != nil {
			sqldb.Close()
			return nil, err
		}
		db.tr.unorderedAggregates = !mariadb
	}
	return db, nil
}

// checkMySQLVersion accepts the servers whose JSON functions the catalog
// uses: MariaDB 10.5 (JSON_ARRAYAGG) and MySQL 8.0.4 (JSON_TABLE) or later.
func checkMySQLVersion(version string) (mariadb bool, err error) {
	mariadb = strings.Contains(version, "MariaDB")
	var major, minor, patch int
	fmt.Sscanf(version, "%d.%d.%d", &major, &minor, &patch)
	v := major*10000 + minor*100 + patch
	if mariadb && v < 100500 || !mariadb && v < 80004 {
		return mariadb, fmt.Errorf("open catalog: database server %s is too old: glimpse needs MariaDB 10.5 or MySQL 8.0.4 or later", version)
	}
	return mariadb, nil
}

// refused reports whether the server answered and said no (a wrong
// password, an unknown database): waiting will not change that, so the
// start fails at once instead of after max_retries × retry_interval.
func refused(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "28P01" || pe.Code == "28000" || pe.Code == "3D000"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1045 || me.Number == 1044 || me.Number == 1049
	}
	return false
}

// Dialect names the database the catalog is on: sqlite, postgresql or
// mysql.
func (db *DB) Dialect() string { return db.d.String() }

// errTxConflict marks a transaction the server aborted to resolve a
// deadlock or a serialization conflict: running it again may succeed.
var errTxConflict = errors.New("transaction conflict")

// writeServer runs fn in a transaction of its own, again when the server
// chose it as a deadlock victim. fn must not keep state between runs.
func (db *DB) writeServer(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := db.runTx(ctx, fn)
		if !errors.Is(err, errTxConflict) || attempt >= db.retries {
			return err
		}
		// Back off with jitter, so that the transactions that collided
		// do not collide again.
		wait := time.Duration(5<<min(attempt, 6))*time.Millisecond + rand.N(5*time.Millisecond)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
	}
}

// runTx runs fn once. As with SQLite's group commit, a client that leaves
// does not cut a transaction short; opTimeout bounds it instead.
func (db *DB) runTx(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	sqltx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(ctx, &wtx{tx: sqltx, tr: db.tr, d: db.d}); err != nil {
		sqltx.Rollback()
		return err
	}
	return mapErr(sqltx.Commit())
}

// mapServerErr classifies PostgreSQL and MySQL errors; ok is false for
// errors it does not know.
func mapServerErr(err error) (error, bool) {
	unavailable := func() (error, bool) { return fmt.Errorf("%w: %w", catalog.ErrUnavailable, err), true }
	retry := func() (error, bool) {
		return fmt.Errorf("%w: %w: %w", catalog.ErrUnavailable, errTxConflict, err), true
	}
	if errors.Is(err, errTxConflict) || errors.Is(err, catalog.ErrUnavailable) {
		return err, true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fmt.Errorf("%w: %w", catalog.ErrDuplicate, err), true
		case pe.Code == "40P01", pe.Code == "40001", pe.Code == "55P03":
			// Deadlock, serialization failure, lock_timeout.
			return retry()
		case pe.Code == "57014":
			// statement_timeout.
			return unavailable()
		case pe.Code == "22008":
			// A time out of the database's range.
			return fmt.Errorf("%w: %s", catalog.ErrInvalid, pe.Message), true
		case pe.Code == "22001", pe.Code == "22021", pe.Code == "22P02", pe.Code == "54000":
			// Too long, bad encoding, not in the enum, too large.
			return fmt.Errorf("%w: %s", catalog.ErrInvalid, pe.Message), true
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), pe.Code == "53300":
			// Connection gone, server shutting down or starting up,
			// too many connections.
			return unavailable()
		}
		return nil, false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1062:
			return fmt.Errorf("%w: %w", catalog.ErrDuplicate, err), true
		case 1213, 1205:
			// Deadlock (also a Galera certification failure), lock
			// wait timeout.
			return retry()
		case 1406, 1366, 1265, 1264:
			// Too long, bad string (4-byte UTF-8 in utf8mb3), not in
			// the enum, out of range.
			return fmt.Errorf("%w: %s", catalog.ErrInvalid, me.Message), true
		case 1040, 1047, 1053, 1927, 2002, 2003, 2006, 2013:
			return unavailable()
		}
		return nil, false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return unavailable()
	}
	if strings.Contains(err.Error(), "conn closed") {
		return unavailable()
	}
	return nil, false
}

// lockImage holds the image's row until the transaction ends, so that a
// write that reads before it writes (a count, a status, the live
// locations) decides on rows no other transaction changes meanwhile. On
// SQLite the single writer gives that already.
func lockImage(ctx context.Context, tx *wtx, id string) error {
	if tx.d == sqliteDialect {
		return nil
	}
	rows, err := tx.tx.QueryContext(ctx, tx.tr.sql(`SELECT id FROM images WHERE id = ? FOR UPDATE`), id)
	if err != nil {
		return mapErr(err)
	}
	return mapErr(errors.Join(rows.Close(), rows.Err()))
}
