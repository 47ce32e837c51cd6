package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"glimpse/internal/catalog/sqlcat"
)

// Catalog databases a started binary can run on (-db). SQLite is a file in
// the instance's data dir; the others are a fresh database per run on a
// server.
const (
	dbSQLite     = "sqlite"
	dbPostgreSQL = "postgresql"
	dbMySQL      = "mysql"
)

// dbServerEnv names, per -db, the variable holding the URL of a database
// on that server when -db-url is not given (scripts/db/start.sh exports
// them).
var dbServerEnv = map[string]string{dbPostgreSQL: "GLIMPSE_PG_URL", dbMySQL: "GLIMPSE_MYSQL_URL"}

// dbTimeout bounds creating or dropping a run's database.
const dbTimeout = 30 * time.Second

// checkDB validates -db and -db-url, fills -db-url from the environment
// and returns the server's version, which also proves it answers.
func checkDB(ctx context.Context, cfg *config) (string, error) {
	switch cfg.db {
	case dbSQLite:
		if cfg.dbURL != "" {
			return "", errors.New("-db-url needs -db postgresql or -db mysql")
		}
		return "", nil
	case dbPostgreSQL, dbMySQL:
	default:
		return "", fmt.Errorf("-db %q: want sqlite, postgresql or mysql", cfg.db)
	}
	if cfg.binary == "" {
		return "", errors.New("-db postgresql and -db mysql need -binary: a -url service has its own database")
	}
	if cfg.dbURL == "" {
		cfg.dbURL = os.Getenv(dbServerEnv[cfg.db])
		if cfg.dbURL == "" {
			return "", fmt.Errorf("-db %s: give -db-url or set %s", cfg.db, dbServerEnv[cfg.db])
		}
	}
	u, err := url.Parse(cfg.dbURL)
	if err != nil {
		return "", fmt.Errorf("-db-url does not parse: %v", err)
	}
	if h := u.Hostname(); h != "" {
		// Only servers on this machine: the figures are for one host.
		ips, err := net.LookupIP(h)
		if err != nil {
			return "", fmt.Errorf("resolve -db-url host %s: %w", h, err)
		}
		for _, ip := range ips {
			if !ip.IsLoopback() {
				return "", fmt.Errorf("-db-url host %s is not a loopback address", h)
			}
		}
	}
	admin, dialect, err := sqlcat.OpenRaw(cfg.dbURL)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	if dialect != cfg.db {
		return "", fmt.Errorf("-db-url %s is a %s URL, not %s", u.Redacted(), dialect, cfg.db)
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	var version string
	if err := admin.QueryRowContext(ctx, "SELECT version()").Scan(&version); err != nil {
		return "", fmt.Errorf("-db-url %s: %w", u.Redacted(), err)
	}
	return version, nil
}

// freshDatabase creates an empty database glance_bench_<random> on the
// server serverURL names (the URL of any database there, in [database]
// connection form) and returns its URL and a function that drops it. The
// drop does not take ctx, so that an interrupted run still cleans up.
func freshDatabase(ctx context.Context, serverURL string) (string, func() error, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	rand.Read(b[:])
	name := "glance_bench_" + hex.EncodeToString(b[:])
	exec := func(ctx context.Context, stmt string) error {
		admin, _, err := sqlcat.OpenRaw(serverURL)
		if err != nil {
			return err
		}
		defer admin.Close()
		ctx, cancel := context.WithTimeout(ctx, dbTimeout)
		defer cancel()
		_, err = admin.ExecContext(ctx, stmt)
		return err
	}
	if err := exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() error {
		if err := exec(context.Background(), "DROP DATABASE "+name); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// writeDBConfig writes, in root, the configuration file that points a
// started glimpse at conn, and returns its path.
func writeDBConfig(root, conn string) (string, error) {
	path := filepath.Join(root, "glimpse.conf")
	return path, os.WriteFile(path, []byte("[database]\nconnection = "+conn+"\n"), 0o600)
}

// redactURL hides the password of a database URL for printing.
func redactURL(conn string) string {
	u, err := url.Parse(conn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
