package sqlcat_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/catalog"
	"glimpse/internal/catalog/catalogtest"
	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/catalog/sqlcat/sqlcattest"
	"glimpse/internal/image"
)

// TestCatalogServers runs the conformance suite on PostgreSQL and MariaDB,
// and on MariaDB again with the statements written for Oracle's MySQL.
func TestCatalogServers(t *testing.T) {
	for _, backend := range sqlcattest.Backends {
		t.Run(backend, func(t *testing.T) {
			catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
				return sqlcattest.OpenServer(t, backend)
			})
		})
	}
	t.Run("mysql-statements", func(t *testing.T) {
		catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
			db := sqlcattest.OpenServer(t, "mysql")
			sqlcat.AsOracleMySQL(db)
			return db
		})
	})
}

// Two catalogs on one database, as two glimpse processes sharing it:
// concurrent creates, updates, members and status races; each contested
// status change has exactly one winner and both see every write.
func TestTwoHandlesOnServers(t *testing.T) {
	for _, backend := range sqlcattest.Backends {
		t.Run(backend, func(t *testing.T) {
			url := sqlcattest.FreshURL(t, backend)
			first := sqlcattest.OpenURL(t, url)
			second := sqlcattest.OpenURL(t, url)
			sqlcat.TwoHandles(t, first, second)
		})
	}
}

