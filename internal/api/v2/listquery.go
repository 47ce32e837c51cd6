package v2

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// inFilters accept "in:" lists and the "eq:" operator.
var inFilters = map[string]bool{"name": true, "status": true, "id": true, "owner": true, "container_format": true, "disk_format": true}

// columnFilters match other image columns exactly.
var columnFilters = map[string]bool{"checksum": true, "min_ram": true, "min_disk": true, "size": true, "virtual_size": true, "os_hash_algo": true, "os_hash_value": true}

// notFilters are list parameters that are not property filters.
var notFilters = map[string]bool{"limit": true, "marker": true, "sort": true, "sort_key": true, "sort_dir": true}

func badRequest(format string, args ...any) error {
	return image.E("v2.list", image.Invalid, format, args...)
}

// last is the value webob's params.get returns for a repeated key.
func last(vals []string) string { return vals[len(vals)-1] }

// parseListQuery turns GET /v2/images parameters into a catalog query,
// with Glance's 400s for every malformed one.
func (a *API) parseListQuery(q url.Values) (*catalog.ListQuery, error) {
	lq := &catalog.ListQuery{Limit: a.cfg.LimitDefault}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(last(v))
		if err != nil {
			return nil, badRequest("limit param must be an integer")
		}
		if n < 0 {
			return nil, badRequest("limit param must be positive")
		}
		lq.Limit = min(n, a.cfg.LimitMax)
	}
	if v, ok := q["marker"]; ok {
		lq.Marker = last(v)
	}
	sort, err := parseSort(q)
	if err != nil {
		return nil, err
	}
	lq.Sort = sort
	hidden := false
	lq.OSHidden = &hidden
	for key, vals := range q {
		v := last(vals)
		switch {
		case notFilters[key]:
		case key == "tag":
			for _, t := range vals {
				lq.Tags = append(lq.Tags, strings.TrimSpace(t))
			}
		case key == "visibility":
			if !slices.Contains([]string{"community", "public", "private", "shared", "all"}, v) {
				return nil, badRequest("Invalid visibility value: %s", v)
			}
			lq.Visibility = v
		case key == "member_status":
			if !slices.Contains([]string{"pending", "accepted", "rejected", "all"}, v) {
				return nil, badRequest("Invalid status: %s", v)
			}
			lq.MemberStatus = v
		case key == "protected" || key == "os_hidden":
			if key == "os_hidden" {
				// Glance lower-cases this one filter, not protected.
				v = strings.ToLower(v)
			}
			if v != "true" && v != "false" {
				return nil, badRequest("Invalid value '%s' for '%s' filter. Valid values are 'true' or 'false'.", v, key)
			}
			b := v == "true"
			if key == "protected" {
				lq.Protected = &b
			} else {
				lq.OSHidden = &b
			}
		case rangeFilter(key):
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, badRequest("Unable to filter on a range with a non-numeric value.")
			}
			if lq.Ranges == nil {
				lq.Ranges = map[string]int64{}
			}
			lq.Ranges[key] = n
		case key == "created_at" || key == "updated_at":
			tf, err := parseTimeFilter(key, v)
			if err != nil {
				return nil, err
			}
			lq.Times = append(lq.Times, tf)
		case key == "changes-since":
			return nil, badRequest(`The "changes-since" filter is no longer available on v2.`)
		case inFilters[key]:
			set, err := parseInFilter(v)
			if err != nil {
				return nil, err
			}
			if lq.In == nil {
				lq.In = map[string][]string{}
			}
			lq.In[key] = set
		case columnFilters[key]:
			if lq.Equal == nil {
				lq.Equal = map[string]string{}
			}
			lq.Equal[key] = v
		default:
			if lq.Properties == nil {
				lq.Properties = map[string]string{}
			}
			lq.Properties[key] = v
		}
	}
	return lq, nil
}

// rangeFilter reports whether key is <column>_min or <column>_max on an
// integer column.
func rangeFilter(key string) bool {
	col, ok := strings.CutSuffix(key, "_min")
	if !ok {
		col, ok = strings.CutSuffix(key, "_max")
	}
	return ok && catalog.RangeColumns[col]
}

// parseInFilter reads "in:a,\"b,c\"", "eq:a" or a bare value. Any colon
// names an operator, as in Glance.
func parseInFilter(v string) ([]string, error) {
	op, val, found := strings.Cut(v, ":")
	if !found {
		return []string{v}, nil
	}
	switch op {
	case "eq":
		return []string{val}, nil
	case "in":
		return splitQuoted(val)
	}
	return nil, badRequest("Unable to filter by unknown operator '%s'.", op)
}

// splitQuoted splits a comma list in which double quotes protect commas.
func splitQuoted(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && quoted && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if quoted {
		return nil, badRequest("Invalid filter value %s. The quote is not closed.", s)
	}
	return append(out, cur.String()), nil
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02T15:04",
	"2006-01-02 15:04:05", "2006-01-02", "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.999999Z07:00",
}

