package v1

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
	"glimpse/internal/store"
)

// sortKeys are the registry's sort keys, in the order its refusal names them.
var sortKeys = []string{"name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"}

// listQuery turns the list parameters into a catalog query, with the 400s
// of Glance v1's API and registry layers. It returns the caller to list
// as (an admin lists as a user unless is_public says otherwise) and
// whether public images must be left out.
func (a *API) listQuery(r *http.Request) (*catalog.ListQuery, *auth.Context, bool, error) {
	q := r.URL.Query()
	get := func(k string) (string, bool) {
		v, ok := q[k]
		if !ok {
			return "", false
		}
		return v[len(v)-1], true
	}
	// The API layer's checks.
	for _, k := range []string{"size_max", "size_min", "min_ram"} {
		if v, ok := get(k); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil || n < 0 {
				return nil, nil, false, badRequestDetail("Bad value passed to filter %s got %s", k, v)
			}
		}
	}
	for _, k := range []string{"protected", "is_public"} {
		if v, ok := get(k); ok && !contains([]string{"none", "true", "false", "1", "0"}, strings.ToLower(v)) {
			return nil, nil, false, badRequestDetail("Bad value passed to filter %s got %s", k, v)
		}
	}
	// The registry's.
	lq := &catalog.ListQuery{Visibility: "all", MemberStatus: "all"}
	for k := range q {
		v, _ := get(k)
		switch {
		case k == "name" || k == "status" || k == "container_format" || k == "disk_format":
			if lq.In == nil {
				lq.In = map[string][]string{}
			}
			lq.In[k] = []string{v}
		case k == "min_ram" || k == "min_disk":
			if lq.Equal == nil {
				lq.Equal = map[string]string{}
			}
			lq.Equal[k] = v
		case k == "size_min" || k == "size_max":
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if lq.Ranges == nil {
				lq.Ranges = map[string]int64{}
			}
			lq.Ranges[k] = n
		case k == "changes-since":
			t, ok := parseISOTime(v)
			if !ok {
				return nil, nil, false, badRequestDetail("Unrecognized changes-since value")
			}
			lq.Times = append(lq.Times, catalog.TimeFilter{Column: "updated_at", Op: "gt", Value: t})
			// As Glance v1: what changed since includes what was
			// deleted or killed since.
			lq.Deleted = catalog.DeletedInclude
		case k == "protected":
			var b bool
			switch strings.ToLower(v) {
			case "true", "1":
				b = true
			case "false", "0":
			default:
				return nil, nil, false, badRequestDetail("protected must be True, or False")
			}
			lq.Protected = &b
		case strings.HasPrefix(k, "property-"):
			if lq.Properties == nil {
				lq.Properties = map[string]string{}
			}
			lq.Properties[k[len("property-"):]] = v
		}
	}
	lq.Limit = a.cfg.LimitDefault
	if v, ok := get("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, nil, false, badRequestDetail("limit param must be an integer")
		}
		if n < 0 {
			return nil, nil, false, badRequestDetail("limit param must be positive")
		}
		lq.Limit = n
	}
	lq.Limit = min(lq.Limit, a.cfg.LimitMax)
	key, desc := "created_at", true
	if v, ok := get("sort_key"); ok {
		if !contains(sortKeys, v) {
			return nil, nil, false, badRequest("Unsupported sort_key. Acceptable values: %s", strings.Join(sortKeys, ", "))
		}
		key = v
	}
	if v, ok := get("sort_dir"); ok {
		if v != "asc" && v != "desc" {
			return nil, nil, false, badRequest("Unsupported sort_dir. Acceptable values: asc, desc")
		}
		desc = v == "desc"
	}
	lq.Sort = []catalog.SortKey{{Key: key, Desc: desc}}
	for _, k := range []string{"created_at", "id"} {
		if k != key {
			lq.Sort = append(lq.Sort, catalog.SortKey{Key: k, Desc: true})
		}
	}
	if v, ok := get("marker"); ok && v != "" {
		if !image.ValidID(v) {
			return nil, nil, false, badRequest("Invalid marker format")
		}
		lq.Marker = v
	}
	// is_public filters for everyone: true keeps only public images,
	// false only the others the caller may see. An admin who does not
	// ask for is_public lists as a regular user, as in Glance.
	c := caller(r)
	dropPublic := false
	v, _ := get("is_public")
	switch strings.ToLower(v) {
	case "true", "1":
		lq.Visibility = string(image.Public)
	case "false", "0":
		dropPublic = true
	case "none":
		// Everything the caller may see; everything, for an admin.
	default:
		if c.IsAdmin {
			user := *c
			user.IsAdmin = false
			c = &user
		}
	}
	return lq, c, dropPublic, nil
}

