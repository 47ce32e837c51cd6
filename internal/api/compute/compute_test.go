package compute_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/api/compute"
	"glimpse/internal/image"
)

const imgID = "11111111-2222-3333-4444-555555555555"
const srvID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

func TestShowDetailView(t *testing.T) {
	h := newHarness(t, compute.Config{})
	created := h.create(t, alice, &image.Image{ID: imgID, Name: image.Str("cirros"), MinRAM: 512, MinDisk: 2,
		Properties: props("instance_uuid", srvID, "auto_disk_config", "True", "kernel_id", "k1")})
	h.set(t, imgID, func(img *image.Image) {
		img.Status = image.Active
		size := int64(4096)
		img.Size = &size
		img.CreatedAt, img.UpdatedAt = t0, t0.Add(90)
	})
	host := strings.TrimPrefix(h.ts.URL, "http://")
	tests := []struct {
		name, path, project string
	}{
		{"no project in URL", "/v2.1/images/" + imgID, ""},
		{"project in URL", "/v2.1/a1a1/images/" + imgID, "/a1a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(t, alice, "GET", tt.path, "")
			if r.Status != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", r.Status, r.Body)
			}
			want := fmt.Sprintf(`{"image": {"id": %[1]q, "name": "cirros", "minRam": 512, "minDisk": 2,
				"metadata": {"auto_disk_config": "True", "instance_uuid": %[2]q, "kernel_id": "k1"},
				"created": %[5]q, "updated": "2024-05-06T07:08:09Z",
				"status": "ACTIVE", "progress": 100, "OS-EXT-IMG-SIZE:size": 4096,
				"links": [
					{"rel": "self", "href": "http://%[3]s/v2.1%[4]s/images/%[1]s"},
					{"rel": "bookmark", "href": "http://%[3]s%[4]s/images/%[1]s"},
					{"rel": "alternate", "type": "application/vnd.openstack.image", "href": "http://%[3]s/images/%[1]s"}],
				"server": {"id": %[2]q, "links": [
					{"rel": "self", "href": "http://%[3]s/v2.1%[4]s/servers/%[2]s"},
					{"rel": "bookmark", "href": "http://%[3]s%[4]s/servers/%[2]s"}]},
				"OS-DCF:diskConfig": "AUTO"}}`, imgID, srvID, host, tt.project, created.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"))
			if !sameJSON(t, r.Body, want) {
				t.Errorf("body = %s\nwant %s", r.Body, want)
			}
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
		})
	}
}

func TestShowEndpointsFromConfig(t *testing.T) {
	h := newHarness(t, compute.Config{PublicEndpoint: "https://cloud.example/compute/", GlanceEndpoint: "https://images.example:9292"})
	h.create(t, alice, &image.Image{ID: imgID})
	r := h.do(t, alice, "GET", "/v2.1/images/"+imgID, "")
	img := r.json(t)["image"].(map[string]any)
	var hrefs []string
	for _, l := range img["links"].([]any) {
		hrefs = append(hrefs, l.(map[string]any)["href"].(string))
	}
	want := []string{
		"https://cloud.example/compute/v2.1/images/" + imgID,
		"https://cloud.example/compute/images/" + imgID,
		"https://images.example:9292/images/" + imgID,
	}
	if diff := cmp.Diff(want, hrefs); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	if img["name"] != nil {
		t.Errorf("name = %v, want null", img["name"])
	}
	if _, ok := img["server"]; ok {
		t.Errorf("server present without instance_uuid")
	}
	if _, ok := img["OS-DCF:diskConfig"]; ok {
		t.Errorf("OS-DCF:diskConfig present without auto_disk_config")
	}
	if got := img["OS-EXT-IMG-SIZE:size"]; got != float64(0) {
		t.Errorf("size = %v, want 0 for an image without data", got)
	}
}

func TestStatusAndProgress(t *testing.T) {
	tests := []struct {
		status   image.Status
		want     string
		progress float64
	}{
		{image.Active, "ACTIVE", 100},
		{image.Queued, "SAVING", 25},
		{image.Saving, "SAVING", 50},
		{image.Killed, "ERROR", 0},
		{image.PendingDelete, "DELETED", 0},
		{image.Deactivated, "UNKNOWN", 0},
		{image.Uploading, "UNKNOWN", 0},
		{image.Importing, "UNKNOWN", 0},
	}
	h := newHarness(t, compute.Config{})
	for i, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			id := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
			h.create(t, alice, &image.Image{ID: id, Properties: props("auto_disk_config", "no")})
			h.set(t, id, func(img *image.Image) { img.Status = tt.status })
			r := h.do(t, alice, "GET", "/v2.1/images/"+id, "")
			if r.Status != 200 {
				t.Fatalf("status = %d, want 200; %s", r.Status, r.Body)
			}
			img := r.json(t)["image"].(map[string]any)
			if img["status"] != tt.want || img["progress"] != tt.progress {
				t.Errorf("status, progress = %v, %v; want %v, %v", img["status"], img["progress"], tt.want, tt.progress)
			}
			if img["OS-DCF:diskConfig"] != "MANUAL" {
				t.Errorf("OS-DCF:diskConfig = %v, want MANUAL", img["OS-DCF:diskConfig"])
			}
		})
	}
}

