package sqlcat

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"glimpse/internal/image"
)

// stamped makes a database file as an older Glance left it: its schema
// (with or without the 2024.1 cache tables), alembic_version at rev and one
// image written the way glance-api writes rows.
func stamped(t *testing.T, rev string, cacheTables bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "glance.sqlite")
	raw := rawDB(t, path)
	stmts := []string{schemaSQLite}
	if cacheTables {
		stmts = append(stmts, cacheTablesSQLite)
	}
	stmts = append(stmts,
		`INSERT INTO alembic_version (version_num) VALUES ('`+rev+`')`,
		`INSERT INTO images (id, name, size, status, created_at, updated_at, deleted_at, deleted,
 min_disk, min_ram, protected, visibility, os_hidden)
 VALUES ('`+legacyID+`', 'legacy', 1024, 'active', '2021-06-01 08:30:00.250000', NULL, NULL, 0,
 1, 64, 1, 'public', 0)`,
		`INSERT INTO image_properties (image_id, name, value, created_at, deleted)
 VALUES ('`+legacyID+`', 'os_distro', 'cirros', '2021-06-01 08:30:00.250000', 0)`,
		`INSERT INTO image_tags (image_id, value, created_at, deleted)
 VALUES ('`+legacyID+`', 'old', '2021-06-01 08:30:00.250000', 0)`,
	)
	for _, s := range stmts {
		if _, err := raw.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("build a %s database: %v", rev, err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

const legacyID = "5a7d3f0e-4c1b-4a8e-9f2d-6b0c1e2d3f4a"

// wantLegacyImage checks the image stamped wrote reads back whole.
func wantLegacyImage(t *testing.T, db *DB) {
	t.Helper()
	img, err := db.GetImage(t.Context(), legacyID)
	if err != nil {
		t.Fatalf("GetImage of the image an older Glance wrote: got error %v, want nil", err)
	}
	created := time.Date(2021, 6, 1, 8, 30, 0, 250_000_000, time.UTC)
	if !img.CreatedAt.Equal(created) || !img.UpdatedAt.Equal(created) {
		t.Errorf("times: got created %v, updated %v; want both %v", img.CreatedAt, img.UpdatedAt, created)
	}
	if img.Name == nil || *img.Name != "legacy" || img.Status != image.Active || !img.Protected ||
		img.MinRAM != 64 || img.Size == nil || *img.Size != 1024 || img.Visibility != image.Public {
		t.Errorf("image: got %+v, want the row stamped wrote", img)
	}
	if v := img.Properties["os_distro"]; v == nil || *v != "cirros" || !slices.Equal(img.Tags, []string{"old"}) {
		t.Errorf("properties %v, tags %q: want os_distro=cirros and [old]", img.Properties, img.Tags)
	}
}

func tableExists(t *testing.T, db *DB, name string) bool {
	t.Helper()
	var n int
	err := db.sql.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestVersionOfEmptyDatabase(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "glance.sqlite"))
	v, err := db.Version(t.Context())
	if err != nil || v != "" {
		t.Fatalf("Version: got (%q, %v), want (\"\", nil)", v, err)
	}
	if err := CheckVersion(v); !errors.Is(err, ErrOldSchema) {
		t.Errorf("CheckVersion(%q): got %v, want %v", v, err, ErrOldSchema)
	}
}

func TestSyncTwiceIsNoOp(t *testing.T) {
	db, path := openSynced(t)
	before := readSchema(t, path)
	from, to, err := db.Sync(t.Context())
	if err != nil || from != HeadRevision || to != HeadRevision {
		t.Fatalf("second Sync: got (%q, %q, %v), want (%q, %q, nil)", from, to, err, HeadRevision, HeadRevision)
	}
	if v, err := db.Version(t.Context()); err != nil || v != HeadRevision {
		t.Errorf("Version: got (%q, %v), want (%q, nil)", v, err, HeadRevision)
	}
	if err := CheckVersion(HeadRevision); err != nil {
		t.Errorf("CheckVersion(%q): got %v, want nil", HeadRevision, err)
	}
	wantGlanceSchema(t, path)
	if got := readSchema(t, path); len(got) != len(before) {
		t.Errorf("second Sync changed the tables: got %d, want %d", len(got), len(before))
	}
}

// Databases glance-manage migrated to wallaby or later are served as they
// are, and Sync brings them to the head schema, adding the cache tables
// where they are missing, keeping their rows.
func TestServeAndUpgradeOlderGlanceDatabase(t *testing.T) {
	for _, tc := range []struct {
		rev         string
		cacheTables bool
	}{
		{"wallaby_contract01", false},
		{"wallaby_expand01", false},
		{"xena_contract01", false},
		{"zed_contract01", false},
		{"2023_1_contract01", false},
		{"2023_1_expand01", false},
		{"2024_1_expand01", true},
	} {
		t.Run(tc.rev, func(t *testing.T) {
			path := stamped(t, tc.rev, tc.cacheTables)
			db := openDB(t, path)
			v, err := db.Version(t.Context())
			if err != nil || v != tc.rev {
				t.Fatalf("Version: got (%q, %v), want (%q, nil)", v, err, tc.rev)
			}
			if err := CheckVersion(v); err != nil {
				t.Errorf("CheckVersion(%q): got %v, want nil", v, err)
			}
			wantLegacyImage(t, db)
			from, to, err := db.Sync(t.Context())
			if err != nil || from != tc.rev || to != HeadRevision {
				t.Fatalf("Sync: got (%q, %q, %v), want (%q, %q, nil)", from, to, err, tc.rev, HeadRevision)
			}
			for _, name := range []string{"node_reference", "cached_images"} {
				if !tableExists(t, db, name) {
					t.Errorf("table %s missing after Sync", name)
				}
			}
			wantGlanceSchema(t, path)
			wantLegacyImage(t, db)
		})
	}
}

func TestRefuseNewerOrOlderSchema(t *testing.T) {
	for _, tc := range []struct {
		rev  string
		want error
	}{
		{"2025_1_contract01", ErrNewerSchema},
		{"2025_1_expand01", ErrNewerSchema},
		{"some_future_rev", ErrNewerSchema},
		{"rocky_contract02", ErrOldSchema},
		{"liberty", ErrOldSchema},
		{"ocata01", ErrOldSchema},
		{"train_contract01", ErrOldSchema},
		{"ussuri_expand01", ErrOldSchema},
	} {
		t.Run(tc.rev, func(t *testing.T) {
			if err := CheckVersion(tc.rev); !errors.Is(err, tc.want) {
				t.Errorf("CheckVersion(%q): got %v, want %v", tc.rev, err, tc.want)
			}
			path := stamped(t, tc.rev, false)
			db := openDB(t, path)
			if _, _, err := db.Sync(t.Context()); !errors.Is(err, tc.want) {
				t.Errorf("Sync: got %v, want %v", err, tc.want)
			}
			if got := alembicVersions(t, path); !slices.Equal(got, []string{tc.rev}) {
				t.Errorf("alembic_version after the refused Sync: got %q, want %q", got, []string{tc.rev})
			}
			for _, name := range []string{"node_reference", "cached_images"} {
				if tableExists(t, db, name) {
					t.Errorf("refused Sync created table %s", name)
				}
			}
		})
	}
}

func TestCheckVersionServesEveryKnownRevisionFromWallaby(t *testing.T) {
	served := []string{
		"wallaby_expand01", "wallaby_contract01", "xena_expand01", "xena_contract01",
		"yoga_expand01", "yoga_contract01", "zed_expand01", "zed_contract01",
		"2023_1_expand01", "2023_1_contract01", "2024_1_expand01", "2024_1_contract01",
	}
	for _, rev := range served {
		if err := CheckVersion(rev); err != nil {
			t.Errorf("CheckVersion(%q): got %v, want nil", rev, err)
		}
	}
	old := []string{
		"liberty", "mitaka01", "mitaka02", "ocata01", "ocata_expand01", "ocata_contract01",
		"pike01", "pike_expand01", "pike_contract01", "queens_expand01", "queens_contract01",
		"rocky_expand01", "rocky_expand02", "rocky_contract01", "rocky_contract02",
		"train_expand01", "train_contract01", "ussuri_expand01", "ussuri_contract01",
	}
	for _, rev := range old {
		if err := CheckVersion(rev); !errors.Is(err, ErrOldSchema) {
			t.Errorf("CheckVersion(%q): got %v, want %v", rev, err, ErrOldSchema)
		}
	}
}

// A database with tables but no alembic_version is not Glance's: Sync
// leaves it alone.
func TestSyncRefusesForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.sqlite")
	raw := rawDB(t, path)
	if _, err := raw.ExecContext(t.Context(), `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path)
	if _, _, err := db.Sync(t.Context()); err == nil {
		t.Fatalf("Sync of a database with foreign tables: got nil error, want one")
	}
	if got := readSchema(t, path); len(got) != 1 {
		t.Errorf("tables after the refused Sync: got %d, want only notes", len(got))
	}
}