// list returns one page, leaving out public images when asked (the catalog
// has no "not public" filter, so pages are read until this one is full).
func (a *API) list(ctx context.Context, c *auth.Context, lq *catalog.ListQuery, dropPublic bool) ([]*image.Image, error) {
	imgs, full, err := a.ops.List(ctx, c, lq)
	if err != nil || !dropPublic {
		return imgs, listErr(err)
	}
	want := lq.Limit
	out := []*image.Image{}
	for {
		for _, img := range imgs {
			if img.Visibility != image.Public && len(out) < want {
				out = append(out, img)
			}
		}
		if len(out) >= want || !full || len(imgs) == 0 {
			return out, nil
		}
		next := *lq
		next.Marker = imgs[len(imgs)-1].ID
		if imgs, full, err = a.ops.List(ctx, c, &next); err != nil {
			return nil, listErr(err)
		}
	}
}

func listErr(err error) error {
	if image.Is(image.Invalid, err) || image.Is(image.Forbidden, err) && strings.Contains(image.Message(err), "not visible") {
		return badRequest("Invalid marker. Image could not be found.")
	}
	return err
}

func (a *API) index(w http.ResponseWriter, r *http.Request) error {
	lq, c, drop, err := a.listQuery(r)
	if err != nil {
		return err
	}
	imgs, err := a.list(r.Context(), c, lq, drop)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(imgs))
	for i, img := range imgs {
		out[i] = brief(img)
	}
	writeJSON(w, http.StatusOK, map[string]any{"images": out})
	return nil
}

func (a *API) detail(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodHead {
		w.Header().Set("Allow", "GET")
		return &image.Error{Op: "v1.detail", Kind: image.NotAllowed, Msg: "This operation is currently not permitted on Glance images details."}
	}
	lq, c, drop, err := a.listQuery(r)
	if err != nil {
		return err
	}
	imgs, err := a.list(r.Context(), c, lq, drop)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(imgs))
	for i, img := range imgs {
		out[i] = view(img)
	}
	writeJSON(w, http.StatusOK, map[string]any{"images": out})
	return nil
}

// get returns an image the caller may see, with v1's 404.
func (a *API) get(r *http.Request, id string) (*image.Image, error) {
	img, err := a.ops.Get(r.Context(), caller(r), id)
	if image.Is(image.NotFound, err) {
		return nil, image.D("v1", image.NotFound, "Image with identifier %s not found", id)
	}
	return img, err
}

