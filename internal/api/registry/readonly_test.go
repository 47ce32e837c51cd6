package registry_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"glimpse/internal/api/registry"
	"glimpse/internal/auth"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
	"glimpse/internal/policy"
)

func TestTenantCreateRefusesReadOnlyAttributes(t *testing.T) {
	h := newHarness(t, registry.Config{})
	tests := []struct{ key, value string }{
		{"status", `"active"`},
		{"status", `"queued"`},
		{"status", `"deleted"`},
		{"size", `1024`},
		{"checksum", `"0123456789abcdef0123456789abcdef"`},
		{"virtual_size", `2048`},
		{"deleted", `true`},
		{"deleted_at", `"2020-01-01T00:00:00"`},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			got := h.as("p1", "member").do(t, "POST", "/images", `{"image": {"name": "x", "`+tc.key+`": `+tc.value+`}}`)
			if got.Status != http.StatusForbidden {
				t.Fatalf("status = %d, want 403; body %s", got.Status, got.Body)
			}
			if msg, want := got.errMessage(t), expl("Attribute '"+tc.key+"' is read-only."); msg != want {
				t.Errorf("message = %q, want %q", msg, want)
			}
			if n := len(h.all(t)); n != 0 {
				t.Errorf("images after refusal = %d, want 0", n)
			}
		})
	}
}

func TestTenantCreateIsQueued(t *testing.T) {
	h := newHarness(t, registry.Config{})
	doc := h.as("p1", "member").do(t, "POST", "/images", `{"image": {"name": "x", "disk_format": "raw", "container_format": "bare"}}`).
		want(t, http.StatusOK).image(t)
	if doc["status"] != "queued" {
		t.Errorf("answered status = %v, want queued", doc["status"])
	}
	if got := h.get(t, doc["id"].(string)).Status; got != image.Queued {
		t.Errorf("stored status = %s, want queued", got)
	}
	// An admin keeps the registry's default.
	id := h.admin().create(t, `{"image": {"name": "y"}}`)
	if got := h.get(t, id).Status; got != image.Active {
		t.Errorf("admin's image status = %s, want active", got)
	}
}

// activeImage registers, as an admin, an active image of p1 with size 5
// and a checksum.
func activeImage(t *testing.T, h *harness) string {
	t.Helper()
	return h.as("p1", "admin").create(t, `{"image": {"name": "a", "status": "active", "size": 5, "virtual_size": 7,
		"checksum": "0123456789abcdef0123456789abcdef", "disk_format": "raw", "container_format": "bare"}}`)
}

func TestTenantUpdateRefusesReadOnlyAttributes(t *testing.T) {
	h := newHarness(t, registry.Config{})
	id := activeImage(t, h)
	owner := h.as("p1", "member")
	tests := []struct{ key, value string }{
		{"status", `"queued"`},
		{"status", `"deleted"`},
		{"status", `"pending_delete"`},
		{"status", `"saving"`},
		{"status", `"deactivated"`},
		{"size", `6`},
		{"size", `null`},
		{"checksum", `"ffffffffffffffffffffffffffffffff"`},
		{"virtual_size", `8`},
		{"deleted", `true`},
		{"deleted_at", `"2020-01-01T00:00:00"`},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			got := owner.do(t, "PUT", "/images/"+id, `{"image": {"name": "changed", "`+tc.key+`": `+tc.value+`}}`)
			if got.Status != http.StatusForbidden {
				t.Fatalf("status = %d, want 403; body %s", got.Status, got.Body)
			}
			if msg, want := got.errMessage(t), expl("Attribute '"+tc.key+"' is read-only."); msg != want {
				t.Errorf("message = %q, want %q", msg, want)
			}
			img := h.get(t, id)
			if img.Status != image.Active || *img.Size != 5 || *img.VirtualSize != 7 ||
				*img.Checksum != "0123456789abcdef0123456789abcdef" || *img.Name != "a" {
				t.Errorf("stored = status %s size %d vsize %d checksum %s name %s, want active 5 7 0123…ef a",
					img.Status, *img.Size, *img.VirtualSize, *img.Checksum, *img.Name)
			}
		})
	}

	// The values the image already has are no change.
	owner.do(t, "PUT", "/images/"+id, `{"image": {"name": "b", "status": "active", "size": 5, "virtual_size": 7,
		"checksum": "0123456789abcdef0123456789abcdef", "deleted": false, "deleted_at": null}}`).want(t, http.StatusOK)
	if got := *h.get(t, id).Name; got != "b" {
		t.Errorf("name = %q, want b", got)
	}
}

