package v1_test

import (
	"context"
	"strings"
	"testing"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
)

// msg is the message of an error body, without the HTML line breaks
// the error renderer appends.
func msg(body string) string {
	m, _, _ := strings.Cut(message(body), "<br />")
	return m
}

// allImages returns every image in the catalog, deleted ones excepted.
func (h *harness) allImages() int {
	h.t.Helper()
	imgs, _, err := h.ops.List(context.Background(), &auth.Context{IsAdmin: true}, &catalog.ListQuery{Visibility: "all", MemberStatus: "all", Limit: 100})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(imgs)
}

func TestReservedPropertyNames(t *testing.T) {
	names := []string{
		// What v2 shows beside the image's attributes.
		"direct_url", "locations", "location", "self", "file", "schema", "stores",
		// The service's own prefix.
		"os_glance_import_task", "os_glance_failed_import", "os_glance",
		// The image's attributes.
		"id", "name", "status", "size", "checksum", "owner", "visibility", "protected",
		"os_hidden", "os_hash_algo", "os_hash_value", "created_at", "deleted", "tags",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			hdr := map[string]string{"x-image-meta-property-" + strings.ReplaceAll(name, "_", "-"): "file:///etc/shadow"}
			r := h.do("POST", "/v1/images", p1, "member", hdr, "")
			want := "Attribute '" + name + "' is reserved."
			if r.status != 403 || msg(r.body) != want {
				t.Errorf("POST property %s = %d %q, want 403 %q", name, r.status, msg(r.body), want)
			}
			if got := h.allImages(); got != 0 {
				t.Errorf("images after refused POST = %d, want 0", got)
			}

			id := h.create(p1, map[string]string{"x-image-meta-property-ok": "1"}, "")
			r = h.do("PUT", "/v1/images/"+id, p1, "member", hdr, "")
			if r.status != 403 || msg(r.body) != want {
				t.Errorf("PUT property %s = %d %q, want 403 %q", name, r.status, msg(r.body), want)
			}
			img := h.get(id)
			if _, ok := img.Properties[name]; ok {
				t.Errorf("properties after refused PUT = %v, want no %s", img.Properties, name)
			}
			if v := img.Properties["ok"]; v == nil || *v != "1" {
				t.Errorf("properties after refused PUT = %v, want ok=1 kept", img.Properties)
			}
		})
	}
}

func TestLongPropertyName(t *testing.T) {
	h := newHarness(t)
	const want = "Custom property should not be greater than 255 characters."
	ok := map[string]string{"x-image-meta-property-" + strings.Repeat("k", 255): "v"}
	id := h.create(p1, ok, "")
	if v := h.get(id).Properties[strings.Repeat("k", 255)]; v == nil || *v != "v" {
		t.Errorf("255-character property = %v, want v", v)
	}
	long := map[string]string{"x-image-meta-property-" + strings.Repeat("k", 256): "v"}
	r := h.do("POST", "/v1/images", p1, "member", long, "")
	if r.status != 400 || msg(r.body) != want {
		t.Errorf("POST 256-character property = %d %q, want 400 %q", r.status, msg(r.body), want)
	}
	if got := h.allImages(); got != 1 {
		t.Errorf("images after refused POST = %d, want 1", got)
	}
	r = h.do("PUT", "/v1/images/"+id, p1, "member", long, "")
	if r.status != 400 || msg(r.body) != want {
		t.Errorf("PUT 256-character property = %d %q, want 400 %q", r.status, msg(r.body), want)
	}
	if _, got := h.get(id).Properties[strings.Repeat("k", 256)]; got {
		t.Errorf("256-character property stored after refused PUT")
	}
}

