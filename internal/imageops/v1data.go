package imageops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/image"
	"glimpse/internal/store"
)

// The use cases only the Images v1 API has: filling an image from a URI
// (x-glance-api-copy-from), pointing it at data elsewhere
// (x-image-meta-location), and memberships whose can_share flag lets a
// member share the image further.

// externalSource refuses an external source (copy_from or location) that
// is empty or not a web address, in Glance v1's words. Only http and https
// pass: file://, filesystem:// and swift+config:// would name the
// server's own disks or credentials (OSSA-2014-041, OSSA-2015-002), and
// glimpse reads external data over HTTP only.
func externalSource(op, uri string) error {
	if uri == "" {
		return image.E(op, image.Invalid, "External source should not be empty")
	}
	switch store.Scheme(uri) {
	case "http", "https":
		return nil
	}
	return image.E(op, image.Invalid, "External sources are not supported: '%s'", uri)
}

// passesFilter asks the import URI filter about uri, resolving its host
// name when the filter can, as web-download's request-time check does.
func (s *Service) passesFilter(ctx context.Context, uri string) bool {
	if s.imports == nil || s.imports.cfg.Fetch == nil {
		return false
	}
	f := s.imports.cfg.Fetch
	if cc, ok := f.(contextChecker); ok {
		return cc.CheckContext(ctx, uri) == nil
	}
	return f.Check(uri) == nil
}

// CheckCopyFrom vets an x-glance-api-copy-from URI before anything is
// created: the copy_from rule, an http or https URI, and the import URI
// filter web-download goes through (OSSN-0078: copy_from once let users
// probe the cloud's internal network).
func (s *Service) CheckCopyFrom(ctx context.Context, c *auth.Context, uri string) error {
	const op = "imageops.CheckCopyFrom"
	if err := s.Authorize(op, c, "copy_from"); err != nil {
		return err
	}
	if err := externalSource(op, uri); err != nil {
		return err
	}
	if s.imports == nil || s.imports.cfg.Fetch == nil {
		// Nothing here can fetch it.
		return image.E(op, image.Invalid, "External sources are not supported: '%s'", uri)
	}
	if !s.passesFilter(ctx, uri) {
		return image.E(op, image.Invalid, "URI for copy_from does not pass filtering: %s", uri)
	}
	return nil
}

// StartCopyFrom fills a queued image from uri in the background, as Glance
// v1 did for x-glance-api-copy-from: the data is fetched through the
// import URI filter (every redirect checked, the resolved addresses
// pinned), then stored as an upload stores it (queued → saving → active,
// hashed and inspected in one pass, want checked). The checks that can
// fail at once (rules, ownership, status, formats, the URI) run before it
// returns; a failure in the background kills the image, as Glance v1 did,
// except when the service is stopping: the image is then left queued.
func (s *Service) StartCopyFrom(ctx context.Context, c *auth.Context, id, uri string, want Declared) error {
	const op = "imageops.StartCopyFrom"
	if s.imports == nil || s.imports.cfg.Fetch == nil || s.data.Stores == nil {
		return image.E(op, image.Invalid, "External sources are not supported: '%s'", uri)
	}
	img, err := s.load(ctx, c, op, id)
	if err != nil {
		return err
	}
	for _, rule := range []string{"copy_from", "upload_image"} {
		if err := s.enforce(op, c, rule, img); err != nil {
			return err
		}
	}
	if err := s.checkUploadable(op, c, img); err != nil {
		return err
	}
	if err := externalSource(op, uri); err != nil {
		return err
	}
	if s.imports.cfg.Fetch.Check(uri) != nil {
		return image.E(op, image.Invalid, "URI for copy_from does not pass filtering: %s", uri)
	}
	caller := *c
	s.imports.wg.Add(1)
	go func() {
		defer s.imports.wg.Done()
		s.imports.slots <- struct{}{}
		defer func() { <-s.imports.slots }()
		s.copyFrom(&caller, id, uri, want)
	}()
	return nil
}

