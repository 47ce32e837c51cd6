package registry_test

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/api/registry"
	"glimpse/internal/image"
)

const fixedID = "71c675ab-d94f-49cd-a114-e12490b328d9"

func TestCreateReadsBackThroughImageops(t *testing.T) {
	h := newHarness(t, registry.Config{})
	// Size and checksum are an admin's to register: an admin of p1.
	u := h.as("p1", "admin")
	got := u.do(t, "POST", "/images", `{"image": {"id": "`+fixedID+`", "name": "cirros", "disk_format": "qcow2",
		"container_format": "bare", "size": 1024, "checksum": "0123456789abcdef0123456789abcdef",
		"min_disk": 1, "min_ram": 64, "protected": false, "properties": {"distro": "Ubuntu 10.04 LTS", "arch": null},
		"unknown_key": "dropped"}}`).want(t, http.StatusOK)
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	doc := got.image(t)
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	wantKeys := []string{"checksum", "container_format", "created_at", "deleted", "deleted_at", "disk_format", "id",
		"is_public", "location", "location_data", "min_disk", "min_ram", "name", "owner", "properties", "protected",
		"size", "status", "updated_at", "virtual_size"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("image keys (-want +got):\n%s", diff)
	}
	wantDoc := map[string]any{
		"id": fixedID, "name": "cirros", "status": "active", "size": 1024.0, "virtual_size": nil,
		"disk_format": "qcow2", "container_format": "bare", "checksum": "0123456789abcdef0123456789abcdef",
		"min_disk": 1.0, "min_ram": 64.0, "is_public": false, "protected": false, "owner": "p1",
		"deleted": false, "deleted_at": nil, "location": nil, "location_data": []any{},
		"properties": map[string]any{"distro": "Ubuntu 10.04 LTS", "arch": nil},
	}
	for k, want := range wantDoc {
		if diff := cmp.Diff(want, doc[k]); diff != "" {
			t.Errorf("image[%q] (-want +got):\n%s", k, diff)
		}
	}
	if ts, _ := doc["created_at"].(string); len(ts) != len("2006-01-02T15:04:05.000000") || strings.HasSuffix(ts, "Z") {
		t.Errorf("created_at = %q, want the form 2006-01-02T15:04:05.000000", ts)
	}

	img := h.get(t, fixedID)
	checks := []struct {
		what      string
		got, want any
	}{
		{"name", *img.Name, "cirros"},
		{"status", img.Status, image.Active},
		{"visibility", img.Visibility, image.Shared},
		{"size", *img.Size, int64(1024)},
		{"checksum", *img.Checksum, "0123456789abcdef0123456789abcdef"},
		{"disk_format", *img.DiskFormat, "qcow2"},
		{"container_format", *img.ContainerFormat, "bare"},
		{"min_disk", img.MinDisk, 1},
		{"min_ram", img.MinRAM, 64},
		{"owner", img.OwnerID(), "p1"},
		{"property distro", *img.Properties["distro"], "Ubuntu 10.04 LTS"},
		{"property arch is null", img.Properties["arch"] == nil, true},
		{"property count", len(img.Properties), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("imageops.Get %s = %v, want %v", c.what, c.got, c.want)
		}
	}
	show := u.do(t, "GET", "/images/"+fixedID, "").want(t, http.StatusOK).image(t)
	if diff := cmp.Diff(doc, show); diff != "" {
		t.Errorf("GET differs from POST answer (-post +get):\n%s", diff)
	}
}

func TestCreateStatusesAndVisibility(t *testing.T) {
	h := newHarness(t, registry.Config{})
	tests := []struct {
		body       string
		status     image.Status
		visibility image.Visibility
		isPublic   bool
	}{
		{`{"image": {"name": "a"}}`, image.Active, image.Shared, false},
		{`{"image": {"status": "active"}}`, image.Active, image.Shared, false},
		{`{"image": {"status": "saving"}}`, image.Saving, image.Shared, false},
		{`{"image": {"status": "queued"}}`, image.Queued, image.Shared, false},
		{`{"image": {"status": "killed"}}`, image.Killed, image.Shared, false},
		{`{"image": {"is_public": true}}`, image.Active, image.Public, true},
		{`{"image": {"is_public": false}}`, image.Active, image.Shared, false},
		{`{"image": {"visibility": "private"}}`, image.Active, image.Private, false},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			doc := h.admin().do(t, "POST", "/images", tc.body).want(t, http.StatusOK).image(t)
			if doc["status"] != string(tc.status) || doc["is_public"] != tc.isPublic {
				t.Errorf("answer status, is_public = %v, %v, want %v, %v", doc["status"], doc["is_public"], tc.status, tc.isPublic)
			}
			img := h.get(t, doc["id"].(string))
			if img.Status != tc.status || img.Visibility != tc.visibility {
				t.Errorf("stored status, visibility = %s, %s, want %s, %s", img.Status, img.Visibility, tc.status, tc.visibility)
			}
		})
	}
}

