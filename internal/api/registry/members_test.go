package registry_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/api/registry"
)

// memberIDs lists an image's members through the shared use cases.
func (h *harness) memberIDs(t *testing.T, id string) []string {
	t.Helper()
	ms, err := h.ops.ListMembers(context.Background(), h.admin().authContext(), id)
	if err != nil {
		t.Fatalf("ListMembers: %v", err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.MemberID)
	}
	slices.Sort(out)
	return out
}

func TestMembers(t *testing.T) {
	h := newHarness(t, registry.Config{})
	owner := h.as("p1", "")
	id := owner.create(t, `{"image": {"name": "shared"}}`)

	owner.do(t, "PUT", "/images/"+id+"/members/p2", "").want(t, http.StatusNoContent)
	owner.do(t, "PUT", "/images/"+id+"/members/p3", `{"member": {"can_share": false}}`).want(t, http.StatusNoContent)
	owner.do(t, "PUT", "/images/"+id+"/members/p3", "").want(t, http.StatusNoContent) // already there
	if diff := cmp.Diff([]string{"p2", "p3"}, h.memberIDs(t, id)); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	got := owner.do(t, "GET", "/images/"+id+"/members", "").want(t, http.StatusOK)
	want := `{"members": [{"member_id": "p2", "can_share": false}, {"member_id": "p3", "can_share": false}]}`
	if string(got.Body) != want {
		t.Errorf("GET members = %s, want %s", got.Body, want)
	}
	// A member sees only its own membership.
	got = h.as("p2", "").do(t, "GET", "/images/"+id+"/members", "").want(t, http.StatusOK)
	if want := `{"members": [{"member_id": "p2", "can_share": false}]}`; string(got.Body) != want {
		t.Errorf("member's GET members = %s, want %s", got.Body, want)
	}
	// The member now sees the image.
	h.as("p2", "").do(t, "GET", "/images/"+id, "").want(t, http.StatusOK)

	shared := h.as("p2", "").do(t, "GET", "/shared-images/p2", "").want(t, http.StatusOK)
	if want := `{"shared_images": [{"image_id": "` + id + `", "can_share": false}]}`; string(shared.Body) != want {
		t.Errorf("GET /shared-images/p2 = %s, want %s", shared.Body, want)
	}
	shared = owner.do(t, "GET", "/shared-images/p3", "").want(t, http.StatusOK)
	if want := `{"shared_images": [{"image_id": "` + id + `", "can_share": false}]}`; string(shared.Body) != want {
		t.Errorf("owner's GET /shared-images/p3 = %s, want %s", shared.Body, want)
	}
	if got := h.as("p9", "").do(t, "GET", "/shared-images/p2", "").want(t, http.StatusOK); string(got.Body) != `{"shared_images": []}` {
		t.Errorf("stranger's GET /shared-images/p2 = %s, want none", got.Body)
	}

	owner.do(t, "PUT", "/images/"+id+"/members", `{"memberships": [{"member_id": "p3"}, {"member_id": "p4", "can_share": false}]}`).want(t, http.StatusNoContent)
	if diff := cmp.Diff([]string{"p3", "p4"}, h.memberIDs(t, id)); diff != "" {
		t.Errorf("members after replace (-want +got):\n%s", diff)
	}
	owner.do(t, "DELETE", "/images/"+id+"/members/p3", "").want(t, http.StatusNoContent)
	if diff := cmp.Diff([]string{"p4"}, h.memberIDs(t, id)); diff != "" {
		t.Errorf("members after delete (-want +got):\n%s", diff)
	}
	owner.do(t, "PUT", "/images/"+id+"/members", `{"memberships": []}`).want(t, http.StatusNoContent)
	if got := h.memberIDs(t, id); len(got) != 0 {
		t.Errorf("members after emptying = %v, want none", got)
	}
	h.admin().do(t, "PUT", "/images/"+id+"/members/p5", "").want(t, http.StatusNoContent)
	if diff := cmp.Diff([]string{"p5"}, h.memberIDs(t, id)); diff != "" {
		t.Errorf("members after the admin's add (-want +got):\n%s", diff)
	}
}

