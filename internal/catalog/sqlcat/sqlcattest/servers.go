package sqlcattest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"glimpse/internal/catalog/sqlcat"
)

// Backends are the database servers a catalog test can run on besides
// SQLite, named as sqlcat.DB.Dialect names them.
var Backends = []string{"postgresql", "mysql"}

// envOf is the variable holding the SQLAlchemy URL of a server's "glance"
// database; scripts/db/start.sh prints it.
var envOf = map[string]string{"postgresql": "GLIMPSE_PG_URL", "mysql": "GLIMPSE_MYSQL_URL"}

// FreshURL creates an empty database on the server named by backend and
// returns its URL; the database is dropped when the test ends. Without the
// server's URL in the environment the test is skipped, or fails when
// GLIMPSE_REQUIRE_BACKENDS=1.
func FreshURL(t testing.TB, backend string) string {
	t.Helper()
	base := os.Getenv(envOf[backend])
	if base == "" {
		if os.Getenv("GLIMPSE_REQUIRE_BACKENDS") == "1" {
			t.Fatalf("%s is not set and GLIMPSE_REQUIRE_BACKENDS=1: start the server with scripts/db/start.sh", envOf[backend])
		}
		t.Skipf("%s is not set: no %s server (scripts/db/start.sh starts one)", envOf[backend], backend)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", envOf[backend], err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "glance_t" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, _, err := sqlcat.OpenRaw(base)
	if err != nil {
		t.Fatalf("connect to %s: %v", backend, err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, _, err := sqlcat.OpenRaw(base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer admin.Close()
		// The catalog's own cleanup, registered later, has closed its
		// connections by now.
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// OpenServer opens a catalog with Glance's schema in a fresh database on
// backend, closed when the test ends.
func OpenServer(t testing.TB, backend string) *sqlcat.DB {
	t.Helper()
	return OpenURL(t, FreshURL(t, backend))
}

// OpenURL opens the catalog at conn with Glance's schema, closed when the
// test ends; a second call on the same URL is a second glimpse on the same
// database.
func OpenURL(t testing.TB, conn string) *sqlcat.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlcat.OpenURL(ctx, conn, sqlcat.Options{MaxRetries: 1, RetryInterval: time.Second})
	if err != nil {
		t.Fatalf("OpenURL: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, _, err := db.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return db
}
