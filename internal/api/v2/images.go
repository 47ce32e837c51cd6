package v2

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"glimpse/internal/api/wirejson"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// createImage checks the body in Glance's order, which decides the answer
// when several things are wrong: attributes that are never writable, then
// the schema, then custom keys (length, reserved names), then what the
// image factory refuses.
func (a *API) createImage(w http.ResponseWriter, r *http.Request) error {
	body, err := readObject(r.Body)
	if err != nil {
		return err
	}
	for _, k := range []string{"direct_url", "self", "file", "schema", "stores"} {
		if _, ok := body[k]; ok {
			return readOnlyErr(k)
		}
	}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := a.schema.checkValue(k, body[k]); err != nil {
			return err
		}
	}
	for _, k := range keys {
		if baseAttrs[k] || readOnlyAttrs[k] {
			continue
		}
		if len([]rune(k)) > image.MaxFieldLength {
			return image.E("v2.create", image.Invalid, "Custom property should not be greater than 255 characters.")
		}
		if reservedAttr(k) {
			return reservedErr(k)
		}
	}
	for _, k := range []string{"created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size"} {
		if _, ok := body[k]; ok {
			return readOnlyErr(k)
		}
	}
	if _, ok := body["locations"]; ok {
		return reservedErr("locations")
	}
	in := &image.Image{Properties: map[string]*string{}}
	attemptedTags := 0
	for _, k := range keys {
		v := body[k]
		if k == "tags" {
			attemptedTags = len(v.([]any))
		}
		setAttr(in, k, v)
	}
	img, err := a.ops.Create(r.Context(), caller(r), in, attemptedTags)
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.baseURL(r)+"/v2/images/"+img.ID)
	if len(a.cfg.ImportMethods) > 0 {
		w.Header().Set("OpenStack-image-import-methods", strings.Join(a.cfg.ImportMethods, ","))
	}
	if len(a.cfg.Stores) > 0 {
		ids := make([]string, len(a.cfg.Stores))
		for i, st := range a.cfg.Stores {
			ids[i] = st.ID
		}
		w.Header().Set("OpenStack-image-store-ids", strings.Join(ids, ","))
	}
	writeUnicodeJSON(w, http.StatusCreated, a.imageView(r, img))
	return nil
}

func (a *API) showImage(w http.ResponseWriter, r *http.Request) error {
	img, err := a.ops.Get(r.Context(), caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeUnicodeJSON(w, http.StatusOK, a.imageView(r, img))
	return nil
}

func (a *API) listImages(w http.ResponseWriter, r *http.Request) error {
	lq, err := a.parseListQuery(r.URL.Query())
	if err != nil {
		return err
	}
	imgs, full, err := a.ops.List(r.Context(), caller(r), lq)
	if err != nil {
		return err
	}
	items := make([][]byte, len(imgs))
	lastID := ""
	for i, img := range imgs {
		items[i] = a.imageView(r, img)
		lastID = img.ID
	}
	first, next := pageLinks(r.URL.RawQuery, lastID, len(imgs) > 0 && full)
	o := wirejson.NewObject().RawBytes("images", wirejson.Array(items)).
		String("first", first).String("schema", "/v2/schemas/images")
	if next != "" {
		o.String("next", next)
	}
	writeUnicodeJSON(w, http.StatusOK, o.Bytes())
	return nil
}

func (a *API) deleteImage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := a.ops.Delete(r.Context(), caller(r), id)
	if image.Is(image.NotFound, err) {
		return image.E("v2.delete", image.NotFound, "Failed to find image %s to delete", id)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deactivate(w http.ResponseWriter, r *http.Request) error {
	if err := a.ops.Deactivate(r.Context(), caller(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) reactivate(w http.ResponseWriter, r *http.Request) error {
	if err := a.ops.Reactivate(r.Context(), caller(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) addTag(w http.ResponseWriter, r *http.Request) error {
	id, tag := r.PathValue("id"), r.PathValue("tag")
	if strings.Contains(tag, "/") {
		return image.E("v2.tags", image.NotFound, "")
	}
	if err := a.schema.checkValue("tags", []any{tag}); err != nil {
		return err
	}
	if err := a.ops.AddTag(r.Context(), caller(r), id, tag); err != nil {
		if errors.Is(err, imageops.ErrFourByteUnicode) {
			return image.E("v2.tags", image.Invalid, "Could not update image: %s", image.Message(err))
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	id, tag := r.PathValue("id"), r.PathValue("tag")
	if err := a.ops.DeleteTag(r.Context(), caller(r), id, tag); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