func TestMemberRefusals(t *testing.T) {
	h := newHarness(t, registry.Config{})
	owner := h.as("p1", "")
	id := owner.create(t, `{"image": {}}`)
	owner.do(t, "PUT", "/images/"+id+"/members/p2", "").want(t, http.StatusNoContent)
	priv := owner.create(t, `{"image": {"visibility": "private"}}`)
	const missing = "00000000-0000-0000-0000-000000000000"
	tests := []struct {
		name         string
		caller       *client
		method, path string
		body         string
		status       int
		msg          string
	}{
		{"no project", h.as("", ""), "PUT", "/images/" + id + "/members/p3", "", 401, "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.<br /><br />\nNo authenticated user\n\n"},
		{"member may not share", h.as("p2", ""), "PUT", "/images/" + id + "/members/p3", "", 403, "Access was denied to this resource.<br /><br />\nNo permission to share that image\n\n"},
		{"member may not replace", h.as("p2", ""), "PUT", "/images/" + id + "/members", `{"memberships": []}`, 403, "Access was denied to this resource.<br /><br />\nNo permission to share that image\n\n"},
		{"member may not delete", h.as("p2", ""), "DELETE", "/images/" + id + "/members/p2", "", 403, "Access was denied to this resource.<br /><br />\nNo permission to share that image\n\n"},
		{"invisible image", h.as("p3", ""), "PUT", "/images/" + id + "/members/p3", "", 404, "The resource could not be found.<br /><br />\nImage " + id + " not found\n\n"},
		{"missing image list", owner, "GET", "/images/" + missing + "/members", "", 404, "The resource could not be found.<br /><br />\nImage " + missing + " not found\n\n"},
		{"missing image put", owner, "PUT", "/images/" + missing + "/members/p3", "", 404, "The resource could not be found.<br /><br />\nImage " + missing + " not found\n\n"},
		{"no such membership", owner, "DELETE", "/images/" + id + "/members/p9", "", 404, expl("Membership could not be found.")},
		{"no memberships key", owner, "PUT", "/images/" + id + "/members", `{"members": []}`, 400, expl("Invalid membership association: 'memberships'")},
		{"membership without member_id", owner, "PUT", "/images/" + id + "/members", `{"memberships": [{"member_id": "p3"}, {"can_share": true}]}`, 400, expl("Invalid membership association: 'member_id'")},
		{"member body without member", owner, "PUT", "/images/" + id + "/members/p3", `{"can_share": true}`, 400, expl("Invalid membership association: 'member'")},
		{"member body without can_share", owner, "PUT", "/images/" + id + "/members/p3", `{"member": {}}`, 400, expl("Invalid membership association: 'can_share'")},
		{"malformed body", owner, "PUT", "/images/" + id + "/members", `{`, 400, expl("Malformed JSON in request body.")},
		{"private image", owner, "PUT", "/images/" + priv + "/members/p3", "", 403, expl("Not allowed to create members for image " + priv + ".")},
		{"over the member quota", owner, "PUT", "/images/" + id + "/members", `{"memberships": [{"member_id": "p3"}, {"member_id": "p4"}, {"member_id": "p5"}, {"member_id": "p6"}]}`, 413, expl("Image member limit exceeded for image " + id + ": The limit has been exceeded on the number of allowed image members for this image. Attempted: 4, Maximum: 3:")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.memberIDs(t, id)
			got := tc.caller.do(t, tc.method, tc.path, tc.body).want(t, tc.status)
			if msg := got.errMessage(t); msg != tc.msg {
				t.Errorf("message = %q, want %q", msg, tc.msg)
			}
			if diff := cmp.Diff(before, h.memberIDs(t, id)); diff != "" {
				t.Errorf("members changed by a refusal (-before +after):\n%s", diff)
			}
		})
	}
}

func TestMemberRoutesWithoutAction(t *testing.T) {
	h := newHarness(t, registry.Config{})
	owner := h.as("p1", "")
	id := owner.create(t, `{"image": {}}`)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/images/" + id + "/members/p2"},
		{"POST", "/images/" + id + "/members"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			got := owner.do(t, tc.method, tc.path, "").want(t, http.StatusMethodNotAllowed)
			if allow := got.Header.Get("Allow"); allow != "PUT, DELETE" {
				t.Errorf("Allow = %q, want PUT, DELETE", allow)
			}
		})
	}
	owner.do(t, "PATCH", "/images/"+id+"/members", "").want(t, http.StatusNotFound)
}
