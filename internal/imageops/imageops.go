// Package imageops holds the image use cases every API shares (create,
// show, list, update, delete, status changes, tags, members) with the
// ownership and visibility rules Glance applies, so the v2, v1, registry
// and compute APIs cannot drift apart.
package imageops

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/image"
	"glimpse/internal/policy"
	"glimpse/internal/propprotect"
)

// Limits are the per-image quotas; a negative value means unlimited.
type Limits struct {
	Properties int
	Tags       int
	Members    int
}

// Service runs the use cases over a catalog.
type Service struct {
	cat    catalog.Catalog
	limits Limits
	data   DataConfig
	now    func() time.Time
	pol    *policy.Enforcer
	legacy bool               // Glance's code-level ownership checks apply
	props  *propprotect.Rules // nil: no property protections
	locs   LocationConfig     // show_multiple_locations and friends

	imports *importer // nil: stage and import are off
}

// New returns a Service.
func New(cat catalog.Catalog, limits Limits, opts ...Option) *Service {
	s := &Service{cat: cat, limits: limits, legacy: true, now: func() time.Time { return time.Now().UTC() }}
	for _, o := range opts {
		o(s)
	}
	if s.pol == nil {
		s.pol = defaultPolicy()
	}
	return s
}

// Catalog exposes the catalog for read paths that need nothing more.
func (s *Service) Catalog() catalog.Catalog { return s.cat }

// scopeOf is the list scope of a caller.
func scopeOf(c *auth.Context) catalog.Scope {
	return catalog.Scope{Admin: c.IsAdmin, Project: c.ProjectID}
}

// catalogErr maps catalog sentinels to domain errors with Glance's wording.
func catalogErr(op, id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, catalog.ErrNotFound):
		return image.E(op, image.NotFound, "No image found with ID %s", id)
	case errors.Is(err, catalog.ErrConflict):
		return &image.Error{Op: op, Kind: image.Conflict, Msg: "Image " + id + " changed while the request ran; retry it.", Err: err}
	case errors.Is(err, catalog.ErrUnavailable):
		return &image.Error{Op: op, Kind: image.Unavailable, Err: err}
	case errors.Is(err, catalog.ErrInvalid):
		return &image.Error{Op: op, Kind: image.Invalid, Msg: "The database cannot store a value of this request.", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &image.Error{Op: op, Kind: image.Unavailable, Err: err}
	}
	return &image.Error{Op: op, Kind: image.Internal, Err: err}
}

// checkUpdate runs the checks every change of an image passes before it
// is written — owner, visibility, property protections, quotas, 4-byte
// characters — and keeps the hidden properties the caller could not see
// (view is old as the caller sees it, img the caller's change of view).
func (s *Service) checkUpdate(op string, c *auth.Context, old, view, img *image.Image, touched []Touch, attemptedTags int) error {
	if img.OwnerID() != old.OwnerID() && !c.IsAdmin {
		return image.D(op, image.Forbidden, "Owner can't be updated by non admin.")
	}
	if img.Visibility != old.Visibility && !slices.ContainsFunc(touched, func(t Touch) bool { return t.Key == "visibility" }) {
		if err := s.checkVisibility(op, c, img.Visibility, s.imageTarget(c, old)); err != nil {
			return err
		}
	}
	if err := s.checkPropertyChanges(op, c, view, img, touched); err != nil {
		return err
	}
	keepHidden(old, view, img)
	if err := s.checkQuotas(op, old, img, attemptedTags); err != nil {
		return err
	}
	return checkFourByte(op, old, img)
}