func TestShowErrors(t *testing.T) {
	h := newHarness(t, compute.Config{})
	h.create(t, alice, &image.Image{ID: imgID, Visibility: image.Private})
	tests := []struct {
		name   string
		who    caller
		path   string
		status int
		body   string
	}{
		{"missing", alice, "/v2.1/images/" + srvID, 404, faultBody("itemNotFound", 404, "Image not found.")},
		{"not a uuid", alice, "/v2.1/images/nope", 404, faultBody("itemNotFound", 404, "Image not found.")},
		{"other project's private image", bob, "/v2.1/images/" + imgID, 404, faultBody("itemNotFound", 404, "Image not found.")},
		{"URL project differs from caller's", alice, "/v2.1/b2b2/images/" + imgID, 400,
			faultBody("badRequest", 400, "Malformed request URL: URL's project_id 'b2b2' doesn't match Context's project_id 'a1a1'")},
		{"URL project without caller project", admin, "/v2.1/b2b2/images/" + imgID, 400,
			faultBody("badRequest", 400, "Malformed request URL: URL's project_id 'b2b2' doesn't match Context's project_id 'None'")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(t, tt.who, "GET", tt.path, "")
			if r.Status != tt.status || !sameJSON(t, r.Body, tt.body) {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Body, tt.status, tt.body)
			}
			if got := r.Header.Get("Content-Type"); got != "application/json; charset=UTF-8" {
				t.Errorf("Content-Type = %q, want application/json; charset=UTF-8", got)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	h := newHarness(t, compute.Config{})
	h.create(t, admin, &image.Image{ID: imgID, Visibility: image.Public, Owner: image.Str(alice.project)})
	prot := "22222222-2222-3333-4444-555555555555"
	h.create(t, alice, &image.Image{ID: prot, Protected: true})
	tests := []struct {
		name   string
		who    caller
		id     string
		status int
		body   string
	}{
		{"not the owner", bob, imgID, 403, faultBody("forbidden", 403, "You are not allowed to delete the image.")},
		{"protected", alice, prot, 403, faultBody("forbidden", 403, "You are not allowed to delete the image.")},
		{"missing", alice, srvID, 404, faultBody("itemNotFound", 404, "Image not found.")},
		{"owner", alice, imgID, 204, ""},
		{"again", alice, imgID, 404, faultBody("itemNotFound", 404, "Image not found.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(t, tt.who, "DELETE", "/v2.1/images/"+tt.id, "")
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", r.Status, tt.status, r.Body)
			}
			if tt.body == "" {
				if len(r.Body) != 0 {
					t.Errorf("body = %q, want none", r.Body)
				}
				return
			}
			if !sameJSON(t, r.Body, tt.body) {
				t.Errorf("body = %s, want %s", r.Body, tt.body)
			}
		})
	}
	if _, err := h.ops.Get(context.Background(), alice.ctx(), imgID); !image.Is(image.NotFound, err) {
		t.Errorf("after DELETE, imageops.Get error = %v, want not found", err)
	}
}

func TestRoutesNotFound(t *testing.T) {
	h := newHarness(t, compute.Config{})
	h.create(t, alice, &image.Image{ID: imgID})
	tests := []struct{ method, path string }{
		{"POST", "/v2.1/images"},
		{"PUT", "/v2.1/images/" + imgID},
		{"PATCH", "/v2.1/images/" + imgID},
		{"HEAD", "/v2.1/images"},
		{"DELETE", "/v2.1/images/" + imgID + "/metadata"},
		{"POST", "/v2.1/images/" + imgID + "/metadata/k"},
		{"GET", "/v2.1/servers"},
		{"GET", "/v3/images"},
		{"GET", "/v2.1/NOTHEX/images"},
		{"GET", "/v2.1/images/" + imgID + "/members"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := h.do(t, alice, tt.method, tt.path, "", "Accept", "application/json")
			if r.Status != 404 {
				t.Fatalf("status = %d, want 404", r.Status)
			}
			if r.Header.Get("OpenStack-API-Version") != "" {
				t.Errorf("a route miss carries OpenStack-API-Version %q, want none", r.Header.Get("OpenStack-API-Version"))
			}
			if tt.method != "HEAD" && !strings.Contains(string(r.Body), "The resource could not be found.") {
				t.Errorf("body = %s, want webob's 404", r.Body)
			}
		})
	}
}

func TestUnsupportedContentType(t *testing.T) {
	h := newHarness(t, compute.Config{})
	r := h.do(t, alice, "GET", "/v2.1/images", "", "Content-Type", "application/xml")
	want := faultBody("badMediaType", 415, "Unsupported Content-Type")
	if r.Status != 415 || !sameJSON(t, r.Body, want) {
		t.Errorf("got %d %s, want 415 %s", r.Status, r.Body, want)
	}
	for _, ct := range []string{"text/plain", "application/json; charset=UTF-8"} {
		if r := h.do(t, alice, "GET", "/v2.1/images", "", "Content-Type", ct); r.Status != 200 {
			t.Errorf("Content-Type %s: status %d, want 200", ct, r.Status)
		}
	}
}
