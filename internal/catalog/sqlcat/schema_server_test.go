// An external test: it needs sqlcattest, which imports sqlcat.
package sqlcat_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/catalog/sqlcat/sqlcattest"
)

// TestServerSchema checks that glimpse builds, on PostgreSQL and MariaDB,
// the schema Glance builds: database A is made by Glance's own
// `glance-manage db_sync` (Glance 25.1's head, wallaby_contract01) and then
// brought to glimpse's head by Sync; database B is made by Sync alone. The
// two must read the same from the server's catalogs, and both must show a
// few facts written down here independently of Glance.
func TestServerSchema(t *testing.T) {
	for _, backend := range sqlcattest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			opt := sqlcat.Options{MaxRetries: 1, RetryInterval: time.Second}

			urlA := sqlcattest.FreshURL(t, backend)
			glanceManageDBSync(t, urlA)
			dbA, err := sqlcat.OpenURL(ctx, urlA, opt)
			if err != nil {
				t.Fatalf("OpenURL(A): %v", err)
			}
			t.Cleanup(func() { dbA.Close() })
			if v, err := dbA.Version(ctx); err != nil || v != "wallaby_contract01" {
				t.Fatalf("Version after glance-manage db_sync: got %q, %v; want %q", v, err, "wallaby_contract01")
			}
			from, to, err := dbA.Sync(ctx)
			if err != nil || from != "wallaby_contract01" || to != sqlcat.HeadRevision {
				t.Fatalf("Sync(A): got %q -> %q, %v; want %q -> %q", from, to, err, "wallaby_contract01", sqlcat.HeadRevision)
			}

			urlB := sqlcattest.FreshURL(t, backend)
			dbB, err := sqlcat.OpenURL(ctx, urlB, opt)
			if err != nil {
				t.Fatalf("OpenURL(B): %v", err)
			}
			t.Cleanup(func() { dbB.Close() })
			from, to, err = dbB.Sync(ctx)
			if err != nil || from != "" || to != sqlcat.HeadRevision {
				t.Fatalf("Sync(B): got %q -> %q, %v; want %q -> %q", from, to, err, "", sqlcat.HeadRevision)
			}

			descA := describe(t, backend, urlA)
			descB := describe(t, backend, urlB)
			if diff := cmp.Diff(descA, descB); diff != "" {
				t.Errorf("schema made by glimpse (+) differs from the one glance-manage made and glimpse upgraded (-):\n%s", diff)
			}
			for name, d := range map[string]schemaDesc{"glance-manage + Sync": descA, "Sync": descB} {
				for _, msg := range checkFacts(backend, d) {
					t.Errorf("%s: %s", name, msg)
				}
			}
		})
	}
}

// glanceManageDBSync runs Debian's glance-manage db_sync on the database
// at url, as an operator would.
func glanceManageDBSync(t *testing.T, url string) {
	t.Helper()
	bin, err := exec.LookPath("glance-manage")
	if err != nil {
		if os.Getenv("GLIMPSE_REQUIRE_BACKENDS") == "1" {
			t.Fatalf("glance-manage is not installed and GLIMPSE_REQUIRE_BACKENDS=1 (apt-get install glance-api)")
		}
		t.Skip("glance-manage is not installed (Debian's glance-api has it): no reference schema")
	}
	conf := filepath.Join(t.TempDir(), "glance-manage.conf")
	// oslo.config expands $name in values; $$ is a literal $.
	body := "[database]\nconnection = " + strings.ReplaceAll(url, "$", "$$") + "\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--config-file", conf, "db_sync").CombinedOutput()
	if err != nil {
		t.Fatalf("glance-manage db_sync: %v\n%s", err, out)
	}
}

// schemaDesc is a database's schema as its server's catalogs describe it,
// normalized so that two databases made the same way compare equal: no
// database names, object ids or row counts.
type schemaDesc struct {
	Tables map[string]tableDesc
	// Version is the content of alembic_version.
	Version []string
	// Enums are PostgreSQL's enum types with their labels in order.
	Enums map[string][]string `json:",omitempty"`
	// Sequences are PostgreSQL's sequences by name.
	Sequences map[string]seqDesc `json:",omitempty"`
}