// visible reports whether the caller may see img at all (Glance's
// is_image_visible): admins everything, owners their own, everyone public
// and community images, members the shared images they belong to.
func (s *Service) visible(ctx context.Context, c *auth.Context, img *image.Image) (bool, error) {
	if c.IsAdmin || img.Owner == nil {
		// Glance shows owner-less images to everyone.
		return true, nil
	}
	switch img.Visibility {
	case image.Public, image.Community:
		return true, nil
	}
	if c.ProjectID == "" {
		return false, nil
	}
	if img.OwnerID() == c.ProjectID {
		return true, nil
	}
	if img.Visibility != image.Shared {
		return false, nil
	}
	_, err := s.cat.GetMember(ctx, img.ID, c.ProjectID)
	if errors.Is(err, catalog.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// mutable reports whether the caller may change img: admins, and the owner
// project (Glance's is_image_mutable). It is a legacy check: with the new
// policy defaults the rules alone decide.
func (s *Service) mutable(c *auth.Context, img *image.Image) bool {
	return !s.legacy || c.IsAdmin || (c.ProjectID != "" && img.OwnerID() == c.ProjectID)
}

// Get returns an image the caller may see, without the properties it may
// not read; others are NotFound, as Glance hides their existence.
func (s *Service) Get(ctx context.Context, c *auth.Context, id string) (*image.Image, error) {
	const op = "imageops.Get"
	img, err := s.load(ctx, c, op, id)
	if err != nil {
		return nil, err
	}
	if err := s.enforce(op, c, "get_image", img); err != nil {
		return nil, err
	}
	return s.readable(c, img), nil
}

// load returns a whole image the catalog shows the caller. Policy rules
// are the caller's to check: as in Glance, only showing and listing ask
// get_image; for other rules it only decides between 403 and 404.
func (s *Service) load(ctx context.Context, c *auth.Context, op, id string) (*image.Image, error) {
	img, err := s.cat.GetImage(ctx, id)
	if err != nil {
		return nil, catalogErr(op, id, err)
	}
	ok, err := s.visible(ctx, c, img)
	if err != nil {
		return nil, catalogErr(op, id, err)
	}
	if !ok {
		return nil, image.E(op, image.NotFound, "No image found with ID %s", id)
	}
	return img, nil
}

// List returns one page; the query's scope is set from the caller. full
// reports whether the catalog filled the page before the policy dropped
// rows: the page then has a next one, as Glance decides.
func (s *Service) List(ctx context.Context, c *auth.Context, q *catalog.ListQuery) (imgs []*image.Image, full bool, err error) {
	const op = "imageops.List"
	if !s.allowed("get_images", c, map[string]string{"project_id": orNone(c.ProjectID)}) {
		return nil, false, ruleDenied(op, "get_images")
	}
	q.Scope = scopeOf(c)
	// With stores configured by name, a listed image shows its stores,
	// which its locations tell; with locations or direct_url shown, them.
	q.WithLocations = s.data.MultiStore || s.locs.Show || s.locs.DirectURL
	imgs, err = s.cat.ListImages(ctx, q)
	if errors.Is(err, catalog.ErrMarkerNotFound) {
		return nil, false, image.E(op, image.Invalid, "No image found with ID %s", q.Marker)
	}
	if errors.Is(err, catalog.ErrMarkerForbidden) {
		return nil, false, image.E(op, image.Forbidden, "Forbidding request, image %s not visible", q.Marker)
	}
	if err != nil {
		return nil, false, catalogErr(op, "", err)
	}
	full = q.Limit >= 0 && len(imgs) == q.Limit
	return s.listable(c, imgs), full, nil
}

// listable keeps the rows the caller passes get_image for, each without
// the properties it may not read.
func (s *Service) listable(c *auth.Context, imgs []*image.Image) []*image.Image {
	filter := !s.trivial("get_image")
	if !filter && s.props == nil {
		return imgs
	}
	out := imgs[:0]
	for _, img := range imgs {
		if filter && !s.allowed("get_image", c, s.imageTarget(c, img)) {
			continue
		}
		out = append(out, s.readable(c, img))
	}
	return out
}

// Create stores a new queued image. in carries the requested attributes;
// unset ones get Glance's defaults. attemptedTags is the number of tags the
// client sent, duplicates included, as Glance counts them against the quota.
func (s *Service) Create(ctx context.Context, c *auth.Context, in *image.Image, attemptedTags int) (*image.Image, error) {
	const op = "imageops.Create"
	img := in.Clone()
	if img.ID == "" {
		img.ID = uuid.NewString()
	}
	if img.Owner == nil && c.ProjectID != "" {
		p := c.ProjectID
		img.Owner = &p
	}
	target := newImageTarget(img.OwnerID(), img.Visibility)
	if !s.allowed("add_image", c, target) {
		if img.OwnerID() != c.ProjectID {
			return nil, image.E(op, image.Forbidden, "You are not permitted to create images owned by '%s'", img.OwnerID())
		}
		return nil, ruleDenied(op, "add_image")
	}
	if err := s.checkVisibility(op, c, image.Visibility(target["visibility"]), target); err != nil {
		return nil, err
	}
	if s.legacy && !c.IsAdmin && img.OwnerID() != c.ProjectID {
		return nil, image.E(op, image.Forbidden, "You are not permitted to create images owned by '%s'.", img.OwnerID())
	}
	if err := s.checkPropertyChanges(op, c, nil, img, nil); err != nil {
		return nil, err
	}
	if img.Visibility == "" {
		img.Visibility = image.Shared
	}
	img.Status = image.Queued
	now := s.now()
	img.CreatedAt, img.UpdatedAt = now, now
	if img.Properties == nil {
		img.Properties = map[string]*string{}
	}
	if img.Tags == nil {
		img.Tags = []string{}
	}
	if err := s.checkQuotas(op, nil, img, max(attemptedTags, len(img.Tags))); err != nil {
		return nil, err
	}
	// Last, as Glance's database layer checks it: nothing is stored.
	if err := checkFourByte(op, nil, img); err != nil {
		return nil, err
	}
	err := s.cat.CreateImage(ctx, img)
	if errors.Is(err, catalog.ErrDuplicate) {
		return nil, image.E(op, image.Conflict, "Image ID %s already exists!", img.ID)
	}
	if err != nil {
		return nil, catalogErr(op, img.ID, err)
	}
	return s.readable(c, img), nil
}

// checkQuotas enforces the property and tag quotas on img, which replaces
// old (nil for a new image). As in Glance, an edit that adds no property
// and sets no tag is not checked, so an image left over a lowered quota can
// still be renamed or trimmed. attemptedTags is the number of tags the
// client sent (Glance counts duplicates too), -1 when it sent none.
func (s *Service) checkQuotas(op string, old, img *image.Image, attemptedTags int) error {
	addsProperty := old == nil
	if old != nil {
		for k := range img.Properties {
			if _, ok := old.Properties[k]; !ok {
				addsProperty = true
				break
			}
		}
	}
	if q := s.limits.Properties; q >= 0 && addsProperty && len(img.Properties) > q {
		return image.E(op, image.TooLarge, "The limit has been exceeded on the number of allowed image properties. Attempted: %d, Maximum: %d", len(img.Properties), q)
	}
	if attemptedTags < 0 {
		for _, t := range img.Tags {
			if old == nil || !slices.Contains(old.Tags, t) {
				attemptedTags = len(img.Tags)
				break
			}
		}
	}
	if q := s.limits.Tags; q >= 0 && attemptedTags > q {
		return image.E(op, image.TooLarge, "The limit has been exceeded on the number of allowed image tags. Attempted: %d, Maximum: %d", attemptedTags, q)
	}
	return nil
}

// Change is an edit of an image, applied to a copy; it returns an error
// to refuse the edit.
type Change func(img *image.Image) error

// Update applies change to the image and stores the result in one
// transaction guarded by the status it was loaded in. attemptedTags is
// the tag count the client asked for (-1 when the change does not set tags).
//
// touched names what the edit sets, in request order, so that the checks
// Glance makes per change (owner, visibility, property protections) run
// even when a value is set to what it already was.
func (s *Service) Update(ctx context.Context, c *auth.Context, id string, change Change, attemptedTags int, touched ...Touch) (*image.Image, error) {
	return s.update(ctx, c, id, change, attemptedTags, touched, "You do not own this image", s.load)
}

// Touch is one attribute or property an edit sets or removes.
type Touch struct {
	Op  string // add, replace or remove
	Key string
	// Value is the new value of visibility, the one attribute whose
	// value decides a rule before the edit is applied.
	Value string
}

// loader loads the image a use case works on, with the wording of a
// missing image that its route uses.
type loader func(ctx context.Context, c *auth.Context, op, id string) (*image.Image, error)

// update is Update with the refusal Glance words per route for callers
// who may see the image but not change it.
func (s *Service) update(ctx context.Context, c *auth.Context, id string, change Change, attemptedTags int, touched []Touch, denied string, load loader) (*image.Image, error) {
	const op = "imageops.Update"
	old, err := load(ctx, c, op, id)
	if err != nil {
		return nil, err
	}
	modify := func() error {
		if err := s.enforce(op, c, "modify_image", old); err != nil {
			return err
		}
		if !s.mutable(c, old) {
			return image.E(op, image.Forbidden, "%s", denied)
		}
		return nil
	}
	if len(touched) == 0 {
		if err := modify(); err != nil {
			return nil, err
		}
	}
	// Glance checks each change before it applies it: an owner change
	// by a non-admin, then the visibility rule, then modify_image (the
	// same for every change, so asked once).
	for i, t := range touched {
		if t.Key == "owner" && t.Op == "replace" && !c.IsAdmin {
			return nil, image.D(op, image.Forbidden, "Owner can't be updated by non admin.")
		}
		if t.Key == "visibility" && t.Op != "remove" {
			if err := s.checkVisibility(op, c, image.Visibility(t.Value), s.imageTarget(c, old)); err != nil {
				return nil, err
			}
		}
		if i == 0 {
			if err := modify(); err != nil {
				return nil, err
			}
		}
	}
	view := s.readable(c, old)
	img := view.Clone()
	if err := change(img); err != nil {
		return nil, err
	}
	if err := s.checkUpdate(op, c, old, view, img, touched, attemptedTags); err != nil {
		return nil, err
	}
	img.UpdatedAt = s.now()
	if err := s.cat.UpdateImage(ctx, old, img); err != nil {
		return nil, catalogErr(op, id, err)
	}
	return s.readable(c, img), nil
}

// Delete soft-deletes an image the caller owns (or any, for admins).
func (s *Service) Delete(ctx context.Context, c *auth.Context, id string) error {
	const op = "imageops.Delete"
	img, err := s.load(ctx, c, op, id)
	if err != nil {
		return err
	}
	if err := s.enforce(op, c, "delete_image", img); err != nil {
		return err
	}
	if !s.mutable(c, img) {
		return image.E(op, image.Forbidden, "You do not own this image")
	}
	if img.Protected {
		return image.E(op, image.Forbidden, "Image %s is protected and cannot be deleted.", id)
	}
	// As Glance: only an image with data waits for the scrubber.
	if s.data.DelayedDelete && len(img.Locations) > 0 {
		return catalogErr(op, id, s.cat.DeleteImageDelayed(ctx, id, img.Status))
	}
	if err := s.cat.DeleteImage(ctx, id, img.Status); err != nil {
		return catalogErr(op, id, err)
	}
	bg := context.WithoutCancel(ctx)
	if rl, ok := s.cat.(removedLocations); ok {
		// A copy-image may have added a location after img was read;
		// the delete removed it too, and its data must go with it.
		if locs, err := rl.RemovedLocations(bg, id); err == nil {
			img = img.Clone()
			for _, l := range locs {
				if !slices.ContainsFunc(img.Locations, func(k image.Location) bool { return k.URL == l.URL }) {
					img.Locations = append(img.Locations, l)
				}
			}
		}
	}
	s.deleteData(bg, img)
	if img.Status == image.Uploading || img.Status == image.Importing {
		s.unstage(context.WithoutCancel(ctx), id)
	}
	return nil
}

// removedLocations is the catalog capability Delete uses to find every
// location a delete removed.
type removedLocations interface {
	RemovedLocations(ctx context.Context, imageID string) ([]image.Location, error)
}

// Deactivate moves an active image to deactivated (a no-op when it already
// is).
func (s *Service) Deactivate(ctx context.Context, c *auth.Context, id string) error {
	return s.toggle(ctx, c, id, "deactivate", image.Active, image.Deactivated)
}

// Reactivate moves a deactivated image back to active (a no-op when it
// already is).
func (s *Service) Reactivate(ctx context.Context, c *auth.Context, id string) error {
	return s.toggle(ctx, c, id, "reactivate", image.Deactivated, image.Active)
}

func (s *Service) toggle(ctx context.Context, c *auth.Context, id, action string, from, to image.Status) error {
	op := "imageops." + action
	img, err := s.load(ctx, c, op, id)
	if err != nil {
		return err
	}
	if err := s.enforce(op, c, action, img); err != nil {
		return err
	}
	if !s.mutable(c, img) {
		return image.E(op, image.Forbidden, "You do not own this image")
	}
	switch img.Status {
	case to:
		return nil
	case from:
		return catalogErr(op, id, s.cat.SetStatus(ctx, id, from, to))
	}
	return image.E(op, image.Forbidden, "Not allowed to %s image in status '%s'", action, img.Status)
}

// AddTag adds one tag (idempotent).
func (s *Service) AddTag(ctx context.Context, c *auth.Context, id, tag string) error {
	_, err := s.update(ctx, c, id, func(img *image.Image) error {
		for _, t := range img.Tags {
			if t == tag {
				return nil
			}
		}
		img.Tags = append(img.Tags, tag)
		if q := s.limits.Tags; q >= 0 && len(img.Tags) > q {
			return image.E("imageops.AddTag", image.TooLarge, "Image tag limit exceeded for image %s: The limit has been exceeded on the number of allowed image tags. Attempted: %d, Maximum: %d:", id, len(img.Tags), q)
		}
		return nil
	}, -1, nil, "Not allowed to update tags for image "+id+".", s.memberImage)
	return err
}

// DeleteTag removes one tag; NotFound when the image does not have it.
func (s *Service) DeleteTag(ctx context.Context, c *auth.Context, id, tag string) error {
	_, err := s.update(ctx, c, id, func(img *image.Image) error {
		for i, t := range img.Tags {
			if t == tag {
				img.Tags = append(img.Tags[:i], img.Tags[i+1:]...)
				return nil
			}
		}
		// Glance answers an absent tag with the generic 404 text.
		return image.E("imageops.DeleteTag", image.NotFound, "")
	}, -1, nil, "Not allowed to delete tags for image "+id+".", s.memberImage)
	return err
}
