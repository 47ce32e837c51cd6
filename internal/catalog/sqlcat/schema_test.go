package sqlcat

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Column is one row of PRAGMA table_info.
type Column struct {
	Name    string
	Type    string
	NotNull bool
	Default string // the default's SQL text, "" for none
	PK      int    // position in the primary key, 0 when not in it
}

// Index is one row of PRAGMA index_list with its PRAGMA index_info columns.
type Index struct {
	Name    string
	Unique  bool
	Origin  string // c: CREATE INDEX, u: UNIQUE constraint, pk: PRIMARY KEY
	Columns []string
}

// ForeignKey is one row of PRAGMA foreign_key_list.
type ForeignKey struct {
	From, Table, To string
}

// Table is the structure of one table as SQLite reports it.
type Table struct {
	Columns     []Column
	Indexes     []Index
	ForeignKeys []ForeignKey
}

// glanceSchema is what glance-manage db_sync leaves in an SQLite database:
// the tables of revision wallaby_contract01 as Glance 25.1 created them,
// plus node_reference and cached_images from 2024_1_expand01.
var glanceSchema = map[string]Table{
	"alembic_version": {
		Columns: []Column{
			{"version_num", "VARCHAR(32)", true, "", 1},
		},
		Indexes: []Index{
			{"sqlite_autoindex_alembic_version_1", true, "pk", []string{"version_num"}},
		},
	},
	"cached_images": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"image_id", "VARCHAR(36)", true, "", 0},
			{"last_accessed", "DATETIME", true, "", 0},
			{"last_modified", "DATETIME", true, "", 0},
			{"size", "BIGINT", true, "", 0},
			{"hits", "INTEGER", true, "", 0},
			{"checksum", "VARCHAR(32)", false, "", 0},
			{"node_reference_id", "INTEGER", true, "", 0},
		},
		Indexes: []Index{
			{"sqlite_autoindex_cached_images_1", true, "u", []string{"image_id", "node_reference_id"}},
		},
		ForeignKeys: []ForeignKey{
			{"node_reference_id", "node_reference", "node_reference_id"},
		},
	},
	"image_locations": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"image_id", "VARCHAR(36)", true, "", 0},
			{"value", "TEXT", true, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
			{"deleted_at", "DATETIME", false, "", 0},
			{"deleted", "BOOLEAN", true, "", 0},
			{"meta_data", "TEXT", false, "", 0},
			{"status", "VARCHAR(30)", true, `'active'`, 0},
		},
		Indexes: []Index{
			{"ix_image_locations_deleted", false, "c", []string{"deleted"}},
			{"ix_image_locations_image_id", false, "c", []string{"image_id"}},
		},
		ForeignKeys: []ForeignKey{
			{"image_id", "images", "id"},
		},
	},
	"image_members": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"image_id", "VARCHAR(36)", true, "", 0},
			{"member", "VARCHAR(255)", true, "", 0},
			{"can_share", "BOOLEAN", true, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
			{"deleted_at", "DATETIME", false, "", 0},
			{"deleted", "BOOLEAN", true, "", 0},
			{"status", "VARCHAR(20)", true, `'pending'`, 0},
		},
		Indexes: []Index{
			{"ix_image_members_deleted", false, "c", []string{"deleted"}},
			{"ix_image_members_image_id", false, "c", []string{"image_id"}},
			{"ix_image_members_image_id_member", false, "c", []string{"image_id", "member"}},
			{"sqlite_autoindex_image_members_1", true, "u", []string{"image_id", "member", "deleted_at"}},
		},
		ForeignKeys: []ForeignKey{
			{"image_id", "images", "id"},
		},
	},
	"image_properties": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"image_id", "VARCHAR(36)", true, "", 0},
			{"name", "VARCHAR(255)", true, "", 0},
			{"value", "TEXT", false, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
			{"deleted_at", "DATETIME", false, "", 0},
			{"deleted", "BOOLEAN", true, "", 0},
		},
		Indexes: []Index{
			{"ix_image_properties_deleted", false, "c", []string{"deleted"}},
			{"ix_image_properties_image_id", false, "c", []string{"image_id"}},
			{"sqlite_autoindex_image_properties_1", true, "u", []string{"image_id", "name"}},
		},
		ForeignKeys: []ForeignKey{
			{"image_id", "images", "id"},
		},
	},
	"image_tags": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"image_id", "VARCHAR(36)", true, "", 0},
			{"value", "VARCHAR(255)", true, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
			{"deleted_at", "DATETIME", false, "", 0},
			{"deleted", "BOOLEAN", true, "", 0},
		},
		Indexes: []Index{
			{"ix_image_tags_image_id", false, "c", []string{"image_id"}},
			{"ix_image_tags_image_id_tag_value", false, "c", []string{"image_id", "value"}},
		},
		ForeignKeys: []ForeignKey{
			{"image_id", "images", "id"},
		},
	},
	"images": {
		Columns: []Column{
			{"id", "VARCHAR(36)", true, "", 1},
			{"name", "VARCHAR(255)", false, "", 0},
			{"size", "BIGINT", false, "", 0},
			{"status", "VARCHAR(30)", true, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
			{"deleted_at", "DATETIME", false, "", 0},
			{"deleted", "BOOLEAN", true, "", 0},
			{"disk_format", "VARCHAR(20)", false, "", 0},
			{"container_format", "VARCHAR(20)", false, "", 0},
			{"checksum", "VARCHAR(32)", false, "", 0},
			{"owner", "VARCHAR(255)", false, "", 0},
			{"min_disk", "INTEGER", true, "", 0},
			{"min_ram", "INTEGER", true, "", 0},
			{"protected", "BOOLEAN", true, `0`, 0},
			{"virtual_size", "BIGINT", false, "", 0},
			{"visibility", "VARCHAR(9)", true, `'shared'`, 0},
			{"os_hidden", "BOOLEAN", true, `0`, 0},
			{"os_hash_algo", "VARCHAR(64)", false, "", 0},
			{"os_hash_value", "VARCHAR(128)", false, "", 0},
		},
		Indexes: []Index{
			{"checksum_image_idx", false, "c", []string{"checksum"}},
			{"created_at_image_idx", false, "c", []string{"created_at"}},
			{"ix_images_deleted", false, "c", []string{"deleted"}},
			{"os_hash_value_image_idx", false, "c", []string{"os_hash_value"}},
			{"os_hidden_image_idx", false, "c", []string{"os_hidden"}},
			{"owner_image_idx", false, "c", []string{"owner"}},
			{"sqlite_autoindex_images_1", true, "pk", []string{"id"}},
			{"updated_at_image_idx", false, "c", []string{"updated_at"}},
			{"visibility_image_idx", false, "c", []string{"visibility"}},
		},
	},
	"metadef_namespace_resource_types": {
		Columns: []Column{
			{"resource_type_id", "INTEGER", true, "", 1},
			{"namespace_id", "INTEGER", true, "", 2},
			{"properties_target", "VARCHAR(80)", false, "", 0},
			{"prefix", "VARCHAR(80)", false, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
		},
		Indexes: []Index{
			{"ix_metadef_ns_res_types_namespace_id", false, "c", []string{"namespace_id"}},
			{"sqlite_autoindex_metadef_namespace_resource_types_1", true, "pk", []string{"resource_type_id", "namespace_id"}},
		},
		ForeignKeys: []ForeignKey{
			{"namespace_id", "metadef_namespaces", "id"},
			{"resource_type_id", "metadef_resource_types", "id"},
		},
	},
	"metadef_namespaces": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"namespace", "VARCHAR(80)", true, "", 0},
			{"display_name", "VARCHAR(80)", false, "", 0},
			{"description", "TEXT", false, "", 0},
			{"visibility", "VARCHAR(32)", false, "", 0},
			{"protected", "BOOLEAN", false, "", 0},
			{"owner", "VARCHAR(255)", true, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
		},
		Indexes: []Index{
			{"ix_metadef_namespaces_owner", false, "c", []string{"owner"}},
			{"sqlite_autoindex_metadef_namespaces_1", true, "u", []string{"namespace"}},
		},
	},
	"metadef_objects": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"namespace_id", "INTEGER", true, "", 0},
			{"name", "VARCHAR(80)", true, "", 0},
			{"description", "TEXT", false, "", 0},
			{"required", "TEXT", false, "", 0},
			{"json_schema", "TEXT", true, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
		},
		Indexes: []Index{
			{"ix_metadef_objects_name", false, "c", []string{"name"}},
			{"sqlite_autoindex_metadef_objects_1", true, "u", []string{"namespace_id", "name"}},
		},
		ForeignKeys: []ForeignKey{
			{"namespace_id", "metadef_namespaces", "id"},
		},
	},
	"metadef_properties": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"namespace_id", "INTEGER", true, "", 0},
			{"name", "VARCHAR(80)", true, "", 0},
			{"json_schema", "TEXT", true, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
		},
		Indexes: []Index{
			{"ix_metadef_properties_name", false, "c", []string{"name"}},
			{"sqlite_autoindex_metadef_properties_1", true, "u", []string{"namespace_id", "name"}},
		},
		ForeignKeys: []ForeignKey{
			{"namespace_id", "metadef_namespaces", "id"},
		},
	},
	"metadef_resource_types": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"name", "VARCHAR(80)", true, "", 0},
			{"protected", "BOOLEAN", true, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
		},
		Indexes: []Index{
			{"sqlite_autoindex_metadef_resource_types_1", true, "u", []string{"name"}},
		},
	},
	"metadef_tags": {
		Columns: []Column{
			{"id", "INTEGER", true, "", 1},
			{"namespace_id", "INTEGER", true, "", 0},
			{"name", "VARCHAR(80)", true, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
		},
		Indexes: []Index{
			{"ix_metadef_tags_name", false, "c", []string{"name"}},
			{"sqlite_autoindex_metadef_tags_1", true, "u", []string{"namespace_id", "name"}},
		},
		ForeignKeys: []ForeignKey{
			{"namespace_id", "metadef_namespaces", "id"},
		},
	},
	"node_reference": {
		Columns: []Column{
			{"node_reference_id", "INTEGER", true, "", 1},
			{"node_reference_url", "VARCHAR(255)", true, "", 0},
		},
		Indexes: []Index{
			{"sqlite_autoindex_node_reference_1", true, "u", []string{"node_reference_url"}},
		},
	},
	"task_info": {
		Columns: []Column{
			{"task_id", "VARCHAR(36)", true, "", 1},
			{"input", "TEXT", false, "", 0},
			{"result", "TEXT", false, "", 0},
			{"message", "TEXT", false, "", 0},
		},
		Indexes: []Index{
			{"sqlite_autoindex_task_info_1", true, "pk", []string{"task_id"}},
		},
		ForeignKeys: []ForeignKey{
			{"task_id", "tasks", "id"},
		},
	},
	"tasks": {
		Columns: []Column{
			{"id", "VARCHAR(36)", true, "", 1},
			{"type", "VARCHAR(30)", true, "", 0},
			{"status", "VARCHAR(30)", true, "", 0},
			{"owner", "VARCHAR(255)", true, "", 0},
			{"expires_at", "DATETIME", false, "", 0},
			{"created_at", "DATETIME", true, "", 0},
			{"updated_at", "DATETIME", false, "", 0},
			{"deleted_at", "DATETIME", false, "", 0},
			{"deleted", "BOOLEAN", true, "", 0},
			{"image_id", "VARCHAR(36)", false, "", 0},
			{"request_id", "VARCHAR(64)", false, "", 0},
			{"user_id", "VARCHAR(64)", false, "", 0},
		},
		Indexes: []Index{
			{"ix_tasks_deleted", false, "c", []string{"deleted"}},
			{"ix_tasks_image_id", false, "c", []string{"image_id"}},
			{"ix_tasks_owner", false, "c", []string{"owner"}},
			{"ix_tasks_status", false, "c", []string{"status"}},
			{"ix_tasks_type", false, "c", []string{"type"}},
			{"ix_tasks_updated_at", false, "c", []string{"updated_at"}},
			{"sqlite_autoindex_tasks_1", true, "pk", []string{"id"}},
		},
	},
}

