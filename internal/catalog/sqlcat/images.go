package sqlcat

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// imageColumns are read for every image, followed by its live properties
// and tags aggregated into JSON by correlated subqueries: one statement per
// page, no round trip per image.
//
// The timestamps are read through a no-op unary plus, so that the driver
// hands over the stored text (its own DATETIME parsing tries layouts one
// after another) and dbTime parses SQLAlchemy's layout directly.
const imageColumns = `images.id, images.name, images.size, images.status, +images.created_at,
 +images.updated_at, +images.deleted_at, images.deleted, images.disk_format,
 images.container_format, images.checksum, images.owner, images.min_disk, images.min_ram,
 images.protected, images.virtual_size, images.visibility, images.os_hidden,
 images.os_hash_algo, images.os_hash_value,
 (SELECT json_group_object(p.name, p.value) FROM image_properties p
   WHERE p.image_id = images.id AND +p.deleted = 0),
 ` + tagsAgg

// locationsColumn aggregates an image's live locations, oldest first; only
// single-image reads need them (downloads, deletes).
var locationsColumn = ",\n " + locationsAgg

// dbTime scans a DATETIME column whether the driver hands back text or a
// time.Time.
type dbTime struct {
	T     time.Time
	Valid bool
}

func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		d.Valid = false
		return nil
	case time.Time:
		d.T, d.Valid = x.UTC(), true
		return nil
	case string:
		t, err := parseTime(x)
		d.T, d.Valid = t, err == nil
		return err
	case []byte:
		t, err := parseTime(string(x))
		d.T, d.Valid = t, err == nil
		return err
	}
	return fmt.Errorf("cannot scan %T into a time", v)
}

type rowScanner interface{ Scan(dest ...any) error }

