package sqlcat

import (
	"path/filepath"
	"testing"

	"glimpse/internal/catalog"
	"glimpse/internal/catalog/catalogtest"
)

// openDB opens the catalog file at path, closed when the test ends.
func openDB(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): got error %v, want nil", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openSynced opens a new catalog file in a temporary directory and creates
// Glance's schema in it.
func openSynced(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "glance.sqlite")
	db := openDB(t, path)
	if _, _, err := db.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: got error %v, want nil", err)
	}
	return db, path
}

func TestCatalog(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
		db, _ := openSynced(t)
		return db
	})
}
