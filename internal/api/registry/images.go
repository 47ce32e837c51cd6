package registry

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"glimpse/internal/auth"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// show is GET /images/{id}.
func (a *API) show(w http.ResponseWriter, r *http.Request) error {
	c := caller(r)
	img, err := a.ops.Get(r.Context(), c, r.PathValue("id"))
	if image.Is(image.NotFound, err) {
		// The registry never says why.
		return image.E("registry.show", image.NotFound, "")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wrapImage(img, c.IsAdmin))
	return nil
}

// refuseLocations answers a request that sets image locations, which
// glimpse only records from its own data path.
func refuseLocations(op string, in map[string]any) error {
	for _, k := range []string{"location", "locations", "location_data"} {
		switch v := in[k].(type) {
		case nil:
		case []any:
			if len(v) == 0 {
				continue
			}
			return image.D(op, image.Invalid, "Image locations cannot be set through the registry.")
		default:
			return image.D(op, image.Invalid, "Image locations cannot be set through the registry.")
		}
	}
	return nil
}

// readOnlyAttrs are the attributes only an admin may set through the
// registry: the data path and the lifecycle own them.
var readOnlyAttrs = []string{"status", "size", "checksum", "virtual_size", "deleted", "deleted_at"}

// readOnly is Glance's ReadonlyProperty refusal.
func readOnly(op, k string) error {
	return image.E(op, image.Forbidden, "Attribute '%s' is read-only.", k)
}