func TestCreateProtectedWithFailedUpload(t *testing.T) {
	h := newHarness(t)
	data := "0123456789"
	hdr := map[string]string{"Content-Type": "application/octet-stream", "x-image-meta-disk_format": "raw",
		"x-image-meta-container_format": "bare", "x-image-meta-protected": "true", "x-image-meta-checksum": md5hex("x")}
	r := h.do("POST", "/v1/images", p1, "member", hdr, data)
	want := "Supplied checksum (" + md5hex("x") + ") and checksum generated from uploaded image (" + md5hex(data) + ") did not match."
	if r.status != 400 || msg(r.body) != want {
		t.Errorf("POST = %d %q, want 400 %q", r.status, msg(r.body), want)
	}
	if got := h.allImages(); got != 0 {
		t.Errorf("images after failed protected create = %d, want 0", got)
	}

	// With a good upload the image is protected.
	hdr["x-image-meta-checksum"] = md5hex(data)
	id := h.create(p1, hdr, data)
	if img := h.get(id); !img.Protected || string(img.Status) != "active" {
		t.Errorf("created image = protected %v status %s, want protected active", img.Protected, img.Status)
	}
}

func TestReplaceMembersQuota(t *testing.T) {
	const a, b, c, d = "aaaaaaaa", "bbbbbbbb", "cccccccc", "dddddddd"
	two := 2
	for _, tc := range []struct {
		name  string
		quota *int
	}{{"quota configured", &two}, {"quota not configured", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessQuota(t, 2, tc.quota)
			id := h.create(p1, nil, "")
			members := func() string {
				t.Helper()
				r := h.do("GET", "/v1/images/"+id+"/members", p1, "member", nil, "")
				return r.body
			}
			list := func(ids ...string) string {
				var parts []string
				for _, m := range ids {
					parts = append(parts, `{"can_share":false,"member_id":"`+m+`"}`)
				}
				return `{"members":[` + strings.Join(parts, ",") + `]}`
			}
			body := func(ids ...string) string {
				var parts []string
				for _, m := range ids {
					parts = append(parts, `{"member_id":"`+m+`"}`)
				}
				return `{"memberships":[` + strings.Join(parts, ",") + `]}`
			}
			if r := h.do("PUT", "/v1/images/"+id+"/members/"+a, p1, "member", nil, ""); r.status != 204 {
				t.Fatalf("PUT member %s = %d %s, want 204", a, r.status, r.body)
			}
			// [A] → [B, C, D]: over the quota, nothing changes.
			if r := h.do("PUT", "/v1/images/"+id+"/members", p1, "member", nil, body(b, c, d)); r.status != 413 {
				t.Errorf("replace over quota = %d %s, want 413", r.status, r.body)
			}
			if got, want := members(), list(a); got != want {
				t.Errorf("members after refused replace = %s, want %s", got, want)
			}
			// [A] → [B, C]: at the quota, it succeeds.
			if r := h.do("PUT", "/v1/images/"+id+"/members", p1, "member", nil, body(b, c)); r.status != 204 {
				t.Errorf("replace at quota = %d %s, want 204", r.status, r.body)
			}
			got := members()
			if got != list(b, c) && got != list(c, b) {
				t.Errorf("members after replace = %s, want %s", got, list(b, c))
			}
		})
	}
}

func TestLongMemberID(t *testing.T) {
	h := newHarness(t)
	id := h.create(p1, nil, "")
	long := strings.Repeat("m", 256)
	if r := h.do("PUT", "/v1/images/"+id+"/members/"+long, p1, "member", nil, ""); r.status != 400 {
		t.Errorf("PUT 256-character member = %d %s, want 400", r.status, r.body)
	}
	if r := h.do("PUT", "/v1/images/"+id+"/members", p1, "member", nil, `{"memberships":[{"member_id":"`+long+`"}]}`); r.status != 400 {
		t.Errorf("replace with 256-character member = %d %s, want 400", r.status, r.body)
	}
	if r := h.do("GET", "/v1/images/"+id+"/members", p1, "member", nil, ""); r.body != `{"members":[]}` {
		t.Errorf("members after refusals = %s, want none", r.body)
	}
	ok := strings.Repeat("m", 255)
	if r := h.do("PUT", "/v1/images/"+id+"/members/"+ok, p1, "member", nil, ""); r.status != 204 {
		t.Errorf("PUT 255-character member = %d %s, want 204", r.status, r.body)
	}
}