func (a *API) meta(w http.ResponseWriter, r *http.Request) error {
	img, err := a.get(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	setMetaHeaders(w.Header(), img)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *API) show(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodHead {
		return a.meta(w, r)
	}
	id := r.PathValue("id")
	img, err := a.get(r, id)
	if err != nil {
		return err
	}
	switch img.Status {
	case image.Active:
	case image.Deactivated:
		return image.D("v1", image.Forbidden, "Image %s is deactivated", id)
	default:
		return image.D("v1", image.NotFound, "Image %s is not active", id)
	}
	var rc io.ReadCloser
	size := int64(0)
	if img.Size != nil {
		size = *img.Size
	}
	if img.Size == nil || *img.Size != 0 {
		if img, err = a.ops.DataImage(r.Context(), caller(r), id); err != nil {
			return err
		}
		var stored int64
		rc, stored, err = a.ops.OpenData(r.Context(), img, 0, -1)
		if err != nil {
			return err
		}
		if rc == nil {
			return image.E("v1", image.NotFound, "Image %s not found", id)
		}
		defer rc.Close()
		// The store's size is the length sent, as Glance v1 sent it:
		// the data at an external location is what it is.
		if stored >= 0 {
			size = stored
		}
	}
	h := w.Header()
	setMetaHeaders(h, img)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if rc != nil {
		if _, err := store.Copy(w, rc); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
	return nil
}

// hasBody reports whether a request carries data, as webob decides.
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || r.ContentLength < 0 && len(r.TransferEncoding) > 0
}

// source is where a request's image data comes from besides its body:
// x-glance-api-copy-from or x-image-meta-location (at most one of them,
// and not with a body).
type source struct {
	copyFrom string
	location string
	isCopy   bool
	isLoc    bool
}

// checkRequest runs the checks create and update share, before anything
// is written: headers, sources, store, size cap, content type.
func (a *API) checkRequest(r *http.Request) (*meta, bool, *source, error) {
	m, err := parseMeta(r.Header)
	if err != nil {
		return nil, false, nil, err
	}
	if err := a.validate(m); err != nil {
		return nil, false, nil, err
	}
	data := hasBody(r)
	var src *source
	if m.has("location") {
		src = &source{isLoc: true}
		if p := m.str("location"); p != nil {
			src.location = *p
		}
	}
	if v, ok := r.Header["X-Glance-Api-Copy-From"]; ok {
		if src == nil {
			src = &source{isCopy: true, copyFrom: v[len(v)-1]}
		} else {
			src.copyFrom = v[len(v)-1]
		}
	}
	if src != nil {
		n := 0
		for _, given := range []bool{src.copyFrom != "", src.location != "", data} {
			if given {
				n++
			}
		}
		if n >= 2 {
			return nil, false, nil, badRequest("It's invalid to provide multiple image sources.")
		}
		if src.isLoc && src.location == "" || src.isCopy && src.copyFrom == "" {
			return nil, false, nil, badRequest("External source should not be empty")
		}
	}
	if s := m.str("store"); s != nil && !contains(a.cfg.StoreSchemes, *s) {
		return nil, false, nil, badRequest("Required store %s is invalid", *s)
	}
	size := int64(-1)
	if r.ContentLength > 0 {
		size = r.ContentLength
	} else if m.size != nil {
		size = *m.size
	}
	if size > a.cfg.SizeCap && (src == nil || src.isCopy) {
		return nil, false, nil, badRequest("Denying attempt to upload image larger than %d bytes.", a.cfg.SizeCap)
	}
	if data {
		if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) != "application/octet-stream" {
			return nil, false, nil, badRequest("Content-Type must be application/octet-stream")
		}
	}
	return m, data, src, nil
}

// checkSource vets a request's external source before the image is
// created or changed, and returns the size a location's data has (0 for
// a copy).
func (a *API) checkSource(r *http.Request, m *meta, src *source) (int64, error) {
	if src.isLoc {
		declared := int64(0)
		if m.size != nil {
			declared = *m.size
		}
		return a.ops.CheckLocation(r.Context(), caller(r), src.location, declared)
	}
	return 0, a.ops.CheckCopyFrom(r.Context(), caller(r), src.copyFrom)
}

// startSource fills a queued image from its external source: a location
// activates it at once, a copy starts in the background.
func (a *API) startSource(r *http.Request, id string, m *meta, src *source, locSize int64) error {
	c := caller(r)
	if src.isLoc {
		return a.ops.SetLocation(r.Context(), c, id, src.location, locSize, m.str("checksum"))
	}
	var want imageops.Declared
	if m.size != nil {
		want.Size = *m.size
	}
	if s := m.str("checksum"); s != nil {
		want.Checksum = *s
	}
	return a.ops.StartCopyFrom(r.Context(), c, id, src.copyFrom, want)
}