type tableDesc struct {
	// Engine is MySQL's storage engine or PostgreSQL's access method
	// (heap); Options MySQL's table type and create options or
	// PostgreSQL's relkind, persistence and reloptions; RowFormat,
	// Charset and Collation (the table's defaults) are MySQL's only.
	Engine, RowFormat, Options, Charset, Collation string
	// Columns in table order. On PostgreSQL the position is the rank
	// among live columns, not attnum: a column Glance added and later
	// dropped (images.is_public) still holds an attnum there, which no
	// CREATE TABLE reproduces and nothing but the catalog shows.
	Columns []colDesc
	// Indexes and Constraints by name.
	Indexes     map[string]idxDesc
	Constraints map[string]conDesc
}

type colDesc struct {
	Name string
	// Type as the server spells it: format_type on PostgreSQL
	// ("character varying(36)"), COLUMN_TYPE on MySQL ("varchar(36)",
	// "bigint(20)", "enum('private',...)").
	Type     string
	Nullable bool
	// Default is the default expression as the server keeps it; "" for
	// none (MariaDB's NULL default of a nullable column reads "NULL").
	Default string
	// Extra is MySQL's EXTRA (auto_increment) or PostgreSQL's identity
	// and generation kinds.
	Extra string
	// Collation (PostgreSQL, MySQL) and Charset (MySQL) of text columns.
	Charset, Collation string
}

type idxDesc struct {
	Columns []string
	Unique  bool
	Primary bool
	// Method is the access method (btree) or MySQL's INDEX_TYPE (BTREE);
	// Def is PostgreSQL's pg_get_indexdef and MySQL's prefix lengths and
	// sort orders.
	Method, Def string
}

type conDesc struct {
	// Type: PRIMARY KEY, UNIQUE, FOREIGN KEY, CHECK (and PostgreSQL's
	// EXCLUDE / TRIGGER, which Glance has none of).
	Type       string
	Columns    []string
	RefTable   string
	RefColumns []string
	// Def is the whole definition: pg_get_constraintdef on PostgreSQL
	// (check clause, ON UPDATE/DELETE, deferrability); on MySQL the
	// check clause, or the FK's match option and update/delete rules.
	Def string
}

type seqDesc struct {
	Type                              string
	Start, Min, Max, Increment, Cache int64
	Cycle                             bool
	// The column the sequence belongs to, and how: pg_depend's deptype,
	// "a" for SERIAL's OWNED BY, "i" for an identity column.
	OwnedByTable, OwnedByColumn, Dependency string
}

// describe reads the schema of the database at url.
func describe(t *testing.T, backend, url string) schemaDesc {
	t.Helper()
	db, _, err := sqlcat.OpenRaw(url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var d schemaDesc
	switch backend {
	case "postgresql":
		d, err = describePostgres(ctx, db)
	case "mysql":
		d, err = describeMySQL(ctx, db)
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	if err != nil {
		t.Fatalf("describe %s schema: %v", backend, err)
	}
	return d
}

// query runs q and calls row with a scanner for each row.
func query(ctx context.Context, db *sql.DB, q string, row func(scan func(...any) error) error) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, q)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return fmt.Errorf("%w\n%s", err, q)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w\n%s", err, q)
	}
	return nil
}

// list splits a comma-separated aggregate; "" is no element.
func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// update applies fn to the description of table name.
func (d *schemaDesc) update(name string, fn func(*tableDesc)) {
	td := d.Tables[name]
	if td.Indexes == nil {
		td.Indexes = map[string]idxDesc{}
		td.Constraints = map[string]conDesc{}
	}
	fn(&td)
	d.Tables[name] = td
}

func readVersion(ctx context.Context, db *sql.DB, d *schemaDesc) error {
	return query(ctx, db, `SELECT version_num FROM alembic_version ORDER BY version_num`, func(scan func(...any) error) error {
		var v string
		if err := scan(&v); err != nil {
			return err
		}
		d.Version = append(d.Version, v)
		return nil
	})
}

