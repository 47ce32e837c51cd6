package compute

import (
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"glimpse/internal/api/wirejson"
	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

func (a *API) index(w http.ResponseWriter, rq *req) *apiError {
	return a.list(w, rq, "images", basicJSON)
}

func (a *API) detail(w http.ResponseWriter, rq *req) *apiError {
	return a.list(w, rq, "images/detail", detailJSON)
}

// list answers both lists. Without a limit Nova returns every image (its
// client follows Glance's pages); a page as long as the effective limit
// (capped at max_limit) gets a next link.
func (a *API) list(w http.ResponseWriter, rq *req, collection string, view func(*image.Image, *links) []byte) *apiError {
	q := rq.r.URL.Query()
	if e := validatePaging(q); e != nil {
		return e
	}
	lq, e := a.listQuery(q)
	if e != nil {
		return e
	}
	imgs, _, err := a.ops.List(rq.r.Context(), rq.caller, lq)
	if err != nil {
		return glanceListError(err)
	}
	l := a.links(rq)
	items := make([][]byte, len(imgs))
	for i, img := range imgs {
		items[i] = view(img, l)
	}
	o := wirejson.NewObject().RawBytes("images", wirejson.Array(items))
	maxItems := a.cfg.MaxLimit
	if vs, ok := q["limit"]; ok {
		// Nova reads the last value here.
		n, _ := parseLimit(vs[len(vs)-1])
		maxItems = min(n, a.cfg.MaxLimit)
	}
	if maxItems > 0 && maxItems == len(imgs) {
		next := wirejson.NewObject().String("rel", "next").String("href", l.next(collection, imgs[len(imgs)-1].ID)).Bytes()
		o.RawBytes("images_links", wirejson.Array([][]byte{next}))
	}
	writeJSON(w, http.StatusOK, o.Bytes())
	return nil
}

var digits = regexp.MustCompile(`^[0-9]*$`)

// validatePaging applies Nova's query schema: limit, page_size and offset
// must be positive integers, every value of each.
func validatePaging(q url.Values) *apiError {
	for _, name := range []string{"limit", "page_size", "offset"} {
		for _, v := range q[name] {
			msg := ""
			switch {
			case !digits.MatchString(v):
				msg = pyStrRepr(v) + " does not match '^[0-9]*$'"
			case v == "":
				msg = "'' should be non-empty"
			default:
				if n, _ := parseLimit(v); n < 1 {
					msg = "0 is less than the minimum of 1"
				}
			}
			if msg != "" {
				return errorf(http.StatusBadRequest, "Invalid input for query parameters "+name+". Value: "+v+". "+msg)
			}
		}
	}
	return nil
}

// parseLimit reads a string of digits, saturating at the largest int.
func parseLimit(v string) (int, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return math.MaxInt, true
		}
		return 0, false
	}
	return int(min(n, int64(math.MaxInt))), true
}

// listQuery turns Nova's filters into the Glance list they stand for:
// name, status (lower-cased), changes-since (updated_at >=), server
// (property instance_uuid, the last segment of a URL), type (property
// image_type), minRam/minDisk (min_ram/min_disk equal), property-<k>
// (property k), limit and marker; the default Glance order.
func (a *API) listQuery(q url.Values) (*catalog.ListQuery, *apiError) {
	hidden := false
	lq := &catalog.ListQuery{
		Limit:    -1,
		OSHidden: &hidden,
		Sort:     []catalog.SortKey{{Key: "created_at", Desc: true}, {Key: "id", Desc: true}},
	}
	if vs, ok := q["limit"]; ok {
		// Nova passes the limit on to Glance, which caps it at its
		// api_limit_max.
		n, _ := parseLimit(vs[len(vs)-1])
		lq.Limit = min(n, a.cfg.GlanceLimitMax)
	}
	if vs, ok := q["marker"]; ok {
		lq.Marker = vs[len(vs)-1]
	}
	setProp := func(k, v string) {
		if lq.Properties == nil {
			lq.Properties = map[string]string{}
		}
		lq.Properties[k] = v
	}
	for key, vs := range q {
		v := vs[len(vs)-1]
		switch {
		case key == "name":
			lq.In = addIn(lq.In, "name", v)
		case key == "status":
			lq.In = addIn(lq.In, "status", strings.ToLower(v))
		case key == "changes-since":
			t, ok := parseISO(v)
			if !ok {
				return nil, glanceBadRequest(`Bad "updated_at" query filter format. Use ISO 8601 DateTime notation.`)
			}
			lq.Times = append(lq.Times, catalog.TimeFilter{Column: "updated_at", Op: "gte", Value: t})
		case key == "minRam" || key == "minDisk":
			col := "min_ram"
			if key == "minDisk" {
				col = "min_disk"
			}
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				// Glance compares the column with the text: nothing
				// matches.
				lq.Limit = 0
				continue
			}
			if lq.Equal == nil {
				lq.Equal = map[string]string{}
			}
			lq.Equal[col] = v
		case strings.HasPrefix(key, "property-"):
			// Nova removes the prefix with Python's lstrip, which
			// strips every leading character of "property-", so
			// property-os_distro filters on "s_distro" as it does
			// in Nova.
			setProp(strings.TrimLeft(key, "property-"), v)
		}
	}
	// server and type name their properties after any property-* filter
	// for the same key, as Nova maps them last.
	if vs, ok := q["server"]; ok {
		v := vs[len(vs)-1]
		if i := strings.LastIndex(v, "/"); i >= 0 {
			v = v[i+1:]
		}
		setProp("instance_uuid", v)
	}
	if vs, ok := q["type"]; ok {
		setProp("image_type", vs[len(vs)-1])
	}
	return lq, nil
}

