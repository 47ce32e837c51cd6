package v1

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"glimpse/internal/image"
)

const (
	metaPrefix = "x-image-meta-"
	propPrefix = "x-image-meta-property-"
	// timeFormat is how v1 writes times, in bodies and headers alike.
	timeFormat = "2006-01-02T15:04:05.000000"
)

// metaFields are the x-image-meta-<field> headers Glance v1 accepts; any
// other is a 400.
var metaFields = []string{"location", "size", "is_public", "disk_format", "container_format", "name",
	"status", "copy_from", "uri", "checksum", "created_at", "updated_at", "deleted_at", "min_ram",
	"min_disk", "owner", "store", "id", "protected", "deleted", "virtual_size"}

// meta is the image metadata a request carries in its headers. A field
// present with an empty value is set to None (nil).
type meta struct {
	fields map[string]*string
	props  map[string]*string
	// Typed values of the fields that have them, when present.
	size, minRAM, minDisk, virtualSize *int64
	isPublic, protected                *bool
}

func (m *meta) has(field string) bool { _, ok := m.fields[field]; return ok }

func (m *meta) str(field string) *string { return m.fields[field] }

func badRequest(format string, args ...any) error {
	return image.E("v1", image.Invalid, format, args...)
}

func badRequestDetail(format string, args ...any) error {
	return image.D("v1", image.Invalid, format, args...)
}

// parseMeta reads the x-image-meta-* headers as Glance v1 does: property
// names lower-cased with '-' turned into '_', unknown fields refused,
// integers and booleans converted.
func parseMeta(h http.Header) (*meta, error) {
	m := &meta{fields: map[string]*string{}, props: map[string]*string{}}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vals := h[k]
		key := strings.ToLower(k)
		v := vals[len(vals)-1]
		var val *string
		if v != "" {
			val = &v
		}
		switch {
		case strings.HasPrefix(key, propPrefix):
			name := strings.ReplaceAll(key[len(propPrefix):], "-", "_")
			m.props[name] = val
		case strings.HasPrefix(key, metaPrefix):
			name := strings.ReplaceAll(key[len(metaPrefix):], "-", "_")
			if !slices.Contains(metaFields, name) {
				return nil, badRequestDetail("Bad header: %s", key)
			}
			m.fields[name] = val
		}
	}
	ints := []struct {
		key      string
		nullable bool
		dst      **int64
	}{{"size", false, &m.size}, {"min_disk", false, &m.minDisk}, {"min_ram", false, &m.minRAM}, {"virtual_size", true, &m.virtualSize}}
	for _, f := range ints {
		p, ok := m.fields[f.key]
		if !ok {
			continue
		}
		raw := "None"
		if p != nil {
			raw = *p
		}
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			if f.nullable && raw == "None" {
				continue
			}
			return nil, badRequest("Invalid value '%s' for parameter '%s': Cannot convert image %s '%s' to an integer.", raw, f.key, f.key, raw)
		}
		if n < 0 {
			return nil, badRequest("Invalid value '%d' for parameter '%s': Cannot be a negative value.", n, f.key)
		}
		*f.dst = &n
	}
	for _, f := range []struct {
		key string
		dst **bool
	}{{"is_public", &m.isPublic}, {"protected", &m.protected}} {
		if p, ok := m.fields[f.key]; ok {
			b := p != nil && boolFromString(*p)
			*f.dst = &b
		}
	}
	return m, nil
}

// boolFromString is oslo's lenient bool_from_string: anything it does not
// know is false.
func boolFromString(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true
	}
	return false
}

// validate applies Glance v1's checks of formats, times, name and
// checksum. It may fill in the format an Amazon-style pair implies.
func (a *API) validate(m *meta) error {
	disk, container := m.str("disk_format"), m.str("container_format")
	if m.has("disk_format") && (disk == nil || !contains(a.cfg.DiskFormats, *disk)) {
		return badRequest("Invalid disk format '%s' for image.", pyStr(disk))
	}
	if m.has("container_format") && (container == nil || !contains(a.cfg.ContainerFormats, *container)) {
		return badRequest("Invalid container format '%s' for image.", pyStr(container))
	}
	amazon := func(p *string) bool { return p != nil && contains([]string{"aki", "ari", "ami"}, *p) }
	if amazon(disk) || amazon(container) {
		switch {
		case disk == nil:
			m.fields["disk_format"] = container
		case container == nil:
			m.fields["container_format"] = disk
		case *disk != *container:
			return badRequest("Invalid mix of disk and container formats. When setting a disk or container format to one of 'aki', 'ari', or 'ami', the container and disk formats must match.")
		}
	}
	for _, f := range []string{"created_at", "updated_at", "deleted_at"} {
		if p := m.str(f); p != nil {
			t, ok := parseISOTime(*p)
			if !ok || t.Year() < 1900 {
				return badRequest("Invalid time format for %s.", f)
			}
		}
	}
	if n := m.str("name"); n != nil && len([]rune(*n)) > image.MaxFieldLength {
		return badRequest("Image name too long: %d", len([]rune(*n)))
	}
	if c := m.str("checksum"); c != nil && len(*c) > 32 {
		return badRequest("Invalid checksum '%s': can't exceed 32 characters", *c)
	}
	return checkPropertyNames(m.props)
}

