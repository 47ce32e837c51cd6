package sqlcat

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// The timestamps go through a no-op unary plus for the reason given at
// imageColumns.
const memberColumns = `image_id, member, can_share, status, +created_at, +updated_at`

func scanMember(row rowScanner) (*image.Member, error) {
	var m image.Member
	var created, updated dbTime
	if err := row.Scan(&m.ImageID, &m.MemberID, &m.CanShare, &m.Status, &created, &updated); err != nil {
		return nil, err
	}
	m.CreatedAt = created.T
	m.UpdatedAt = updated.T
	if !updated.Valid {
		m.UpdatedAt = created.T
	}
	return &m, nil
}

// AddMember inserts a live membership. The unique key includes deleted_at,
// so a live duplicate is checked explicitly (NULLs never collide in SQL).
func (db *DB) AddMember(ctx context.Context, m *image.Member) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		if err := lockImage(ctx, tx, m.ImageID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM image_members
 WHERE image_id = ? AND member = ? AND +deleted = 0`, m.ImageID, m.MemberID).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n > 0 {
			return catalog.ErrDuplicate
		}
		if tx.d == mysqlDialect {
			// MySQL keeps whole seconds: a membership removed, added
			// and removed again within one second would give two rows
			// the same (image_id, member, deleted_at) key, and the
			// second removal (or the image's deletion) would fail.
			// There the newest removed row comes back instead.
			var id int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM image_members
 WHERE image_id = ? AND member = ? AND deleted = 1 ORDER BY deleted_at DESC, id DESC LIMIT 1`,
				m.ImageID, m.MemberID).Scan(&id)
			if err == nil {
				_, err = tx.ExecContext(ctx, `UPDATE image_members SET can_share = ?, created_at = ?,
 updated_at = ?, deleted_at = NULL, deleted = 0, status = ? WHERE id = ?`,
					m.CanShare, fmtTime(m.CreatedAt), fmtTime(m.UpdatedAt), m.Status, id)
				return mapErr(err)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return mapErr(err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO image_members (image_id, member, can_share,
 created_at, updated_at, deleted_at, deleted, status) VALUES (?,?,?,?,?,NULL,false,?)`,
			m.ImageID, m.MemberID, m.CanShare, fmtTime(m.CreatedAt), fmtTime(m.UpdatedAt), m.Status)
		return mapErr(err)
	})
}

// GetMember returns a live membership.
func (db *DB) GetMember(ctx context.Context, imageID, memberID string) (*image.Member, error) {
	m, err := scanMember(db.queryRow(ctx, `SELECT `+memberColumns+` FROM image_members
 WHERE image_id = ? AND member = ? AND +deleted = 0`, imageID, memberID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, catalog.ErrNotFound
	}
	return m, mapErr(err)
}

// ListMembers returns the live memberships of an image, oldest first.
func (db *DB) ListMembers(ctx context.Context, imageID string) ([]*image.Member, error) {
	rows, err := db.query(ctx, `SELECT `+memberColumns+` FROM image_members
 WHERE image_id = ? AND +deleted = 0 ORDER BY created_at, id`, imageID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []*image.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, mapErr(rows.Err())
}

// UpdateMemberStatus changes a live membership's status.
func (db *DB) UpdateMemberStatus(ctx context.Context, imageID, memberID, status string) (*image.Member, error) {
	err := db.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE image_members SET status = ?, updated_at = ?
 WHERE image_id = ? AND member = ? AND +deleted = 0`, status, fmtTime(time.Now()), imageID, memberID)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return catalog.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.GetMember(ctx, imageID, memberID)
}

// DeleteMember soft-deletes a live membership.
func (db *DB) DeleteMember(ctx context.Context, imageID, memberID string) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := fmtTime(time.Now())
		res, err := tx.ExecContext(ctx, `UPDATE image_members SET deleted = 1, deleted_at = ?,
 updated_at = ? WHERE image_id = ? AND member = ? AND +deleted = 0`, now, now, imageID, memberID)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return catalog.ErrNotFound
		}
		return nil
	})
}

// CountMembers counts live memberships.
func (db *DB) CountMembers(ctx context.Context, imageID string) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT count(*) FROM image_members
 WHERE image_id = ? AND +deleted = 0`, imageID).Scan(&n)
	return n, mapErr(err)
}