func addIn(in map[string][]string, k, v string) map[string][]string {
	if in == nil {
		in = map[string][]string{}
	}
	in[k] = []string{v}
	return in
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02T15:04",
	"2006-01-02 15:04:05", "2006-01-02", "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.999999Z07:00",
}

func parseISO(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// glanceBadRequest is how Nova words a 400 from Glance's list: the text
// glanceclient makes of Glance's HTML error, then the status.
func glanceBadRequest(msg string) *apiError {
	return errorf(http.StatusBadRequest, "400 Bad Request: "+msg+" (HTTP 400)")
}

// glanceListError maps a failed list as Nova maps Glance's answer.
func glanceListError(err error) *apiError {
	msg := glanceMessage(err)
	switch image.KindOf(err) {
	case image.Invalid:
		return glanceBadRequest(msg)
	case image.Forbidden:
		return errorf(http.StatusForbidden, "403 Forbidden: "+msg+" (HTTP 403)")
	case image.NotFound:
		return unexpected("nova.exception.NotFound")
	}
	return unexpected("glanceclient.exc.HTTPInternalServerError")
}

// glanceMessage is the text of a domain error as Glance's HTML body
// shows it, lines joined with ": ".
func glanceMessage(err error) string {
	var parts []string
	if e, ok := err.(*image.Error); ok {
		if e.Msg != "" {
			parts = append(parts, e.Msg)
		}
		if e.Detail != "" {
			parts = append(parts, e.Detail)
		}
	} else if m := image.Message(err); m != "" {
		parts = append(parts, m)
	}
	return strings.Join(parts, ": ")
}

func (a *API) show(w http.ResponseWriter, rq *req, id string) *apiError {
	img, err := a.ops.Get(rq.r.Context(), rq.caller, id)
	if err != nil {
		return imageError(err, id)
	}
	writeJSON(w, http.StatusOK, wirejson.NewObject().RawBytes("image", detailJSON(img, a.links(rq))).Bytes())
	return nil
}

// imageError maps a failed read of one image as Nova does.
func imageError(err error, id string) *apiError {
	switch image.KindOf(err) {
	case image.NotFound:
		return errorf(http.StatusNotFound, "Image not found.")
	case image.Forbidden, image.Unauthorized:
		return errorf(http.StatusForbidden, "Not authorized for image "+id+".")
	}
	return unexpected("glanceclient.exc.HTTPInternalServerError")
}

func (a *API) delete(w http.ResponseWriter, rq *req, id string) *apiError {
	err := a.ops.Delete(rq.r.Context(), rq.caller, id)
	switch image.KindOf(err) {
	case image.Internal:
		if err == nil {
			noContent(w)
			return nil
		}
	case image.NotFound:
		return errorf(http.StatusNotFound, "Image not found.")
	case image.Forbidden, image.Unauthorized:
		return errorf(http.StatusForbidden, "You are not allowed to delete the image.")
	case image.Conflict:
		return unexpected("nova.exception.ImageDeleteConflict")
	}
	return unexpected("glanceclient.exc.HTTPInternalServerError")
}