func TestAdminUpdateKeepsDataAttributes(t *testing.T) {
	h := newHarness(t, registry.Config{})
	id := h.as("p1", "member").create(t, `{"image": {"name": "a"}}`)
	h.admin().do(t, "PUT", "/images/"+id, `{"image": {"status": "saving", "size": 9, "checksum": "abc"}}`).want(t, http.StatusOK)
	img := h.get(t, id)
	if img.Status != image.Saving || *img.Size != 9 || *img.Checksum != "abc" {
		t.Errorf("stored = %s %d %s, want saving 9 abc", img.Status, *img.Size, *img.Checksum)
	}
	// Back to queued is still an admin's while there is no data.
	h.admin().do(t, "PUT", "/images/"+id, `{"image": {"status": "queued"}}`).want(t, http.StatusOK)
	if got := h.get(t, id).Status; got != image.Queued {
		t.Errorf("status = %s, want queued", got)
	}
}

func TestAdminCannotRequeueImageWithData(t *testing.T) {
	h := newHarness(t, registry.Config{})
	id := activeImage(t, h)
	h.upload(t, id, "file:///var/lib/glance/images/"+id)
	got := h.admin().do(t, "PUT", "/images/"+id, `{"image": {"status": "queued"}}`).want(t, http.StatusForbidden)
	if msg, want := got.errMessage(t), expl("Attribute 'status' is read-only."); msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
	if img := h.get(t, id); img.Status != image.Active || len(img.Locations) != 1 {
		t.Errorf("stored status, locations = %s, %d, want active, 1", img.Status, len(img.Locations))
	}
}

func TestDeactivationCannotBeUndoneByOwner(t *testing.T) {
	h := newHarness(t, registry.Config{})
	id := activeImage(t, h)
	h.admin().do(t, "PUT", "/images/"+id, `{"image": {"status": "deactivated"}}`).want(t, http.StatusOK)
	if got := h.get(t, id).Status; got != image.Deactivated {
		t.Fatalf("status = %s, want deactivated", got)
	}
	got := h.as("p1", "member").do(t, "PUT", "/images/"+id, `{"image": {"status": "active"}}`).want(t, http.StatusForbidden)
	if msg, want := got.errMessage(t), expl("Attribute 'status' is read-only."); msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
	if got := h.get(t, id).Status; got != image.Deactivated {
		t.Errorf("status after the owner's attempt = %s, want deactivated", got)
	}
	doc := h.admin().do(t, "PUT", "/images/"+id, `{"image": {"status": "active", "name": "back"}}`).want(t, http.StatusOK).image(t)
	if doc["status"] != "active" || doc["name"] != "back" {
		t.Errorf("answer status, name = %v, %v, want active, back", doc["status"], doc["name"])
	}
	if img := h.get(t, id); img.Status != image.Active || *img.Name != "back" {
		t.Errorf("stored status, name = %s, %s, want active, back", img.Status, *img.Name)
	}
}

