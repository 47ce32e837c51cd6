package compute

import (
	"net/http"
	"slices"
	"unicode/utf8"

	"glimpse/internal/api/wirejson"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// glanceAttrs are the names Glance's image schema gives its own
// attributes: a metadata key naming one is not a property, and Glance
// refuses to take it as one.
var glanceAttrs = map[string]bool{
	"id": true, "name": true, "status": true, "visibility": true, "protected": true, "os_hidden": true,
	"checksum": true, "os_hash_algo": true, "os_hash_value": true, "owner": true, "size": true,
	"virtual_size": true, "container_format": true, "disk_format": true, "created_at": true,
	"updated_at": true, "tags": true, "direct_url": true, "min_ram": true, "min_disk": true,
	"self": true, "file": true, "schema": true, "locations": true, "stores": true,
	"deleted": true, "deleted_at": true,
}

func (a *API) getImage(rq *req, id string) (*image.Image, *apiError) {
	img, err := a.ops.Get(rq.r.Context(), rq.caller, id)
	if err != nil {
		return nil, imageError(err, id)
	}
	return img, nil
}

func (a *API) metadataIndex(w http.ResponseWriter, rq *req, id string) *apiError {
	img, e := a.getImage(rq, id)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, wirejson.NewObject().RawBytes("metadata", metadataJSON(img.Properties)).Bytes())
	return nil
}

func (a *API) metadataShow(w http.ResponseWriter, rq *req, id, key string) *apiError {
	img, e := a.getImage(rq, id)
	if e != nil {
		return e
	}
	v, ok := img.Properties[key]
	if !ok {
		return errorf(http.StatusNotFound, "The resource could not be found.")
	}
	one := metadataJSON(map[string]*string{key: v})
	writeJSON(w, http.StatusOK, wirejson.NewObject().RawBytes("meta", one).Bytes())
	return nil
}

// metadataCreate merges the body's items into the image's properties.
func (a *API) metadataCreate(w http.ResponseWriter, rq *req, id string) *apiError {
	md, msg := validateMetadata(rq.body, "metadata", false, rq.legacy)
	if msg != "" {
		return errorf(http.StatusBadRequest, msg)
	}
	img, e := a.getImage(rq, id)
	if e != nil {
		return e
	}
	items := values(md)
	merged := maps(img.Properties)
	for _, k := range md.keys {
		merged[k] = items[k]
	}
	if e := a.checkQuota(len(merged)); e != nil {
		return e
	}
	out, e := a.setProperties(rq, id, img, merged)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, wirejson.NewObject().RawBytes("metadata", metadataJSON(out.Properties)).Bytes())
	return nil
}

// metadataUpdateAll replaces all the image's properties with the body's.
func (a *API) metadataUpdateAll(w http.ResponseWriter, rq *req, id string) *apiError {
	md, msg := validateMetadata(rq.body, "metadata", false, rq.legacy)
	if msg != "" {
		return errorf(http.StatusBadRequest, msg)
	}
	img, e := a.getImage(rq, id)
	if e != nil {
		return e
	}
	if e := a.checkQuota(len(md.keys)); e != nil {
		return e
	}
	items := values(md)
	if _, e := a.setProperties(rq, id, img, items); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, wirejson.NewObject().RawBytes("metadata", bodyJSON(md)).Bytes())
	return nil
}

// metadataUpdate sets one item, named both in the URL and the body.
func (a *API) metadataUpdate(w http.ResponseWriter, rq *req, id, key string) *apiError {
	md, msg := validateMetadata(rq.body, "meta", true, rq.legacy)
	if msg != "" {
		return errorf(http.StatusBadRequest, msg)
	}
	if _, ok := md.get(key); !ok {
		return errorf(http.StatusBadRequest, "Request body and URI mismatch")
	}
	img, e := a.getImage(rq, id)
	if e != nil {
		return e
	}
	merged := maps(img.Properties)
	merged[key] = values(md)[key]
	if e := a.checkQuota(len(merged)); e != nil {
		return e
	}
	if _, e := a.setProperties(rq, id, img, merged); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, wirejson.NewObject().RawBytes("meta", bodyJSON(md)).Bytes())
	return nil
}

