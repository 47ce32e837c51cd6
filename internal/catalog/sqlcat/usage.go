package sqlcat

import "context"

// StorageUsage is the bytes a project's images occupy in the stores, each
// image counted once per live location as Glance's user_storage_quota
// counts it; except leaves one image out (the one being uploaded).
func (db *DB) StorageUsage(ctx context.Context, owner, except string) (int64, error) {
	var n int64
	err := db.queryRow(ctx, `SELECT COALESCE(SUM(images.size), 0) FROM images
 JOIN image_locations l ON l.image_id = images.id AND +l.deleted = 0 AND l.status = 'active'
 WHERE images.owner = ? AND +images.deleted = 0 AND images.id != ?`, owner, except).Scan(&n)
	return n, mapErr(err)
}
