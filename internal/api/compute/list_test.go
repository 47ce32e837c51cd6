package compute_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/api/compute"
	"glimpse/internal/image"
)

// listFixture makes five images of alice's, created one second apart
// (so the default order, newest first, is e, d, c, b, a).
func listFixture(t *testing.T, h *harness) map[string]string {
	ids := map[string]string{}
	specs := []struct {
		name   string
		status image.Status
		minRAM int
		minDsk int
		props  map[string]*string
	}{
		{"a", image.Active, 512, 1, props("image_type", "snapshot", "instance_uuid", srvID)},
		{"b", image.Queued, 0, 0, props("os_distro", "cirros")},
		{"c", image.Active, 1024, 1, props("s_distro", "cirros", "image_type", "image")},
		{"d", image.Saving, 512, 2, nil},
		{"e", image.Active, 0, 0, nil},
	}
	for i, s := range specs {
		id := fmt.Sprintf("00000000-0000-0000-0000-00000000000%d", i+1)
		ids[s.name] = id
		h.create(t, alice, &image.Image{ID: id, Name: image.Str(s.name), MinRAM: s.minRAM, MinDisk: s.minDsk, Properties: s.props})
		h.set(t, id, func(img *image.Image) {
			img.Status = s.status
			img.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			img.UpdatedAt = t0.Add(time.Duration(i) * time.Hour)
		})
	}
	return ids
}

func names(t *testing.T, r *response) []string {
	t.Helper()
	var out []string
	for _, img := range r.json(t)["images"].([]any) {
		out = append(out, img.(map[string]any)["name"].(string))
	}
	return out
}

