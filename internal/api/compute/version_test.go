package compute_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/api/compute"
	"glimpse/internal/image"
)

func TestMicroversions(t *testing.T) {
	h := newHarness(t, compute.Config{})
	h.create(t, alice, &image.Image{ID: imgID, Properties: props("a", "1")})
	notFound := faultBody("itemNotFound", 404, "The resource could not be found.")
	tests := []struct {
		name        string
		path        string
		hdr         []string
		status      int
		wantVersion string // echoed version; "" for no version headers
		body        string
	}{
		{"default 2.1", "/v2.1/images", nil, 200, "2.1", ""},
		{"2.35 lists", "/v2.1/images", []string{"OpenStack-API-Version", "compute 2.35"}, 200, "2.35", ""},
		{"2.36 hides list", "/v2.1/images", []string{"OpenStack-API-Version", "compute 2.36"}, 404, "2.36", notFound},
		{"2.36 hides detail", "/v2.1/images/detail", []string{"OpenStack-API-Version", "compute 2.36"}, 404, "2.36", notFound},
		{"2.36 hides show", "/v2.1/images/" + imgID, []string{"OpenStack-API-Version", "compute 2.36"}, 404, "2.36", notFound},
		{"2.38 metadata", "/v2.1/images/" + imgID + "/metadata", []string{"OpenStack-API-Version", "compute 2.38"}, 200, "2.38", ""},
		{"2.38 metadata key", "/v2.1/images/" + imgID + "/metadata/a", []string{"OpenStack-API-Version", "compute 2.38"}, 200, "2.38", ""},
		{"2.39 hides metadata", "/v2.1/images/" + imgID + "/metadata", []string{"OpenStack-API-Version", "compute 2.39"}, 404, "2.39", notFound},
		{"2.39 hides metadata key", "/v2.1/images/" + imgID + "/metadata/a", []string{"OpenStack-API-Version", "compute 2.39"}, 404, "2.39", notFound},
		{"legacy header", "/v2.1/images", []string{"X-OpenStack-Nova-API-Version", "2.20"}, 200, "2.20", ""},
		{"legacy header 2.36", "/v2.1/images", []string{"X-OpenStack-Nova-API-Version", "2.36"}, 404, "2.36", notFound},
		{"standard header wins", "/v2.1/images", []string{"OpenStack-API-Version", "compute 2.3", "X-OpenStack-Nova-API-Version", "2.50"}, 200, "2.3", ""},
		{"other services ignored", "/v2.1/images", []string{"OpenStack-API-Version", "placement 1.30, compute 2.10"}, 200, "2.10", ""},
		{"only other services", "/v2.1/images", []string{"OpenStack-API-Version", "placement 1.30"}, 200, "2.1", ""},
		{"latest", "/v2.1/images", []string{"OpenStack-API-Version", "compute latest"}, 404, "2.104", notFound},
		{"malformed", "/v2.1/images", []string{"OpenStack-API-Version", "compute 2.x"}, 400, "",
			faultBody("badRequest", 400, "API Version String 2.x is of invalid format. Must be of format MajorNum.MinorNum.")},
		{"leading zero", "/v2.1/images", []string{"X-OpenStack-Nova-API-Version", "2.01"}, 400, "",
			faultBody("badRequest", 400, "API Version String 2.01 is of invalid format. Must be of format MajorNum.MinorNum.")},
		{"too new", "/v2.1/images", []string{"OpenStack-API-Version", "compute 3.0"}, 406, "3.0",
			faultBody("computeFault", 406, "Version 3.0 is not supported by the API. Minimum is 2.1 and maximum is 2.104.")},
		{"too old", "/v2.1/images", []string{"OpenStack-API-Version", "compute 2.0"}, 406, "2.0",
			faultBody("computeFault", 406, "Version 2.0 is not supported by the API. Minimum is 2.1 and maximum is 2.104.")},
		{"v2 ignores versions", "/v2/images", []string{"OpenStack-API-Version", "compute 2.50"}, 200, "", ""},
		{"v2 ignores bad versions", "/v2/images/" + imgID + "/metadata", []string{"OpenStack-API-Version", "compute 9.9"}, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(t, alice, "GET", tt.path, "", tt.hdr...)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d; %s", r.Status, tt.status, r.Body)
			}
			if tt.body != "" && !sameJSON(t, r.Body, tt.body) {
				t.Errorf("body = %s, want %s", r.Body, tt.body)
			}
			got := []string{r.Header.Get("OpenStack-API-Version"), r.Header.Get("X-OpenStack-Nova-API-Version")}
			var want []string
			var wantVary []string
			if tt.wantVersion == "" {
				want = []string{"", ""}
			} else {
				want = []string{"compute " + tt.wantVersion, tt.wantVersion}
				wantVary = []string{"OpenStack-API-Version", "X-OpenStack-Nova-API-Version"}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("version headers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantVary, r.Header.Values("Vary")); diff != "" {
				t.Errorf("Vary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMicroversionHidesWrites(t *testing.T) {
	h := newHarness(t, compute.Config{})
	h.create(t, alice, &image.Image{ID: imgID, Properties: props("a", "1")})
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/metadata", `{"metadata": {"b": "2"}}`},
		{"PUT", "/metadata", `{"metadata": {}}`},
		{"PUT", "/metadata/b", `{"meta": {"b": "2"}}`},
		{"DELETE", "/metadata/a", ""},
		{"DELETE", "", ""},
	} {
		r := h.do(t, alice, tt.method, "/v2.1/images/"+imgID+tt.path, tt.body, "OpenStack-API-Version", "compute 2.39")
		if r.Status != 404 {
			t.Errorf("%s %s at 2.39: status = %d, want 404", tt.method, tt.path, r.Status)
		}
	}
	if _, err := h.ops.Get(context.Background(), alice.ctx(), imgID); err != nil {
		t.Fatalf("image gone after refused requests: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, propsOf(t, h, alice, imgID)); diff != "" {
		t.Errorf("refused requests changed properties (-want +got):\n%s", diff)
	}
}

// TestCrossCheckWithImageops follows one image from the shared use cases
// (as the Images API v2 creates it) through the proxy and back.
func TestCrossCheckWithImageops(t *testing.T) {
	h := newHarness(t, compute.Config{})
	ctx := context.Background()
	created, err := h.ops.Create(ctx, alice.ctx(), &image.Image{
		Name: image.Str("from-v2"), MinRAM: 128, MinDisk: 1,
		DiskFormat: image.Str("qcow2"), ContainerFormat: image.Str("bare"),
		Properties: props("os_distro", "cirros", "instance_uuid", srvID), Tags: []string{"t1"},
	}, 1)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	r := h.do(t, alice, "GET", "/v2.1/images/detail", "")
	imgs := r.json(t)["images"].([]any)
	if len(imgs) != 1 {
		t.Fatalf("detail lists %d images, want 1: %s", len(imgs), r.Body)
	}
	got := imgs[0].(map[string]any)
	want := map[string]any{
		"id": created.ID, "name": "from-v2", "minRam": float64(128), "minDisk": float64(1),
		"status": "SAVING", "progress": float64(25), "OS-EXT-IMG-SIZE:size": float64(0),
		"metadata": map[string]any{"os_distro": "cirros", "instance_uuid": srvID},
		"created":  created.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		"updated":  created.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z"),
	}
	for k, v := range want {
		if diff := cmp.Diff(v, got[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	if srv, ok := got["server"].(map[string]any); !ok || srv["id"] != srvID {
		t.Errorf("server = %v, want id %s", got["server"], srvID)
	}

	// Metadata written through the proxy are the image's properties.
	if r := h.do(t, alice, "POST", "/v2.1/images/"+created.ID+"/metadata", `{"metadata": {"hw_disk_bus": "virtio"}}`); r.Status != 200 {
		t.Fatalf("POST metadata: %d %s", r.Status, r.Body)
	}
	if r := h.do(t, alice, "DELETE", "/v2.1/images/"+created.ID+"/metadata/instance_uuid", ""); r.Status != 204 {
		t.Fatalf("DELETE metadata key: %d %s", r.Status, r.Body)
	}
	img, err := h.ops.Get(ctx, alice.ctx(), created.ID)
	if err != nil {
		t.Fatalf("imageops.Get: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"os_distro": "cirros", "hw_disk_bus": "virtio"}, propsOf(t, h, alice, created.ID)); diff != "" {
		t.Errorf("properties after proxy writes (-want +got):\n%s", diff)
	}
	// Base attributes and tags are untouched by metadata writes.
	if *img.Name != "from-v2" || img.MinRAM != 128 || *img.DiskFormat != "qcow2" || !cmp.Equal(img.Tags, []string{"t1"}) {
		t.Errorf("image after proxy writes = name %q, min_ram %d, disk_format %q, tags %v; want from-v2, 128, qcow2, [t1]",
			*img.Name, img.MinRAM, *img.DiskFormat, img.Tags)
	}
	if !img.UpdatedAt.After(created.UpdatedAt) && !img.UpdatedAt.Equal(created.UpdatedAt) {
		t.Errorf("updated_at went backwards: %v before %v", img.UpdatedAt, created.UpdatedAt)
	}
}