// formatsFor checks that data may be stored: both formats set, by the
// request or already on the image (nil on create).
func formatsFor(m *meta, img *image.Image) error {
	if m.str("disk_format") == nil && (img == nil || img.DiskFormat == nil || *img.DiskFormat == "") {
		return badRequest("Disk format is not specified.")
	}
	if m.str("container_format") == nil && (img == nil || img.ContainerFormat == nil || *img.ContainerFormat == "") {
		return badRequest("Container format is not specified.")
	}
	return nil
}

func visibilityOf(isPublic bool) image.Visibility {
	if isPublic {
		return image.Public
	}
	return image.Shared
}

func (a *API) create(w http.ResponseWriter, r *http.Request) error {
	m, data, src, err := a.checkRequest(r)
	if err != nil {
		return err
	}
	// The source is vetted before the formats, as Glance v1 did.
	var locSize int64
	if src != nil {
		if locSize, err = a.checkSource(r, m, src); err != nil {
			return unstorable(err, reserveFailed)
		}
	}
	if data || src != nil {
		if err := formatsFor(m, nil); err != nil {
			return err
		}
	}
	later := data || src != nil
	in := &image.Image{Properties: m.props}
	if id := m.str("id"); id != nil {
		if !image.ValidID(*id) {
			return badRequest("Failed to reserve image. Got error: Invalid image id format")
		}
		in.ID = *id
	}
	in.Name = m.str("name")
	in.DiskFormat, in.ContainerFormat = m.str("disk_format"), m.str("container_format")
	if !data {
		in.Checksum = m.str("checksum")
	}
	zero := int64(0)
	in.Size = &zero
	switch {
	case src != nil && src.isLoc:
		in.Size = &locSize
	case m.size != nil && !data:
		in.Size = m.size
	}
	in.VirtualSize = m.virtualSize
	if m.minRAM != nil {
		in.MinRAM = int(*m.minRAM)
	}
	if m.minDisk != nil {
		in.MinDisk = int(*m.minDisk)
	}
	// With data in the body, the image is made protected only once the
	// upload has succeeded: a refused upload must leave nothing, and a
	// protected image could not be cleaned up. An external source is
	// taken at once, so its image is protected from the start (and
	// unprotected again to be removed if the source is refused): a later
	// change would race with a copy running in the background.
	if m.protected != nil && !data {
		in.Protected = *m.protected
	}
	if o := m.str("owner"); o != nil {
		in.Owner = o
	}
	if m.isPublic != nil {
		in.Visibility = visibilityOf(*m.isPublic)
	}
	if err := checkMinimums(in); err != nil {
		return err
	}
	c := caller(r)
	img, err := a.ops.Create(r.Context(), c, in, 0)
	if image.Is(image.Conflict, err) {
		return image.E("v1.create", image.Conflict, "An image with identifier %s already exists", in.ID)
	}
	if err != nil {
		return unstorable(err, reserveFailed)
	}
	switch {
	case later:
		if data {
			err = a.upload(r, img.ID, m)
		} else {
			err = a.startSource(r, img.ID, m, src, locSize)
		}
		if err != nil {
			// The reservation goes too: a refused create leaves nothing.
			// The client is told why the upload failed; a failed
			// clean-up is the operator's business.
			a.discard(r.Context(), c, img)
			return unstorable(err, reserveFailed)
		}
		if data && m.protected != nil && *m.protected {
			if _, err := a.ops.Update(r.Context(), c, img.ID, func(i *image.Image) error {
				i.Protected = true
				return nil
			}, -1); err != nil {
				return err
			}
		}
	case m.size != nil && *m.size == 0:
		// Glance v1 activates an image declared empty at once.
		if _, err := a.ops.Update(r.Context(), c, img.ID, func(i *image.Image) error {
			i.Status = image.Active
			return nil
		}, -1); err != nil {
			return err
		}
	}
	if img, err = a.get(r, img.ID); err != nil {
		return err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	w.Header().Set("Location", scheme+"://"+r.Host+"/v1/images/"+img.ID)
	if img.Checksum != nil {
		w.Header().Set("ETag", *img.Checksum)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"image": view(img)})
	return nil
}

