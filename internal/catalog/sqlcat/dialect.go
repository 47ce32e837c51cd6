package sqlcat

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// dialect is the SQL server a catalog talks to. The statements in this
// package are written once, for SQLite (the embedded default, tuned for it),
// and translated for the other two when first used.
type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
	mysqlDialect
)

func (d dialect) String() string {
	switch d {
	case postgresDialect:
		return "postgresql"
	case mysqlDialect:
		return "mysql"
	}
	return "sqlite"
}

// Fragments of the SQLite statements that the other dialects cannot
// translate word by word. Each is referenced from the statements that use
// it, so the text the translator looks for is the text they contain.
const (
	// tagsAgg is an image's live tags in insertion order.
	tagsAgg = `(SELECT json_group_array(t.value) FROM
   (SELECT id, value FROM image_tags WHERE image_id = images.id AND +deleted = 0 ORDER BY id) t)`
	// locationIDsAgg is the ids of an image's live locations, oldest first.
	locationIDsAgg = `SELECT json_group_array(id) FROM
 (SELECT id FROM image_locations WHERE image_id = ? AND +deleted = 0 ORDER BY id)`
	// idsFromJSON is the ids of a JSON array parameter.
	idsFromJSON = `(SELECT value FROM json_each(?))`
)

// locationsAgg and pendingLocationsAgg are an image's live locations and
// those a delayed delete left for the scrubber, oldest first.
var (
	locationsAgg        = locationsWhere(sqliteDialect, "+deleted = 0")
	pendingLocationsAgg = locationsWhere(sqliteDialect, "status = 'pending_delete'")
)

// locationsWhere aggregates an image's locations that meet cond into a
// JSON array, oldest first. Off SQLite, metadata is the stored JSON text as
// a JSON string, decoded by the reader.
func locationsWhere(d dialect, cond string) string {
	switch d {
	case postgresDialect:
		return `(SELECT json_agg(json_build_object('id', l.id, 'url', l.value, 'status', l.status,
   'metadata', l.meta_data) ORDER BY l.id)::text
  FROM image_locations l WHERE l.image_id = images.id AND +l.` + cond + `)`
	case mysqlDialect:
		return `(SELECT JSON_ARRAYAGG(JSON_OBJECT('id', l.id, 'url', l.value, 'status', l.status,
   'metadata', l.meta_data) ORDER BY l.id)
  FROM image_locations l WHERE l.image_id = images.id AND +l.` + cond + `)`
	}
	return `(SELECT json_group_array(json_object('id', l.id, 'url', l.value, 'status', l.status,
   'metadata', CASE WHEN json_valid(l.meta_data) THEN json(l.meta_data) ELSE json('{}') END))
  FROM (SELECT * FROM image_locations WHERE image_id = images.id AND ` + cond + ` ORDER BY id) l)`
}

// fragments replaces whole SQLite fragments, per dialect. Both servers
// order inside the aggregate instead of in a correlated derived table,
// which MariaDB cannot see the outer row from.
var fragments = map[dialect][][2]string{
	postgresDialect: append(locationFragments(postgresDialect),
		[2]string{tagsAgg, `(SELECT json_agg(t.value ORDER BY t.id)::text FROM image_tags t
   WHERE t.image_id = images.id AND +t.deleted = 0)`},
		[2]string{locationIDsAgg, `SELECT json_agg(id ORDER BY id)::text FROM image_locations WHERE image_id = ? AND +deleted = 0`},
		[2]string{idsFromJSON, `(SELECT value FROM json_array_elements_text(?::json))`},
		[2]string{"json_group_object(p.name, p.value)", "json_object_agg(p.name, p.value)::text"}),
	mysqlDialect: append(locationFragments(mysqlDialect),
		[2]string{tagsAgg, `(SELECT JSON_ARRAYAGG(t.value ORDER BY t.id) FROM image_tags t
   WHERE t.image_id = images.id AND +t.deleted = 0)`},
		[2]string{locationIDsAgg, `SELECT JSON_ARRAYAGG(id ORDER BY id) FROM image_locations WHERE image_id = ? AND +deleted = 0`},
		[2]string{idsFromJSON, `(SELECT value FROM JSON_TABLE(?, '$[*]' COLUMNS (value VARCHAR(36) PATH '$')) ids)`},
		[2]string{"json_group_object(p.name, p.value)", "JSON_OBJECTAGG(p.name, p.value)"}),
}

// locationFragments replaces the two location aggregates for dialect d.
func locationFragments(d dialect) [][2]string {
	return [][2]string{
		{locationsAgg, locationsWhere(d, "deleted = 0")},
		{pendingLocationsAgg, locationsWhere(d, "status = 'pending_delete'")},
	}
}