// scanImage reads imageColumns, and locationsColumn after them when
// withLocations.
func scanImage(row rowScanner, withLocations ...bool) (*image.Image, error) {
	var (
		img                                   image.Image
		name, disk, cont, sum, owner, alg, hv sql.NullString
		size, vsize                           sql.NullInt64
		created, updated, deletedAt           dbTime
		props, tags                           sql.NullString
		status, visibility                    string
	)
	dest := []any{&img.ID, &name, &size, &status, &created, &updated, &deletedAt,
		&img.Deleted, &disk, &cont, &sum, &owner, &img.MinDisk, &img.MinRAM,
		&img.Protected, &vsize, &visibility, &img.OSHidden, &alg, &hv, &props, &tags}
	var locs sql.NullString
	if len(withLocations) > 0 && withLocations[0] {
		dest = append(dest, &locs)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if locs.Valid && locs.String != "" {
		var ls []struct {
			ID       int64           `json:"id"`
			URL      string          `json:"url"`
			Status   string          `json:"status"`
			Metadata json.RawMessage `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(locs.String), &ls); err != nil {
			return nil, fmt.Errorf("decode locations of %s: %w", img.ID, err)
		}
		for _, l := range ls {
			img.Locations = append(img.Locations, image.Location{ID: l.ID, URL: l.URL, Status: l.Status, Metadata: locationMetadata(l.Metadata)})
		}
		// Oldest first: the first location is the one downloads read,
		// and not every server's aggregate keeps an order.
		slices.SortStableFunc(img.Locations, func(a, b image.Location) int { return cmp.Compare(a.ID, b.ID) })
	}
	img.Status = image.Status(status)
	img.Visibility = image.Visibility(visibility)
	img.Name = strPtr(name)
	img.DiskFormat = strPtr(disk)
	img.ContainerFormat = strPtr(cont)
	img.Checksum = strPtr(sum)
	img.Owner = strPtr(owner)
	img.OSHashAlgo = strPtr(alg)
	img.OSHashValue = strPtr(hv)
	img.Size = intPtr(size)
	img.VirtualSize = intPtr(vsize)
	img.CreatedAt = created.T
	img.UpdatedAt = updated.T
	if !updated.Valid {
		img.UpdatedAt = created.T
	}
	if deletedAt.Valid {
		t := deletedAt.T
		img.DeletedAt = &t
	}
	img.Properties = map[string]*string{}
	if props.Valid && props.String != "" {
		if err := json.Unmarshal([]byte(props.String), &img.Properties); err != nil {
			return nil, fmt.Errorf("decode properties of %s: %w", img.ID, err)
		}
	}
	img.Tags = []string{}
	if tags.Valid && tags.String != "" {
		var ts []string
		if err := json.Unmarshal([]byte(tags.String), &ts); err != nil {
			return nil, fmt.Errorf("decode tags of %s: %w", img.ID, err)
		}
		// Glance never wrote duplicates itself, but keep the set semantics.
		for _, t := range ts {
			if !slices.Contains(img.Tags, t) {
				img.Tags = append(img.Tags, t)
			}
		}
	}
	return &img, nil
}

// locationMetadata decodes a location's metadata: a JSON object, or (off
// SQLite, where the aggregate carries the column as text) a JSON string
// holding one. Anything else reads as no metadata, as Glance treats a
// column it cannot decode.
func locationMetadata(raw json.RawMessage) map[string]any {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		raw = json.RawMessage(text)
	}
	m := map[string]any{}
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return map[string]any{}
	}
	return m
}

func strPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	v := s.String
	return &v
}

func intPtr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

func nullStr(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func nullInt(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}

// CreateImage inserts the image row, its properties and tags.
func (db *DB) CreateImage(ctx context.Context, img *image.Image) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := fmtTime(img.CreatedAt)
		_, err := tx.ExecContext(ctx, `INSERT INTO images (id, name, size, status, created_at,
 updated_at, deleted_at, deleted, disk_format, container_format, checksum, owner, min_disk,
 min_ram, protected, virtual_size, visibility, os_hidden, os_hash_algo, os_hash_value)
 VALUES (?,?,?,?,?,?,NULL,false,?,?,?,?,?,?,?,?,?,?,?,?)`,
			img.ID, nullStr(img.Name), nullInt(img.Size), string(img.Status), now,
			fmtTime(img.UpdatedAt), nullStr(img.DiskFormat), nullStr(img.ContainerFormat),
			nullStr(img.Checksum), nullStr(img.Owner), img.MinDisk, img.MinRAM, img.Protected,
			nullInt(img.VirtualSize), string(img.Visibility), img.OSHidden,
			nullStr(img.OSHashAlgo), nullStr(img.OSHashValue))
		if err != nil {
			return mapErr(err)
		}
		if err := setProperties(ctx, tx, img.ID, img.Properties, now); err != nil {
			return err
		}
		return addTags(ctx, tx, img.ID, img.Tags, now)
	})
}

func setProperties(ctx context.Context, tx *wtx, id string, props map[string]*string, now string) error {
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if tx.d == mysqlDialect {
			if err := setPropertyMySQL(ctx, tx, id, k, props[k], now); err != nil {
				return err
			}
			continue
		}
		// A property removed earlier keeps its (soft-deleted) row under
		// the unique (image_id, name) key, as in Glance: revive it.
		_, err := tx.ExecContext(ctx, `INSERT INTO image_properties
 (image_id, name, value, created_at, updated_at, deleted_at, deleted) VALUES (?,?,?,?,?,NULL,false)
 ON CONFLICT (image_id, name) DO UPDATE SET value = excluded.value,
 updated_at = excluded.updated_at, deleted = 0, deleted_at = NULL`,
			id, k, nullStr(props[k]), now, now)
		if err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// setPropertyMySQL sets one property on MySQL, whose Glance tables compare
// names without case, accents or trailing blanks: an upsert there would
// overwrite "Foo" when asked for "foo". A soft-deleted row of a name that
// collates the same is revived under the new spelling; a live one refuses
// the request (Glance's database refuses it too, with a duplicate key).
func setPropertyMySQL(ctx context.Context, tx *wtx, id, name string, value *string, now string) error {
	var stored string
	var deleted bool
	// name first: "AND name = ?" would compare bytes (see translate).
	err := tx.QueryRowContext(ctx, `SELECT name, deleted FROM image_properties
 WHERE name = ? AND image_id = ?`, name, id).Scan(&stored, &deleted)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, `INSERT INTO image_properties
 (image_id, name, value, created_at, updated_at, deleted_at, deleted) VALUES (?,?,?,?,?,NULL,false)`,
			id, name, nullStr(value), now, now)
		return mapErr(err)
	case err != nil:
		return mapErr(err)
	case stored != name && !deleted:
		return fmt.Errorf("%w: property %q is the same name as %q to this database", catalog.ErrInvalid, name, stored)
	}
	_, err = tx.ExecContext(ctx, `UPDATE image_properties SET name = ?, value = ?, updated_at = ?,
 deleted = 0, deleted_at = NULL WHERE image_id = ? AND name = ?`, name, nullStr(value), now, id, stored)
	return mapErr(err)
}

func addTags(ctx context.Context, tx *wtx, id string, tags []string, now string) error {
	for _, t := range tags {
		if tx.d != sqliteDialect {
			// INSERT … SELECT leaves PostgreSQL the parameters' types
			// to guess; ask first instead.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM image_tags
 WHERE image_id = ? AND value = ? AND deleted = 0`, id, t).Scan(&n); err != nil {
				return mapErr(err)
			}
			if n == 0 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO image_tags
 (image_id, value, created_at, updated_at, deleted_at, deleted) VALUES (?,?,?,?,NULL,false)`,
					id, t, now, now); err != nil {
					return mapErr(err)
				}
			}
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO image_tags
 (image_id, value, created_at, updated_at, deleted_at, deleted)
 SELECT ?,?,?,?,NULL,0 WHERE NOT EXISTS
 (SELECT 1 FROM image_tags WHERE image_id = ? AND value = ? AND +deleted = 0)`,
			id, t, now, now, id, t)
		if err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// GetImage returns a live image, from the image cache while nothing has
// been committed since it was read.
func (db *DB) GetImage(ctx context.Context, id string) (*image.Image, error) {
	at, err := db.images.dataVersion(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	if img := db.images.get(id, at, true); img != nil {
		return img, nil
	}
	row := db.queryRow(ctx, `SELECT `+imageColumns+locationsColumn+` FROM images WHERE id = ? AND deleted = 0`, id)
	img, err := scanImage(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, catalog.ErrNotFound
	}
	if err != nil {
		return nil, mapErr(err)
	}
	db.images.put(img, at, true)
	return img, nil
}

// UpdateImage writes what changed between old and img.
func (db *DB) UpdateImage(ctx context.Context, old, img *image.Image) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		return updateImageRow(ctx, tx, old, img, fmtTime(img.UpdatedAt))
	})
}