// readSchema reports every table of the database at path through PRAGMAs,
// on a connection of its own.
func readSchema(t *testing.T, path string) map[string]Table {
	t.Helper()
	db := rawDB(t, path)
	ctx := t.Context()
	var names []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("list tables: %v", err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]Table{}
	for _, name := range names {
		var tab Table
		queryEach(t, ctx, db, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`, []any{name}, func(r *sql.Rows) error {
			var c Column
			var dflt sql.NullString
			err := r.Scan(&c.Name, &c.Type, &c.NotNull, &dflt, &c.PK)
			c.Default = dflt.String
			tab.Columns = append(tab.Columns, c)
			return err
		})
		queryEach(t, ctx, db, `SELECT name, "unique", origin FROM pragma_index_list(?) ORDER BY name`, []any{name}, func(r *sql.Rows) error {
			var ix Index
			err := r.Scan(&ix.Name, &ix.Unique, &ix.Origin)
			tab.Indexes = append(tab.Indexes, ix)
			return err
		})
		for i := range tab.Indexes {
			queryEach(t, ctx, db, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, []any{tab.Indexes[i].Name}, func(r *sql.Rows) error {
				var c string
				err := r.Scan(&c)
				tab.Indexes[i].Columns = append(tab.Indexes[i].Columns, c)
				return err
			})
		}
		queryEach(t, ctx, db, `SELECT "from", "table", "to" FROM pragma_foreign_key_list(?) ORDER BY "table", "from"`, []any{name}, func(r *sql.Rows) error {
			var fk ForeignKey
			err := r.Scan(&fk.From, &fk.Table, &fk.To)
			tab.ForeignKeys = append(tab.ForeignKeys, fk)
			return err
		})
		out[name] = tab
	}
	return out
}

func queryEach(t *testing.T, ctx context.Context, db *sql.DB, q string, args []any, each func(*sql.Rows) error) {
	t.Helper()
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatalf("%s %v: %v", q, args, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			t.Fatalf("%s %v: %v", q, args, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s %v: %v", q, args, err)
	}
}

// rawDB opens the file with the plain driver, as another tool (or
// glance-api) would, closed when the test ends.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(20000)")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// alembicVersions returns every row of alembic_version.
func alembicVersions(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	queryEach(t, t.Context(), rawDB(t, path), `SELECT version_num FROM alembic_version`, nil, func(r *sql.Rows) error {
		var v string
		err := r.Scan(&v)
		out = append(out, v)
		return err
	})
	return out
}

func wantGlanceSchema(t *testing.T, path string) {
	t.Helper()
	got := readSchema(t, path)
	if d := cmp.Diff(glanceSchema, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("schema differs from Glance's (-want +got):\n%s", d)
	}
	if got, want := alembicVersions(t, path), []string{HeadRevision}; !slices.Equal(got, want) {
		t.Errorf("alembic_version: got %q, want %q", got, want)
	}
}

func TestSyncCreatesGlanceSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "glance.sqlite")
	db := openDB(t, path)
	from, to, err := db.Sync(t.Context())
	if err != nil || from != "" || to != HeadRevision {
		t.Fatalf("Sync on an empty database: got (%q, %q, %v), want (\"\", %q, nil)", from, to, err, HeadRevision)
	}
	wantGlanceSchema(t, path)
}