func parseTimeFilter(key, v string) (catalog.TimeFilter, error) {
	op, val, found := strings.Cut(v, ":")
	if !found || !isOp(op) {
		// A bare timestamp contains colons itself: try it whole as "eq".
		if t, ok := parseISO(v); ok {
			return catalog.TimeFilter{Column: key, Op: "eq", Value: t}, nil
		}
		if found && !strings.ContainsAny(op, "0123456789") {
			return catalog.TimeFilter{}, badRequest("Unable to filter on a unknown operator.")
		}
		return catalog.TimeFilter{}, badRequest(`Bad "%s" query filter format. Use ISO 8601 DateTime notation.`, key)
	}
	t, ok := parseISO(val)
	if !ok {
		return catalog.TimeFilter{}, badRequest(`Bad "%s" query filter format. Use ISO 8601 DateTime notation.`, key)
	}
	return catalog.TimeFilter{Column: key, Op: op, Value: t}, nil
}

func isOp(op string) bool {
	switch op {
	case "gt", "gte", "lt", "lte", "eq", "neq":
		return true
	}
	return false
}

func parseISO(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseSort reads either sort=k[:dir],… or repeated sort_key/sort_dir and
// appends Glance's tie-breakers (created_at, then id) in the default
// direction.
func parseSort(q url.Values) ([]catalog.SortKey, error) {
	_, hasSort := q["sort"]
	keys, dirs := q["sort_key"], q["sort_dir"]
	if hasSort && (len(keys) > 0 || len(dirs) > 0) {
		return nil, badRequest("Old and new sorting syntax cannot be combined")
	}
	var out []catalog.SortKey
	defaultDesc := true
	checkKey := func(k string) error {
		if !slices.Contains(catalog.SortKeys, k) {
			return badRequest("Invalid sort key: %s. It must be one of the following: %s.", k, strings.Join(catalog.SortKeys, ", "))
		}
		return nil
	}
	checkDir := func(d string) (bool, error) {
		switch d {
		case "asc":
			return false, nil
		case "desc":
			return true, nil
		}
		return false, badRequest("Invalid sort direction: %s", d)
	}
	if hasSort {
		for _, item := range strings.Split(last(q["sort"]), ",") {
			k, d, hasDir := strings.Cut(strings.TrimSpace(item), ":")
			if err := checkKey(k); err != nil {
				return nil, err
			}
			desc := true
			if hasDir {
				var err error
				if desc, err = checkDir(d); err != nil {
					return nil, err
				}
			}
			out = append(out, catalog.SortKey{Key: k, Desc: desc})
		}
		if len(out) == 1 {
			defaultDesc = out[0].Desc
		}
	} else {
		for _, k := range keys {
			if err := checkKey(k); err != nil {
				return nil, err
			}
		}
		var ds []bool
		for _, d := range dirs {
			desc, err := checkDir(d)
			if err != nil {
				return nil, err
			}
			ds = append(ds, desc)
		}
		if len(keys) == 0 {
			keys = []string{"created_at"}
		}
		switch {
		case len(ds) == 0:
		case len(ds) == 1:
			defaultDesc = ds[0]
		case len(ds) > len(keys):
			return nil, badRequest("Number of sort dirs does not match the number of sort keys")
		case len(ds) != len(keys):
			return nil, badRequest("Number of sort dirs does not match the number of sort keys")
		}
		for i, k := range keys {
			desc := defaultDesc
			if len(ds) > 1 {
				desc = ds[i]
			}
			out = append(out, catalog.SortKey{Key: k, Desc: desc})
		}
	}
	// Duplicate keys add nothing to an ORDER BY.
	var uniq []catalog.SortKey
	for _, k := range out {
		if !slices.ContainsFunc(uniq, func(u catalog.SortKey) bool { return u.Key == k.Key }) {
			uniq = append(uniq, k)
		}
	}
	for _, tie := range []string{"created_at", "id"} {
		if !slices.ContainsFunc(uniq, func(u catalog.SortKey) bool { return u.Key == tie }) {
			uniq = append(uniq, catalog.SortKey{Key: tie, Desc: defaultDesc})
		}
	}
	return uniq, nil
}

// pageLinks builds the first and next links from the raw query as Glance
// does: each parameter once, at its first position, with its last value,
// the marker left out (next puts the new one last).
func pageLinks(rawQuery, lastID string, full bool) (first, next string) {
	var keys []string
	vals := map[string]string{}
	for _, p := range strings.Split(rawQuery, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		k, _ = url.QueryUnescape(k)
		v, _ = url.QueryUnescape(v)
		if k == "marker" {
			continue
		}
		if _, seen := vals[k]; !seen {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = url.QueryEscape(k) + "=" + url.QueryEscape(vals[k])
	}
	first = "/v2/images"
	if len(parts) > 0 {
		first += "?" + strings.Join(parts, "&")
	}
	if full {
		next = "/v2/images?" + strings.Join(append(parts, "marker="+url.QueryEscape(lastID)), "&")
	}
	return first, next
}
