// Package sqlitedrivers compares the pure-Go modernc.org/sqlite driver with
// the cgo github.com/mattn/go-sqlite3 driver on Glance's image schema and
// the queries an Images API v2 server issues. It is its own module so that
// the main module never depends on cgo.
package sqlitedrivers

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3" (cgo)
	_ "modernc.org/sqlite"          // registers "sqlite" (pure Go)
)

var drivers = []struct{ name, driver string }{
	{"modernc", "sqlite"},
	{"mattn", "sqlite3"},
}

// Both drivers understand the same DSN keys, so both run with identical
// settings. _txlock=immediate takes the write lock at BEGIN: a deferred
// transaction could otherwise fail with SQLITE_BUSY when it upgrades.
const dsnOptions = "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_foreign_keys=1&_txlock=immediate"

// schema mirrors Glance's images, image_properties and image_tags tables.
const schema = `
CREATE TABLE images (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	name VARCHAR(255),
	size BIGINT,
	virtual_size BIGINT,
	status VARCHAR(30) NOT NULL,
	disk_format VARCHAR(20),
	container_format VARCHAR(20),
	checksum VARCHAR(32),
	os_hash_algo VARCHAR(64),
	os_hash_value VARCHAR(128),
	owner VARCHAR(255),
	min_disk INTEGER NOT NULL,
	min_ram INTEGER NOT NULL,
	protected BOOLEAN NOT NULL,
	os_hidden BOOLEAN NOT NULL,
	visibility VARCHAR(9) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOLEAN NOT NULL
);
CREATE INDEX checksum_image_idx ON images (checksum);
CREATE INDEX visibility_image_idx ON images (visibility);
CREATE INDEX ix_images_deleted ON images (deleted);
CREATE INDEX owner_image_idx ON images (owner);
CREATE INDEX created_at_image_idx ON images (created_at);
CREATE INDEX updated_at_image_idx ON images (updated_at);
CREATE INDEX os_hidden_image_idx ON images (os_hidden);
CREATE INDEX os_hash_value_image_idx ON images (os_hash_value);

CREATE TABLE image_properties (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	image_id VARCHAR(36) NOT NULL REFERENCES images (id),
	name VARCHAR(255) NOT NULL,
	value TEXT,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOLEAN NOT NULL,
	UNIQUE (image_id, name)
);
CREATE INDEX ix_image_properties_image_id ON image_properties (image_id);
CREATE INDEX ix_image_properties_deleted ON image_properties (deleted);

CREATE TABLE image_tags (
	id INTEGER PRIMARY KEY,
	image_id VARCHAR(36) NOT NULL REFERENCES images (id),
	value VARCHAR(255) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOLEAN NOT NULL
);
CREATE INDEX ix_image_tags_image_id ON image_tags (image_id);
CREATE INDEX ix_image_tags_image_id_tag_value ON image_tags (image_id, value);
`

const imageColumns = `id, name, size, virtual_size, status, disk_format, container_format,
	checksum, os_hash_algo, os_hash_value, owner, min_disk, min_ram, protected,
	os_hidden, visibility, created_at, updated_at`

const listQuery = `SELECT ` + imageColumns + ` FROM images
	WHERE deleted = 0 AND (visibility = 'public' OR owner = ?)
	ORDER BY created_at DESC, id DESC LIMIT 100`

const (
	preloaded = 10_000 // images in the database for List and Get
	owners    = 10     // image n belongs to owner-(n%owners)
)

type image struct {
	ID, Status, Visibility                   string
	Name, DiskFormat, ContainerFormat, Owner sql.NullString
	Checksum, HashAlgo, HashValue            sql.NullString
	Size, VirtualSize                        sql.NullInt64
	MinDisk, MinRAM                          int64
	Protected, Hidden                        bool
	CreatedAt, UpdatedAt                     timeCol
	Properties                               map[string]string
	Tags                                     []string
}

func (img *image) scanFrom(rows *sql.Rows) error {
	return rows.Scan(&img.ID, &img.Name, &img.Size, &img.VirtualSize, &img.Status,
		&img.DiskFormat, &img.ContainerFormat, &img.Checksum, &img.HashAlgo,
		&img.HashValue, &img.Owner, &img.MinDisk, &img.MinRAM, &img.Protected,
		&img.Hidden, &img.Visibility, &img.CreatedAt, &img.UpdatedAt)
}

// timeCol accepts a DATETIME column whether the driver already parsed it
// (mattn does, by declared type) or hands back the stored text, so both
// drivers pay for turning the column into a time.Time.
type timeCol struct {
	T     time.Time
	Valid bool
}

func (c *timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c = timeCol{}
	case time.Time:
		*c = timeCol{v, true}
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("timeCol: unexpected %T", v)
	}
	return nil
}

func (c *timeCol) parse(s string) error {
	t, err := time.Parse(timeLayout, s)
	*c = timeCol{t, err == nil}
	return err
}