// copyFrom is the background half of StartCopyFrom.
func (s *Service) copyFrom(c *auth.Context, id, uri string, want Declared) {
	ctx := s.imports.ctx
	err := ctx.Err()
	if err == nil {
		var rc io.ReadCloser
		rc, err = s.imports.cfg.Fetch.Open(ctx, uri, s.data.SizeCap)
		if err == nil {
			err = s.upload(ctx, c, id, "", rc, -1, want)
			rc.Close()
		}
	}
	if err == nil {
		return
	}
	bg := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		// Stopped, not failed: the upload put the image back to queued,
		// and a new copy_from may fill it.
		s.log().Warn("copy_from interrupted by shutdown", "image", id)
		return
	}
	s.log().Warn("copy_from failed", "image", id, "error", err)
	// Glance v1 kills an image whose copy failed; the upload has already
	// put it back to queued, and only a still-queued image is killed.
	if kerr := s.cat.SetStatus(bg, id, image.Queued, image.Killed); kerr != nil &&
		!errors.Is(kerr, catalog.ErrNotFound) && !errors.Is(kerr, catalog.ErrConflict) {
		s.log().Error("cannot kill the image of a failed copy_from", "image", id, "error", kerr)
	}
}

// CheckLocation vets an x-image-meta-location URI before anything is
// created or changed, and returns the size of the data it names.
//
// Only http and https locations, read by the http store, are taken:
// file://, filesystem:// and the like would let a user read or delete the
// server's own files (OSSA-2014-041, OSSA-2015-002). The URI must pass the
// import URI filter, and only admins may set one: the http store reads it
// later without the filter's per-redirect checks and address pinning, so
// a location a user controls could be turned to an internal address after
// it was checked. declared is the size the client gave (0 for none); the
// size is otherwise asked of the location (HEAD), and one that disagrees
// with a declared size is refused, as Glance v1 did.
func (s *Service) CheckLocation(ctx context.Context, c *auth.Context, uri string, declared int64) (int64, error) {
	const op = "imageops.CheckLocation"
	if err := externalSource(op, uri); err != nil {
		return 0, err
	}
	if !c.IsAdmin {
		return 0, adminsOnly(op)
	}
	if err := s.Authorize(op, c, "set_image_location"); err != nil {
		return 0, err
	}
	if s.data.Stores == nil {
		return 0, image.E(op, image.Invalid, "External sources are not supported: '%s'", uri)
	}
	_, d, err := s.data.Stores.ForURI(uri)
	if err != nil {
		return 0, image.E(op, image.Invalid, "Invalid location %s", uri)
	}
	if !s.passesFilter(ctx, uri) {
		return 0, image.E(op, image.Invalid, "URI for location does not pass filtering: %s", uri)
	}
	size, err := locationSize(ctx, d, uri)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, image.E(op, image.NotFound, "HTTP datastore could not find image at URI.")
	case err != nil:
		return 0, &image.Error{Op: op, Kind: image.Invalid, Msg: fmt.Sprintf("Invalid location %s: it cannot be read.", uri), Err: err}
	case hasFourByte(uri):
		// The catalog could not record it: refused now, before the
		// image is created or changed.
		return 0, fourByteValue(op, "url")
	case size < 0 && declared > 0:
		// A server that tells no size: the client's is taken, as Glance
		// takes it.
		return declared, nil
	case size < 0:
		return 0, image.E(op, image.Invalid, "The size of the data at %s cannot be known: give it in x-image-meta-size.", uri)
	case declared > 0 && size != declared:
		return 0, image.E(op, image.Conflict, "Provided image size must match the stored image size. (provided size: %d, stored size: %d)", declared, size)
	}
	return size, nil
}

// adminsOnly refuses a location to a caller who is not an admin.
func adminsOnly(op string) error {
	return image.E(op, image.Forbidden, "Only admins may set x-image-meta-location: the data at an external location is read without the import URI filtering.")
}

// locationSize asks a store the size of the data at uri: by Stat (a HEAD
// for the http store) and, when that tells nothing, by opening the first
// byte, which tells whether the data can be read at all and, from a
// server that honours ranges, its size. -1 when the data is there but its
// size is not told.
func locationSize(ctx context.Context, d store.Driver, uri string) (int64, error) {
	if st, ok := d.(store.Statter); ok {
		size, err := st.Stat(ctx, uri)
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return size, err
		}
	}
	rc, size, err := d.Get(ctx, uri, 0, 0)
	if err != nil {
		return 0, err
	}
	rc.Close()
	return size, nil
}

