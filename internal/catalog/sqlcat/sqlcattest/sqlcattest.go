// Package sqlcattest gives tests a fresh SQLite catalog.
package sqlcattest

import (
	"path/filepath"
	"testing"

	"glimpse/internal/catalog/sqlcat"
)

// Open opens a catalog with Glance's schema in a temporary directory,
// closed when the test ends.
func Open(t testing.TB) *sqlcat.DB {
	t.Helper()
	return OpenURL(t, "sqlite:///"+filepath.Join(t.TempDir(), "glance.sqlite"))
}