var (
	// noIndexPlus is SQLite's "do not use an index for this term" unary
	// plus; elsewhere it is arithmetic (or, on a boolean, an error).
	noIndexPlus = regexp.MustCompile(`([\s,(])\+([A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)?)`)
	// boolCompare is a comparison or assignment of a boolean column with
	// 0 or 1, which PostgreSQL's boolean type refuses.
	boolCompare = regexp.MustCompile(`\b((?:[A-Za-z_]+\.)?(?:` + strings.Join(slices.Sorted(maps.Keys(boolColumns)), "|") + `))\s*(=|!=|<>)\s*([01])\b`)
	// boolColumns are Glance's boolean columns.
	boolColumns = map[string]bool{"deleted": true, "protected": true, "os_hidden": true, "can_share": true}
	// upsertHead and excludedCol are SQLite's (and PostgreSQL's) upsert,
	// which MySQL spells ON DUPLICATE KEY UPDATE.
	upsertHead  = regexp.MustCompile(`ON CONFLICT \([^)]*\) DO UPDATE SET`)
	excludedCol = regexp.MustCompile(`excluded\.([a-z_]+)`)
	// exactMatch is a property or tag row picked by its unqualified name
	// or value (the list filters qualify theirs, and stay as Glance has
	// them on MySQL: case-blind).
	exactMatch = regexp.MustCompile(`\bAND (name|value) = \?`)
)

// translator turns SQLite statements into the dialect's, remembering the
// results: the statements are a bounded set of texts.
type translator struct {
	d dialect
	// unorderedAggregates: the server is Oracle's MySQL, whose
	// JSON_ARRAYAGG takes no ORDER BY (MariaDB's does); the reader
	// orders what it needs in order itself.
	unorderedAggregates bool
	mu                  sync.RWMutex
	m                   map[string]string
}

// aggregateOrder drops the ORDER BY of MariaDB's JSON_ARRAYAGG calls.
var aggregateOrder = strings.NewReplacer(
	"JSON_ARRAYAGG(t.value ORDER BY t.id)", "JSON_ARRAYAGG(t.value)",
	"'metadata', l.meta_data) ORDER BY l.id)", "'metadata', l.meta_data))",
	"JSON_ARRAYAGG(id ORDER BY id)", "JSON_ARRAYAGG(id)",
)

// maxTranslations bounds the memo; list statements vary with the filters
// combined, and past this many distinct texts they are translated afresh.
const maxTranslations = 4096

func newTranslator(d dialect) *translator {
	return &translator{d: d, m: map[string]string{}}
}

// sql returns q in the translator's dialect.
func (t *translator) sql(q string) string {
	if t == nil || t.d == sqliteDialect {
		return q
	}
	t.mu.RLock()
	out, ok := t.m[q]
	t.mu.RUnlock()
	if ok {
		return out
	}
	out = translate(t.d, q)
	if t.unorderedAggregates {
		out = aggregateOrder.Replace(out)
	}
	t.mu.Lock()
	if len(t.m) < maxTranslations {
		t.m[q] = out
	}
	t.mu.Unlock()
	return out
}

func translate(d dialect, q string) string {
	for _, f := range fragments[d] {
		q = strings.ReplaceAll(q, f[0], f[1])
	}
	if d == mysqlDialect {
		// MySQL would merge the indexes of two such columns (deleted,
		// os_hidden: each true of nearly every row) and sort the result,
		// instead of walking the created_at index: keep those terms
		// off the indexes with an expression, as the plus does on SQLite.
		q = noIndexPlus.ReplaceAllStringFunc(q, func(m string) string {
			sm := noIndexPlus.FindStringSubmatch(m)
			col := sm[2][strings.LastIndexByte(sm[2], '.')+1:]
			if boolColumns[col] {
				return sm[1] + "(" + sm[2] + " + 0)"
			}
			return sm[1] + sm[2]
		})
	}
	q = noIndexPlus.ReplaceAllString(q, "$1$2")
	switch d {
	case postgresDialect:
		q = boolCompare.ReplaceAllStringFunc(q, func(m string) string {
			sm := boolCompare.FindStringSubmatch(m)
			v := "false"
			if sm[3] == "1" {
				v = "true"
			}
			return sm[1] + " " + sm[2] + " " + v
		})
		q = numberPlaceholders(q)
	case mysqlDialect:
		// Glance's MySQL tables compare text without case, accents or
		// trailing blanks; a write that picks its property or tag row
		// by name or value must pick exactly that one.
		q = exactMatch.ReplaceAllString(q, "AND $1 = BINARY ?")
		if upsertHead.MatchString(q) {
			q = upsertHead.ReplaceAllString(q, "ON DUPLICATE KEY UPDATE")
			q = excludedCol.ReplaceAllString(q, "VALUES($1)")
		}
	}
	return q
}

// numberPlaceholders turns ? into $1, $2, … outside quoted text.
func numberPlaceholders(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