// SetLocation activates a queued image on data at an external location
// (CheckLocation first): queued → active with size and the location, in
// one transaction. The checksum is the one the client declared, if any:
// the data is not read, as Glance v1 did not read it.
func (s *Service) SetLocation(ctx context.Context, c *auth.Context, id, uri string, size int64, checksum *string) error {
	const op = "imageops.SetLocation"
	tasks, ok := s.tasks()
	if !ok || s.data.Stores == nil {
		return image.E(op, image.Invalid, "External sources are not supported: '%s'", uri)
	}
	if !c.IsAdmin {
		return adminsOnly(op)
	}
	img, err := s.load(ctx, c, op, id)
	if err != nil {
		return err
	}
	for _, rule := range []string{"set_image_location", "modify_image"} {
		if err := s.enforce(op, c, rule, img); err != nil {
			return err
		}
	}
	if img.Status != image.Queued {
		// OSSN-0065: data is pointed at only while there is none.
		return image.E(op, image.Invalid, "Attempted to update Location field for an image not in queued status.")
	}
	if err := missingFormats(op, img); err != nil {
		return err
	}
	if err := externalSource(op, uri); err != nil {
		return err
	}
	storeID, _, err := s.data.Stores.ForURI(uri)
	if err != nil {
		return image.E(op, image.Invalid, "Invalid location %s", uri)
	}
	meta := map[string]any{}
	if s.data.MultiStore {
		meta["store"] = storeID
	}
	d := &catalog.DataInfo{Size: size, VirtualSize: img.VirtualSize}
	if checksum != nil {
		d.Checksum = *checksum
	}
	loc := image.Location{URL: uri, Metadata: meta, Status: "active"}
	if err := checkFourByteLocation(op, loc); err != nil {
		return err
	}
	err = tasks.FinishImport(ctx, id, image.Queued, image.Active, d, []image.Location{loc}, nil)
	if errors.Is(err, catalog.ErrConflict) {
		return image.E(op, image.Invalid, "Attempted to update Location field for an image not in queued status.")
	}
	return catalogErr(op, id, err)
}

// V1Membership is one entry of a v1 membership replacement. CanShare nil
// keeps an existing membership's flag and gives a new one false.
type V1Membership struct {
	MemberID string
	CanShare *bool
}

// memberSharing is the catalog capability of changing a membership's
// can_share flag in place. Without it the membership is written again
// with the same status and creation time.
type memberSharing interface {
	SetMemberCanShare(ctx context.Context, imageID, memberID string, canShare bool) error
}

// v1Sharer decides who may change the memberships of img, as Glance v1's
// registry did: admins and the owner (every membership, under the
// add_member or delete_member rule, rule), and a member whose own
// membership has can_share (under modify_member, the rule written for a
// member of the image). all says whether the caller sees and may change
// every membership, or only its own and those it adds. A refusal is
// Forbidden.
func (s *Service) v1Sharer(ctx context.Context, op string, c *auth.Context, img *image.Image, rule string) (all bool, err error) {
	denied := image.E(op, image.Forbidden, "No permission to share that image")
	if img.Visibility != image.Shared {
		return false, denied
	}
	if c.IsAdmin || (c.ProjectID != "" && img.OwnerID() == c.ProjectID) {
		return true, s.memberEnforce(op, c, rule, img)
	}
	if c.ProjectID != "" {
		m, err := s.cat.GetMember(ctx, img.ID, c.ProjectID)
		switch {
		case err == nil && m.CanShare:
			return false, s.memberEnforce(op, c, "modify_member", img)
		case err != nil && !errors.Is(err, catalog.ErrNotFound):
			return false, catalogErr(op, img.ID, err)
		}
	}
	if !s.legacy {
		// Without the code-level ownership checks, the rule decides.
		return true, s.memberEnforce(op, c, rule, img)
	}
	return false, denied
}

