package sqlcat

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// UpdateImageLocations writes an edit that changes an image's locations
// (an Images API v2.4 PATCH) in one transaction: the image row, properties
// and tags as UpdateImage writes them, guarded by old's status; then, when
// the image's live locations are still exactly old's (ErrConflict
// otherwise, so that two edits racing cannot both remove "the other"
// location), old's locations img no longer lists are soft-deleted with
// status 'deleted' and img's locations without an ID are added, active, in
// the order given. An active image would be left without a location:
// ErrLastLocation, and nothing is written.
func (db *DB) UpdateImageLocations(ctx context.Context, old, img *image.Image) error {
	keep := map[int64]bool{}
	var add []image.Location
	var metas []string
	for _, l := range img.Locations {
		if l.ID != 0 {
			keep[l.ID] = true
			continue
		}
		meta, err := json.Marshal(l.Metadata)
		if err != nil || l.Metadata == nil {
			meta = []byte("{}")
		}
		add = append(add, l)
		metas = append(metas, string(meta))
	}
	var drop []int64
	want := make([]int64, 0, len(old.Locations))
	for _, l := range old.Locations {
		want = append(want, l.ID)
		if !keep[l.ID] {
			drop = append(drop, l.ID)
		}
	}
	slices.Sort(want)
	if img.Status == image.Active && len(keep)+len(add) == 0 {
		return catalog.ErrLastLocation
	}
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := fmtTime(img.UpdatedAt)
		if err := updateImageRow(ctx, tx, old, img, now); err != nil {
			return err
		}
		live, err := liveLocationIDs(ctx, tx, img.ID)
		if err != nil {
			return err
		}
		if !slices.Equal(live, want) {
			return catalog.ErrConflict
		}
		for _, id := range drop {
			if _, err := tx.ExecContext(ctx, `UPDATE image_locations SET deleted = 1, deleted_at = ?,
 updated_at = ?, status = 'deleted' WHERE id = ? AND image_id = ? AND +deleted = 0`, now, now, id, img.ID); err != nil {
				return mapErr(err)
			}
		}
		for i, l := range add {
			if _, err := tx.ExecContext(ctx, `INSERT INTO image_locations (image_id, value, created_at,
 updated_at, deleted_at, deleted, meta_data, status) VALUES (?, ?, ?, ?, NULL, false, ?, 'active')`,
				img.ID, l.URL, now, now, metas[i]); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

// liveLocationIDs lists the IDs of an image's live locations, sorted.
func liveLocationIDs(ctx context.Context, tx *wtx, imageID string) ([]int64, error) {
	var list sql.NullString
	if err := tx.QueryRowContext(ctx, locationIDsAgg, imageID).Scan(&list); err != nil {
		return nil, mapErr(err)
	}
	ids := []int64{}
	if !list.Valid {
		return ids, nil
	}
	if err := json.Unmarshal([]byte(list.String), &ids); err != nil {
		return nil, fmt.Errorf("decode locations of %s: %w", imageID, err)
	}
	slices.Sort(ids)
	return ids, nil
}

// updateImageRow writes what UpdateImage writes (the image row, guarded
// by old's status, then the properties and tags that changed) inside tx.
func updateImageRow(ctx context.Context, tx *wtx, old, img *image.Image, now string) error {
	res, err := tx.ExecContext(ctx, `UPDATE images SET name = ?, size = ?, status = ?,
 updated_at = ?, disk_format = ?, container_format = ?, checksum = ?, owner = ?, min_disk = ?,
 min_ram = ?, protected = ?, virtual_size = ?, visibility = ?, os_hidden = ?, os_hash_algo = ?,
 os_hash_value = ? WHERE id = ? AND deleted = 0 AND status = ?`,
		nullStr(img.Name), nullInt(img.Size), string(img.Status), now,
		nullStr(img.DiskFormat), nullStr(img.ContainerFormat), nullStr(img.Checksum),
		nullStr(img.Owner), img.MinDisk, img.MinRAM, img.Protected, nullInt(img.VirtualSize),
		string(img.Visibility), img.OSHidden, nullStr(img.OSHashAlgo), nullStr(img.OSHashValue),
		img.ID, string(old.Status))
	if err != nil {
		return mapErr(err)
	}
	if err := oneRow(ctx, tx, res, img.ID); err != nil {
		return err
	}
	changed := map[string]*string{}
	for k, v := range img.Properties {
		if ov, ok := old.Properties[k]; !ok || !image.SameValue(ov, v) {
			changed[k] = v
		}
	}
	if err := setProperties(ctx, tx, img.ID, changed, now); err != nil {
		return err
	}
	for k := range old.Properties {
		if _, ok := img.Properties[k]; ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE image_properties SET deleted = 1,
 deleted_at = ?, updated_at = ? WHERE image_id = ? AND name = ? AND +deleted = 0`, now, now, img.ID, k); err != nil {
			return mapErr(err)
		}
	}
	var added []string
	for _, t := range img.Tags {
		if !slices.Contains(old.Tags, t) {
			added = append(added, t)
		}
	}
	if err := addTags(ctx, tx, img.ID, added, now); err != nil {
		return err
	}
	for _, t := range old.Tags {
		if slices.Contains(img.Tags, t) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE image_tags SET deleted = 1, deleted_at = ?,
 updated_at = ? WHERE image_id = ? AND value = ? AND +deleted = 0`, now, now, img.ID, t); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// RemovedLocations lists the locations of an image that were soft-deleted
// (status 'deleted'), whether the image is live or not: a delete that
// raced with a location being added learns of every location it removed.
func (db *DB) RemovedLocations(ctx context.Context, imageID string) ([]image.Location, error) {
	rows, err := db.query(ctx, `SELECT value FROM image_locations WHERE image_id = ? AND +deleted = 1 AND status = 'deleted' ORDER BY id`, imageID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []image.Location
	for rows.Next() {
		var l image.Location
		if err := rows.Scan(&l.URL); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, l)
	}
	return out, mapErr(rows.Err())
}
