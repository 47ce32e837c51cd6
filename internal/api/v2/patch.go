package v2

import (
	"fmt"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"glimpse/internal/api/httperr"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

const (
	patchV21 = "application/openstack-images-v2.1-json-patch"
	patchV20 = "application/openstack-images-v2.0-json-patch"
)

// change is one parsed PATCH operation.
type change struct {
	op    string // add, remove, replace
	key   string // decoded top-level attribute name
	path  string // as sent, for messages
	value any
	hasV  bool
	// pos and locs are a locations operation's position (add, remove)
	// and its locations (add, replace).
	pos  string
	locs []imageops.NewLocation
}

func patchErr(format string, args ...any) error {
	return image.E("v2.patch", image.Invalid, format, args...)
}

// parseChanges reads the body in either Glance patch dialect and checks
// each operation's syntax, path and value before anything is applied.
func (a *API) parseChanges(mediaType string, body any) ([]change, error) {
	list, ok := body.([]any)
	if !ok {
		if _, isObj := body.(map[string]any); isObj {
			return nil, patchErr("Request body must be a JSON array of operation objects.")
		}
		return nil, patchErr("Unexpected body type. Expected list/dict.")
	}
	var out []change
	for _, item := range list {
		raw, ok := item.(map[string]any)
		if !ok {
			return nil, patchErr("Operations must be JSON objects.")
		}
		var c change
		if mediaType == patchV20 {
			n := 0
			for _, op := range []string{"add", "remove", "replace"} {
				if p, ok := raw[op]; ok {
					if n > 0 {
						return nil, patchErr(`Operation objects must contain only one member named "add", "remove", or "replace".`)
					}
					n++
					c.op = op
					c.path, _ = p.(string)
				}
			}
			if n == 0 {
				return nil, patchErr(`Operation objects must contain exactly one member named "add", "remove", or "replace".`)
			}
		} else {
			// A null op counts as a missing one.
			op := raw["op"]
			if op == nil {
				return nil, patchErr("Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.")
			}
			c.op, _ = op.(string)
			if c.op != "add" && c.op != "remove" && c.op != "replace" {
				return nil, patchErr("Invalid operation: `%s`. It must be one of the following: add, remove, replace.", pyStr(op))
			}
			p, ok := raw["path"]
			if !ok {
				return nil, patchErr("Unable to find 'path' in JSON Schema change")
			}
			c.path, _ = p.(string)
		}
		key, err := decodePointer(c.path, c.op)
		if err != nil {
			return nil, err
		}
		if c.op != "remove" {
			c.value, c.hasV = raw["value"]
			if !c.hasV {
				return nil, patchErr(`Operation "%s" requires a member named "value".`, c.op)
			}
		}
		c.key = key
		switch {
		case readOnlyAttrs[key], key == "id":
			return nil, readOnlyErr(key)
		case reservedAttr(key):
			return nil, image.E("v2.patch", image.Forbidden, "Attribute '%s' is reserved.", key)
		case key == "locations":
			if !a.ops.Locations().Show {
				return nil, a.locationsChange(c)
			}
			if err := c.parseLocations(); err != nil {
				return nil, err
			}
			out = append(out, c)
			continue
		}
		if c.op != "remove" {
			// Unlike create, Glance does not limit the length of a key
			// added by PATCH.
			if err := a.schema.checkValue(key, c.value); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// locationsChange refuses location edits when locations are not shown at
// this site (show_multiple_locations is off), as Glance refuses them then.
func (a *API) locationsChange(c change) error {
	if c.op == "replace" {
		if l, ok := c.value.([]any); ok && len(l) == 0 {
			return image.D("v2.patch", image.Forbidden, "Cannot set locations to empty list.")
		}
	}
	return image.E("v2.patch", image.Forbidden, "It's not allowed to %s locations if locations are invisible.", map[string]string{"add": "add", "replace": "update", "remove": "remove"}[c.op])
}

func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return imageops.PyRepr(v)
}

// decodePointer checks a JSON pointer as Glance does and returns the one
// attribute it names; Glance's image resource is one level deep, except
// that locations take an index on add and remove.
func decodePointer(p, op string) (string, error) {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "", patchErr("Pointer `%s` does not start with \"/\".", p)
	case adjacentSlashes.MatchString(p[1:]):
		return "", patchErr("Pointer `%s` contains adjacent \"/\".", p)
	case len(p) > 1 && strings.HasSuffix(p, "/"):
		return "", patchErr("Pointer `%s` end with \"/\".", p)
	case strings.TrimSpace(p[1:]) == "/":
		return "", patchErr("Pointer `%s` does not contains valid token.", p)
	case badEscape.MatchString(p) || strings.HasSuffix(p, "~"):
		return "", patchErr("Pointer `%s` contains \"~\" not part of a recognized escape sequence.", p)
	}
	segs := strings.Split(strings.TrimLeft(p, "/"), "/")
	for i, s := range segs {
		segs[i] = strings.TrimSpace(pointerUnescaper.Replace(s))
	}
	depth := 1
	if segs[0] == "locations" && op != "replace" {
		depth = 2
	}
	if len(segs) != depth {
		return "", patchErr("Invalid JSON pointer for this resource: '/%s'", strings.Join(segs, "/"))
	}
	return segs[0], nil
}

var (
	adjacentSlashes  = regexp.MustCompile(`/\s*?/`)
	badEscape        = regexp.MustCompile(`~[^01]`)
	pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")
)

func (a *API) updateImage(w http.ResponseWriter, r *http.Request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != patchV21 && mt != patchV20 {
		w.Header().Set("Accept-Patch", patchV20+", "+patchV21)
		if mt == "" {
			mt = "text/plain"
		}
		httperr.UnsupportedMediaType(w, r, mt, "")
		return nil
	}
	body, err := readJSON(r.Body)
	if err != nil {
		return err
	}
	changes, err := a.parseChanges(mt, body)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		// Glance neither checks nor saves an empty edit: it is a show.
		img, err := a.ops.Get(r.Context(), caller(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeUnicodeJSON(w, http.StatusOK, a.imageView(r, img))
		return nil
	}
	attemptedTags := -1
	for _, c := range changes {
		if c.key == "tags" && c.op != "remove" {
			attemptedTags = len(c.value.([]any))
		}
	}
	if slices.ContainsFunc(changes, func(c change) bool { return c.key == "locations" }) {
		return a.updateLocations(w, r, mt, changes, attemptedTags)
	}
	touched := make([]imageops.Touch, len(changes))
	for i, c := range changes {
		touched[i] = imageops.Touch{Op: c.op, Key: c.key}
		if v, ok := c.value.(string); ok && c.key == "visibility" {
			touched[i].Value = v
		}
	}
	img, err := a.ops.Update(r.Context(), caller(r), r.PathValue("id"), func(img *image.Image) error {
		for _, c := range changes {
			if err := applyChange(img, c, mt); err != nil {
				return err
			}
		}
		return nil
	}, attemptedTags, touched...)
	if err != nil {
		return err
	}
	writeUnicodeJSON(w, http.StatusOK, a.imageView(r, img))
	return nil
}

// updateLocations applies a PATCH that changes the image's locations:
// every operation, location ones and others, in request order, stored
// at once.
func (a *API) updateLocations(w http.ResponseWriter, r *http.Request, mediaType string, changes []change, attemptedTags int) error {
	edits := make([]imageops.Edit, len(changes))
	for i, c := range changes {
		if c.key == "locations" {
			edits[i] = imageops.Edit{Location: &imageops.LocationOp{Op: c.op, Pos: c.pos, Locations: c.locs}}
			continue
		}
		t := imageops.Touch{Op: c.op, Key: c.key}
		if v, ok := c.value.(string); ok && c.key == "visibility" {
			t.Value = v
		}
		edits[i] = imageops.Edit{Touch: t, Apply: func(img *image.Image) error { return applyChange(img, c, mediaType) }}
	}
	img, err := a.ops.UpdateLocations(r.Context(), caller(r), r.PathValue("id"), edits, attemptedTags)
	if err != nil {
		return err
	}
	writeUnicodeJSON(w, http.StatusOK, a.imageView(r, img))
	return nil
}

// parseLocations checks a locations operation as Glance's deserializer
// does, against the image schema's locations, and reads its position
// (the second token of an add or remove path) and locations.
func (c *change) parseLocations() error {
	if c.op != "replace" {
		segs := strings.Split(strings.TrimLeft(c.path, "/"), "/")
		c.pos = strings.TrimSpace(pointerUnescaper.Replace(segs[len(segs)-1]))
	}
	if c.op == "remove" {
		return nil
	}
	items := []any{c.value}
	if c.op == "replace" {
		list, ok := c.value.([]any)
		if !ok {
			return locationSchemaErr(imageops.PyRepr(c.value)+" is not of type 'array'", "['locations']", c.value)
		}
		items = list
	}
	if err := checkLocationItems(items); err != nil {
		return err
	}
	c.locs = make([]imageops.NewLocation, len(items))
	for i, it := range items {
		m := it.(map[string]any)
		nl := imageops.NewLocation{URL: m["url"].(string), Metadata: m["metadata"].(map[string]any)}
		if vd, ok := m["validation_data"].(map[string]any); ok {
			str := func(k string) *string {
				if s, ok := vd[k].(string); ok {
					return &s
				}
				return nil
			}
			nl.Validation = &imageops.Validation{Checksum: str("checksum"), HashAlgo: str("os_hash_algo"), HashValue: str("os_hash_value")}
		}
		c.locs[i] = nl
	}
	return nil
}

// validationFields are the members of a location's validation_data, with
// their length limits.
var validationFields = []validationField{{"checksum", 32, 32}, {"os_hash_algo", 0, 64}, {"os_hash_value", 0, 128}}

type validationField struct {
	name     string
	min, max int
}

// checkLocationItems validates locations against the image schema, with
// jsonschema's words; like jsonschema's best match, an error nearer the
// top (a location that is not an object or lacks a member) is reported
// before one inside a member.
func checkLocationItems(items []any) error {
	at := func(i int, keys ...string) string {
		p := fmt.Sprintf("['locations'][%d]", i)
		for _, k := range keys {
			p += "[" + imageops.PyRepr(k) + "]"
		}
		return p
	}
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return locationSchemaErr(imageops.PyRepr(it)+" is not of type 'object'", at(i), it)
		}
		for _, k := range []string{"url", "metadata"} {
			if _, ok := m[k]; !ok {
				return locationSchemaErr(imageops.PyRepr(k)+" is a required property", at(i), it)
			}
		}
	}
	for i, it := range items {
		m := it.(map[string]any)
		u, ok := m["url"].(string)
		if !ok {
			return locationSchemaErr(imageops.PyRepr(m["url"])+" is not of type 'string'", at(i, "url"), m["url"])
		}
		if len([]rune(u)) > 255 {
			return locationSchemaErr(imageops.PyRepr(u)+" is too long", at(i, "url"), u)
		}
		if _, ok := m["metadata"].(map[string]any); !ok {
			return locationSchemaErr(imageops.PyRepr(m["metadata"])+" is not of type 'object'", at(i, "metadata"), m["metadata"])
		}
		vd, present := m["validation_data"]
		if !present {
			continue
		}
		vm, ok := vd.(map[string]any)
		if !ok {
			return locationSchemaErr(imageops.PyRepr(vd)+" is not of type 'object'", at(i, "validation_data"), vd)
		}
		var extra []string
		for _, k := range slices.Sorted(maps.Keys(vm)) {
			if !slices.ContainsFunc(validationFields, func(f validationField) bool { return f.name == k }) {
				extra = append(extra, imageops.PyRepr(k))
			}
		}
		if len(extra) > 0 {
			verb := "was"
			if len(extra) > 1 {
				verb = "were"
			}
			return locationSchemaErr(fmt.Sprintf("Additional properties are not allowed (%s %s unexpected)", strings.Join(extra, ", "), verb), at(i, "validation_data"), vd)
		}
		for _, k := range []string{"os_hash_algo", "os_hash_value"} {
			if _, ok := vm[k]; !ok {
				return locationSchemaErr(imageops.PyRepr(k)+" is a required property", at(i, "validation_data"), vd)
			}
		}
	}
	for i, it := range items {
		vm, _ := it.(map[string]any)["validation_data"].(map[string]any)
		for _, f := range validationFields {
			v, ok := vm[f.name]
			if !ok {
				continue
			}
			str, ok := v.(string)
			switch n := len([]rune(str)); {
			case !ok:
				return locationSchemaErr(imageops.PyRepr(v)+" is not of type 'string'", at(i, "validation_data", f.name), v)
			case n < f.min:
				return locationSchemaErr(imageops.PyRepr(str)+" is too short", at(i, "validation_data", f.name), v)
			case n > f.max:
				return locationSchemaErr(imageops.PyRepr(str)+" is too long", at(i, "validation_data", f.name), v)
			}
		}
	}
	return nil
}

// locationSchemaErr is a schema violation in the locations, followed,
// as jsonschema's message is, by where it is and the value found there.
func locationSchemaErr(reason, instance string, v any) error {
	return image.E("v2.schema", image.Invalid, "%s%s\n\nOn instance%s:\n    %s", schemaPrefix, reason, instance, imageops.PyRepr(v))
}

// applyChange applies one validated operation to img.
func applyChange(img *image.Image, c change, mediaType string) error {
	const op = "v2.patch"
	if baseAttrs[c.key] {
		if c.op == "remove" {
			return image.D(op, image.Forbidden, "Property %s may not be removed.", c.key)
		}
		if (c.key == "disk_format" || c.key == "container_format") && img.Status != image.Queued {
			return image.E(op, image.Forbidden, "Attribute %s can be only replaced for a queued image.", c.key)
		}
		setAttr(img, c.key, c.value)
		return nil
	}
	_, exists := img.Properties[c.key]
	switch c.op {
	case "add":
		if exists && mediaType == patchV20 {
			return image.D(op, image.Conflict, "Property %s already present.", c.key)
		}
	case "replace":
		if !exists {
			return image.D(op, image.Conflict, "Property %s does not exist.", c.key)
		}
	case "remove":
		if !exists {
			return image.D(op, image.Conflict, "Property %s does not exist.", c.key)
		}
		delete(img.Properties, c.key)
		return nil
	}
	setAttr(img, c.key, c.value)
	return nil
}