// What v1 says failed when the registry refused an image's metadata.
const (
	reserveFailed = "Failed to reserve image."
	updateFailed  = "Failed to update image metadata."
)

// unstorable words a value the catalog cannot hold (a four-byte
// character) as v1 words the registry's refusal: what failed, then the
// registry's reason.
func unstorable(err error, failed string) error {
	if errors.Is(err, imageops.ErrFourByteUnicode) {
		return badRequest("%s Got error: %s", failed, image.Message(err))
	}
	return err
}

// discard removes the image of a refused create, unprotecting it first.
func (a *API) discard(ctx context.Context, c *auth.Context, img *image.Image) {
	ctx = context.WithoutCancel(ctx)
	if img.Protected {
		if _, err := a.ops.Update(ctx, c, img.ID, func(i *image.Image) error {
			i.Protected = false
			return nil
		}, -1); err != nil {
			slog.Warn("v1: could not unprotect the image of a failed create", "image", img.ID, "error", err)
		}
	}
	if err := a.ops.Delete(ctx, c, img.ID); err != nil {
		slog.Warn("v1: could not delete the image of a failed create", "image", img.ID, "error", err)
	}
}

// checkMinimums refuses min_ram/min_disk the database cannot hold.
func checkMinimums(img *image.Image) error {
	const maxInt32 = 1<<31 - 1
	if img.MinRAM > maxInt32 || img.MinDisk > maxInt32 {
		return badRequest("Failed to reserve image. Got error: min_ram and min_disk must be at most %d", maxInt32)
	}
	return nil
}

// upload stores the request body as the data of a queued image; data
// unlike the declared size or checksum is refused.
func (a *API) upload(r *http.Request, id string, m *meta) error {
	var want imageops.Declared
	if m.size != nil {
		want.Size = *m.size
	}
	if s := m.str("checksum"); s != nil {
		want.Checksum = *s
	}
	size := int64(-1)
	if r.ContentLength > 0 {
		size = r.ContentLength
	}
	return a.ops.UploadDeclared(r.Context(), caller(r), id, r.Body, size, want)
}

func (a *API) update(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	m, data, src, err := a.checkRequest(r)
	if err != nil {
		return err
	}
	c := caller(r)
	orig, err := a.get(r, id)
	if err != nil {
		return err
	}
	if !c.IsAdmin && (orig.Status == image.Active || orig.Status == image.Deactivated) {
		if m.has("size") && !sameInt(m.size, orig.Size) {
			return image.E("v1.update", image.Forbidden, "Forbidden to modify 'size' of %s image.", orig.Status)
		}
		if m.has("checksum") && !image.SameValue(m.str("checksum"), orig.Checksum) {
			return image.E("v1.update", image.Forbidden, "Forbidden to modify 'checksum' of %s image.", orig.Status)
		}
	}
	if m.has("status") && pyStr(m.str("status")) != string(orig.Status) {
		return image.E("v1.update", image.Forbidden, "Forbidden to modify 'status' of image.")
	}
	if m.has("id") && pyStr(m.str("id")) != orig.ID {
		return image.E("v1.update", image.Forbidden, "Forbidden to modify 'id' of image.")
	}
	purge := !data
	if v, ok := r.Header["X-Glance-Registry-Purge-Props"]; ok {
		purge = purge && boolFromString(v[len(v)-1])
	}
	if data && orig.Status != image.Queued {
		return image.D("v1.update", image.Conflict, "Cannot upload to an unqueued image")
	}
	if src != nil && orig.Status != image.Queued {
		// Data is only ever pointed at or fetched for an image that has
		// none (OSSN-0065).
		return badRequest("Attempted to update Location field for an image not in queued status.")
	}
	var locSize int64
	if src != nil {
		if locSize, err = a.checkSource(r, m, src); err != nil {
			return unstorable(err, updateFailed)
		}
	}
	if data || src != nil {
		if err := formatsFor(m, orig); err != nil {
			return err
		}
	}
	var touched []imageops.Touch
	if m.isPublic != nil {
		touched = append(touched, imageops.Touch{Op: "replace", Key: "visibility", Value: string(visibilityOf(*m.isPublic))})
	}
	if m.has("owner") {
		touched = append(touched, imageops.Touch{Op: "replace", Key: "owner"})
	}
	for k := range m.props {
		touched = append(touched, imageops.Touch{Op: "replace", Key: k})
	}
	change := func(img *image.Image) error {
		apply(img, m, purge)
		if img.MinRAM > 1<<31-1 || img.MinDisk > 1<<31-1 {
			return badRequest("Failed to update image metadata. Got error: min_ram and min_disk must be at most %d", 1<<31-1)
		}
		return nil
	}
	img, err := a.ops.Update(r.Context(), c, id, change, -1, touched...)
	if err != nil {
		return unstorable(err, updateFailed)
	}
	if data || src != nil {
		if data {
			err = a.upload(r, id, m)
		} else {
			err = a.startSource(r, id, m, src, locSize)
		}
		if err != nil {
			// Put the metadata back as it was: a refused upload changes
			// nothing.
			if _, rerr := a.ops.Update(context.WithoutCancel(r.Context()), c, id, restore(orig), -1); rerr != nil {
				slog.Warn("v1: could not restore the metadata of a failed upload", "image", id, "error", rerr)
			}
			return unstorable(err, updateFailed)
		}
		if img, err = a.get(r, id); err != nil {
			return err
		}
	}
	if img.Checksum != nil {
		w.Header().Set("ETag", *img.Checksum)
	}
	writeJSON(w, http.StatusOK, map[string]any{"image": view(img)})
	return nil
}

func sameInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// apply sets on img what the request's headers carry.
func apply(img *image.Image, m *meta, purge bool) {
	for k, p := range m.fields {
		switch k {
		case "name":
			img.Name = p
		case "disk_format":
			img.DiskFormat = p
		case "container_format":
			img.ContainerFormat = p
		case "checksum":
			img.Checksum = p
		case "owner":
			img.Owner = p
		}
	}
	if m.has("size") {
		img.Size = m.size
	}
	if m.has("virtual_size") {
		img.VirtualSize = m.virtualSize
	}
	if m.minRAM != nil {
		img.MinRAM = int(*m.minRAM)
	}
	if m.minDisk != nil {
		img.MinDisk = int(*m.minDisk)
	}
	if m.protected != nil {
		img.Protected = *m.protected
	}
	if m.isPublic != nil {
		img.Visibility = visibilityOf(*m.isPublic)
	}
	if purge {
		img.Properties = map[string]*string{}
	}
	for k, v := range m.props {
		img.Properties[k] = v
	}
}

// restore is the change that puts back the metadata of orig.
func restore(orig *image.Image) imageops.Change {
	return func(img *image.Image) error {
		img.Name, img.DiskFormat, img.ContainerFormat = orig.Name, orig.DiskFormat, orig.ContainerFormat
		img.Checksum, img.Size, img.VirtualSize = orig.Checksum, orig.Size, orig.VirtualSize
		img.MinRAM, img.MinDisk, img.Protected = orig.MinRAM, orig.MinDisk, orig.Protected
		img.Owner, img.Visibility = orig.Owner, orig.Visibility
		img.Properties = orig.Clone().Properties
		return nil
	}
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	img, err := a.get(r, id)
	if err != nil {
		return err
	}
	if img.Protected {
		return image.E("v1.delete", image.Forbidden, "Image is protected")
	}
	err = a.ops.Delete(r.Context(), caller(r), id)
	switch {
	case image.Is(image.NotFound, err):
		return image.E("v1.delete", image.NotFound, "Failed to find image to delete: %s", image.Message(err))
	case image.Is(image.Forbidden, err):
		return image.E("v1.delete", image.Forbidden, "Forbidden to delete image: %s", image.Message(err))
	case err != nil:
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}