// timeLayout is how SQLAlchemy stores DATETIME in SQLite.
const timeLayout = "2006-01-02 15:04:05.000000"

func openDB(b *testing.B, driver string, maxConns int) *sql.DB {
	b.Helper()
	db, err := sql.Open(driver, "file:"+filepath.Join(b.TempDir(), "glance.db")+dsnOptions)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if _, err := db.Exec(schema); err != nil {
		b.Fatal(err)
	}
	checkPragmas(b, db)
	return db
}

// checkPragmas makes sure the DSN settings took effect, so neither driver
// is measured with, say, a non-durable commit.
func checkPragmas(b *testing.B, db *sql.DB) {
	b.Helper()
	want := map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "5000", "foreign_keys": "1"}
	for pragma, w := range want {
		var got string
		if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			b.Fatal(err)
		}
		if strings.ToLower(got) != w {
			b.Fatalf("PRAGMA %s = %s, want %s", pragma, got, w)
		}
	}
}

func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// insertImage writes what POST /v2/images writes: one image row, two extra
// properties and two tags.
func insertImage(ctx context.Context, tx *sql.Tx, id string, n int, created time.Time) error {
	ts := created.UTC().Format(timeLayout)
	visibility := "private"
	if n%5 == 0 {
		visibility = "public"
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO images (id, name, size, virtual_size,
		status, disk_format, container_format, checksum, os_hash_algo, os_hash_value,
		owner, min_disk, min_ram, protected, os_hidden, visibility, created_at,
		updated_at, deleted_at, deleted)
		VALUES (?, ?, NULL, NULL, 'queued', 'qcow2', 'bare', NULL, NULL, NULL, ?, 0, 0, ?, ?, ?, ?, ?, NULL, ?)`,
		id, fmt.Sprintf("bench-%d", n), fmt.Sprintf("owner-%d", n%owners),
		false, false, visibility, ts, ts, false); err != nil {
		return err
	}
	for _, p := range [][2]string{{"os_distro", "debian"}, {"hw_disk_bus", "virtio"}} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO image_properties
			(image_id, name, value, created_at, updated_at, deleted_at, deleted)
			VALUES (?, ?, ?, ?, ?, NULL, ?)`, id, p[0], p[1], ts, ts, false); err != nil {
			return err
		}
	}
	for _, tag := range []string{"bench", fmt.Sprintf("t%d", n%10)} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO image_tags
			(image_id, value, created_at, updated_at, deleted_at, deleted)
			VALUES (?, ?, ?, ?, NULL, ?)`, id, tag, ts, ts, false); err != nil {
			return err
		}
	}
	return nil
}

// createImage is one durable create: its own transaction and commit.
func createImage(ctx context.Context, db *sql.DB, n int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := insertImage(ctx, tx, newUUID(), n, time.Now()); err != nil {
		return err
	}
	return tx.Commit()
}

// preload inserts preloaded images in one transaction (setup, not measured)
// with distinct, increasing creation times, and returns their ids.
func preload(b *testing.B, db *sql.DB) []string {
	b.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	base := time.Now().Add(-preloaded * time.Second)
	ids := make([]string, preloaded)
	for n := range ids {
		ids[n] = newUUID()
		if err := insertImage(ctx, tx, ids[n], n, base.Add(time.Duration(n)*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return ids
}

// listImages is GET /v2/images?limit=100 for a non-admin owner: one page
// query, then properties and tags for the whole page in one query each.
func listImages(ctx context.Context, db *sql.DB, owner string) ([]*image, error) {
	rows, err := db.QueryContext(ctx, listQuery, owner)
	if err != nil {
		return nil, err
	}
	var page []*image
	byID := map[string]*image{}
	for rows.Next() {
		img := &image{Properties: map[string]string{}}
		if err := img.scanFrom(rows); err != nil {
			rows.Close()
			return nil, err
		}
		page = append(page, img)
		byID[img.ID] = img
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if len(page) == 0 {
		return page, nil
	}
	args := make([]any, len(page))
	for i, img := range page {
		args[i] = img.ID
	}
	in := "(?" + strings.Repeat(",?", len(page)-1) + ")"
	if err := addProperties(ctx, db, byID, "image_id IN "+in, args...); err != nil {
		return nil, err
	}
	if err := addTags(ctx, db, byID, "image_id IN "+in, args...); err != nil {
		return nil, err
	}
	return page, nil
}

// getImage is GET /v2/images/{id}.
func getImage(ctx context.Context, db *sql.DB, id string) (*image, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+imageColumns+` FROM images WHERE id = ? AND deleted = 0`, id)
	if err != nil {
		return nil, err
	}
	img := &image{Properties: map[string]string{}}
	found := rows.Next()
	if found {
		err = img.scanFrom(rows)
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil || !found {
		return nil, err
	}
	byID := map[string]*image{id: img}
	if err := addProperties(ctx, db, byID, "image_id = ?", id); err != nil {
		return nil, err
	}
	if err := addTags(ctx, db, byID, "image_id = ?", id); err != nil {
		return nil, err
	}
	return img, nil
}

func addProperties(ctx context.Context, db *sql.DB, byID map[string]*image, where string, args ...any) error {
	rows, err := db.QueryContext(ctx, `SELECT image_id, name, value FROM image_properties WHERE deleted = 0 AND `+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		var value sql.NullString
		if err := rows.Scan(&id, &name, &value); err != nil {
			return err
		}
		byID[id].Properties[name] = value.String
	}
	return rows.Err()
}

func addTags(ctx context.Context, db *sql.DB, byID map[string]*image, where string, args ...any) error {
	rows, err := db.QueryContext(ctx, `SELECT image_id, value FROM image_tags WHERE deleted = 0 AND `+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, value string
		if err := rows.Scan(&id, &value); err != nil {
			return err
		}
		byID[id].Tags = append(byID[id].Tags, value)
	}
	return rows.Err()
}

func reportOpsPerSec(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	for _, d := range drivers {
		b.Run(d.name, func(b *testing.B) {
			db := openDB(b, d.driver, 1)
			b.ResetTimer()
			for n := range b.N {
				if err := createImage(ctx, db, n); err != nil {
					b.Fatal(err)
				}
			}
			reportOpsPerSec(b)
		})
	}
}

// BenchmarkCreateParallel runs ~16 concurrent creators, as 16 concurrent
// POSTs would. SQLite allows one writer at a time, so conns=1 queues the
// goroutines in database/sql's pool, while conns=16 lets them contend for
// the database lock through busy_timeout; both are reported to show which
// pool size a server should use for writes.
func BenchmarkCreateParallel(b *testing.B) {
	ctx := context.Background()
	const goroutines = 16
	for _, d := range drivers {
		for _, conns := range []int{1, goroutines} {
			b.Run(fmt.Sprintf("%s/conns=%d", d.name, conns), func(b *testing.B) {
				db := openDB(b, d.driver, conns)
				var next atomic.Int64
				// RunParallel starts parallelism*GOMAXPROCS goroutines.
				b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := createImage(ctx, db, int(next.Add(1))); err != nil {
							b.Error(err)
							return
						}
					}
				})
				reportOpsPerSec(b)
			})
		}
	}
}

// A stage prepares the database before a sub-benchmark runs on it.
type stage struct{ name, sql string }

// Without planner statistics SQLite takes the index on deleted (one value
// for every row, but it cannot know) for "deleted = 0 AND image_id = ?",
// scanning all property rows, and sorts the whole table for a list page.
// ANALYZE (or PRAGMA optimize, which a server should run) fixes the
// former. For the list it is not enough: modernc is built with STAT4 and
// then picks an OR of the visibility and owner indexes plus a sort, while
// mattn (no STAT4) scans created_at; an index on (created_at, id) gives both
// the same sort-free plan, so the last stage compares the engines fairly.
var (
	getStages  = []stage{{"stats=none", ""}, {"stats=analyze", "ANALYZE"}}
	listStages = []stage{{"stats=none", ""}, {"stats=analyze", "ANALYZE"},
		{"stats=analyze+idx", "CREATE INDEX created_at_id_image_idx ON images (created_at, id); ANALYZE"}}
)

func runStages(b *testing.B, db *sql.DB, name string, stages []stage, bench func(*testing.B)) {
	for _, s := range stages {
		if s.sql != "" {
			if _, err := db.Exec(s.sql); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name+"/"+s.name, bench)
	}
}

func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	for _, d := range drivers {
		// Preloading takes seconds, so it is done once per driver, not once
		// per b.N round of the sub-benchmark.
		db := openDB(b, d.driver, 4)
		preload(b, db)
		page, err := listImages(ctx, db, "owner-3")
		if err != nil {
			b.Fatal(err)
		}
		if len(page) != 100 || len(page[0].Properties) != 2 || len(page[0].Tags) != 2 || !page[0].CreatedAt.Valid {
			b.Fatalf("%s: list returned %d images, first %+v", d.name, len(page), page[0])
		}
		runStages(b, db, d.name, listStages, func(b *testing.B) {
			for n := range b.N {
				if _, err := listImages(ctx, db, fmt.Sprintf("owner-%d", n%owners)); err != nil {
					b.Fatal(err)
				}
			}
			reportOpsPerSec(b)
		})
	}
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	for _, d := range drivers {
		db := openDB(b, d.driver, 4)
		ids := preload(b, db)
		img, err := getImage(ctx, db, ids[0])
		if err != nil || img == nil || len(img.Properties) != 2 || len(img.Tags) != 2 {
			b.Fatalf("%s: get returned %+v, %v", d.name, img, err)
		}
		runStages(b, db, d.name, getStages, func(b *testing.B) {
			for range b.N {
				if _, err := getImage(ctx, db, ids[mrand.IntN(len(ids))]); err != nil {
					b.Fatal(err)
				}
			}
			reportOpsPerSec(b)
		})
	}
}