// Two writes that take the same two rows in opposite orders deadlock; the
// server aborts one, and the catalog runs it again instead of failing the
// request.
func TestDeadlockIsRetried(t *testing.T) {
	for _, backend := range sqlcattest.Backends {
		t.Run(backend, func(t *testing.T) {
			db := sqlcattest.OpenServer(t, backend)
			ctx := t.Context()
			now := time.Now()
			for _, id := range []string{"a", "b"} {
				img := &image.Image{ID: id, Status: image.Queued, Visibility: image.Shared,
					CreatedAt: now, UpdatedAt: now, Properties: map[string]*string{}, Tags: []string{}}
				if err := db.CreateImage(ctx, img); err != nil {
					t.Fatal(err)
				}
			}
			var (
				runs    atomic.Int32
				both    sync.WaitGroup
				results = make([]error, 2)
				wg      sync.WaitGroup
			)
			both.Add(2)
			for i, order := range [][2]string{{"a", "b"}, {"b", "a"}} {
				first := true
				wg.Go(func() {
					results[i] = db.Write(ctx, func(exec sqlcat.Exec) error {
						runs.Add(1)
						if err := exec(`UPDATE images SET name = ? WHERE id = ?`, fmt.Sprint("w", i), order[0]); err != nil {
							return err
						}
						if first {
							// Both hold their first row before either
							// asks for its second.
							first = false
							both.Done()
							both.Wait()
						}
						return exec(`UPDATE images SET name = ? WHERE id = ?`, fmt.Sprint("w", i), order[1])
					})
				})
			}
			wg.Wait()
			for i, err := range results {
				if err != nil {
					t.Errorf("write %d: got %v, want nil after a retry", i, err)
				}
			}
			if got := runs.Load(); got < 3 {
				t.Errorf("transaction runs: got %d, want at least 3 (one deadlock victim run again)", got)
			}
			a, err := db.GetImage(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			b, err := db.GetImage(ctx, "b")
			if err != nil {
				t.Fatal(err)
			}
			if *a.Name != *b.Name {
				t.Errorf("names after both writes: a %q, b %q; want the same (one write ran after the other)", *a.Name, *b.Name)
			}
		})
	}
}

// A server that goes silent (frozen, or a network that drops everything)
// costs a read and a write an ErrUnavailable after the answer timeout, not
// a hang; when it answers again the same catalog works.
func TestSilentServer(t *testing.T) {
	for _, backend := range sqlcattest.Backends {
		t.Run(backend, func(t *testing.T) {
			sqlcat.SetAnswerTimeout(t, 2*time.Second)
			relay, conn := sqlcattest.NewRelay(t, sqlcattest.FreshURL(t, backend))
			db := sqlcattest.OpenURL(t, conn)
			ctx := t.Context()
			now := time.Now()
			img := &image.Image{ID: "a", Status: image.Queued, Visibility: image.Shared,
				CreatedAt: now, UpdatedAt: now, Properties: map[string]*string{}, Tags: []string{}}
			if err := db.CreateImage(ctx, img); err != nil {
				t.Fatal(err)
			}
			relay.Freeze()
			for name, op := range map[string]func() error{
				"GetImage": func() error { _, err := db.GetImage(ctx, "a"); return err },
				"SetStatus": func() error {
					return db.SetStatus(ctx, "a", image.Queued, image.Saving)
				},
			} {
				start := time.Now()
				err := op()
				if took := time.Since(start); took > 10*time.Second {
					t.Errorf("%s on a silent server took %v, want about the 2 s answer timeout", name, took)
				}
				if !errors.Is(err, catalog.ErrUnavailable) {
					t.Errorf("%s on a silent server: got %v, want ErrUnavailable", name, err)
				}
			}
			relay.Restore()
			got, err := db.GetImage(ctx, "a")
			if err != nil {
				t.Fatalf("GetImage after the server answers again: %v", err)
			}
			if got.Status != image.Queued {
				t.Errorf("status after the silent spell: got %s, want queued (the timed-out change not applied)", got.Status)
			}
		})
	}
}

// Two glimpse processes starting together on one empty database: one makes
// the schema, the other waits and finds it made; neither fails.
func TestConcurrentSync(t *testing.T) {
	for _, backend := range sqlcattest.Backends {
		t.Run(backend, func(t *testing.T) {
			url := sqlcattest.FreshURL(t, backend)
			var wg sync.WaitGroup
			froms := make([]string, 3)
			errs := make([]error, 3)
			for i := range froms {
				db, err := sqlcat.OpenURL(t.Context(), url, sqlcat.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				wg.Go(func() { froms[i], _, errs[i] = db.Sync(t.Context()) })
			}
			wg.Wait()
			created := 0
			for i, err := range errs {
				if err != nil {
					t.Errorf("Sync %d: %v", i, err)
				}
				if froms[i] == "" {
					created++
				}
			}
			if created != 1 {
				t.Errorf("Syncs that created the schema: got %d (from %q), want 1", created, froms)
			}
		})
	}
}

// A first sync on MariaDB cut short (its DDL commits statement by statement)
// is finished by the next one, to the same schema a whole sync makes; a
// table that is not Glance's still stops it.
func TestInterruptedSyncResumes(t *testing.T) {
	ddl, err := os.ReadFile("schema_mysql.sql")
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	var cur strings.Builder
	for line := range strings.Lines(string(ddl)) {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			stmts = append(stmts, cur.String())
			cur.Reset()
		}
	}
	whole := sqlcattest.FreshURL(t, "mysql")
	sqlcattest.OpenURL(t, whole)
	want := describe(t, "mysql", whole)

	for _, cut := range []int{3, len(stmts) / 2, len(stmts) - 1} {
		url := sqlcattest.FreshURL(t, "mysql")
		raw, _, err := sqlcat.OpenRaw(url)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts[:cut] {
			if _, err := raw.ExecContext(t.Context(), s); err != nil {
				t.Fatalf("statement %q: %v", s, err)
			}
		}
		raw.Close()
		db := sqlcattest.OpenURL(t, url) // syncs
		if v, err := db.Version(t.Context()); err != nil || v != sqlcat.HeadRevision {
			t.Errorf("cut after %d statements: version %q (%v), want %s", cut, v, err, sqlcat.HeadRevision)
		}
		if diff := cmp.Diff(want, describe(t, "mysql", url)); diff != "" {
			t.Errorf("cut after %d statements: schema differs from a whole sync (-want +got):\n%s", cut, diff)
		}
	}

	url := sqlcattest.FreshURL(t, "mysql")
	raw, _, err := sqlcat.OpenRaw(url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(t.Context(), "CREATE TABLE somebody_elses (id INT)"); err != nil {
		t.Fatal(err)
	}
	db, err := sqlcat.OpenURL(t.Context(), url, sqlcat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.Sync(t.Context()); err == nil || !strings.Contains(err.Error(), "not a Glance database") {
		t.Errorf("Sync over another application's table: got %v, want \"not a Glance database\"", err)
	}
}