func TestListFilters(t *testing.T) {
	h := newHarness(t, compute.Config{})
	listFixture(t, h)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"e", "d", "c", "b", "a"}},
		{"name=c", []string{"c"}},
		{"status=ACTIVE", []string{"e", "c", "a"}},
		{"status=queued", []string{"b"}},
		{"changes-since=" + url.QueryEscape(t0.Add(2*time.Hour).Format(time.RFC3339)), []string{"e", "d", "c"}},
		{"changes-since=2024-05-06T09:08:09", []string{"e", "d", "c"}},
		{"server=" + srvID, []string{"a"}},
		{"server=" + url.QueryEscape("http://nova/v2.1/servers/"+srvID), []string{"a"}},
		{"type=snapshot", []string{"a"}},
		{"type=image", []string{"c"}},
		{"minRam=512", []string{"d", "a"}},
		{"minDisk=1", []string{"c", "a"}},
		{"minRam=abc", nil},
		{"property-image_type=snapshot", []string{"a"}},
		// Nova strips "property-" with Python's lstrip, which also
		// eats the leading "o" of "os_distro".
		{"property-os_distro=cirros", []string{"c"}},
		{"limit=2", []string{"e", "d"}},
		{"marker=00000000-0000-0000-0000-000000000004", []string{"c", "b", "a"}},
		{"limit=1&marker=00000000-0000-0000-0000-000000000004", []string{"c"}},
		{"status=active&minRam=512", []string{"a"}},
		{"unknown=1&sort_key=name&sort_dir=asc", []string{"e", "d", "c", "b", "a"}},
	}
	for _, tt := range tests {
		for _, path := range []string{"/v2.1/images", "/v2.1/images/detail"} {
			t.Run(path+"?"+tt.query, func(t *testing.T) {
				r := h.do(t, alice, "GET", path+"?"+tt.query, "")
				if r.Status != 200 {
					t.Fatalf("status = %d, want 200; %s", r.Status, r.Body)
				}
				if diff := cmp.Diff(tt.want, names(t, r)); diff != "" {
					t.Errorf("images (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestListIndexShape(t *testing.T) {
	h := newHarness(t, compute.Config{})
	ids := listFixture(t, h)
	r := h.do(t, alice, "GET", "/v2.1/images?name=a", "")
	host := strings.TrimPrefix(h.ts.URL, "http://")
	want := fmt.Sprintf(`{"images": [{"id": %[1]q, "name": "a", "links": [
		{"rel": "self", "href": "http://%[2]s/v2.1/images/%[1]s"},
		{"rel": "bookmark", "href": "http://%[2]s/images/%[1]s"},
		{"rel": "alternate", "type": "application/vnd.openstack.image", "href": "http://%[2]s/images/%[1]s"}]}]}`, ids["a"], host)
	if !sameJSON(t, r.Body, want) {
		t.Errorf("body = %s\nwant %s", r.Body, want)
	}
	d := h.do(t, alice, "GET", "/v2.1/images/detail?name=d", "")
	img := d.json(t)["images"].([]any)[0].(map[string]any)
	if img["status"] != "SAVING" || img["minRam"] != float64(512) || img["minDisk"] != float64(2) || img["updated"] != "2024-05-06T10:08:09Z" {
		t.Errorf("detail item = %v, want status SAVING, minRam 512, minDisk 2, updated 2024-05-06T10:08:09Z", img)
	}
}

func TestListPagination(t *testing.T) {
	h := newHarness(t, compute.Config{MaxLimit: 3})
	ids := listFixture(t, h)
	host := strings.TrimPrefix(h.ts.URL, "http://")
	tests := []struct {
		name, path string
		wantNames  []string
		wantNext   string
	}{
		{"full page gets a next link, keys sorted", "/v2.1/images?status=active&limit=2&foo=b&foo=a",
			[]string{"e", "c"}, "http://" + host + "/v2.1/images?foo=b&limit=2&marker=" + ids["c"] + "&status=active"},
		{"detail keeps its collection", "/v2.1/images/detail?limit=2",
			[]string{"e", "d"}, "http://" + host + "/v2.1/images/detail?limit=2&marker=" + ids["d"]},
		{"marker is replaced", "/v2.1/images?limit=1&marker=" + ids["e"],
			[]string{"d"}, "http://" + host + "/v2.1/images?limit=1&marker=" + ids["d"]},
		{"project in URL", "/v2.1/a1a1/images?limit=1",
			[]string{"e"}, "http://" + host + "/v2.1/a1a1/images?limit=1&marker=" + ids["e"]},
		{"short page has none", "/v2.1/images?limit=3&status=active",
			[]string{"e", "c", "a"}, "http://" + host + "/v2.1/images?limit=3&marker=" + ids["a"] + "&status=active"},
		{"limit above max_limit, page of max_limit", "/v2.1/images?limit=4&status=active", []string{"e", "c", "a"},
			"http://" + host + "/v2.1/images?limit=4&marker=" + ids["a"] + "&status=active"},
		{"fewer than asked", "/v2.1/images?limit=2&name=a", []string{"a"}, ""},

		{"no limit: everything, link only at max_limit", "/v2.1/images", []string{"e", "d", "c", "b", "a"}, ""},
		{"no limit, exactly max_limit", "/v2.1/images?status=active", []string{"e", "c", "a"},
			"http://" + host + "/v2.1/images?marker=" + ids["a"] + "&status=active"},
		{"limit above max_limit", "/v2.1/images?limit=4", []string{"e", "d", "c", "b"}, ""},
		{"legacy v2 endpoint", "/v2/images?limit=1", []string{"e"}, "http://" + host + "/v2/images?limit=1&marker=" + ids["e"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(t, alice, "GET", tt.path, "")
			if r.Status != 200 {
				t.Fatalf("status = %d, want 200; %s", r.Status, r.Body)
			}
			if diff := cmp.Diff(tt.wantNames, names(t, r)); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
			links, ok := r.json(t)["images_links"].([]any)
			if tt.wantNext == "" {
				if ok {
					t.Errorf("images_links = %v, want none", links)
				}
				return
			}
			want := []any{map[string]any{"rel": "next", "href": tt.wantNext}}
			if diff := cmp.Diff(want, links); diff != "" {
				t.Errorf("images_links (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListErrors(t *testing.T) {
	h := newHarness(t, compute.Config{})
	listFixture(t, h)
	tests := []struct {
		query string
		msg   string
	}{
		{"limit=abc", "Invalid input for query parameters limit. Value: abc. 'abc' does not match '^[0-9]*$'"},
		{"limit=-1", "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'"},
		{"limit=0", "Invalid input for query parameters limit. Value: 0. 0 is less than the minimum of 1"},
		{"limit=", "Invalid input for query parameters limit. Value: . '' should be non-empty"},
		{"limit=2&limit=x", "Invalid input for query parameters limit. Value: x. 'x' does not match '^[0-9]*$'"},
		{"page_size=0", "Invalid input for query parameters page_size. Value: 0. 0 is less than the minimum of 1"},
		{"offset=z", "Invalid input for query parameters offset. Value: z. 'z' does not match '^[0-9]*$'"},
		{"changes-since=yesterday", `400 Bad Request: Bad "updated_at" query filter format. Use ISO 8601 DateTime notation. (HTTP 400)`},
		{"marker=99999999-0000-0000-0000-000000000000", "400 Bad Request: No image found with ID 99999999-0000-0000-0000-000000000000 (HTTP 400)"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := h.do(t, alice, "GET", "/v2.1/images/detail?"+tt.query, "")
			want := faultBody("badRequest", 400, tt.msg)
			if r.Status != 400 || !sameJSON(t, r.Body, want) {
				t.Errorf("got %d %s, want 400 %s", r.Status, r.Body, want)
			}
		})
	}
}

func TestListVisibility(t *testing.T) {
	h := newHarness(t, compute.Config{})
	listFixture(t, h)
	h.create(t, bob, &image.Image{ID: srvID, Name: image.Str("bobs")})
	h.create(t, admin, &image.Image{ID: imgID, Name: image.Str("pub"), Visibility: image.Public, Owner: image.Str("c3c3")})
	hidden := "33333333-2222-3333-4444-555555555555"
	h.create(t, admin, &image.Image{ID: hidden, Name: image.Str("hidden"), Visibility: image.Public, OSHidden: true})
	r := h.do(t, bob, "GET", "/v2.1/images", "")
	if diff := cmp.Diff([]string{"pub", "bobs"}, names(t, r)); diff != "" {
		t.Errorf("bob's list (-want +got):\n%s", diff)
	}
}

// A limit beyond what Glance serves in one page gets Glance's maximum,
// not the whole catalog.
func TestListLimitCappedByGlance(t *testing.T) {
	h := newHarness(t, compute.Config{GlanceLimitMax: 2})
	listFixture(t, h)
	r := h.do(t, alice, "GET", "/v2.1/images?limit=100000000000000000000", "")
	var out struct{ Images []any }
	if r.Status != 200 || json.Unmarshal(r.Body, &out) != nil || len(out.Images) != 2 {
		t.Fatalf("got %d with %d images (%s), want 200 with 2", r.Status, len(out.Images), r.Body)
	}
}
