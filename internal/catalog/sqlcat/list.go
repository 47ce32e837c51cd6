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

// query accumulates a WHERE clause and its arguments.
type query struct {
	where []string
	args  []any
}

func (q *query) add(cond string, args ...any) {
	q.where = append(q.where, cond)
	q.args = append(q.args, args...)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

var inColumns = map[string]bool{"name": true, "status": true, "id": true, "owner": true, "container_format": true, "disk_format": true}

// equalColumns are the other image columns a list may match exactly.
var equalColumns = map[string]bool{"checksum": true, "min_ram": true, "min_disk": true, "size": true, "virtual_size": true, "os_hash_algo": true, "os_hash_value": true}

var timeOps = map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "!="}

// notNullKeys are sort keys whose column cannot be NULL.
var notNullKeys = map[string]bool{"id": true, "status": true, "created_at": true}

// intColumns are the image columns of SQL integer types.
var intColumns = map[string]bool{"min_ram": true, "min_disk": true, "size": true, "virtual_size": true}

// intParam is the placeholder for a value compared with column col. pgx
// sends a parameter in the column's own type, and min_ram and min_disk are
// 32-bit there: a bound past that range (which Glance takes) would fail
// to encode rather than match nothing or everything.
func (db *DB) intParam(col string) string {
	if db.d == postgresDialect && intColumns[col] {
		return "CAST(? AS BIGINT)"
	}
	return "?"
}

// visibleTo is the condition under which an image may be shown to a
// caller at all (Glance's is_image_visible): admins see everything, others
// their own, public and community images, and shared images they are a
// member of in any status.
func visibleTo(s catalog.Scope) (string, []any) {
	if s.Admin {
		return "1=1", nil
	}
	if s.Project == "" {
		return "(images.owner IS NULL OR +images.visibility IN ('public','community'))", nil
	}
	return `(images.owner IS NULL OR +images.visibility IN ('public','community') OR images.owner = ? OR
 (+images.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m
  WHERE m.image_id = images.id AND m.member = ? AND +m.deleted = 0)))`, []any{s.Project, s.Project}
}