// sameReadOnly reports whether the request sets the read-only attribute
// k to the value img already has.
func sameReadOnly(k string, at *attrs, in map[string]any, img *image.Image) bool {
	sameInt := func(a, b *int64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	switch k {
	case "status":
		return at.status == string(img.Status)
	case "size":
		return sameInt(at.size, img.Size)
	case "virtual_size":
		return sameInt(at.vsize, img.VirtualSize)
	case "checksum":
		return image.SameValue(at.checksum, img.Checksum)
	case "deleted":
		b, ok := in["deleted"].(bool)
		return ok && b == img.Deleted
	case "deleted_at":
		return in["deleted_at"] == nil && img.DeletedAt == nil
	}
	return false
}

// create is POST /images: it registers an image, queued for everyone but
// an admin, who may give its status (active by default) and its data
// attributes.
func (a *API) create(w http.ResponseWriter, r *http.Request) error {
	const op = "registry.create"
	ctx := r.Context()
	c := caller(r)
	in, _, err := imageBody(r)
	if err != nil {
		return err
	}
	id := ""
	if v, ok := in["id"]; ok && v != nil {
		s, _ := v.(string)
		// Only the canonical form: the id is stored as sent, and the
		// other APIs look images up by it.
		if !image.ValidID(s) || s != strings.ToLower(s) {
			return badRequest(op, "Invalid image id format")
		}
		id = s
	}
	if !c.IsAdmin {
		for _, k := range readOnlyAttrs {
			if _, ok := in[k]; ok {
				return readOnly(op, k)
			}
		}
	}
	if err := refuseLocations(op, in); err != nil {
		return err
	}
	at, err := parseAttrs(in)
	if err == nil && !at.has("status") {
		at.status = "active"
		if !c.IsAdmin {
			at.status = string(image.Queued)
		}
	}
	if err == nil && !slices.Contains(seedStatuses, at.status) {
		err = invalidf("Invalid image status '%s' for image.", at.status)
	}
	if err == nil {
		err = a.checkFormats(at, at.disk, at.container)
	}
	if err != nil {
		return image.D(op, image.Invalid, "Failed to add image metadata. Got error: %s", err)
	}
	if k := at.reservedProperty(); k != "" {
		return image.E(op, image.Forbidden, "Attribute '%s' is reserved.", k)
	}
	img := &image.Image{
		ID: id, Name: at.name, Visibility: at.visibility, Protected: at.protected,
		DiskFormat: at.disk, ContainerFormat: at.container, Checksum: at.checksum,
		Size: at.size, VirtualSize: at.vsize, MinDisk: at.minDisk, MinRAM: at.minRAM,
		Properties: at.props,
	}
	if img.Visibility == "" {
		img.Visibility = image.Shared
	}
	// Only an admin names the owner; everyone else owns what they
	// register.
	if c.IsAdmin && at.has("owner") {
		img.Owner = at.owner
	} else if c.ProjectID != "" {
		img.Owner = image.Str(c.ProjectID)
	}
	created, err := a.ops.Create(ctx, c, img, 0)
	if image.Is(image.Conflict, err) {
		return image.D(op, image.Conflict, "Image with identifier %s already exists!", id)
	}
	if errors.Is(err, imageops.ErrFourByteUnicode) {
		return image.D(op, image.Invalid, "Failed to add image metadata. Got error: %s", image.Message(err))
	}
	if err != nil {
		return err
	}
	if status := image.Status(at.status); status != created.Status {
		newID := created.ID
		created, err = a.ops.Update(ctx, c, newID, func(img *image.Image) error {
			img.Status = status
			return nil
		}, -1)
		if err != nil {
			// Leave nothing half-registered behind.
			a.ops.Delete(context.WithoutCancel(ctx), c, newID)
			return err
		}
	}
	writeJSON(w, http.StatusOK, wrapImage(created, c.IsAdmin))
	return nil
}

// errFromState refuses an update whose expected status is not the
// image's.
var errFromState = errors.New("registry: image is not in the expected status")

// mutable answers for an image the caller may see but not change as the
// registry does: a 403 for a public or community image, otherwise as if
// it did not exist (notFound).
func mutable(c *auth.Context, img *image.Image, notFound error) error {
	if c.IsAdmin || (c.ProjectID != "" && img.OwnerID() == c.ProjectID) {
		return nil
	}
	if img.Visibility == image.Public || img.Visibility == image.Community {
		return image.E("registry", image.Forbidden, "")
	}
	return notFound
}

// plainError is an error the registry answers with a literal text body.
type plainError struct {
	status int
	body   string
}

func (e *plainError) Error() string { return e.body }

// update is PUT /images/{id}: it sets the attributes the document gives;
// with X-Glance-Registry-Purge-Props: true, properties it does not name
// are removed. from_state beside "image" makes the update conditional on
// the image's status.
func (a *API) update(w http.ResponseWriter, r *http.Request) error {
	err := a.doUpdate(w, r)
	var pe *plainError
	if errors.As(err, &pe) {
		writePlain(w, pe.status, pe.body)
		return nil
	}
	return err
}

func (a *API) doUpdate(w http.ResponseWriter, r *http.Request) error {
	const op = "registry.update"
	ctx := r.Context()
	c := caller(r)
	id := r.PathValue("id")
	notFound := &plainError{http.StatusNotFound, "Image not found"}
	in, body, err := imageBody(r)
	if err != nil {
		return err
	}
	fromState := ""
	if v, ok := body["from_state"].(string); ok {
		fromState = v
	}
	purge := r.Header.Get("X-Glance-Registry-Purge-Props") == "true"
	if err := refuseLocations(op, in); err != nil {
		return err
	}
	at, err := parseAttrs(in)
	if err == nil && at.has("status") && !slices.Contains(image.Statuses, image.Status(at.status)) {
		err = invalidf("Invalid image status '%s' for image.", at.status)
	}
	if err != nil {
		return image.D(op, image.Invalid, "Failed to update image metadata. Got error: %s", err)
	}
	if !c.IsAdmin {
		// Only an admin may give an image away; others' owner is
		// ignored.
		delete(at.set, "owner")
	}
	if k := at.reservedProperty(); k != "" {
		return image.E(op, image.Forbidden, "Attribute '%s' is reserved.", k)
	}
	cur, err := a.ops.Get(ctx, c, id)
	if image.Is(image.NotFound, err) {
		return notFound
	}
	if err != nil {
		return err
	}
	if err := mutable(c, cur, notFound); err != nil {
		return err
	}
	var touched []imageops.Touch
	if at.has("owner") {
		touched = append(touched, imageops.Touch{Op: "replace", Key: "owner"})
	}
	if at.visibility != "" {
		touched = append(touched, imageops.Touch{Op: "replace", Key: "visibility", Value: string(at.visibility)})
	}
	for k := range at.props {
		opName := "add"
		if _, ok := cur.Properties[k]; ok {
			opName = "replace"
		}
		touched = append(touched, imageops.Touch{Op: opName, Key: k})
	}
	if purge {
		for k := range cur.Properties {
			if _, kept := at.props[k]; !kept {
				touched = append(touched, imageops.Touch{Op: "remove", Key: k})
			}
		}
	}
	// An admin's move between active and deactivated is the deactivate
	// or reactivate action, with its policy; it is made first, so that a
	// refusal changes nothing.
	var toggled func(context.Context) error
	if c.IsAdmin && at.has("status") && image.Status(at.status) != cur.Status {
		var toggle func(context.Context, *auth.Context, string) error
		switch {
		case cur.Status == image.Active && at.status == string(image.Deactivated):
			toggle, toggled = a.ops.Deactivate, func(ctx context.Context) error { return a.ops.Reactivate(ctx, c, id) }
		case cur.Status == image.Deactivated && at.status == string(image.Active):
			toggle, toggled = a.ops.Reactivate, func(ctx context.Context) error { return a.ops.Deactivate(ctx, c, id) }
		}
		if toggle != nil {
			if fromState != "" && string(cur.Status) != fromState {
				return &plainError{http.StatusConflict, "Image operation conflicts"}
			}
			trial := cur.Clone()
			a.apply(trial, at, purge)
			if err := a.checkFormats(at, trial.DiskFormat, trial.ContainerFormat); err != nil {
				return image.D(op, image.Invalid, "Failed to update image metadata. Got error: %s", err)
			}
			if err := toggle(ctx, c, id); err != nil {
				return err
			}
			// The rest of the update expects the status just set.
			fromState = at.status
			delete(at.set, "status")
		}
	}
	change := func(img *image.Image) error {
		if fromState != "" && string(img.Status) != fromState {
			return errFromState
		}
		if !c.IsAdmin {
			for _, k := range readOnlyAttrs {
				if at.has(k) && !sameReadOnly(k, at, in, img) {
					return readOnly(op, k)
				}
			}
		} else if at.has("status") && at.status == string(image.Queued) && img.Status != image.Queued && len(img.Locations) > 0 {
			// Back to queued would invite a second upload over the data.
			return readOnly(op, "status")
		}
		a.apply(img, at, purge)
		if err := a.checkFormats(at, img.DiskFormat, img.ContainerFormat); err != nil {
			return err
		}
		return nil
	}
	updated, err := a.ops.Update(ctx, c, id, change, -1, touched...)
	if err != nil && toggled != nil {
		// Undo the status move; the rest of the update was refused.
		toggled(context.WithoutCancel(ctx))
	}
	var inv *invalid
	switch {
	case err == nil:
	case errors.As(err, &inv):
		return image.D(op, image.Invalid, "Failed to update image metadata. Got error: %s", inv.msg)
	case errors.Is(err, imageops.ErrFourByteUnicode):
		return image.D(op, image.Invalid, "Failed to update image metadata. Got error: %s", image.Message(err))
	case errors.Is(err, errFromState), image.Is(image.Conflict, err):
		return &plainError{http.StatusConflict, "Image operation conflicts"}
	case image.Is(image.NotFound, err):
		return notFound
	default:
		return err
	}
	writeJSON(w, http.StatusOK, wrapImage(updated, c.IsAdmin))
	return nil
}

// apply sets the attributes a request names on img.
func (a *API) apply(img *image.Image, at *attrs, purge bool) {
	if at.has("name") {
		img.Name = at.name
	}
	if at.has("status") {
		img.Status = image.Status(at.status)
	}
	if at.has("size") {
		img.Size = at.size
	}
	if at.has("virtual_size") {
		img.VirtualSize = at.vsize
	}
	if at.has("disk_format") {
		img.DiskFormat = at.disk
	}
	if at.has("container_format") {
		img.ContainerFormat = at.container
	}
	if at.has("checksum") {
		img.Checksum = at.checksum
	}
	if at.has("min_disk") {
		img.MinDisk = at.minDisk
	}
	if at.has("min_ram") {
		img.MinRAM = at.minRAM
	}
	if at.has("protected") {
		img.Protected = at.protected
	}
	if at.has("owner") {
		img.Owner = at.owner
	}
	if at.visibility != "" {
		img.Visibility = at.visibility
	}
	if purge {
		for k := range img.Properties {
			if _, kept := at.props[k]; !kept {
				delete(img.Properties, k)
			}
		}
	}
	for k, v := range at.props {
		img.Properties[k] = v
	}
}

// delete is DELETE /images/{id}: it answers with the image as deleted.
func (a *API) delete(w http.ResponseWriter, r *http.Request) error {
	const op = "registry.delete"
	ctx := r.Context()
	c := caller(r)
	id := r.PathValue("id")
	hidden := image.E(op, image.NotFound, "")
	img, err := a.ops.Get(ctx, c, id)
	if image.Is(image.NotFound, err) {
		return hidden
	}
	if err != nil {
		return err
	}
	if err := mutable(c, img, hidden); err != nil {
		return err
	}
	if err := a.ops.Delete(ctx, c, id); err != nil {
		return err
	}
	gone := img.Clone()
	now := time.Now().UTC()
	gone.Status = image.Deleted
	if a.cfg.DelayedDelete && len(img.Locations) > 0 {
		gone.Status = image.PendingDelete
	}
	gone.Deleted, gone.DeletedAt, gone.UpdatedAt = true, &now, now
	gone.Locations = nil
	writeJSON(w, http.StatusOK, wrapImage(gone, c.IsAdmin))
	return nil
}
