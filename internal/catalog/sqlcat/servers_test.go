package sqlcat_test

import (
	"testing"

	"glimpse/internal/catalog"
	"glimpse/internal/catalog/catalogtest"
	"glimpse/internal/catalog/sqlcat/sqlcattest"
)

// TestCatalogServers runs the conformance suite on PostgreSQL and MariaDB.
func TestCatalogServers(t *testing.T) {
	for _, backend := range sqlcattest.Backends {
		t.Run(backend, func(t *testing.T) {
			catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
				return sqlcattest.OpenServer(t, backend)
			})
		})
	}
}