func TestCreateFormatsAndIDsAccepted(t *testing.T) {
	h := newHarness(t, registry.Config{})
	tests := []string{
		`{"disk_format": "aki", "container_format": "aki"}`,
		`{"disk_format": "ari", "container_format": "ari"}`,
		`{"disk_format": "ami", "container_format": "ami"}`,
		`{"disk_format": "raw", "container_format": "ovf"}`,
		`{"disk_format": "iso", "container_format": "bare"}`,
		`{"disk_format": "vhd"}`,
		`{"disk_format": "vdi"}`,
		`{"disk_format": "vmdk", "container_format": null}`,
		`{"id": "71c675ab-d94f-49cd-a114-e12490b328d8"}`,
		`{"id": null}`,
	}
	for _, body := range tests {
		t.Run(body, func(t *testing.T) {
			h.as("p1", "").do(t, "POST", "/images", `{"image": `+body+`}`).want(t, http.StatusOK)
		})
	}
}

func TestCreateRefusals(t *testing.T) {
	h := newHarness(t, registry.Config{})
	h.as("p1", "").create(t, `{"image": {"id": "`+fixedID+`"}}`)
	const fail = "The server could not comply with the request since it is either malformed or otherwise incorrect.<br /><br />\nFailed to add image metadata. Got error: "
	tests := []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"id not a uuid", `{"image": {"id": "not-a-uuid"}}`, 400, expl("Invalid image id format")},
		{"id a number", `{"image": {"id": 12}}`, 400, expl("Invalid image id format")},
		{"id empty", `{"image": {"id": ""}}`, 400, expl("Invalid image id format")},
		{"status empty", `{"image": {"status": ""}}`, 400, fail + "Image status is required.\n\n"},
		{"status null", `{"image": {"status": null}}`, 400, fail + "Image status is required.\n\n"},
		{"status deleted", `{"image": {"status": "deleted"}}`, 400, fail + "Invalid image status 'deleted' for image.\n\n"},
		{"status unknown", `{"image": {"status": "bogus"}}`, 400, fail + "Invalid image status 'bogus' for image.\n\n"},
		{"disk format unknown", `{"image": {"disk_format": "vhdx"}}`, 400, fail + "Invalid disk format 'vhdx' for image.\n\n"},
		{"disk format empty", `{"image": {"disk_format": ""}}`, 400, fail + "Invalid disk format '' for image.\n\n"},
		{"container format unknown", `{"image": {"container_format": "docker"}}`, 400, fail + "Invalid container format 'docker' for image.\n\n"},
		{"container format empty", `{"image": {"container_format": ""}}`, 400, fail + "Invalid container format '' for image.\n\n"},
		{"aki with bare", `{"image": {"disk_format": "aki", "container_format": "bare"}}`, 400, fail + "Invalid mix of disk and container formats. When setting a disk or container format to one of 'aki', 'ari', or 'ami', the container and disk formats must match.\n\n"},
		{"raw with ari", `{"image": {"disk_format": "raw", "container_format": "ari"}}`, 400, fail + "Invalid mix of disk and container formats. When setting a disk or container format to one of 'aki', 'ari', or 'ami', the container and disk formats must match.\n\n"},
		{"ami alone", `{"image": {"disk_format": "ami"}}`, 400, fail + "Invalid mix of disk and container formats. When setting a disk or container format to one of 'aki', 'ari', or 'ami', the container and disk formats must match.\n\n"},
		{"aki with ari", `{"image": {"disk_format": "aki", "container_format": "ari"}}`, 400, fail + "Invalid mix of disk and container formats. When setting a disk or container format to one of 'aki', 'ari', or 'ami', the container and disk formats must match.\n\n"},
		{"min_ram too big", `{"image": {"min_ram": ` + strconv.Itoa(math.MaxInt32+1) + `}}`, 400, fail + "'min_ram' value out of range, must not exceed 2147483647.\n\n"},
		{"min_disk negative", `{"image": {"min_disk": -1}}`, 400, fail + "'min_disk' value must not be negative.\n\n"},
		{"size not a number", `{"image": {"size": "abc"}}`, 400, fail + "invalid literal for int() with base 10: 'abc'\n\n"},
		{"name too long", `{"image": {"name": "` + strings.Repeat("n", 256) + `"}}`, 400, fail + "'name' is too long, it must not exceed 255 characters.\n\n"},
		{"is_public and visibility", `{"image": {"is_public": true, "visibility": "public"}}`, 400, fail + "Specifying both 'visibility' and 'is_public' is not permiitted.\n\n"},
		{"property not a string", `{"image": {"properties": {"a": [1]}}}`, 400, fail + "The value of property 'a' must be a string\n\n"},
		{"location", `{"image": {"location": "file:///etc/passwd"}}`, 400, "The server could not comply with the request since it is either malformed or otherwise incorrect.<br /><br />\nImage locations cannot be set through the registry.\n\n"},
		{"reserved property", `{"image": {"properties": {"os_glance_import_task": "x"}}}`, 403, expl("Attribute 'os_glance_import_task' is reserved.")},
		{"property named like an attribute", `{"image": {"properties": {"status": "x"}}}`, 403, expl("Attribute 'status' is reserved.")},
		{"duplicate id", `{"image": {"id": "` + fixedID + `"}}`, 409, "There was a conflict when trying to complete your request.<br /><br />\nImage with identifier " + fixedID + " already exists!\n\n"},
		{"public by non-admin", `{"image": {"is_public": true}}`, 403, expl("You are not authorized to complete publicize_image action.")},
		{"malformed json", `{"image": `, 400, expl("Malformed JSON in request body.")},
		{"scalar body", `"image"`, 400, expl("Unexpected body type. Expected list/dict.")},
		{"no image key", `{"name": "x"}`, 400, expl(`The request body must be a JSON object with an "image" object.`)},
		{"no body", ``, 400, expl(`The request body must be a JSON object with an "image" object.`)},
	}
	before := len(h.all(t))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := h.as("p1", "member")
			// Status and size are an admin's to set: those refusals
			// are the admin's.
			if strings.HasPrefix(tc.name, "status ") || strings.HasPrefix(tc.name, "size ") {
				u = h.as("p1", "admin")
			}
			got := u.do(t, "POST", "/images", tc.body).want(t, tc.status)
			if msg := got.errMessage(t); msg != tc.msg {
				t.Errorf("message = %q, want %q", msg, tc.msg)
			}
			if n := len(h.all(t)); n != before {
				t.Errorf("images after refusal = %d, want %d", n, before)
			}
		})
	}
}