// denyingPolicy is Glance's default policy with the named rules refused.
func denyingPolicy(t *testing.T, rules ...string) *policy.Enforcer {
	t.Helper()
	e, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if err := e.Register(r, "!"); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestAdminStatusToggleGoesThroughPolicy(t *testing.T) {
	h := newHarness(t, registry.Config{}, imageops.WithPolicy(denyingPolicy(t, "deactivate", "reactivate"), true))
	id := activeImage(t, h)
	h.admin().do(t, "PUT", "/images/"+id, `{"image": {"status": "deactivated", "name": "x"}}`).want(t, http.StatusForbidden)
	if img := h.get(t, id); img.Status != image.Active || *img.Name != "a" {
		t.Errorf("stored status, name = %s, %s, want active, a", img.Status, *img.Name)
	}
	// Put it in deactivated behind the policy's back; reactivating is refused too.
	if err := h.db.SetStatus(context.Background(), id, image.Active, image.Deactivated); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	h.admin().do(t, "PUT", "/images/"+id, `{"image": {"status": "active"}}`).want(t, http.StatusForbidden)
	if got := h.get(t, id).Status; got != image.Deactivated {
		t.Errorf("status = %s, want deactivated", got)
	}
}

func TestCreateRefusesNonCanonicalIDs(t *testing.T) {
	h := newHarness(t, registry.Config{})
	for _, id := range []string{
		"urn:uuid:71c675ab-d94f-49cd-a114-e12490b328d8",
		"{71c675ab-d94f-49cd-a114-e12490b328d8}",
		"71C675AB-D94F-49CD-A114-E12490B328D8",
		"71c675ab-d94f-49cd-a114-E12490B328D8",
		"71c675abd94f49cda114e12490b328d8",
		"uuid:71c675ab-d94f-49cd-a114-e12490b328d8",
	} {
		t.Run(id, func(t *testing.T) {
			for _, u := range []*client{h.as("p1", "member"), h.admin()} {
				got := u.do(t, "POST", "/images", `{"image": {"id": "`+id+`"}}`).want(t, http.StatusBadRequest)
				if msg, want := got.errMessage(t), expl("Invalid image id format"); msg != want {
					t.Errorf("message = %q, want %q", msg, want)
				}
			}
			if n := len(h.all(t)); n != 0 {
				t.Errorf("images after refusal = %d, want 0", n)
			}
		})
	}
	const canonical = "71c675ab-d94f-49cd-a114-e12490b328d8"
	if got := h.as("p1", "").create(t, `{"image": {"id": "`+canonical+`"}}`); got != canonical {
		t.Errorf("id = %q, want %q", got, canonical)
	}
}

// acceptedMember shares a new image of p1 with p2, who accepts it.
func acceptedMember(t *testing.T, h *harness) string {
	t.Helper()
	owner := h.as("p1", "")
	id := owner.create(t, `{"image": {"name": "shared"}}`)
	owner.do(t, "PUT", "/images/"+id+"/members/p2", "").want(t, http.StatusNoContent)
	if _, err := h.ops.UpdateMemberStatus(context.Background(), &auth.Context{ProjectID: "p2"}, id, "p2", image.MemberAccepted); err != nil {
		t.Fatalf("accept: %v", err)
	}
	return id
}

func TestReplaceMembersOverQuotaChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  registry.Config
	}{
		{"quota known to the registry", registry.Config{MemberLimit: 3}},
		{"quota only in the use cases", registry.Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			id := acceptedMember(t, h)
			got := h.as("p1", "").do(t, "PUT", "/images/"+id+"/members",
				`{"memberships": [{"member_id": "p3"}, {"member_id": "p4"}, {"member_id": "p5"}, {"member_id": "p6"}]}`)
			if got.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status = %d, want 413; body %s", got.Status, got.Body)
			}
			ms, err := h.ops.ListMembers(context.Background(), &auth.Context{IsAdmin: true, Roles: []string{"admin"}}, id)
			if err != nil {
				t.Fatalf("ListMembers: %v", err)
			}
			if len(ms) != 1 || ms[0].MemberID != "p2" || ms[0].Status != image.MemberAccepted {
				var got []string
				for _, m := range ms {
					got = append(got, m.MemberID+":"+m.Status)
				}
				t.Errorf("members = %v, want [p2:accepted]", got)
			}
		})
	}
}

func TestReplaceMembersWithinQuota(t *testing.T) {
	h := newHarness(t, registry.Config{MemberLimit: 3})
	id := acceptedMember(t, h)
	h.as("p1", "").do(t, "PUT", "/images/"+id+"/members",
		`{"memberships": [{"member_id": "p2"}, {"member_id": "p3"}, {"member_id": "p4"}]}`).want(t, http.StatusNoContent)
	m, err := h.ops.GetMember(context.Background(), &auth.Context{IsAdmin: true, Roles: []string{"admin"}}, id, "p2")
	if err != nil || m.Status != image.MemberAccepted {
		t.Errorf("p2 after replace = %v, %v, want accepted", m, err)
	}
}

func TestMemberIDTooLong(t *testing.T) {
	h := newHarness(t, registry.Config{})
	owner := h.as("p1", "")
	id := owner.create(t, `{"image": {"name": "shared"}}`)
	long := strings.Repeat("m", 256)
	want := expl("Member id is too long, it must not exceed 255 characters.")
	for _, tc := range []struct{ name, method, path, body string }{
		{"put one", "PUT", "/images/" + id + "/members/" + long, ""},
		{"replace all", "PUT", "/images/" + id + "/members", `{"memberships": [{"member_id": "` + long + `"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := owner.do(t, tc.method, tc.path, tc.body).want(t, http.StatusBadRequest)
			if msg := got.errMessage(t); msg != want {
				t.Errorf("message = %q, want %q", msg, want)
			}
			ms, err := h.ops.ListMembers(context.Background(), &auth.Context{IsAdmin: true, Roles: []string{"admin"}}, id)
			if err != nil || len(ms) != 0 {
				t.Errorf("members = %d, %v, want 0", len(ms), err)
			}
		})
	}
	owner.do(t, "PUT", "/images/"+id+"/members/"+strings.Repeat("m", 255), "").want(t, http.StatusNoContent)
}