// setCanShare changes an existing membership's can_share flag.
func (s *Service) setCanShare(ctx context.Context, m *image.Member, canShare bool) error {
	if m.CanShare == canShare {
		return nil
	}
	if ms, ok := s.cat.(memberSharing); ok {
		return ms.SetMemberCanShare(ctx, m.ImageID, m.MemberID, canShare)
	}
	if err := s.cat.DeleteMember(ctx, m.ImageID, m.MemberID); err != nil {
		return err
	}
	again := *m
	again.CanShare = canShare
	again.UpdatedAt = s.now()
	if err := s.cat.AddMember(ctx, &again); err != nil {
		// Put the membership back as it was.
		if rerr := s.cat.AddMember(context.WithoutCancel(ctx), m); rerr != nil {
			s.log().Error("cannot restore a membership", "image", m.ImageID, "member", m.MemberID, "error", rerr)
		}
		return err
	}
	return nil
}

// checkMemberQuota refuses a membership count over image_member_quota.
func (s *Service) checkMemberQuota(op, imageID string, n int) error {
	if q := s.limits.Members; q >= 0 && n > q {
		return image.E(op, image.TooLarge, "Image member limit exceeded for image %s: The limit has been exceeded on the number of allowed image members for this image. Attempted: %d, Maximum: %d:", imageID, n, q)
	}
	return nil
}

// SetV1Member is PUT /v1/images/{id}/members/{member}: it adds the
// membership (pending, can_share as given, else false) or, for one the
// caller may see, sets its can_share when given. A membership the caller
// may not see (another project's, for a member sharing further) is left
// as it is.
func (s *Service) SetV1Member(ctx context.Context, c *auth.Context, imageID, memberID string, canShare *bool) error {
	const op = "imageops.SetV1Member"
	img, err := s.memberImage(ctx, c, op, imageID)
	if err != nil {
		return err
	}
	all, err := s.v1Sharer(ctx, op, c, img, "add_member")
	if err != nil {
		return err
	}
	m, err := s.cat.GetMember(ctx, imageID, memberID)
	switch {
	case err == nil:
		if canShare == nil || !all && memberID != c.ProjectID {
			return nil
		}
		return catalogErr(op, imageID, s.setCanShare(ctx, m, *canShare))
	case !errors.Is(err, catalog.ErrNotFound):
		return catalogErr(op, imageID, err)
	}
	n, err := s.cat.CountMembers(ctx, imageID)
	if err != nil {
		return catalogErr(op, imageID, err)
	}
	if err := s.checkMemberQuota(op, imageID, n+1); err != nil {
		return err
	}
	if err := checkFourByteMember(op, memberID); err != nil {
		return err
	}
	now := s.now()
	m = &image.Member{ImageID: imageID, MemberID: memberID, CanShare: canShare != nil && *canShare,
		Status: image.MemberPending, CreatedAt: now, UpdatedAt: now}
	err = s.cat.AddMember(ctx, m)
	if errors.Is(err, catalog.ErrDuplicate) {
		// Added meanwhile: the membership is there, as asked.
		return nil
	}
	return catalogErr(op, imageID, err)
}

// DeleteV1Member is DELETE /v1/images/{id}/members/{member}. A member
// sharing further may only remove its own membership; others it cannot
// see are NotFound, as in Glance v1.
func (s *Service) DeleteV1Member(ctx context.Context, c *auth.Context, imageID, memberID string) error {
	const op = "imageops.DeleteV1Member"
	img, err := s.memberImage(ctx, c, op, imageID)
	if err != nil {
		return err
	}
	all, err := s.v1Sharer(ctx, op, c, img, "delete_member")
	if err != nil {
		return err
	}
	if !all && memberID != c.ProjectID {
		return image.E(op, image.NotFound, "Membership could not be found.")
	}
	err = s.cat.DeleteMember(ctx, imageID, memberID)
	if errors.Is(err, catalog.ErrNotFound) {
		return image.E(op, image.NotFound, "Membership could not be found.")
	}
	return catalogErr(op, imageID, err)
}

