package registry

import (
	"context"
	"net/http"
	"slices"

	"glimpse/internal/api/httperr"
	"glimpse/internal/api/wirejson"
	"glimpse/internal/auth"
	"glimpse/internal/image"
)

// memberImage loads the image of a member route: one the caller cannot
// see is not found, in the registry's words.
func (a *API) memberImage(r *http.Request, c *auth.Context) (*image.Image, error) {
	id := r.PathValue("id")
	img, err := a.ops.Get(r.Context(), c, id)
	if image.Is(image.NotFound, err) {
		return nil, image.D("registry.members", image.NotFound, "Image %s not found", id)
	}
	return img, err
}

// sharingImage checks what every member change needs: a caller with a
// project (or an admin), an image it sees, and the right to share it.
// Only admins and the owner may share: glimpse records no can_share
// delegation.
func (a *API) sharingImage(r *http.Request) (*image.Image, error) {
	const op = "registry.members"
	c := caller(r)
	if c.ProjectID == "" && !c.IsAdmin {
		return nil, image.D(op, image.Unauthorized, "No authenticated user")
	}
	img, err := a.memberImage(r, c)
	if err != nil {
		return nil, err
	}
	if !c.IsAdmin && img.OwnerID() != c.ProjectID {
		return nil, image.D(op, image.Forbidden, "No permission to share that image")
	}
	return img, nil
}

func membersJSON(ms []*image.Member) []byte {
	items := make([][]byte, len(ms))
	for i, m := range ms {
		items[i] = wirejson.NewObject().String("member_id", m.MemberID).Bool("can_share", m.CanShare).Bytes()
	}
	return wirejson.NewObject().RawBytes("members", wirejson.Array(items)).Bytes()
}

// listMembers is GET /images/{id}/members.
func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	c := caller(r)
	img, err := a.memberImage(r, c)
	if err != nil {
		return err
	}
	ms := []*image.Member{}
	if img.Visibility == image.Shared {
		if ms, err = a.ops.ListMembers(r.Context(), c, img.ID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, membersJSON(ms))
	return nil
}

// memberTooLong refuses a member id longer than the members table's
// member column.
func memberTooLong(id string) error {
	if len(id) > image.MaxFieldLength {
		return badRequest("registry.members", "Member id is too long, it must not exceed %d characters.", image.MaxFieldLength)
	}
	return nil
}

func badMembership(key string) error {
	return badRequest("registry.members", "Invalid membership association: '%s'", key)
}

// replaceMembers is PUT /images/{id}/members: the body's memberships
// become the image's only ones.
func (a *API) replaceMembers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := caller(r)
	img, err := a.sharingImage(r)
	if err != nil {
		return err
	}
	v, err := readBody(r)
	if err != nil {
		return err
	}
	body, _ := v.(map[string]any)
	list, ok := body["memberships"].([]any)
	if !ok {
		return badMembership("memberships")
	}
	var want []string
	for _, item := range list {
		m, _ := item.(map[string]any)
		id, ok := m["member_id"].(string)
		if !ok || id == "" {
			return badMembership("member_id")
		}
		if err := memberTooLong(id); err != nil {
			return err
		}
		if !slices.Contains(want, id) {
			want = append(want, id)
		}
	}
	// The quota bounds the wanted set: a replacement that cannot fit is
	// refused before anything changes.
	if q := a.cfg.MemberLimit; q >= 0 && len(want) > q {
		return image.E("registry.members", image.TooLarge, "Image member limit exceeded for image %s: The limit has been exceeded on the number of allowed image members for this image. Attempted: %d, Maximum: %d:", img.ID, len(want), q)
	}
	var have []string
	var old []*image.Member
	if img.Visibility == image.Shared {
		ms, err := a.ops.ListMembers(ctx, c, img.ID)
		if err != nil {
			return err
		}
		old = ms
		for _, m := range ms {
			have = append(have, m.MemberID)
		}
	}
	// Removals first, so that a replacement within the member quota fits;
	// on a failure what was done is undone, a removed membership restored
	// as it was (status and all).
	var removed []*image.Member
	var added []string
	undo := func() {
		bg := context.WithoutCancel(ctx)
		for _, id := range added {
			a.ops.DeleteMember(bg, c, img.ID, id)
		}
		for _, m := range removed {
			a.ops.Catalog().AddMember(bg, m)
		}
	}
	for _, m := range old {
		if !slices.Contains(want, m.MemberID) {
			if err := a.ops.DeleteMember(ctx, c, img.ID, m.MemberID); err != nil {
				undo()
				return err
			}
			removed = append(removed, m)
		}
	}
	for _, id := range want {
		if !slices.Contains(have, id) {
			if _, err := a.ops.AddMember(ctx, c, img.ID, id); err != nil {
				undo()
				return err
			}
			added = append(added, id)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// putMember is PUT /images/{id}/members/{member}: it adds the membership
// unless it exists.
func (a *API) putMember(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := caller(r)
	img, err := a.sharingImage(r)
	if err != nil {
		return err
	}
	v, err := readBody(r)
	if err != nil {
		return err
	}
	if v != nil {
		body, _ := v.(map[string]any)
		m, ok := body["member"].(map[string]any)
		if !ok {
			return badMembership("member")
		}
		if _, ok := m["can_share"]; !ok {
			return badMembership("can_share")
		}
	}
	member := r.PathValue("member")
	if err := memberTooLong(member); err != nil {
		return err
	}
	if img.Visibility == image.Shared {
		if _, err := a.ops.GetMember(ctx, c, img.ID, member); err == nil {
			w.WriteHeader(http.StatusNoContent)
			return nil
		} else if !image.Is(image.NotFound, err) {
			return err
		}
	}
	if _, err := a.ops.AddMember(ctx, c, img.ID, member); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteMember is DELETE /images/{id}/members/{member}.
func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	c := caller(r)
	img, err := a.sharingImage(r)
	if err != nil {
		return err
	}
	missing := image.E("registry.members", image.NotFound, "Membership could not be found.")
	if img.Visibility != image.Shared {
		return missing
	}
	err = a.ops.DeleteMember(r.Context(), c, img.ID, r.PathValue("member"))
	if image.Is(image.NotFound, err) {
		return missing
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// memberNotAllowed answers the member routes Glance's registry maps to no
// action.
func (a *API) memberNotAllowed(w http.ResponseWriter, r *http.Request) error {
	httperr.MethodNotAllowed(w, r, "PUT, DELETE")
	return nil
}

// sharedImages is /shared-images/{member}: the images shared with a
// project, among those whose memberships the caller may see.
func (a *API) sharedImages(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.ops.SharedWith(r.Context(), caller(r), r.PathValue("member"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sharedImagesJSON(ms))
	return nil
}

// sharedImagesJSON is the registry's shared_images document.
func sharedImagesJSON(ms []*image.Member) []byte {
	items := make([][]byte, 0, len(ms))
	for _, m := range ms {
		items = append(items, wirejson.NewObject().String("image_id", m.ImageID).Bool("can_share", m.CanShare).Bytes())
	}
	return wirejson.NewObject().RawBytes("shared_images", wirejson.Array(items)).Bytes()
}
