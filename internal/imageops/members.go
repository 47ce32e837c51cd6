package imageops

import (
	"context"
	"errors"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// memberImage loads an image for a member or tag call: invisible images
// are NotFound with the wording Glance uses on those routes.
func (s *Service) memberImage(ctx context.Context, c *auth.Context, op, id string) (*image.Image, error) {
	img, err := s.load(ctx, c, op, id)
	if image.Is(image.NotFound, err) {
		return nil, image.E(op, image.NotFound, "Image %s not found.", id)
	}
	return img, err
}

// ownsOrAdmin is the catalog's member filter: admins and the image's owner
// see every membership, other projects only their own. As in Glance's
// query, a caller without a project owns an image without an owner.
func ownsOrAdmin(c *auth.Context, img *image.Image) bool {
	return c.IsAdmin || img.OwnerID() == c.ProjectID
}

// memberEnforce checks a member rule as Glance's member policy does: the
// caller must pass get_image first (a bare 404 otherwise), then the rule
// (a 403 naming it).
func (s *Service) memberEnforce(op string, c *auth.Context, rule string, img *image.Image) error {
	if err := s.enforce(op, c, "get_image", img); err != nil {
		return err
	}
	return s.enforce(op, c, rule, img)
}

func memberNotFound(op, imageID, memberID string) error {
	return image.E(op, image.NotFound, "%s not found in the member list of the image %s.", memberID, imageID)
}

// AddMember shares a shared image with a project; only its owner may.
func (s *Service) AddMember(ctx context.Context, c *auth.Context, imageID, memberID string) (*image.Member, error) {
	const op = "imageops.AddMember"
	img, err := s.memberImage(ctx, c, op, imageID)
	if err != nil {
		return nil, err
	}
	if img.Visibility != image.Shared || !s.mutable(c, img) {
		return nil, image.E(op, image.Forbidden, "Not allowed to create members for image %s.", imageID)
	}
	if err := s.memberEnforce(op, c, "add_member", img); err != nil {
		return nil, err
	}
	if q := s.limits.Members; q >= 0 {
		n, err := s.cat.CountMembers(ctx, imageID)
		if err != nil {
			return nil, catalogErr(op, imageID, err)
		}
		if n+1 > q {
			return nil, image.E(op, image.TooLarge, "Image member limit exceeded for image %s: The limit has been exceeded on the number of allowed image members for this image. Attempted: %d, Maximum: %d:", imageID, n+1, q)
		}
	}
	if err := checkFourByteMember(op, memberID); err != nil {
		return nil, err
	}
	now := s.now()
	m := &image.Member{ImageID: imageID, MemberID: memberID, Status: image.MemberPending, CreatedAt: now, UpdatedAt: now}
	err = s.cat.AddMember(ctx, m)
	if errors.Is(err, catalog.ErrDuplicate) {
		return nil, image.E(op, image.Conflict, "Member %s is duplicated for image %s", memberID, imageID)
	}
	if err != nil {
		return nil, catalogErr(op, imageID, err)
	}
	return m, nil
}

// ListMembers lists the memberships the caller may see: all of them for
// the owner, only its own for a member.
func (s *Service) ListMembers(ctx context.Context, c *auth.Context, imageID string) ([]*image.Member, error) {
	const op = "imageops.ListMembers"
	img, err := s.memberImage(ctx, c, op, imageID)
	if err != nil {
		return nil, err
	}
	if img.Visibility != image.Shared {
		return nil, image.E(op, image.Forbidden, "Not allowed to list members for image %s: Only shared images have members.", imageID)
	}
	if err := s.memberEnforce(op, c, "get_members", img); err != nil {
		return nil, err
	}
	ms, err := s.cat.ListMembers(ctx, imageID)
	if err != nil {
		return nil, catalogErr(op, imageID, err)
	}
	all := ownsOrAdmin(c, img)
	// Each membership is checked against get_member, as Glance does; the
	// target is the image's, so one answer holds for every row.
	if !s.trivial("get_member") && !s.allowed("get_member", c, s.imageTarget(c, img)) {
		return []*image.Member{}, nil
	}
	out := []*image.Member{}
	for _, m := range ms {
		if all || m.MemberID == c.ProjectID {
			out = append(out, m)
		}
	}
	return out, nil
}

// GetMember shows one membership to the owner or to that member.
func (s *Service) GetMember(ctx context.Context, c *auth.Context, imageID, memberID string) (*image.Member, error) {
	const op = "imageops.GetMember"
	img, err := s.memberImage(ctx, c, op, imageID)
	if err != nil {
		return nil, err
	}
	if img.Visibility != image.Shared {
		// Glance answers 404 here, with the reason as the message.
		return nil, image.E(op, image.NotFound, "Only shared images have members.")
	}
	if err := s.enforce(op, c, "get_image", img); err != nil {
		return nil, err
	}
	if err := s.enforce(op, c, "get_member", img); err != nil {
		// Glance hides a membership the caller may not look up.
		return nil, image.E(op, image.NotFound, "You are not authorized to complete get_member action.")
	}
	return s.findMember(ctx, op, c, img, memberID)
}

// findMember looks a membership up as the catalog's member filter shows
// it to the caller (see ownsOrAdmin).
func (s *Service) findMember(ctx context.Context, op string, c *auth.Context, img *image.Image, memberID string) (*image.Member, error) {
	if !ownsOrAdmin(c, img) && memberID != c.ProjectID {
		return nil, memberNotFound(op, img.ID, memberID)
	}
	m, err := s.cat.GetMember(ctx, img.ID, memberID)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, memberNotFound(op, img.ID, memberID)
	}
	if err != nil {
		return nil, catalogErr(op, img.ID, err)
	}
	return m, nil
}

