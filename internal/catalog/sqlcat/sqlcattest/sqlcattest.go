// Package sqlcattest gives tests a fresh SQLite catalog.
package sqlcattest

import (
	"context"
	"path/filepath"
	"testing"

	"glimpse/internal/catalog/sqlcat"
)

// Open opens a catalog with Glance's schema in a temporary directory,
// closed when the test ends.
func Open(t testing.TB) *sqlcat.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlcat.Open(ctx, filepath.Join(t.TempDir(), "glance.sqlite"))
	if err != nil {
		t.Fatalf("sqlcat.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, _, err := db.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return db
}
