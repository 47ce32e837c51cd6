package sqlcat

import (
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

var _ catalog.Tasks = (*DB)(nil)

// The timestamps go through a no-op unary plus for the reason given at
// imageColumns.
const taskColumns = `tasks.id, tasks.type, tasks.status, tasks.owner, +tasks.expires_at,
 +tasks.created_at, +tasks.updated_at, tasks.image_id, tasks.request_id, tasks.user_id,
 task_info.input, task_info.result, task_info.message`

const taskFrom = ` FROM tasks LEFT JOIN task_info ON task_info.task_id = tasks.id`

func scanTask(row rowScanner) (*catalog.Task, error) {
	var (
		t                          catalog.Task
		expires, created, updated  dbTime
		imageID, requestID, userID sql.NullString
		input, result, message     sql.NullString
	)
	if err := row.Scan(&t.ID, &t.Type, &t.Status, &t.Owner, &expires, &created, &updated,
		&imageID, &requestID, &userID, &input, &result, &message); err != nil {
		return nil, err
	}
	if expires.Valid {
		e := expires.T
		t.ExpiresAt = &e
	}
	t.CreatedAt, t.UpdatedAt = created.T, updated.T
	if !updated.Valid {
		t.UpdatedAt = created.T
	}
	t.ImageID, t.RequestID, t.UserID = imageID.String, requestID.String, userID.String
	if input.Valid && input.String != "" {
		t.Input = json.RawMessage(input.String)
	}
	if result.Valid && result.String != "" {
		t.Result = json.RawMessage(result.String)
	}
	t.Message = message.String
	return &t, nil
}

func rawOrNil(m json.RawMessage) any {
	if m == nil {
		return nil
	}
	return string(m)
}

func emptyNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateTask inserts the task and its task_info row in one transaction.
func (db *DB) CreateTask(ctx context.Context, t *catalog.Task) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tasks (id, type, status, owner, expires_at,
 created_at, updated_at, deleted_at, deleted, image_id, request_id, user_id)
 VALUES (?,?,?,?,?,?,?,NULL,false,?,?,?)`,
			t.ID, t.Type, t.Status, t.Owner, nullTime(t.ExpiresAt), fmtTime(t.CreatedAt),
			fmtTime(t.UpdatedAt), emptyNil(t.ImageID), emptyNil(t.RequestID), emptyNil(t.UserID))
		if err != nil {
			return mapErr(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO task_info (task_id, input, result, message)
 VALUES (?,?,?,?)`, t.ID, rawOrNil(t.Input), rawOrNil(t.Result), t.Message)
		return mapErr(err)
	})
}

// GetTask returns a live task.
func (db *DB) GetTask(ctx context.Context, id string) (*catalog.Task, error) {
	t, err := scanTask(db.queryRow(ctx, `SELECT `+taskColumns+taskFrom+` WHERE tasks.id = ? AND tasks.deleted = 0`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, catalog.ErrNotFound
	}
	return t, mapErr(err)
}

// UpdateTask writes the mutable parts of a task.
func (db *DB) UpdateTask(ctx context.Context, t *catalog.Task) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error { return updateTask(ctx, tx, t) })
}

