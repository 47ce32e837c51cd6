package v1_test

import (
	"net/url"
	"reflect"
	"testing"
)

// A character outside the Basic Multilingual Plane (four bytes in UTF-8).
const emoji = "\U0001F600"

func TestFourByteCreateRefused(t *testing.T) {
	h := newHarness(t)
	h.create(p1, map[string]string{"x-image-meta-name": "before"}, "")
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want string
	}{
		{"name", map[string]string{"x-image-meta-name": "a" + emoji}, "Failed to reserve image. Got error: Name can't contain 4 byte unicode characters."},
		{"property", map[string]string{"x-image-meta-name": "x", "x-image-meta-property-os-distro": emoji}, "Failed to reserve image. Got error: Os_Distro can't contain 4 byte unicode characters."},
		{"name before properties", map[string]string{"x-image-meta-name": emoji, "x-image-meta-property-a": emoji}, "Failed to reserve image. Got error: Name can't contain 4 byte unicode characters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.allImages()
			r := h.do("POST", "/v1/images", p1, "member", tc.hdr, "")
			if r.status != 400 || msg(r.body) != tc.want {
				t.Errorf("got %d %q, want 400 %q", r.status, msg(r.body), tc.want)
			}
			if after := h.allImages(); after != before {
				t.Errorf("got %d images after a refused create, want %d", after, before)
			}
		})
	}
}

func TestFourByteUpdateRefused(t *testing.T) {
	h := newHarness(t)
	id := h.create(p1, map[string]string{"x-image-meta-name": "keep", "x-image-meta-property-p": "1"}, "")
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want string
	}{
		{"name", map[string]string{"x-image-meta-name": emoji}, "Failed to update image metadata. Got error: Name can't contain 4 byte unicode characters."},
		{"property", map[string]string{"x-image-meta-property-p": "v" + emoji}, "Failed to update image metadata. Got error: P can't contain 4 byte unicode characters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.get(id)
			r := h.do("PUT", "/v1/images/"+id, p1, "member", tc.hdr, "")
			if r.status != 400 || msg(r.body) != tc.want {
				t.Errorf("got %d %q, want 400 %q", r.status, msg(r.body), tc.want)
			}
			if after := h.get(id); !reflect.DeepEqual(after, before) {
				t.Errorf("a refused update changed the image: got %+v, want %+v", after, before)
			}
		})
	}
}

// The registry never caught the database layer's refusal of a member
// id: Glance v1 answered a 500.
func TestFourByteMemberRefused(t *testing.T) {
	h := newHarness(t)
	id := h.create(p1, nil, "")
	if r := h.do("PUT", "/v1/images/"+id+"/members/"+p2, p1, "member", nil, ""); r.status != 204 {
		t.Fatalf("PUT member = %d %s, want 204", r.status, r.body)
	}
	want := map[string]bool{p2: false}
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"add", "PUT", "/v1/images/" + id + "/members/" + url.PathEscape("m"+emoji), ""},
		{"replace", "PUT", "/v1/images/" + id + "/members", `{"memberships":[{"member_id":"m` + emoji + `"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, p1, "member", nil, tc.body)
			if r.status != 500 || msg(r.body) != "The server has either erred or is incapable of performing the requested operation." {
				t.Errorf("got %d %q, want 500 with the generic explanation", r.status, msg(r.body))
			}
			if got := h.memberList(id, p1); !sameMembers(got, want) {
				t.Errorf("got members %v after a refused change, want %v", got, want)
			}
		})
	}
}

func TestFourByteLocationRefused(t *testing.T) {
	o := newOrigin(t, []byte("external data"))
	h := newSourceHarness(t, openFilter(o.port(t)))
	before := h.allImages()
	r := h.do("POST", "/v1/images", p1, "admin", with(rawBare, "x-image-meta-location", o.URL+"/img#"+emoji), "")
	if want := "Failed to reserve image. Got error: Url can't contain 4 byte unicode characters."; r.status != 400 || msg(r.body) != want {
		t.Errorf("got %d %q, want 400 %q", r.status, msg(r.body), want)
	}
	if after := h.allImages(); after != before {
		t.Errorf("got %d images after a refused create, want %d", after, before)
	}
	q := h.create(p1, nil, "")
	old := h.get(q)
	r = h.do("PUT", "/v1/images/"+q, p1, "admin", with(rawBare, "x-image-meta-location", o.URL+"/img#"+emoji), "")
	if want := "Failed to update image metadata. Got error: Url can't contain 4 byte unicode characters."; r.status != 400 || msg(r.body) != want {
		t.Errorf("got %d %q, want 400 %q", r.status, msg(r.body), want)
	}
	if img := h.get(q); !reflect.DeepEqual(img, old) {
		t.Errorf("a refused location changed the image: got %+v, want %+v", img, old)
	}
}