// ListImages builds and runs one SELECT for the page.
func (db *DB) ListImages(ctx context.Context, lq *catalog.ListQuery) ([]*image.Image, error) {
	q := &query{}
	// Glance never lists killed images.
	switch lq.Deleted {
	case "":
		q.add("+images.deleted = 0 AND images.status != 'killed'")
	case catalog.DeletedOnly:
		q.add("+images.deleted = 1")
	case catalog.DeletedInclude:
	default:
		return nil, fmt.Errorf("list images: bad deleted filter %q", lq.Deleted)
	}
	scope(q, lq)
	for _, col := range slices.Sorted(maps.Keys(lq.In)) {
		if !inColumns[col] {
			return nil, fmt.Errorf("list images: cannot filter on %q", col)
		}
		vals := lq.In[col]
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		q.add("images."+col+" IN ("+placeholders(len(vals))+")", args...)
	}
	for _, col := range slices.Sorted(maps.Keys(lq.Equal)) {
		if !equalColumns[col] {
			return nil, fmt.Errorf("list images: cannot filter on %q", col)
		}
		q.add("images."+col+" = "+db.intParam(col), lq.Equal[col])
	}
	for _, t := range lq.Tags {
		q.add(`EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id AND t.value = ? AND +t.deleted = 0)`, t)
	}
	for _, k := range slices.Sorted(maps.Keys(lq.Properties)) {
		q.add(`EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = images.id AND p.name = ? AND p.value = ? AND +p.deleted = 0)`, k, lq.Properties[k])
	}
	if lq.OSHidden != nil {
		q.add("+images.os_hidden = ?", *lq.OSHidden)
	}
	if lq.Protected != nil {
		q.add("+images.protected = ?", *lq.Protected)
	}
	for _, k := range slices.Sorted(maps.Keys(lq.Ranges)) {
		col, op := strings.TrimSuffix(k, "_min"), ">="
		if strings.HasSuffix(k, "_max") {
			col, op = strings.TrimSuffix(k, "_max"), "<="
		}
		if !catalog.RangeColumns[col] {
			return nil, fmt.Errorf("list images: cannot bound %q", k)
		}
		q.add("images."+col+" "+op+" "+db.intParam(col), lq.Ranges[k])
	}
	for _, tf := range lq.Times {
		op, ok := timeOps[tf.Op]
		if !ok || (tf.Column != "created_at" && tf.Column != "updated_at") {
			return nil, fmt.Errorf("list images: bad time filter %s %s", tf.Column, tf.Op)
		}
		q.add("images."+tf.Column+" "+op+" ?", fmtTime(tf.Value))
	}
	for _, k := range lq.Sort {
		if !slices.Contains(catalog.SortKeys, k.Key) {
			return nil, fmt.Errorf("list images: bad sort key %q", k.Key)
		}
	}
	if lq.Marker != "" {
		if err := db.after(ctx, q, lq); err != nil {
			return nil, err
		}
	}
	order := make([]string, len(lq.Sort))
	for i, k := range lq.Sort {
		order[i] = "images." + k.Key + map[bool]string{true: " DESC", false: " ASC"}[k.Desc]
	}
	// The page is chosen on the images table alone; the properties and
	// tags are aggregated only for the rows on it. One statement still,
	// but the subqueries run once per listed image, not once per
	// candidate row before the sort.
	if len(q.where) == 0 {
		q.add("1=1") // an admin's listing of everything, deleted included
	}
	orderBy := ""
	if len(order) > 0 {
		orderBy = " ORDER BY " + strings.Join(order, ", ")
	}
	body := " FROM images WHERE " + strings.Join(q.where, " AND ") + orderBy
	if lq.Limit >= 0 {
		body += fmt.Sprintf(" LIMIT %d", lq.Limit)
	}
	page := "SELECT images.id AS pid" + body
	if imgs, ok, err := db.cachedPage(ctx, page, q.args, lq.WithLocations); err != nil || ok {
		return imgs, err
	}
	cols := imageColumns
	if lq.WithLocations {
		cols += locationsColumn
	}
	stmt := "SELECT " + cols + " FROM (" + page + ") page CROSS JOIN images ON images.id = page.pid" + orderBy
	if db.d == postgresDialect {
		// PostgreSQL joins the page back by hashing the whole images
		// table; in one level it runs the aggregates after the LIMIT,
		// for the page's rows only.
		stmt = "SELECT " + cols + body
	}
	rows, err := db.query(ctx, stmt, q.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*image.Image
	for rows.Next() {
		img, err := scanImage(rows, lq.WithLocations)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, mapErr(rows.Err())
}

// cachedPage answers a list from the image cache: the page's ids come from
// the (cheap, index-only) page query, and only the images the cache lacks
// are read in full. ok is false when the catalog changed while the page
// was read, or an image left it before it was read in full; the caller
// then reads the page in one statement instead, as without the cache.
func (db *DB) cachedPage(ctx context.Context, page string, args []any, withLocations bool) (imgs []*image.Image, ok bool, err error) {
	if db.images == nil {
		return nil, false, nil
	}
	at, err := db.images.dataVersion(ctx)
	if err != nil {
		return nil, false, mapErr(err)
	}
	rows, err := db.query(ctx, page, args...)
	if err != nil {
		return nil, false, mapErr(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, false, mapErr(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, mapErr(err)
	}
	// Page and cache agree only if nothing was committed in between.
	if now, err := db.images.dataVersion(ctx); err != nil || now != at {
		return nil, false, mapErr(err)
	}
	imgs = make([]*image.Image, len(ids))
	var missing []string
	for i, id := range ids {
		if imgs[i] = db.images.get(id, at, withLocations); imgs[i] == nil {
			missing = append(missing, id)
		} else if !withLocations {
			imgs[i].Locations = nil // asked for none
		}
	}
	if len(missing) == 0 {
		return imgs, true, nil
	}
	list, err := json.Marshal(missing)
	if err != nil {
		return nil, false, err
	}
	// One statement text whatever the page size, so it stays prepared.
	cols := imageColumns
	if withLocations {
		cols += locationsColumn
	}
	rows, err = db.query(ctx, `SELECT `+cols+` FROM images
 WHERE images.id IN `+idsFromJSON+` AND images.deleted = 0`, string(list))
	if err != nil {
		return nil, false, mapErr(err)
	}
	defer rows.Close()
	read := make(map[string]*image.Image, len(missing))
	for rows.Next() {
		img, err := scanImage(rows, withLocations)
		if err != nil {
			return nil, false, err
		}
		read[img.ID] = img
		db.images.put(img, at, withLocations)
	}
	if err := rows.Err(); err != nil {
		return nil, false, mapErr(err)
	}
	for i := range imgs {
		if imgs[i] == nil {
			if imgs[i] = read[ids[i]]; imgs[i] == nil {
				return nil, false, nil
			}
		}
	}
	return imgs, true, nil
}

func scope(q *query, lq *catalog.ListQuery) {
	s := lq.Scope
	switch lq.Visibility {
	case "all":
	case "":
		if s.Project == "" {
			q.add("+images.visibility != 'community'")
		} else {
			q.add("(+images.visibility != 'community' OR images.owner = ?)", s.Project)
		}
	default:
		q.add("+images.visibility = ?", lq.Visibility)
	}
	if s.Admin {
		return
	}
	if s.Project == "" {
		// Glance's membership branch has no member to match for a caller
		// without a project, so such a caller lists every shared image
		// that has any live member row (and cannot open them).
		q.add(`(+images.visibility IN ('public','community') OR
 (+images.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m
  WHERE m.image_id = images.id AND +m.deleted = 0)))`)
		return
	}
	member := `EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id AND m.member = ? AND +m.deleted = 0`
	args := []any{s.Project, s.Project}
	if lq.MemberStatus != "all" {
		ms := lq.MemberStatus
		if ms == "" {
			ms = image.MemberAccepted
		}
		member += " AND m.status = ?"
		args = append(args, ms)
	}
	member += ")"
	q.add(`(+images.visibility IN ('public','community') OR images.owner = ? OR
 (+images.visibility = 'shared' AND `+member+`))`, args...)
}

// after adds the keyset condition "comes after the marker in this order".
func (db *DB) after(ctx context.Context, q *query, lq *catalog.ListQuery) error {
	cols := make([]string, len(lq.Sort))
	for i, k := range lq.Sort {
		cols[i] = "images." + k.Key
	}
	vis, vargs := visibleTo(lq.Scope)
	vals := make([]any, len(cols)+1)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	// Admins may page from a deleted image, as in Glance.
	live := " AND images.deleted = 0"
	if lq.Scope.Admin {
		live = ""
	}
	err := db.queryRow(ctx, "SELECT "+strings.Join(cols, ", ")+", "+vis+
		" FROM images WHERE images.id = ?"+live, append(vargs, lq.Marker)...).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.ErrMarkerNotFound
	}
	if err != nil {
		return mapErr(err)
	}
	// The visibility condition reads as 0/1, or as a boolean on
	// PostgreSQL.
	if v := vals[len(cols)]; v != int64(1) && v != true {
		return catalog.ErrMarkerForbidden
	}
	vals = vals[:len(cols)]
	// Values read back as the driver returned them; times must compare
	// as the text stored.
	for i, v := range vals {
		if t, ok := v.(time.Time); ok {
			vals[i] = fmtTime(t)
		}
	}
	sameDir, nonNull := true, true
	for _, k := range lq.Sort {
		sameDir = sameDir && k.Desc == lq.Sort[0].Desc
		nonNull = nonNull && notNullKeys[k.Key]
	}
	if sameDir && nonNull {
		// A row-value comparison lets SQLite walk the index from the
		// marker instead of scanning.
		op := ">"
		if lq.Sort[0].Desc {
			op = "<"
		}
		q.add("("+strings.Join(cols, ", ")+") "+op+" ("+placeholders(len(cols))+")", vals...)
		return nil
	}
	// Each database orders NULL as it does for Glance: the smallest value
	// on SQLite and MySQL, the largest on PostgreSQL. Paging follows the
	// same order, so every image is listed once whatever the database.
	nullLargest := db.d == postgresDialect
	var ors []string
	var args []any
	for i := range cols {
		// nullsLast: in this key's direction NULLs come after every
		// value.
		nullsLast := lq.Sort[i].Desc != nullLargest
		if vals[i] == nil && nullsLast {
			continue // nothing sorts after NULL
		}
		var and []string
		for j := 0; j < i; j++ {
			if vals[j] == nil {
				and = append(and, cols[j]+" IS NULL")
			} else {
				and = append(and, cols[j]+" = ?")
				args = append(args, vals[j])
			}
		}
		cmp := " > ?"
		if lq.Sort[i].Desc {
			cmp = " < ?"
		}
		switch {
		case vals[i] == nil:
			and = append(and, cols[i]+" IS NOT NULL")
		case nullsLast:
			and = append(and, "("+cols[i]+cmp+" OR "+cols[i]+" IS NULL)")
			args = append(args, vals[i])
		default:
			and = append(and, cols[i]+cmp)
			args = append(args, vals[i])
		}
		ors = append(ors, "("+strings.Join(and, " AND ")+")")
	}
	if len(ors) == 0 {
		q.add("1=0")
		return nil
	}
	q.add("("+strings.Join(ors, " OR ")+")", args...)
	return nil
}