func updateTask(ctx context.Context, tx *wtx, t *catalog.Task) error {
	res, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, expires_at = ?, updated_at = ?
 WHERE id = ? AND deleted = 0`, t.Status, nullTime(t.ExpiresAt), fmtTime(t.UpdatedAt), t.ID)
	if err != nil {
		return mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		if err != nil {
			return mapErr(err)
		}
		return catalog.ErrNotFound
	}
	_, err = tx.ExecContext(ctx, `UPDATE task_info SET result = ?, message = ? WHERE task_id = ?`,
		rawOrNil(t.Result), t.Message, t.ID)
	return mapErr(err)
}

// ListTasks returns one page of live tasks.
func (db *DB) ListTasks(ctx context.Context, q *catalog.TaskQuery) ([]*catalog.Task, error) {
	key := q.SortKey
	if key == "" {
		key = "created_at"
	}
	if !slices.Contains(catalog.TaskSortKeys, key) {
		return nil, fmt.Errorf("list tasks: bad sort key %q", key)
	}
	where := []string{"tasks.deleted = 0"}
	var args []any
	for _, f := range []struct{ col, v string }{{"owner", q.Owner}, {"status", q.Status}, {"type", q.Type}} {
		if f.v != "" {
			where = append(where, "tasks."+f.col+" = ?")
			args = append(args, f.v)
		}
	}
	dir, cmp := "ASC", ">"
	if q.SortDesc {
		dir, cmp = "DESC", "<"
	}
	if q.Marker != "" {
		// Keyset pagination on (key, id), the order the page is sorted in.
		var mk any
		col := "tasks." + key
		if key == "created_at" || key == "updated_at" {
			col = "+" + col
		}
		err := db.queryRow(ctx, `SELECT `+col+` FROM tasks WHERE id = ? AND deleted = 0`, q.Marker).Scan(&mk)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, catalog.ErrMarkerNotFound
		}
		if err != nil {
			return nil, mapErr(err)
		}
		where = append(where, fmt.Sprintf("(tasks.%s %s ? OR (tasks.%s = ? AND tasks.id %s ?))", key, cmp, key, cmp))
		args = append(args, mk, mk, q.Marker)
	}
	stmt := `SELECT ` + taskColumns + taskFrom + ` WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY tasks.%s %s, tasks.id %s", key, dir, dir)
	if q.Limit >= 0 {
		stmt += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return db.tasks(ctx, stmt, args...)
}

// ImageTasks lists an image's live tasks, newest first.
func (db *DB) ImageTasks(ctx context.Context, imageID string) ([]*catalog.Task, error) {
	return db.tasks(ctx, `SELECT `+taskColumns+taskFrom+` WHERE tasks.image_id = ? AND tasks.deleted = 0
 ORDER BY tasks.created_at DESC, tasks.id DESC`, imageID)
}

// UnfinishedTasks lists the live tasks that have not ended.
func (db *DB) UnfinishedTasks(ctx context.Context) ([]*catalog.Task, error) {
	return db.tasks(ctx, `SELECT `+taskColumns+taskFrom+` WHERE tasks.status IN ('pending', 'processing')
 AND tasks.deleted = 0 ORDER BY tasks.created_at`)
}

func (db *DB) tasks(ctx context.Context, stmt string, args ...any) ([]*catalog.Task, error) {
	rows, err := db.query(ctx, stmt, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*catalog.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, t)
	}
	return out, mapErr(rows.Err())
}

// SetPropertyIfAbsent is an insert that only a missing or soft-deleted
// property row lets through.
func (db *DB) SetPropertyIfAbsent(ctx context.Context, imageID, name, value string) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		if err := liveImage(ctx, tx, imageID); err != nil {
			return err
		}
		now := fmtTime(time.Now())
		if tx.d == mysqlDialect {
			return setPropertyIfAbsentMySQL(ctx, tx, imageID, name, value, now)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO image_properties
 (image_id, name, value, created_at, updated_at, deleted_at, deleted) VALUES (?,?,?,?,?,NULL,false)
 ON CONFLICT (image_id, name) DO UPDATE SET value = excluded.value,
 updated_at = excluded.updated_at, deleted = 0, deleted_at = NULL WHERE image_properties.deleted = 1`,
			imageID, name, value, now, now)
		if err != nil {
			return mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return mapErr(err)
		} else if n == 0 {
			return catalog.ErrDuplicate
		}
		return nil
	})
}

// setPropertyIfAbsentMySQL revives a soft-deleted row or inserts one; a live
// row makes the insert fail on the unique key. MySQL's upsert has no
// condition, hence two statements.
func setPropertyIfAbsentMySQL(ctx context.Context, tx *wtx, imageID, name, value, now string) error {
	res, err := tx.ExecContext(ctx, `UPDATE image_properties SET value = ?, updated_at = ?,
 deleted = 0, deleted_at = NULL WHERE image_id = ? AND name = ? AND deleted = 1`, value, now, imageID, name)
	if err != nil {
		return mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr(err)
	} else if n > 0 {
		return nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO image_properties
 (image_id, name, value, created_at, updated_at, deleted_at, deleted) VALUES (?,?,?,?,?,NULL,false)`,
		imageID, name, value, now, now)
	return mapErr(err)
}

// DeletePropertyIfValue soft-deletes a property that still has value.
func (db *DB) DeletePropertyIfValue(ctx context.Context, imageID, name, value string) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := fmtTime(time.Now())
		res, err := tx.ExecContext(ctx, `UPDATE image_properties SET deleted = 1, deleted_at = ?,
 updated_at = ? WHERE image_id = ? AND name = ? AND value = ? AND +deleted = 0`, now, now, imageID, name, value)
		if err != nil {
			return mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return mapErr(err)
		} else if n == 0 {
			return catalog.ErrNotFound
		}
		return nil
	})
}

