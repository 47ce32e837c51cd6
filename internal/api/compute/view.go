package compute

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"glimpse/internal/api/wirejson"
	"glimpse/internal/image"
)

// statusNames is Nova's view of Glance statuses; others are UNKNOWN.
var statusNames = map[image.Status]string{
	image.Active: "ACTIVE", image.Queued: "SAVING", image.Saving: "SAVING",
	image.Deleted: "DELETED", image.PendingDelete: "DELETED", image.Killed: "ERROR",
}

var progress = map[image.Status]int64{image.Queued: 25, image.Saving: 50, image.Active: 100}

func statusName(s image.Status) string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "UNKNOWN"
}

// jsonProps are the properties Nova stores as JSON text and shows decoded.
var jsonProps = map[string]bool{"block_device_mapping": true, "mappings": true}

// metadataJSON is an image's extra properties as Nova shows them: sorted
// by name, nulls kept, the JSON-valued ones decoded.
func metadataJSON(props map[string]*string) []byte {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	o := wirejson.NewObject()
	for _, k := range keys {
		v := props[k]
		if v != nil && jsonProps[k] {
			var decoded any
			if json.Unmarshal([]byte(*v), &decoded) == nil {
				o.Value(k, decoded)
				continue
			}
		}
		o.StringPtr(k, v)
	}
	return o.Bytes()
}

// links builds Nova's URLs for one request.
type links struct {
	app     string // scheme://host[/prefix]/v2.1
	root    string // scheme://host[/prefix]
	project string // project segment of links ("" when none)
	glance  string // image service root
	params  url.Values
}

func (a *API) links(rq *req) *links {
	r := rq.r
	root := ""
	if a.cfg.PublicEndpoint != "" {
		root = strings.TrimRight(a.cfg.PublicEndpoint, "/")
	} else {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		root = scheme + "://" + r.Host
	}
	l := &links{app: root + rq.prefix, root: root, params: r.URL.Query()}
	// Nova names the caller's project in links only when the request's
	// URL contains it.
	if p := rq.caller.ProjectID; p != "" {
		if strings.Contains(r.Host+r.URL.RequestURI(), p) {
			l.project = p
		}
	}
	switch {
	case a.cfg.GlanceEndpoint != "":
		l.glance = a.cfg.GlanceEndpoint
	case rq.caller.Endpoint("image", "public", "") != "":
		l.glance = stripVersion(rq.caller.Endpoint("image", "public", ""))
	case rq.caller.Endpoint("image", "internal", "") != "":
		l.glance = stripVersion(rq.caller.Endpoint("image", "internal", ""))
	default:
		l.glance = root
	}
	l.glance = strings.TrimRight(l.glance, "/")
	return l
}

// stripVersion drops a trailing /vN[.M] from an endpoint, as Nova does
// with the one it finds in the catalog.
func stripVersion(u string) string {
	u = strings.TrimRight(u, "/")
	i := strings.LastIndex(u, "/")
	if i < 0 {
		return u
	}
	last := u[i+1:]
	if len(last) > 1 && last[0] == 'v' && strings.Trim(last[1:], "0123456789.") == "" {
		return u[:i]
	}
	return u
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.Trim(p, "/"); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "/")
}

func (l *links) self(collection, id string) string {
	return join(l.app, l.project, collection, id)
}

func (l *links) bookmark(collection, id string) string {
	return join(l.root, l.project, collection, id)
}

func (l *links) imageLinks(id string) []byte {
	return wirejson.Array([][]byte{
		wirejson.NewObject().String("rel", "self").String("href", l.self("images", id)).Bytes(),
		wirejson.NewObject().String("rel", "bookmark").String("href", l.bookmark("images", id)).Bytes(),
		wirejson.NewObject().String("rel", "alternate").String("type", "application/vnd.openstack.image").String("href", l.glance+"/images/"+id).Bytes(),
	})
}

// next is the "next" link of a full page: the request's query with its
// keys sorted, one value each, and marker set to the page's last image.
func (l *links) next(collection, marker string) string {
	keys := make([]string, 0, len(l.params))
	for k := range l.params {
		if k != "marker" {
			keys = append(keys, k)
		}
	}
	keys = append(keys, "marker")
	slices.Sort(keys)
	var q []string
	for _, k := range keys {
		v := marker
		if k != "marker" {
			// Sorting (key, value) pairs and keeping the last leaves
			// the greatest value of a repeated key.
			v = slices.Max(l.params[k])
		}
		q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return join(l.app, l.project, collection) + "?" + strings.Join(q, "&")
}

// basicJSON is an image in the plain list: id, name and links.
func basicJSON(img *image.Image, l *links) []byte {
	return wirejson.NewObject().String("id", img.ID).StringPtr("name", img.Name).
		RawBytes("links", l.imageLinks(img.ID)).Bytes()
}

// detailJSON is Nova's full view of an image.
func detailJSON(img *image.Image, l *links) []byte {
	var size int64
	if img.Size != nil {
		size = *img.Size
	}
	o := wirejson.NewObject().String("id", img.ID).StringPtr("name", img.Name).
		Int("minRam", int64(img.MinRAM)).Int("minDisk", int64(img.MinDisk)).
		RawBytes("metadata", metadataJSON(img.Properties)).
		String("created", isoTime(img.CreatedAt)).String("updated", isoTime(img.UpdatedAt)).
		String("status", statusName(img.Status)).Int("progress", progress[img.Status]).
		Int("OS-EXT-IMG-SIZE:size", size).
		RawBytes("links", l.imageLinks(img.ID))
	if v := img.Properties["instance_uuid"]; v != nil {
		srv := wirejson.Array([][]byte{
			wirejson.NewObject().String("rel", "self").String("href", l.self("servers", *v)).Bytes(),
			wirejson.NewObject().String("rel", "bookmark").String("href", l.bookmark("servers", *v)).Bytes(),
		})
		o.RawBytes("server", wirejson.NewObject().String("id", *v).RawBytes("links", srv).Bytes())
	}
	if v := img.Properties["auto_disk_config"]; v != nil {
		if boolFromString(*v) {
			o.String("OS-DCF:diskConfig", "AUTO")
		} else {
			o.String("OS-DCF:diskConfig", "MANUAL")
		}
	}
	return o.Bytes()
}

// boolFromString is oslo's lenient reading of a boolean.
func boolFromString(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true
	}
	return false
}

func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}
