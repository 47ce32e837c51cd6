package registry_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/api/registry"
)

// A character outside the Basic Multilingual Plane (four bytes in UTF-8).
const emoji = "\U0001F600"

const badRequestExpl = "The server could not comply with the request since it is either malformed or otherwise incorrect.<br /><br />\n"

func TestFourByteCreateRefused(t *testing.T) {
	h := newHarness(t, registry.Config{})
	h.as("p1", "").create(t, `{"image": {"name": "before"}}`)
	const fail = badRequestExpl + "Failed to add image metadata. Got error: "
	for _, tc := range []struct {
		name, body, msg string
	}{
		{"name", `{"image": {"name": "a` + emoji + `"}}`, fail + "Name can't contain 4 byte unicode characters.\n\n"},
		{"property value", `{"image": {"properties": {"os_distro": "` + emoji + `"}}}`, fail + "Os_Distro can't contain 4 byte unicode characters.\n\n"},
		{"property name", `{"image": {"properties": {"k` + emoji + `": "v"}}}`, fail + "Property names can't contain 4 byte unicode.\n\n"},
		{"name before properties", `{"image": {"name": "` + emoji + `", "properties": {"a": "` + emoji + `"}}}`, fail + "Name can't contain 4 byte unicode characters.\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.all(t)
			got := h.as("p1", "member").do(t, "POST", "/images", tc.body).want(t, http.StatusBadRequest)
			if msg := got.errMessage(t); msg != tc.msg {
				t.Errorf("got message %q, want %q", msg, tc.msg)
			}
			if diff := cmp.Diff(before, h.all(t)); diff != "" {
				t.Errorf("images changed by a refused create (-before +after):\n%s", diff)
			}
		})
	}
}

func TestFourByteUpdateRefused(t *testing.T) {
	h := newHarness(t, registry.Config{})
	id := h.as("p1", "").create(t, `{"image": {"name": "keep", "properties": {"k": "v"}}}`)
	const fail = badRequestExpl + "Failed to update image metadata. Got error: "
	for _, tc := range []struct {
		name, body, msg string
	}{
		{"name", `{"image": {"name": "` + emoji + `"}}`, fail + "Name can't contain 4 byte unicode characters.\n\n"},
		{"property value", `{"image": {"properties": {"k": "` + emoji + `"}}}`, fail + "K can't contain 4 byte unicode characters.\n\n"},
		{"property name", `{"image": {"properties": {"` + emoji + `": "v"}}}`, fail + "Property names can't contain 4 byte unicode.\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.get(t, id)
			got := h.as("p1", "").do(t, "PUT", "/images/"+id, tc.body).want(t, http.StatusBadRequest)
			if msg := got.errMessage(t); msg != tc.msg {
				t.Errorf("got message %q, want %q", msg, tc.msg)
			}
			if diff := cmp.Diff(before, h.get(t, id)); diff != "" {
				t.Errorf("image changed by a refused update (-before +after):\n%s", diff)
			}
		})
	}
}

// The registry never caught the database layer's refusal of a member id:
// it answered a 500.
func TestFourByteMemberRefused(t *testing.T) {
	h := newHarness(t, registry.Config{})
	owner := h.as("p1", "")
	id := owner.create(t, `{"image": {}}`)
	owner.do(t, "PUT", "/images/"+id+"/members/p2", "").want(t, http.StatusNoContent)
	for _, tc := range []struct {
		name, path, body string
	}{
		{"add", "/images/" + id + "/members/" + url.PathEscape("m"+emoji), ""},
		{"replace", "/images/" + id + "/members", `{"memberships": [{"member_id": "m` + emoji + `"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.memberIDs(t, id)
			got := owner.do(t, "PUT", tc.path, tc.body).want(t, http.StatusInternalServerError)
			if msg, want := got.errMessage(t), expl("The server has either erred or is incapable of performing the requested operation."); msg != want {
				t.Errorf("got message %q, want %q", msg, want)
			}
			if diff := cmp.Diff(before, h.memberIDs(t, id)); diff != "" {
				t.Errorf("members changed by a refusal (-before +after):\n%s", diff)
			}
		})
	}
}