// ReplaceV1Members is PUT /v1/images/{id}/members: the memberships the
// caller may see become want. Those listed and present keep their status
// and get the can_share given (their own when none is); those listed and
// absent are added, pending; those present and not listed go. For a
// member sharing further, only its own membership counts as present, and
// memberships of other projects are neither removed nor changed. The
// member quota applies to the count the image ends with, checked before
// anything changes; a failure part way puts back what was changed.
func (s *Service) ReplaceV1Members(ctx context.Context, c *auth.Context, imageID string, want []V1Membership) error {
	const op = "imageops.ReplaceV1Members"
	img, err := s.memberImage(ctx, c, op, imageID)
	if err != nil {
		return err
	}
	all, err := s.v1Sharer(ctx, op, c, img, "add_member")
	if err != nil {
		return err
	}
	current, err := s.cat.ListMembers(ctx, imageID)
	if err != nil {
		return catalogErr(op, imageID, err)
	}
	byID := map[string]*image.Member{}
	for _, m := range current {
		byID[m.MemberID] = m
	}
	seen := func(m *image.Member) bool { return all || m.MemberID == c.ProjectID }
	wanted := map[string]bool{}
	var add []V1Membership
	type change struct {
		m        *image.Member
		canShare bool
	}
	var changes []change
	for _, w := range want {
		if wanted[w.MemberID] {
			continue
		}
		wanted[w.MemberID] = true
		m, ok := byID[w.MemberID]
		switch {
		case !ok:
			add = append(add, w)
		case seen(m) && w.CanShare != nil && *w.CanShare != m.CanShare:
			changes = append(changes, change{m, *w.CanShare})
		}
	}
	var remove []*image.Member
	for _, m := range current {
		if seen(m) && !wanted[m.MemberID] {
			remove = append(remove, m)
		}
	}
	// As for v2, a list that adds nobody may leave an image over a
	// lowered quota.
	if len(add) > 0 {
		if err := s.checkMemberQuota(op, imageID, len(current)-len(remove)+len(add)); err != nil {
			return err
		}
	}
	// Nothing changes when a membership cannot be stored.
	for _, w := range add {
		if err := checkFourByteMember(op, w.MemberID); err != nil {
			return err
		}
	}

	bg := context.WithoutCancel(ctx)
	var removed, added []*image.Member
	var changed []change
	undo := func() {
		for _, m := range added {
			if err := s.cat.DeleteMember(bg, imageID, m.MemberID); err != nil && !errors.Is(err, catalog.ErrNotFound) {
				s.log().Warn("cannot undo a membership added by a failed replacement", "image", imageID, "member", m.MemberID, "error", err)
			}
		}
		for _, m := range removed {
			if err := s.cat.AddMember(bg, m); err != nil && !errors.Is(err, catalog.ErrDuplicate) {
				s.log().Warn("cannot undo a membership removed by a failed replacement", "image", imageID, "member", m.MemberID, "error", err)
			}
		}
		for _, ch := range slices.Backward(changed) {
			cur := *ch.m
			cur.CanShare = ch.canShare
			if err := s.setCanShare(bg, &cur, ch.m.CanShare); err != nil {
				s.log().Warn("cannot undo a can_share change of a failed replacement", "image", imageID, "member", ch.m.MemberID, "error", err)
			}
		}
	}
	// Removals first, then additions, so that the count never passes the
	// one checked above.
	for _, m := range remove {
		if err := s.cat.DeleteMember(ctx, imageID, m.MemberID); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			undo()
			return catalogErr(op, imageID, err)
		}
		removed = append(removed, m)
	}
	for _, ch := range changes {
		if err := s.setCanShare(ctx, ch.m, ch.canShare); err != nil {
			undo()
			return catalogErr(op, imageID, err)
		}
		changed = append(changed, ch)
	}
	now := s.now()
	for _, w := range add {
		m := &image.Member{ImageID: imageID, MemberID: w.MemberID, CanShare: w.CanShare != nil && *w.CanShare,
			Status: image.MemberPending, CreatedAt: now, UpdatedAt: now}
		err := s.cat.AddMember(ctx, m)
		if errors.Is(err, catalog.ErrDuplicate) {
			continue
		}
		if err != nil {
			undo()
			return catalogErr(op, imageID, err)
		}
		added = append(added, m)
	}
	return nil
}

// CanShareOf reads can_share from a membership object as Glance did: nil
// when absent (an existing membership keeps its flag, a new one gets
// false), else the value's truth.
func CanShareOf(m map[string]any) *bool {
	v, ok := m["can_share"]
	if !ok {
		return nil
	}
	b := Truthy(v)
	return &b
}