// SetProperties sets or removes properties of a live image.
func (db *DB) SetProperties(ctx context.Context, imageID string, props map[string]*string) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		if err := liveImage(ctx, tx, imageID); err != nil {
			return err
		}
		return changeProperties(ctx, tx, imageID, props, fmtTime(time.Now()))
	})
}

// changeProperties sets the non-nil values and soft-deletes the nil ones.
func changeProperties(ctx context.Context, tx *wtx, imageID string, props map[string]*string, now string) error {
	set := map[string]*string{}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if props[k] != nil {
			set[k] = props[k]
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE image_properties SET deleted = 1, deleted_at = ?,
 updated_at = ? WHERE image_id = ? AND name = ? AND +deleted = 0`, now, now, imageID, k); err != nil {
			return mapErr(err)
		}
	}
	return setProperties(ctx, tx, imageID, set, now)
}

// liveImage is nil when the image is live, and holds its row from then on.
func liveImage(ctx context.Context, tx *wtx, id string) error {
	if err := lockImage(ctx, tx, id); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM images WHERE id = ? AND deleted = 0`, id).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return catalog.ErrNotFound
	}
	return nil
}

// FinishImport records an import's outcome in one transaction.
func (db *DB) FinishImport(ctx context.Context, imageID string, from, to image.Status, d *catalog.DataInfo, locs []image.Location, props map[string]*string, done ...*catalog.Task) error {
	metas := make([]string, len(locs))
	for i, l := range locs {
		meta, err := json.Marshal(l.Metadata)
		if err != nil || l.Metadata == nil {
			meta = []byte("{}")
		}
		metas[i] = string(meta)
	}
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		now := fmtTime(time.Now())
		var (
			res sql.Result
			err error
		)
		if d != nil {
			res, err = tx.ExecContext(ctx, `UPDATE images SET status = ?, size = ?, virtual_size = ?,
 checksum = ?, os_hash_algo = ?, os_hash_value = ?, updated_at = ?,
 disk_format = coalesce(?, disk_format), container_format = coalesce(?, container_format)
 WHERE id = ? AND deleted = 0 AND status = ?`,
				string(to), d.Size, nullInt(d.VirtualSize), nullStr(strOrNil(d.Checksum)), nullStr(strOrNil(d.HashAlgo)),
				nullStr(strOrNil(d.HashValue)), now, nullStr(strOrNil(d.DiskFormat)),
				nullStr(strOrNil(d.ContainerFormat)), imageID, string(from))
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE images SET status = ?, updated_at = ?
 WHERE id = ? AND deleted = 0 AND status = ?`, string(to), now, imageID, string(from))
		}
		if err != nil {
			return mapErr(err)
		}
		if err := oneRow(ctx, tx, res, imageID); err != nil {
			return err
		}
		for i, l := range locs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO image_locations (image_id, value, created_at,
 updated_at, deleted_at, deleted, meta_data, status) VALUES (?, ?, ?, ?, NULL, false, ?, 'active')`,
				imageID, l.URL, now, now, metas[i]); err != nil {
				return mapErr(err)
			}
		}
		if err := changeProperties(ctx, tx, imageID, props, now); err != nil {
			return err
		}
		for _, t := range done {
			if err := updateTask(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

var _ catalog.Locations = (*DB)(nil)

// RemoveLocation soft-deletes a location, in one transaction with the
// checks that make it safe: the image is active and keeps another
// location.
func (db *DB) RemoveLocation(ctx context.Context, imageID string, locationID int64) error {
	return db.write(ctx, func(ctx context.Context, tx *wtx) error {
		if err := lockImage(ctx, tx, imageID); err != nil {
			return err
		}
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM images WHERE id = ? AND deleted = 0`, imageID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return catalog.ErrNotFound
		}
		if err != nil {
			return mapErr(err)
		}
		if status != string(image.Active) {
			return catalog.ErrConflict
		}
		var live int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM image_locations WHERE image_id = ? AND +deleted = 0`, imageID).Scan(&live); err != nil {
			return mapErr(err)
		}
		if live < 2 {
			return catalog.ErrLastLocation
		}
		now := fmtTime(time.Now())
		res, err := tx.ExecContext(ctx, `UPDATE image_locations SET deleted = 1, deleted_at = ?, updated_at = ?,
 status = 'deleted' WHERE id = ? AND image_id = ? AND +deleted = 0`, now, now, locationID, imageID)
		if err != nil {
			return mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return mapErr(err)
		} else if n == 0 {
			return catalog.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE images SET updated_at = ? WHERE id = ?`, now, imageID)
		return mapErr(err)
	})
}
