package sqlcat

import (
	"context"
	"encoding/json"
	"time"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// ActivateImage records uploaded data: one compare-and-set of the status
// with the size and hashes, and the location row, in one transaction.
func (db *DB) ActivateImage(ctx context.Context, id string, from image.Status, d *catalog.DataInfo) error {
	meta, err := json.Marshal(d.Location.Metadata)
	if err != nil || d.Location.Metadata == nil {
		meta = []byte("{}")
	}
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := fmtTime(time.Now())
		res, err := tx.ExecContext(ctx, `UPDATE images SET status = 'active', size = ?, virtual_size = ?,
 checksum = ?, os_hash_algo = ?, os_hash_value = ?, updated_at = ?
 WHERE id = ? AND deleted = 0 AND status = ?`,
			d.Size, nullInt(d.VirtualSize), d.Checksum, nullStr(strOrNil(d.HashAlgo)), nullStr(strOrNil(d.HashValue)),
			now, id, string(from))
		if err != nil {
			return mapErr(err)
		}
		if err := oneRow(ctx, tx, res, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO image_locations (image_id, value, created_at, updated_at,
 deleted_at, deleted, meta_data, status) VALUES (?, ?, ?, ?, NULL, false, ?, 'active')`, id, d.Location.URL, now, now, string(meta))
		return mapErr(err)
	})
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