// UpdateMemberStatus lets the member project accept, reject or reset its
// membership; the owner may not decide for it. As in Glance, the owner is
// refused before the membership is looked up, and a caller without a
// project counts as the owner of an owner-less image.
func (s *Service) UpdateMemberStatus(ctx context.Context, c *auth.Context, imageID, memberID, status string) (*image.Member, error) {
	const op = "imageops.UpdateMemberStatus"
	img, err := s.memberImage(ctx, c, op, imageID)
	if err != nil {
		return nil, err
	}
	if img.Visibility != image.Shared || (s.legacy && !c.IsAdmin && img.OwnerID() == c.ProjectID) {
		return nil, image.E(op, image.Forbidden, "Not allowed to update members for image %s.", imageID)
	}
	if err := s.memberEnforce(op, c, "get_member", img); err != nil {
		return nil, err
	}
	if _, err := s.findMember(ctx, op, c, img, memberID); err != nil {
		return nil, err
	}
	if err := s.enforce(op, c, "modify_member", img); err != nil {
		return nil, err
	}
	m, err := s.cat.UpdateMemberStatus(ctx, imageID, memberID, status)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, memberNotFound(op, imageID, memberID)
	}
	if err != nil {
		return nil, catalogErr(op, imageID, err)
	}
	return m, nil
}

// DeleteMember removes a membership of a shared image; only the owner
// may. Glance compares owners here without treating "no project"
// specially: a caller without a project owns owner-less images.
func (s *Service) DeleteMember(ctx context.Context, c *auth.Context, imageID, memberID string) error {
	const op = "imageops.DeleteMember"
	img, err := s.memberImage(ctx, c, op, imageID)
	if err != nil {
		return err
	}
	if img.Visibility != image.Shared || (s.legacy && !c.IsAdmin && img.OwnerID() != c.ProjectID) {
		return image.E(op, image.Forbidden, "Not allowed to delete members for image %s.", imageID)
	}
	// Glance looks the membership up (get_member) before it asks
	// delete_member.
	if err := s.memberEnforce(op, c, "get_member", img); err != nil {
		return err
	}
	if _, err := s.findMember(ctx, op, c, img, memberID); err != nil {
		return err
	}
	if err := s.enforce(op, c, "delete_member", img); err != nil {
		return err
	}
	err = s.cat.DeleteMember(ctx, imageID, memberID)
	if errors.Is(err, catalog.ErrNotFound) {
		return memberNotFound(op, imageID, memberID)
	}
	return catalogErr(op, imageID, err)
}

// SharedWith returns the memberships of project member in the shared
// images whose members the caller may list, oldest image first (the
// legacy APIs' /shared-images/{member}).
func (s *Service) SharedWith(ctx context.Context, c *auth.Context, member string) ([]*image.Member, error) {
	q := &catalog.ListQuery{
		Visibility:   "shared",
		MemberStatus: "all",
		Sort:         []catalog.SortKey{{Key: "created_at"}, {Key: "id"}},
		Limit:        -1,
	}
	imgs, _, err := s.List(ctx, c, q)
	if err != nil {
		return nil, err
	}
	var out []*image.Member
	for _, img := range imgs {
		ms, err := s.ListMembers(ctx, c, img.ID)
		if image.Is(image.NotFound, err) || image.Is(image.Forbidden, err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.MemberID == member {
				out = append(out, m)
			}
		}
	}
	return out, nil
}
