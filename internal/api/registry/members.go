package registry

import (
	"errors"
	"net/http"
	"slices"

	"glimpse/internal/api/httperr"
	"glimpse/internal/api/wirejson"
	"glimpse/internal/auth"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// noShare is the registry's refusal of a membership change to a caller
// that may not share the image.
const noShare = "No permission to share that image"

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

// changeImage checks what every member change needs before its body is
// read: a caller with a project (or an admin) and an image it sees. Who
// may share the image (an admin, the owner, or a member whose own
// membership has can_share) is decided by the v1 membership use cases.
func (a *API) changeImage(r *http.Request) (*auth.Context, *image.Image, error) {
	c := caller(r)
	if c.ProjectID == "" && !c.IsAdmin {
		return nil, nil, image.D("registry.members", image.Unauthorized, "No authenticated user")
	}
	img, err := a.memberImage(r, c)
	if err != nil {
		return nil, nil, err
	}
	return c, img, nil
}

// unshared answers a membership change of an image that is not shared,
// which has no memberships: the admin or the owner gets ownErr (nil to go
// on), anyone else the refusal to share.
func unshared(c *auth.Context, img *image.Image, ownErr error) error {
	if c.IsAdmin || (c.ProjectID != "" && img.OwnerID() == c.ProjectID) {
		return ownErr
	}
	return image.D("registry.members", image.Forbidden, noShare)
}

// notCreated is the refusal to add members to an image that is not
// shared.
func notCreated(img *image.Image) error {
	return image.E("registry.members", image.Forbidden, "Not allowed to create members for image %s.", img.ID)
}

// shareErr words the use cases' refusal to share as the registry does. A
// member id the catalog cannot hold (a four-byte character) is a 500:
// the registry let the database layer's refusal through.
func shareErr(err error) error {
	if image.Is(image.Forbidden, err) && image.Message(err) == noShare {
		return image.D("registry.members", image.Forbidden, noShare)
	}
	if errors.Is(err, imageops.ErrFourByteUnicode) {
		return &image.Error{Op: "registry.members", Kind: image.Internal, Err: err}
	}
	return err
}

func membersJSON(ms []*image.Member) []byte {
	items := make([][]byte, len(ms))
	for i, m := range ms {
		items[i] = wirejson.NewObject().String("member_id", m.MemberID).Bool("can_share", m.CanShare).Bytes()
	}
	return wirejson.NewObject().RawBytes("members", wirejson.Array(items)).Bytes()
}

// listMembers is GET /images/{id}/members: every membership for an admin
// or the owner, only its own for a member.
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
// become the ones the caller sees. Those kept keep their status and get
// the can_share given (their own when none is).
func (a *API) replaceMembers(w http.ResponseWriter, r *http.Request) error {
	c, img, err := a.changeImage(r)
	if err != nil {
		return err
	}
	shared := img.Visibility == image.Shared
	if !shared {
		if err := unshared(c, img, nil); err != nil {
			return err
		}
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
	var want []imageops.V1Membership
	var distinct []string
	for _, item := range list {
		m, _ := item.(map[string]any)
		id, ok := m["member_id"].(string)
		if !ok || id == "" {
			return badMembership("member_id")
		}
		if err := memberTooLong(id); err != nil {
			return err
		}
		want = append(want, imageops.V1Membership{MemberID: id, CanShare: imageops.CanShareOf(m)})
		if !slices.Contains(distinct, id) {
			distinct = append(distinct, id)
		}
	}
	// The quota bounds the wanted set: a replacement that cannot fit is
	// refused before anything changes.
	if q := a.cfg.MemberLimit; q >= 0 && len(distinct) > q {
		return image.E("registry.members", image.TooLarge, "Image member limit exceeded for image %s: The limit has been exceeded on the number of allowed image members for this image. Attempted: %d, Maximum: %d:", img.ID, len(distinct), q)
	}
	if !shared {
		// No memberships to remove; none may be added.
		if len(want) > 0 {
			return notCreated(img)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := a.ops.ReplaceV1Members(r.Context(), c, img.ID, want); err != nil {
		return shareErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// putMember is PUT /images/{id}/members/{member}: it adds the membership
// (can_share as given, else false) or sets an existing one's can_share
// when the body gives it.
func (a *API) putMember(w http.ResponseWriter, r *http.Request) error {
	c, img, err := a.changeImage(r)
	if err != nil {
		return err
	}
	shared := img.Visibility == image.Shared
	if !shared {
		if err := unshared(c, img, nil); err != nil {
			return err
		}
	}
	v, err := readBody(r)
	if err != nil {
		return err
	}
	var canShare *bool
	if v != nil {
		body, _ := v.(map[string]any)
		m, ok := body["member"].(map[string]any)
		if !ok {
			return badMembership("member")
		}
		if canShare = imageops.CanShareOf(m); canShare == nil {
			return badMembership("can_share")
		}
	}
	member := r.PathValue("member")
	if err := memberTooLong(member); err != nil {
		return err
	}
	if !shared {
		return notCreated(img)
	}
	if err := a.ops.SetV1Member(r.Context(), c, img.ID, member, canShare); err != nil {
		return shareErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteMember is DELETE /images/{id}/members/{member}. A member sharing
// the image finds only its own membership.
func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	c, img, err := a.changeImage(r)
	if err != nil {
		return err
	}
	missing := image.E("registry.members", image.NotFound, "Membership could not be found.")
	if img.Visibility != image.Shared {
		return unshared(c, img, missing)
	}
	err = a.ops.DeleteV1Member(r.Context(), c, img.ID, r.PathValue("member"))
	if image.Is(image.NotFound, err) {
		return missing
	}
	if err != nil {
		return shareErr(err)
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
