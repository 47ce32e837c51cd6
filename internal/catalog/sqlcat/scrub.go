package sqlcat

import (
	"context"
	"time"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// pendingLocationsColumn aggregates the locations a delayed delete left
// for the scrubber, oldest first.
var pendingLocationsColumn = ",\n " + pendingLocationsAgg

// DeleteImageDelayed soft-deletes the image and its children as DeleteImage
// does, but leaves the image and its locations pending_delete, as Glance
// does with delayed_delete: the scrubber removes the data later.
func (db *DB) DeleteImageDelayed(ctx context.Context, id string, from image.Status) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := fmtTime(time.Now())
		res, err := tx.ExecContext(ctx, `UPDATE images SET status = 'pending_delete', deleted = 1,
 deleted_at = ?, updated_at = ? WHERE id = ? AND deleted = 0 AND status = ?`, now, now, id, string(from))
		if err != nil {
			return mapErr(err)
		}
		if err := oneRow(ctx, tx, res, id); err != nil {
			return err
		}
		for _, q := range []string{
			`UPDATE image_properties SET deleted = 1, deleted_at = ?, updated_at = ? WHERE image_id = ? AND +deleted = 0`,
			`UPDATE image_tags SET deleted = 1, deleted_at = ?, updated_at = ? WHERE image_id = ? AND +deleted = 0`,
			`UPDATE image_members SET deleted = 1, deleted_at = ?, updated_at = ? WHERE image_id = ? AND +deleted = 0`,
			`UPDATE image_locations SET deleted = 1, status = 'pending_delete', deleted_at = ?, updated_at = ? WHERE image_id = ? AND +deleted = 0`,
		} {
			if _, err := tx.ExecContext(ctx, q, now, now, id); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

// PendingDeletes lists the images waiting for the scrubber.
func (db *DB) PendingDeletes(ctx context.Context, olderThan time.Time) ([]*image.Image, error) {
	rows, err := db.query(ctx, `SELECT `+imageColumns+pendingLocationsColumn+` FROM images
 WHERE deleted = 1 AND status = 'pending_delete' AND deleted_at <= ? ORDER BY deleted_at, id`, fmtTime(olderThan))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*image.Image
	for rows.Next() {
		img, err := scanImage(rows, true)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, img)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

// FinishDelete marks a scrubbed image and its locations deleted.
func (db *DB) FinishDelete(ctx context.Context, id string) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := fmtTime(time.Now())
		res, err := tx.ExecContext(ctx, `UPDATE images SET status = 'deleted', updated_at = ?
 WHERE id = ? AND deleted = 1 AND status = 'pending_delete'`, now, id)
		if err != nil {
			return mapErr(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return mapErr(err)
		}
		if n != 1 {
			return catalog.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE image_locations SET status = 'deleted', updated_at = ?
 WHERE image_id = ? AND status = 'pending_delete'`, now, id)
		return mapErr(err)
	})
}