func describePostgres(ctx context.Context, db *sql.DB) (schemaDesc, error) {
	d := schemaDesc{Tables: map[string]tableDesc{}, Enums: map[string][]string{}, Sequences: map[string]seqDesc{}}
	steps := []struct {
		q   string
		row func(scan func(...any) error) error
	}{
		// Every relation of the schema that is not an index or a
		// sequence (those are read below) must be an ordinary table.
		{`SELECT c.relname, c.relkind, c.relpersistence, coalesce(array_to_string(c.reloptions, ','), ''), coalesce(am.amname, '')
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_am am ON am.oid = c.relam
		  WHERE n.nspname = current_schema() AND c.relkind NOT IN ('i', 'S')`,
			func(scan func(...any) error) error {
				var name, kind, persistence, options, method string
				if err := scan(&name, &kind, &persistence, &options, &method); err != nil {
					return err
				}
				d.update(name, func(td *tableDesc) {
					td.Engine = method
					td.Options = strings.TrimSpace("relkind=" + kind + " persistence=" + persistence + " " + options)
				})
				return nil
			}},
		{`SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
		         coalesce(pg_get_expr(ad.adbin, ad.adrelid), ''), a.attidentity::text || a.attgenerated::text, coalesce(co.collname, '')
		  FROM pg_attribute a
		  JOIN pg_class c ON c.oid = a.attrelid
		  JOIN pg_namespace n ON n.oid = c.relnamespace
		  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
		  LEFT JOIN pg_collation co ON co.oid = a.attcollation
		  WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
		  ORDER BY c.relname, a.attnum`,
			func(scan func(...any) error) error {
				var table string
				var c colDesc
				if err := scan(&table, &c.Name, &c.Type, &c.Nullable, &c.Default, &c.Extra, &c.Collation); err != nil {
					return err
				}
				d.update(table, func(td *tableDesc) { td.Columns = append(td.Columns, c) })
				return nil
			}},
		{`SELECT t.relname, i.relname, ix.indisunique, ix.indisprimary, am.amname, pg_get_indexdef(ix.indexrelid),
		         coalesce((SELECT string_agg(coalesce(a.attname, '(expr)'), ',' ORDER BY k.ord)
		                   FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
		                   LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum), '')
		  FROM pg_index ix
		  JOIN pg_class i ON i.oid = ix.indexrelid
		  JOIN pg_class t ON t.oid = ix.indrelid
		  JOIN pg_am am ON am.oid = i.relam
		  JOIN pg_namespace n ON n.oid = t.relnamespace
		  WHERE n.nspname = current_schema()`,
			func(scan func(...any) error) error {
				var table, name, cols string
				var ix idxDesc
				if err := scan(&table, &name, &ix.Unique, &ix.Primary, &ix.Method, &ix.Def, &cols); err != nil {
					return err
				}
				ix.Columns = list(cols)
				d.update(table, func(td *tableDesc) { td.Indexes[name] = ix })
				return nil
			}},
		{`SELECT t.relname, c.conname,
		         CASE c.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE' WHEN 'f' THEN 'FOREIGN KEY'
		                        WHEN 'c' THEN 'CHECK' WHEN 'x' THEN 'EXCLUDE' ELSE c.contype::text END,
		         coalesce((SELECT string_agg(a.attname, ',' ORDER BY k.ord)
		                   FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
		                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum), ''),
		         coalesce(ft.relname, ''),
		         coalesce((SELECT string_agg(a.attname, ',' ORDER BY k.ord)
		                   FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
		                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum), ''),
		         pg_get_constraintdef(c.oid) || CASE WHEN c.condeferrable THEN ' DEFERRABLE' ELSE '' END
		                                     || CASE WHEN c.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END
		                                     || CASE WHEN c.convalidated THEN '' ELSE ' NOT VALID' END
		  FROM pg_constraint c
		  JOIN pg_class t ON t.oid = c.conrelid
		  JOIN pg_namespace n ON n.oid = t.relnamespace
		  LEFT JOIN pg_class ft ON ft.oid = c.confrelid
		  WHERE n.nspname = current_schema()`,
			func(scan func(...any) error) error {
				var table, name, cols, refCols string
				var c conDesc
				if err := scan(&table, &name, &c.Type, &cols, &c.RefTable, &refCols, &c.Def); err != nil {
					return err
				}
				c.Columns, c.RefColumns = list(cols), list(refCols)
				d.update(table, func(td *tableDesc) { td.Constraints[name] = c })
				return nil
			}},
		{`SELECT t.typname, e.enumlabel FROM pg_type t
		  JOIN pg_enum e ON e.enumtypid = t.oid
		  JOIN pg_namespace n ON n.oid = t.typnamespace
		  WHERE n.nspname = current_schema()
		  ORDER BY t.typname, e.enumsortorder`,
			func(scan func(...any) error) error {
				var typ, label string
				if err := scan(&typ, &label); err != nil {
					return err
				}
				d.Enums[typ] = append(d.Enums[typ], label)
				return nil
			}},
		// Types other than the enums and the row types of the tables
		// (and their array types) would be something Glance lacks.
		{`SELECT t.typname, t.typtype FROM pg_type t
		  JOIN pg_namespace n ON n.oid = t.typnamespace
		  WHERE n.nspname = current_schema() AND t.typtype NOT IN ('e', 'c') AND t.typelem = 0`,
			func(scan func(...any) error) error {
				var typ, kind string
				if err := scan(&typ, &kind); err != nil {
					return err
				}
				d.Enums[typ+" (type "+kind+")"] = nil
				return nil
			}},
		{`SELECT s.sequencename, s.data_type::text, s.start_value, s.min_value, s.max_value, s.increment_by, s.cache_size, s.cycle,
		         coalesce(ot.relname, ''), coalesce(oa.attname, ''), coalesce(dep.deptype::text, '')
		  FROM pg_sequences s
		  JOIN pg_namespace n ON n.nspname = s.schemaname
		  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
		  LEFT JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
		                         AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
		  LEFT JOIN pg_class ot ON ot.oid = dep.refobjid
		  LEFT JOIN pg_attribute oa ON oa.attrelid = dep.refobjid AND oa.attnum = dep.refobjsubid
		  WHERE s.schemaname = current_schema()`,
			func(scan func(...any) error) error {
				var name string
				var s seqDesc
				if err := scan(&name, &s.Type, &s.Start, &s.Min, &s.Max, &s.Increment, &s.Cache, &s.Cycle,
					&s.OwnedByTable, &s.OwnedByColumn, &s.Dependency); err != nil {
					return err
				}
				d.Sequences[name] = s
				return nil
			}},
	}
	for _, s := range steps {
		if err := query(ctx, db, s.q, s.row); err != nil {
			return d, err
		}
	}
	return d, readVersion(ctx, db, &d)
}