// serviceOwnedNames are the names a custom property may not take because
// the image API gives them another meaning: the image's own attributes
// and what v2 shows beside them (direct_url, locations, self, file,
// schema, stores). A property under one of these names would read, through
// v2, as the service's own value. os_glance* names are refused too
// (image.IsReservedProperty).
var serviceOwnedNames = map[string]bool{
	"id": true, "name": true, "status": true, "size": true, "virtual_size": true,
	"disk_format": true, "container_format": true, "checksum": true, "owner": true,
	"min_disk": true, "min_ram": true, "protected": true, "visibility": true,
	"is_public": true, "os_hidden": true, "os_hash_algo": true, "os_hash_value": true,
	"created_at": true, "updated_at": true, "deleted_at": true, "deleted": true,
	"tags": true, "location": true, "locations": true, "direct_url": true,
	"self": true, "file": true, "schema": true, "stores": true,
}

// checkPropertyNames refuses, in name order, property names as v2 does on
// create: longer than 255 characters (400) or reserved (403).
func checkPropertyNames(props map[string]*string) error {
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if len([]rune(k)) > image.MaxFieldLength {
			return badRequest("Custom property should not be greater than 255 characters.")
		}
		if serviceOwnedNames[k] || image.IsReservedProperty(k) {
			return image.E("v1", image.Forbidden, "Attribute '%s' is reserved.", k)
		}
	}
	return nil
}

func pyStr(p *string) string {
	if p == nil {
		return "None"
	}
	return *p
}

// isoLayouts are the ISO 8601 forms accepted for times.
var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02"}

func parseISOTime(s string) (time.Time, bool) {
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// view is the v1 representation of an image: the registry's image dict,
// without the location.
func view(img *image.Image) map[string]any {
	props := map[string]any{}
	for k, v := range img.Properties {
		if v != nil {
			props[k] = *v
		}
	}
	var deletedAt any
	if img.DeletedAt != nil {
		deletedAt = img.DeletedAt.UTC().Format(timeFormat)
	}
	return map[string]any{
		"id":               img.ID,
		"name":             img.Name,
		"status":           string(img.Status),
		"size":             img.Size,
		"virtual_size":     img.VirtualSize,
		"disk_format":      img.DiskFormat,
		"container_format": img.ContainerFormat,
		"checksum":         img.Checksum,
		"min_disk":         img.MinDisk,
		"min_ram":          img.MinRAM,
		"is_public":        img.Visibility == image.Public,
		"protected":        img.Protected,
		"owner":            img.Owner,
		"created_at":       img.CreatedAt.UTC().Format(timeFormat),
		"updated_at":       img.UpdatedAt.UTC().Format(timeFormat),
		"deleted_at":       deletedAt,
		"deleted":          img.Deleted,
		"properties":       props,
	}
}

// brief is an image as GET /v1/images lists it.
func brief(img *image.Image) map[string]any {
	return map[string]any{
		"id":               img.ID,
		"name":             img.Name,
		"disk_format":      img.DiskFormat,
		"container_format": img.ContainerFormat,
		"checksum":         img.Checksum,
		"size":             img.Size,
	}
}

// setMetaHeaders writes an image's metadata as x-image-meta-<field> and
// x-image-meta-property-<key> headers, leaving out what is None, and the
// checksum as the ETag.
func setMetaHeaders(h http.Header, img *image.Image) {
	set := func(k, v string) { h.Set(metaPrefix+k, v) }
	setStr := func(k string, p *string) {
		if p != nil {
			set(k, *p)
		}
	}
	setInt := func(k string, p *int64) {
		if p != nil {
			set(k, strconv.FormatInt(*p, 10))
		}
	}
	set("id", img.ID)
	setStr("name", img.Name)
	set("status", string(img.Status))
	setInt("size", img.Size)
	setInt("virtual_size", img.VirtualSize)
	setStr("disk_format", img.DiskFormat)
	setStr("container_format", img.ContainerFormat)
	setStr("checksum", img.Checksum)
	set("min_disk", strconv.Itoa(img.MinDisk))
	set("min_ram", strconv.Itoa(img.MinRAM))
	set("is_public", strconv.FormatBool(img.Visibility == image.Public))
	set("protected", strconv.FormatBool(img.Protected))
	setStr("owner", img.Owner)
	set("created_at", img.CreatedAt.UTC().Format(timeFormat))
	set("updated_at", img.UpdatedAt.UTC().Format(timeFormat))
	if img.DeletedAt != nil {
		set("deleted_at", img.DeletedAt.UTC().Format(timeFormat))
	}
	set("deleted", strconv.FormatBool(img.Deleted))
	for k, v := range img.Properties {
		if v != nil {
			h.Set(propPrefix+strings.ToLower(k), *v)
		}
	}
	if img.Checksum != nil {
		h.Set("ETag", *img.Checksum)
	}
}