func TestCreateOwner(t *testing.T) {
	h := newHarness(t, registry.Config{})
	tests := []struct {
		name   string
		caller *client
		body   string
		want   string
	}{
		{"member's owner ignored", h.as("p1", "member"), `{"image": {"owner": "p2"}}`, "p1"},
		{"admin names the owner", h.admin(), `{"image": {"owner": "p2"}}`, "p2"},
		{"admin default owner", h.admin(), `{"image": {}}`, "admin-project"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.caller.create(t, tc.body)
			if got := h.get(t, id).OwnerID(); got != tc.want {
				t.Errorf("owner = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestShow(t *testing.T) {
	h := newHarness(t, registry.Config{})
	priv := h.as("p1", "").create(t, `{"image": {"name": "mine"}}`)
	pub := h.admin().create(t, `{"image": {"name": "public", "is_public": true}}`)
	tests := []struct {
		name   string
		caller *client
		id     string
		status int
	}{
		{"owner", h.as("p1", ""), priv, 200},
		{"other project", h.as("p2", ""), priv, 404},
		{"admin", h.admin(), priv, 200},
		{"public to anyone", h.as("p2", ""), pub, 200},
		{"missing", h.as("p1", ""), "00000000-0000-0000-0000-000000000000", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.caller.do(t, "GET", "/images/"+tc.id, "").want(t, tc.status)
			if tc.status == 404 {
				if msg := got.errMessage(t); msg != "The resource could not be found.<br /><br />\n\n\n" {
					t.Errorf("message = %q, want the bare 404", msg)
				}
				return
			}
			if id := got.image(t)["id"]; id != tc.id {
				t.Errorf("id = %v, want %s", id, tc.id)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	h := newHarness(t, registry.Config{})
	owner := h.as("p1", "member")
	id := owner.create(t, `{"image": {"name": "a", "disk_format": "raw", "container_format": "bare", "properties": {"k1": "v1", "k2": "v2"}}}`)

	// Status, size and checksum are an admin's to set.
	doc := h.as("p1", "admin").do(t, "PUT", "/images/"+id, `{"image": {"name": "b", "status": "active", "size": 5, "checksum": "abc", "min_ram": 8, "properties": {"k3": "v3"}}}`).want(t, http.StatusOK).image(t)
	if doc["name"] != "b" || doc["status"] != "active" || doc["size"] != 5.0 || doc["min_ram"] != 8.0 {
		t.Errorf("answer = %v, want name b, status active, size 5, min_ram 8", doc)
	}
	img := h.get(t, id)
	if diff := cmp.Diff(map[string]*string{"k1": image.Str("v1"), "k2": image.Str("v2"), "k3": image.Str("v3")}, img.Properties); diff != "" {
		t.Errorf("properties after merge (-want +got):\n%s", diff)
	}
	if *img.Name != "b" || img.Status != image.Active || *img.Size != 5 || *img.Checksum != "abc" || img.MinRAM != 8 {
		t.Errorf("stored = name %s status %s size %d checksum %s min_ram %d, want b active 5 abc 8", *img.Name, img.Status, *img.Size, *img.Checksum, img.MinRAM)
	}

	owner.do(t, "PUT", "/images/"+id, `{"image": {"properties": {"k1": "new"}}}`, "X-Glance-Registry-Purge-Props", "true").want(t, http.StatusOK)
	if diff := cmp.Diff(map[string]*string{"k1": image.Str("new")}, h.get(t, id).Properties); diff != "" {
		t.Errorf("properties after purge (-want +got):\n%s", diff)
	}

	owner.do(t, "PUT", "/images/"+id, `{"image": {"owner": "p9", "is_public": false}}`).want(t, http.StatusOK)
	if got := h.get(t, id).OwnerID(); got != "p1" {
		t.Errorf("owner after a member's change = %q, want p1", got)
	}
	h.admin().do(t, "PUT", "/images/"+id, `{"image": {"owner": "p9"}}`).want(t, http.StatusOK)
	if got := h.get(t, id).OwnerID(); got != "p9" {
		t.Errorf("owner after the admin's change = %q, want p9", got)
	}
}

func TestUpdateFromState(t *testing.T) {
	h := newHarness(t, registry.Config{})
	id := h.as("p1", "").create(t, `{"image": {}}`)
	// Status is an admin's to set.
	u := h.as("p1", "admin")
	got := u.do(t, "PUT", "/images/"+id, `{"image": {"status": "active"}, "from_state": "saving"}`).want(t, http.StatusConflict)
	if string(got.Body) != "Image operation conflicts" || got.Header.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Errorf("body, type = %q, %q, want the registry's plain text", got.Body, got.Header.Get("Content-Type"))
	}
	if s := h.get(t, id).Status; s != image.Queued {
		t.Errorf("status after conflict = %s, want queued", s)
	}
	u.do(t, "PUT", "/images/"+id, `{"image": {"status": "saving"}, "from_state": "queued"}`).want(t, http.StatusOK)
	if s := h.get(t, id).Status; s != image.Saving {
		t.Errorf("status = %s, want saving", s)
	}
}

func TestUpdateRefusals(t *testing.T) {
	h := newHarness(t, registry.Config{})
	owner := h.as("p1", "")
	id := owner.create(t, `{"image": {"name": "keep", "disk_format": "raw", "container_format": "bare", "properties": {"k": "v"}}}`)
	pub := h.admin().create(t, `{"image": {"owner": "p1", "is_public": true}}`)
	shared := owner.create(t, `{"image": {}}`)
	owner.do(t, "PUT", "/images/"+shared+"/members/p2", "").want(t, http.StatusNoContent)
	const fail = "The server could not comply with the request since it is either malformed or otherwise incorrect.<br /><br />\nFailed to update image metadata. Got error: "
	const mix = "Invalid mix of disk and container formats. When setting a disk or container format to one of 'aki', 'ari', or 'ami', the container and disk formats must match."
	tests := []struct {
		name   string
		caller *client
		id     string
		body   string
		status int
		msg    string // JSON message; plain is the literal body instead
		plain  string
	}{
		{"bad status", owner, id, `{"image": {"status": "bogus"}}`, 400, fail + "Invalid image status 'bogus' for image.\n\n", ""},
		{"empty status", owner, id, `{"image": {"status": ""}}`, 400, fail + "Image status is required.\n\n", ""},
		{"bad disk format", owner, id, `{"image": {"disk_format": "vhdx"}}`, 400, fail + "Invalid disk format 'vhdx' for image.\n\n", ""},
		{"bad container format", owner, id, `{"image": {"container_format": "docker"}}`, 400, fail + "Invalid container format 'docker' for image.\n\n", ""},
		{"aki onto bare", owner, id, `{"image": {"name": "changed", "disk_format": "aki"}}`, 400, fail + mix + "\n\n", ""},
		{"min_disk too big", owner, id, `{"image": {"min_disk": 2147483648}}`, 400, fail + "'min_disk' value out of range, must not exceed 2147483647.\n\n", ""},
		{"location", owner, id, `{"image": {"location": "http://example.com/x"}}`, 400, "The server could not comply with the request since it is either malformed or otherwise incorrect.<br /><br />\nImage locations cannot be set through the registry.\n\n", ""},
		{"reserved property", owner, id, `{"image": {"properties": {"os_glance_x": "1"}}}`, 403, expl("Attribute 'os_glance_x' is reserved."), ""},
		{"malformed", owner, id, `{`, 400, expl("Malformed JSON in request body."), ""},
		{"missing image", owner, "00000000-0000-0000-0000-000000000000", `{"image": {"name": "x"}}`, 404, "", "Image not found"},
		{"other's private image", h.as("p2", ""), id, `{"image": {"name": "x"}}`, 404, "", "Image not found"},
		{"member of a shared image", h.as("p2", ""), shared, `{"image": {"name": "x"}}`, 404, "", "Image not found"},
		{"other's public image", h.as("p2", ""), pub, `{"image": {"name": "x"}}`, 403, "Access was denied to this resource.<br /><br />\n\n\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before *image.Image
			if tc.name != "missing image" {
				before = h.get(t, tc.id)
			}
			got := tc.caller.do(t, "PUT", "/images/"+tc.id, tc.body).want(t, tc.status)
			if tc.plain != "" {
				if string(got.Body) != tc.plain || got.Header.Get("Content-Type") != "text/plain; charset=UTF-8" {
					t.Errorf("body, type = %q, %q, want %q as text/plain", got.Body, got.Header.Get("Content-Type"), tc.plain)
				}
			} else if msg := got.errMessage(t); msg != tc.msg {
				t.Errorf("message = %q, want %q", msg, tc.msg)
			}
			if before == nil {
				return
			}
			after := h.get(t, tc.id)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("image changed by a refused update (-before +after):\n%s", diff)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	h := newHarness(t, registry.Config{})
	owner := h.as("p1", "")
	id := owner.create(t, `{"image": {"name": "doomed", "properties": {"a": "b"}}}`)
	doc := owner.do(t, "DELETE", "/images/"+id, "").want(t, http.StatusOK).image(t)
	if doc["deleted"] != true || doc["status"] != "deleted" || doc["deleted_at"] == nil || doc["id"] != id {
		t.Errorf("answer = %v, want the image marked deleted", doc)
	}
	if diff := cmp.Diff(map[string]any{"a": "b"}, doc["properties"]); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
	owner.do(t, "GET", "/images/"+id, "").want(t, http.StatusNotFound)
	owner.do(t, "DELETE", "/images/"+id, "").want(t, http.StatusNotFound)

	pub := h.admin().create(t, `{"image": {"owner": "p1", "is_public": true}}`)
	priv := owner.create(t, `{"image": {}}`)
	prot := owner.create(t, `{"image": {"protected": true}}`)
	tests := []struct {
		name   string
		caller *client
		id     string
		status int
	}{
		{"other's public image", h.as("p2", ""), pub, 403},
		{"other's private image", h.as("p2", ""), priv, 404},
		{"protected", owner, prot, 403},
		{"missing", owner, "00000000-0000-0000-0000-000000000000", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.caller.do(t, "DELETE", "/images/"+tc.id, "").want(t, tc.status)
			if tc.status != 404 || tc.id == priv {
				h.get(t, tc.id) // still there
			}
		})
	}
	h.admin().do(t, "DELETE", "/images/"+pub, "").want(t, http.StatusOK)
}

func TestRouting(t *testing.T) {
	h := newHarness(t, registry.Config{})
	id := h.as("p1", "").create(t, `{"image": {"name": "x"}}`)
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/", 200},
		{"POST", "/", 200},
		{"HEAD", "/images", 404},
		{"PATCH", "/images/" + id, 404},
		{"DELETE", "/images", 404},
		{"GET", "/images/", 404},
		{"GET", "/v1/images", 404},
		{"GET", "/images/" + id + "/extra", 404},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			h.as("p1", "").do(t, tc.method, tc.path, "").want(t, tc.status)
		})
	}
}

// expl is a JSON error message carrying only an explanation.
func expl(s string) string { return s + "<br /><br />\n\n\n" }