func (a *API) metadataDelete(w http.ResponseWriter, rq *req, id, key string) *apiError {
	img, e := a.getImage(rq, id)
	if e != nil {
		return e
	}
	if _, ok := img.Properties[key]; !ok {
		return errorf(http.StatusNotFound, "Invalid metadata key")
	}
	rest := maps(img.Properties)
	delete(rest, key)
	if _, e := a.setProperties(rq, id, img, rest); e != nil {
		return e
	}
	noContent(w)
	return nil
}

// checkQuota is Nova's metadata_items limit on the resulting properties.
func (a *API) checkQuota(n int) *apiError {
	if q := a.cfg.MetadataQuota; n > 0 && q >= 0 && n > q {
		return errorf(http.StatusForbidden, "Image metadata limit exceeded")
	}
	return nil
}

// setProperties makes props the image's properties, as Nova's update
// with purge_props does: what changed is set, what is missing removed;
// base attributes and the image service's own keys are refused as Glance
// refuses them.
func (a *API) setProperties(rq *req, id string, old *image.Image, props map[string]*string) (*image.Image, *apiError) {
	var touched []imageops.Touch
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		was, ok := old.Properties[k]
		switch {
		case !ok:
			touched = append(touched, imageops.Touch{Op: "add", Key: k})
		case !image.SameValue(was, props[k]):
			touched = append(touched, imageops.Touch{Op: "replace", Key: k})
		}
	}
	for k := range old.Properties {
		if _, ok := props[k]; !ok {
			touched = append(touched, imageops.Touch{Op: "remove", Key: k})
		}
	}
	for _, t := range touched {
		if glanceAttrs[t.Key] || image.IsReservedProperty(t.Key) {
			return nil, errorf(http.StatusForbidden, "Not authorized for image "+id+".")
		}
		if utf8.RuneCountInString(t.Key) > image.MaxFieldLength {
			return nil, unexpected("nova.exception.ImageBadRequest")
		}
	}
	change := func(img *image.Image) error {
		for _, t := range touched {
			if t.Op == "remove" {
				delete(img.Properties, t.Key)
				continue
			}
			if img.Properties == nil {
				img.Properties = map[string]*string{}
			}
			img.Properties[t.Key] = props[t.Key]
		}
		return nil
	}
	out, err := a.ops.Update(rq.r.Context(), rq.caller, id, change, -1, touched...)
	if err != nil {
		switch image.KindOf(err) {
		case image.Forbidden, image.Unauthorized:
			return nil, errorf(http.StatusForbidden, "Not authorized for image "+id+".")
		case image.NotFound:
			return nil, unexpected("nova.exception.ImageNotFound")
		case image.TooLarge:
			return nil, unexpected("nova.exception.ImageQuotaExceeded")
		case image.Invalid:
			return nil, unexpected("nova.exception.ImageBadRequest")
		case image.Conflict:
			return nil, unexpected("glanceclient.exc.HTTPConflict")
		}
		return nil, unexpected("glanceclient.exc.HTTPInternalServerError")
	}
	return out, nil
}

// values are a validated metadata object's items as property values:
// strings as sent; on the /v2 endpoint, which lets other types through,
// null stays null and the rest is Python's str() of it.
func values(md *object) map[string]*string {
	out := make(map[string]*string, len(md.keys))
	for _, k := range md.keys {
		switch v := md.vals[k].(type) {
		case nil:
			out[k] = nil
		case string:
			out[k] = image.Str(v)
		default:
			out[k] = image.Str(pyStr(v))
		}
	}
	return out
}

func maps(props map[string]*string) map[string]*string {
	out := make(map[string]*string, len(props))
	for k, v := range props {
		out[k] = v
	}
	return out
}

// bodyJSON echoes a request's metadata object in its own order.
func bodyJSON(md *object) []byte {
	o := wirejson.NewObject()
	for _, k := range md.keys {
		switch v := md.vals[k].(type) {
		case string:
			o.String(k, v)
		case nil:
			o.Raw(k, "null")
		default:
			o.Value(k, plain(v))
		}
	}
	return o.Bytes()
}

// plain turns a decoded value back into encoding/json's types.
func plain(v any) any {
	switch t := v.(type) {
	case *object:
		m := make(map[string]any, len(t.keys))
		for _, k := range t.keys {
			m[k] = plain(t.vals[k])
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plain(e)
		}
		return out
	}
	return v
}