func describeMySQL(ctx context.Context, db *sql.DB) (schemaDesc, error) {
	d := schemaDesc{Tables: map[string]tableDesc{}}
	// MariaDB's CHECK_CONSTRAINTS has a TABLE_NAME (CHECK names are per
	// table there); MySQL 8's has not (they are per schema).
	var checkHasTable int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'CHECK_CONSTRAINTS' AND COLUMN_NAME = 'TABLE_NAME'`).Scan(&checkHasTable)
	if err != nil {
		return d, err
	}
	checkJoin := ""
	if checkHasTable > 0 {
		checkJoin = " AND cc.TABLE_NAME = tc.TABLE_NAME"
	}
	steps := []struct {
		q   string
		row func(scan func(...any) error) error
	}{
		{`SELECT t.TABLE_NAME, t.TABLE_TYPE, coalesce(t.ENGINE, ''), coalesce(t.ROW_FORMAT, ''), coalesce(t.CREATE_OPTIONS, ''),
		         coalesce(cs.CHARACTER_SET_NAME, ''), coalesce(t.TABLE_COLLATION, '')
		  FROM information_schema.TABLES t
		  LEFT JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY cs ON cs.COLLATION_NAME = t.TABLE_COLLATION
		  WHERE t.TABLE_SCHEMA = DATABASE()`,
			func(scan func(...any) error) error {
				var name, typ string
				var td tableDesc
				if err := scan(&name, &typ, &td.Engine, &td.RowFormat, &td.Options, &td.Charset, &td.Collation); err != nil {
					return err
				}
				d.update(name, func(t *tableDesc) {
					t.Engine, t.RowFormat, t.Charset, t.Collation = td.Engine, td.RowFormat, td.Charset, td.Collation
					t.Options = strings.TrimSpace(typ + " " + td.Options)
				})
				return nil
			}},
		{`SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES', coalesce(COLUMN_DEFAULT, ''), EXTRA,
		         coalesce(CHARACTER_SET_NAME, ''), coalesce(COLLATION_NAME, '')
		  FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
		  ORDER BY TABLE_NAME, ORDINAL_POSITION`,
			func(scan func(...any) error) error {
				var table string
				var c colDesc
				if err := scan(&table, &c.Name, &c.Type, &c.Nullable, &c.Default, &c.Extra, &c.Charset, &c.Collation); err != nil {
					return err
				}
				d.update(table, func(td *tableDesc) { td.Columns = append(td.Columns, c) })
				return nil
			}},
		{`SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE = 0, INDEX_TYPE, COLUMN_NAME, coalesce(SUB_PART, 0), coalesce(COLLATION, '')
		  FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
		  ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
			func(scan func(...any) error) error {
				var table, name, typ, col, order string
				var unique bool
				var sub int64
				if err := scan(&table, &name, &unique, &typ, &col, &sub, &order); err != nil {
					return err
				}
				d.update(table, func(td *tableDesc) {
					ix := td.Indexes[name]
					ix.Unique, ix.Primary, ix.Method = unique, name == "PRIMARY", typ
					ix.Columns = append(ix.Columns, col)
					// Each column's sort order (A, D) and prefix length.
					part := col + " " + order
					if sub > 0 {
						part += fmt.Sprintf(" prefix %d", sub)
					}
					ix.Def = strings.TrimPrefix(ix.Def+", "+part, ", ")
					td.Indexes[name] = ix
				})
				return nil
			}},
		{`SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE FROM information_schema.TABLE_CONSTRAINTS
		  WHERE CONSTRAINT_SCHEMA = DATABASE()`,
			func(scan func(...any) error) error {
				var table, name, typ string
				if err := scan(&table, &name, &typ); err != nil {
					return err
				}
				d.update(table, func(td *tableDesc) { td.Constraints[name] = conDesc{Type: typ} })
				return nil
			}},
		{`SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, coalesce(REFERENCED_TABLE_NAME, ''), coalesce(REFERENCED_COLUMN_NAME, '')
		  FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_SCHEMA = DATABASE()
		  ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
			func(scan func(...any) error) error {
				var table, name, col, refTable, refCol string
				if err := scan(&table, &name, &col, &refTable, &refCol); err != nil {
					return err
				}
				d.update(table, func(td *tableDesc) {
					c := td.Constraints[name]
					c.Columns = append(c.Columns, col)
					c.RefTable = refTable
					if refCol != "" {
						c.RefColumns = append(c.RefColumns, refCol)
					}
					td.Constraints[name] = c
				})
				return nil
			}},
		{`SELECT TABLE_NAME, CONSTRAINT_NAME, MATCH_OPTION, UPDATE_RULE, DELETE_RULE
		  FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()`,
			func(scan func(...any) error) error {
				var table, name, match, upd, del string
				if err := scan(&table, &name, &match, &upd, &del); err != nil {
					return err
				}
				d.update(table, func(td *tableDesc) {
					c := td.Constraints[name]
					c.Def = "MATCH " + match + " ON UPDATE " + upd + " ON DELETE " + del
					td.Constraints[name] = c
				})
				return nil
			}},
		{`SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE
		  FROM information_schema.TABLE_CONSTRAINTS tc
		  JOIN information_schema.CHECK_CONSTRAINTS cc
		    ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME` + checkJoin + `
		  WHERE tc.CONSTRAINT_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'`,
			func(scan func(...any) error) error {
				var table, name, clause string
				if err := scan(&table, &name, &clause); err != nil {
					return err
				}
				d.update(table, func(td *tableDesc) {
					c := td.Constraints[name]
					c.Def = clause
					td.Constraints[name] = c
				})
				return nil
			}},
	}
	for _, s := range steps {
		if err := query(ctx, db, s.q, s.row); err != nil {
			return d, err
		}
	}
	return d, readVersion(ctx, db, &d)
}