// oneRow turns "no row matched" into ErrNotFound (the image is gone) or
// ErrConflict (it is there but its status moved).
func oneRow(ctx context.Context, tx *wtx, res sql.Result, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(err)
	}
	if n == 1 {
		return nil
	}
	var live int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM images WHERE id = ? AND deleted = 0`, id).Scan(&live); err != nil {
		return mapErr(err)
	}
	if live == 0 {
		return catalog.ErrNotFound
	}
	return catalog.ErrConflict
}

// SetStatus is one compare-and-set statement.
func (db *DB) SetStatus(ctx context.Context, id string, from, to image.Status) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE images SET status = ?, updated_at = ?
 WHERE id = ? AND deleted = 0 AND status = ?`, string(to), fmtTime(time.Now()), id, string(from))
		if err != nil {
			return mapErr(err)
		}
		return oneRow(ctx, tx, res, id)
	})
}

// DeleteImage soft-deletes the image and its children, as Glance does: rows
// stay with deleted = 1 so the ID is never issued again.
func (db *DB) DeleteImage(ctx context.Context, id string, from image.Status) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := fmtTime(time.Now())
		res, err := tx.ExecContext(ctx, `UPDATE images SET status = 'deleted', deleted = 1,
 deleted_at = ?, updated_at = ? WHERE id = ? AND deleted = 0 AND status = ?`, now, now, id, string(from))
		if err != nil {
			return mapErr(err)
		}
		if err := oneRow(ctx, tx, res, id); err != nil {
			return err
		}
		for _, table := range []string{"image_properties", "image_tags", "image_members", "image_locations"} {
			q := `UPDATE ` + table + ` SET deleted = 1, deleted_at = ?, updated_at = ? WHERE image_id = ? AND +deleted = 0`
			if table == "image_locations" {
				q = strings.Replace(q, "SET deleted = 1,", "SET deleted = 1, status = 'deleted',", 1)
			}
			if _, err := tx.ExecContext(ctx, q, now, now, id); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}
