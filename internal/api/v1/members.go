package v1

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// memberImage loads the image of a member call with v1's 404.
func (a *API) memberImage(r *http.Request, id string) (*image.Image, error) {
	return a.get(r, id)
}

// canManage is Glance v1's refusal of member changes to a caller without
// a project.
func canManage(r *http.Request) error {
	c := caller(r)
	if c.ProjectID == "" && !c.IsAdmin {
		return image.D("v1.members", image.Unauthorized, "No authenticated user")
	}
	return nil
}

// shareErr is how v1 answers a refused membership change: the registry's
// Forbidden becomes a 404; a member id the catalog cannot hold (a
// four-byte character) a 500, as the registry never caught that refusal.
func shareErr(err error) error {
	if image.Is(image.Forbidden, err) {
		return image.E("v1.members", image.NotFound, "No permission to share that image")
	}
	if errors.Is(err, imageops.ErrFourByteUnicode) {
		return &image.Error{Op: "v1.members", Kind: image.Internal, Err: err}
	}
	return err
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	img, err := a.memberImage(r, id)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	if img.Visibility == image.Shared {
		ms, err := a.ops.ListMembers(r.Context(), caller(r), id)
		if err != nil {
			return err
		}
		for _, m := range ms {
			out = append(out, map[string]any{"member_id": m.MemberID, "can_share": m.CanShare})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": out})
	return nil
}

// readBody decodes an optional JSON body; nil when there is none.
func readBody(r *http.Request) (map[string]any, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, badRequest("Malformed request body")
	}
	if len(raw) == 0 {
		return nil, nil
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, badRequest("Malformed JSON in request body.")
	}
	return body, nil
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) error {
	id, member := r.PathValue("id"), r.PathValue("member")
	if err := canManage(r); err != nil {
		return err
	}
	if _, err := a.memberImage(r, id); err != nil {
		return err
	}
	if err := checkMemberID(member); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var canShare *bool
	if body != nil {
		m, ok := body["member"].(map[string]any)
		if !ok {
			return badRequest("Invalid membership association: 'member'")
		}
		if _, ok := m["can_share"]; !ok {
			return badRequest("Invalid membership association: 'can_share'")
		}
		canShare = imageops.CanShareOf(m)
	}
	if err := a.ops.SetV1Member(r.Context(), caller(r), id, member, canShare); err != nil {
		return shareErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	id, member := r.PathValue("id"), r.PathValue("member")
	if err := canManage(r); err != nil {
		return err
	}
	if _, err := a.memberImage(r, id); err != nil {
		return err
	}
	err := a.ops.DeleteV1Member(r.Context(), caller(r), id, member)
	if image.Is(image.NotFound, err) {
		return image.E("v1.members", image.NotFound, "Membership could not be found.")
	}
	if err != nil {
		return shareErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) replaceMembers(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := canManage(r); err != nil {
		return err
	}
	img, err := a.memberImage(r, id)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	list, ok := body["memberships"].([]any)
	if !ok {
		return badRequest("Invalid membership association: 'memberships'")
	}
	var want []imageops.V1Membership
	distinct := map[string]bool{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return badRequest("Invalid membership association: 'member_id'")
		}
		mid, ok := m["member_id"].(string)
		if !ok {
			return badRequest("Invalid membership association: 'member_id'")
		}
		if err := checkMemberID(mid); err != nil {
			return err
		}
		want = append(want, imageops.V1Membership{MemberID: mid, CanShare: imageops.CanShareOf(m)})
		distinct[mid] = true
	}
	if img.Visibility != image.Shared {
		return image.E("v1.members", image.NotFound, "No permission to share that image")
	}
	// The quota applies to the members the image ends with: checked
	// before anything changes.
	if q := a.cfg.MemberQuota; q != nil && *q >= 0 && len(distinct) > *q {
		return image.E("v1.members", image.TooLarge, "Image member limit exceeded for image %s: The limit has been exceeded on the number of allowed image members for this image. Attempted: %d, Maximum: %d:", id, len(distinct), *q)
	}
	if err := a.ops.ReplaceV1Members(r.Context(), caller(r), id, want); err != nil {
		return shareErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkMemberID refuses a member id the catalog cannot hold (255
// characters at most).
func checkMemberID(mid string) error {
	if n := len([]rune(mid)); n > image.MaxFieldLength {
		return badRequest("Invalid membership association: member_id is %d characters long; it can't exceed %d characters", n, image.MaxFieldLength)
	}
	return nil
}

// sharedImages is GET /v1/shared-images/{member}: the images shared with
// a project, among those whose memberships the caller may see.
func (a *API) sharedImages(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.ops.SharedWith(r.Context(), caller(r), r.PathValue("member"))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, map[string]any{"image_id": m.ImageID, "can_share": m.CanShare})
	}
	writeJSON(w, http.StatusOK, map[string]any{"shared_images": out})
	return nil
}