// glanceTables are the tables of Glance's schema at 2024_1_contract01.
var glanceTables = []string{
	"alembic_version", "cached_images", "image_locations", "image_members", "image_properties", "image_tags",
	"images", "metadef_namespace_resource_types", "metadef_namespaces", "metadef_objects", "metadef_properties",
	"metadef_resource_types", "metadef_tags", "node_reference", "task_info", "tasks",
}

// checkFacts checks d against facts of Glance's schema on backend that are
// written down here rather than taken from Glance, so that the test says
// something even if glance-manage and glimpse were wrong the same way. It
// returns one message per fact that does not hold.
func checkFacts(backend string, d schemaDesc) []string {
	var msgs []string
	fail := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }
	var tables []string
	for name := range d.Tables {
		tables = append(tables, name)
	}
	slices.Sort(tables)
	if !slices.Equal(tables, glanceTables) {
		fail("tables: got %q, want %q", tables, glanceTables)
	}
	if !slices.Equal(d.Version, []string{sqlcat.HeadRevision}) {
		fail("alembic_version: got %q, want [%q]", d.Version, sqlcat.HeadRevision)
	}
	column := func(table, name string) colDesc {
		for _, c := range d.Tables[table].Columns {
			if c.Name == name {
				return c
			}
		}
		fail("%s.%s: no such column", table, name)
		return colDesc{}
	}
	wantColumn := func(table string, want colDesc) {
		if got := column(table, want.Name); got.Name != "" && !cmp.Equal(got, want) {
			fail("%s.%s: got %+v, want %+v", table, want.Name, got, want)
		}
	}
	wantConstraint := func(table, name string, want conDesc) {
		got, ok := d.Tables[table].Constraints[name]
		if !ok {
			fail("%s: no constraint %s", table, name)
		} else if !cmp.Equal(got, want) {
			fail("%s constraint %s: got %+v, want %+v", table, name, got, want)
		}
	}
	wantIndex := func(table, name string, unique bool, cols ...string) {
		got, ok := d.Tables[table].Indexes[name]
		if !ok {
			fail("%s: no index %s", table, name)
		} else if got.Unique != unique || !slices.Equal(got.Columns, cols) {
			fail("%s index %s: got unique=%v %q, want unique=%v %q", table, name, got.Unique, got.Columns, unique, cols)
		}
	}
	wantIndex("image_properties", "ix_image_properties_image_id_name", true, "image_id", "name")
	wantIndex("images", "visibility_image_idx", false, "visibility")
	wantIndex("image_members", "ix_image_members_image_id_member", false, "image_id", "member")
	wantIndex("cached_images", "ix_cached_images_image_id_node_reference_id", true, "image_id", "node_reference_id")

	switch backend {
	case "postgresql":
		wantColumn("images", colDesc{Name: "visibility", Type: "image_visibility", Default: "'shared'::image_visibility"})
		wantColumn("images", colDesc{Name: "protected", Type: "boolean", Default: "false"})
		wantColumn("images", colDesc{Name: "created_at", Type: "timestamp without time zone"})
		wantColumn("images", colDesc{Name: "size", Type: "bigint", Nullable: true})
		wantColumn("image_properties", colDesc{Name: "id", Type: "integer", Default: "nextval('image_properties_id_seq'::regclass)"})
		wantColumn("image_properties", colDesc{Name: "value", Type: "text", Nullable: true, Collation: "default"})
		wantColumn("cached_images", colDesc{Name: "id", Type: "bigint", Default: "nextval('cached_images_id_seq'::regclass)"})
		if got, want := d.Enums, map[string][]string{"image_visibility": {"private", "public", "shared", "community"}}; !cmp.Equal(got, want) {
			fail("enum types: got %q, want %q", got, want)
		}
		if got := len(d.Sequences); got != 11 {
			fail("sequences: got %d, want 11 (9 of Glance 25.1, 2 of the cache tables)", got)
		}
		for name, owner := range map[string][2]string{
			"image_properties_id_seq":              {"image_properties", "id"},
			"metadef_tags_id_seq":                  {"metadef_tags", "id"},
			"node_reference_node_reference_id_seq": {"node_reference", "node_reference_id"},
		} {
			if s := d.Sequences[name]; s.OwnedByTable != owner[0] || s.OwnedByColumn != owner[1] || s.Dependency != "a" {
				fail("sequence %s: got owned by %s.%s (%q), want by %s.%s (a)", name, s.OwnedByTable, s.OwnedByColumn, s.Dependency, owner[0], owner[1])
			}
		}
		wantConstraint("alembic_version", "alembic_version_pkc", conDesc{Type: "PRIMARY KEY", Columns: []string{"version_num"}, Def: "PRIMARY KEY (version_num)"})
		wantConstraint("image_tags", "image_tags_image_id_fkey", conDesc{Type: "FOREIGN KEY", Columns: []string{"image_id"},
			RefTable: "images", RefColumns: []string{"id"}, Def: "FOREIGN KEY (image_id) REFERENCES images(id)"})
		for table, td := range d.Tables {
			for name, c := range td.Constraints {
				if c.Type == "CHECK" {
					fail("%s: CHECK constraint %s (%s), want none on PostgreSQL", table, name, c.Def)
				}
			}
		}
	case "mysql":
		wantColumn("images", colDesc{Name: "visibility", Type: "enum('private','public','shared','community')", Default: "'shared'",
			Charset: "utf8mb3", Collation: "utf8mb3_general_ci"})
		wantColumn("images", colDesc{Name: "protected", Type: "tinyint(1)", Default: "0"})
		wantColumn("images", colDesc{Name: "created_at", Type: "datetime"})
		wantColumn("image_properties", colDesc{Name: "id", Type: "int(11)", Extra: "auto_increment"})
		wantColumn("cached_images", colDesc{Name: "id", Type: "bigint(20)", Extra: "auto_increment"})
		wantColumn("image_properties", colDesc{Name: "value", Type: "text", Nullable: true, Default: "NULL",
			Charset: "utf8mb3", Collation: "utf8mb3_general_ci"})
		for _, name := range glanceTables {
			td := d.Tables[name]
			if td.Engine != "InnoDB" {
				fail("%s: engine %q, want InnoDB", name, td.Engine)
			}
			// alembic_version takes the database's default charset.
			if name != "alembic_version" && (td.Charset != "utf8mb3" || td.Collation != "utf8mb3_general_ci") {
				fail("%s: charset %s collation %s, want utf8mb3 utf8mb3_general_ci", name, td.Charset, td.Collation)
			}
		}
		wantConstraint("images", "CONSTRAINT_2", conDesc{Type: "CHECK", Def: "`deleted` in (0,1)"})
		wantConstraint("images", "CONSTRAINT_3", conDesc{Type: "CHECK", Def: "`protected` in (0,1)"})
		wantConstraint("image_members", "CONSTRAINT_1", conDesc{Type: "CHECK", Def: "`can_share` in (0,1)"})
		wantConstraint("image_members", "CONSTRAINT_2", conDesc{Type: "CHECK", Def: "`deleted` in (0,1)"})
		wantConstraint("image_tags", "image_tags_ibfk_1", conDesc{Type: "FOREIGN KEY", Columns: []string{"image_id"},
			RefTable: "images", RefColumns: []string{"id"}, Def: "MATCH NONE ON UPDATE RESTRICT ON DELETE RESTRICT"})
	default:
		fail("no facts for backend %q", backend)
	}
	return msgs
}
