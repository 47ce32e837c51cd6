package v2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imageimport"

	"glimpse/internal/catalog"
	"glimpse/internal/config"
	"glimpse/internal/image"
	"glimpse/internal/server"
)

func TestImportStage(t *testing.T) {
	e := newImpEnv(t, nil)
	owner := e.as("A", "member")
	data := randomBytes(70_000, 1)

	t.Run("staged", func(t *testing.T) {
		id := owner.newRawImage(t)
		r := owner.stage(t, id, data).want(t, "stage", http.StatusNoContent)
		if len(r.Body) != 0 {
			t.Errorf("stage: got body %q, want none", r.Body)
		}
		wantProps(t, "staged image", e.impImage(t, id), map[string]any{
			"status": "uploading", "size": float64(len(data)), "checksum": nil, "os_glance_import_task": absent,
		})
		e.wantStaged(t, "after staging", id)
		if got := e.storeDirs["file"]; len(dirNames(t, got)) != 0 {
			t.Errorf("staging wrote to the store: %q", dirNames(t, got))
		}

		// Staging again is a second transition to uploading.
		owner.stage(t, id, data).wantError(t, "second stage", http.StatusConflict,
			"Image status transition from uploading to uploading is not allowed", "")
		e.wantStaged(t, "after the second stage", id)
		if got := e.status(t, id); got != "uploading" {
			t.Errorf("after the second stage: got status %s, want uploading", got)
		}
	})

	active := owner.newRawImage(t)
	owner.putFile(t, active, data).want(t, "upload", http.StatusNoContent)
	for _, tc := range []struct {
		name   string
		id     string
		ct     string
		status int
		msg    string
		after  string // the image's status afterwards ("" for no image)
	}{
		{"active image", active, octets, http.StatusConflict, "Image status transition from active to uploading is not allowed", "active"},
		{"json", "", "application/json", http.StatusUnsupportedMediaType, "", "queued"},
		{"no content type", "", "", http.StatusUnsupportedMediaType, "", "queued"},
		{"unknown image", "8d3c1f0e-0000-4000-8000-000000000000", octets, http.StatusNotFound,
			"No image found with ID 8d3c1f0e-0000-4000-8000-000000000000", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if id == "" {
				id = owner.newRawImage(t)
			}
			before := e.stagedSoFar(t)
			r := owner.stage(t, id, data, "Content-Type", tc.ct)
			if tc.status == http.StatusUnsupportedMediaType {
				r.want(t, "stage", tc.status)
				named := tc.ct
				if named == "" {
					named = "text/plain"
				}
				if got, want := r.message(t), unsupported(named); got != want {
					t.Errorf("got message %q, want %q", got, want)
				}
			} else {
				r.wantError(t, "stage", tc.status, tc.msg, "")
			}
			if tc.after != "" {
				if got := e.status(t, id); got != tc.after {
					t.Errorf("got status %s, want %s", got, tc.after)
				}
			}
			e.wantStaged(t, "after the refusal", before...)
		})
	}
}

// stagedSoFar lists the images whose data the staging area holds, leaving
// out any temporary file.
func (e *impEnv) stagedSoFar(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, n := range dirNames(t, e.stagingDir) {
		if _, err := uuid.Parse(n); err == nil {
			ids = append(ids, n)
		}
	}
	return ids
}

// notOwner is the refusal of a change to another project's image: the
// owner check of the legacy policy, or the modify_image rule of the new
// defaults (Glance's ImageAPIPolicy.modify_image).
func notOwner(newDefaults bool) string {
	if newDefaults {
		return "You are not authorized to complete modify_image action."
	}
	return "You do not own this image"
}

func TestImportStageNotOwner(t *testing.T) {
	for _, newDefaults := range []bool{false, true} {
		t.Run(fmt.Sprintf("enforce_new_defaults=%t", newDefaults), func(t *testing.T) {
			e := newImpEnv(t, func(cfg *config.Config) { cfg.OsloPolicy.EnforceNewDefaults = newDefaults })
			// Keystone's member implies reader; noauth callers name both.
			owner, other := e.as("A", "reader,member"), e.as("B", "reader,member")
			private := owner.newRawImage(t)
			community := owner.newRawImage(t, "visibility", "community")
			data := []byte("some bytes")
			other.stage(t, private, data).wantError(t, "stage of an invisible image", http.StatusNotFound, "No image found with ID "+private, "")
			other.stage(t, community, data).wantError(t, "stage of another project's community image", http.StatusForbidden, notOwner(newDefaults), "")
			for _, id := range []string{private, community} {
				if got := e.status(t, id); got != "queued" {
					t.Errorf("image %s: got status %s, want queued", id, got)
				}
			}
			e.wantStaged(t, "after the refusals")
		})
	}
}

func TestImportStageSizeCap(t *testing.T) {
	const limit = 10_000
	e := newImpEnv(t, func(cfg *config.Config) { cfg.Default.ImageSizeCap = limit })
	c := e.as("A", "member")
	big := randomBytes(3*limit, 2)

	t.Run("declared length", func(t *testing.T) {
		id := c.newRawImage(t)
		c.stage(t, id, big).wantError(t, "stage", http.StatusRequestEntityTooLarge, tooLargeMsg, "")
		wantProps(t, "after the refusal", e.impImage(t, id), map[string]any{"status": "queued", "size": nil})
		e.wantStaged(t, "after the refusal")
	})
	t.Run("chunked", func(t *testing.T) {
		id := c.newRawImage(t)
		// An io.Reader that is not a *bytes.Reader hides the length, so
		// the body goes chunked and the cap is met while reading.
		r, err := c.send(t, "PUT", "/v2/images/"+id+"/stage", struct{ *bytes.Reader }{bytes.NewReader(big)}, -1, "Content-Type", octets)
		if err != nil {
			t.Fatalf("stage: %v", err)
		}
		r.wantError(t, "stage", http.StatusRequestEntityTooLarge, tooLargeMsg, "")
		wantProps(t, "after the refusal", e.impImage(t, id), map[string]any{"status": "queued", "size": nil})
		e.wantStaged(t, "after the refusal")

		// Nothing is left over: the image can be staged again.
		small := big[:limit]
		c.stage(t, id, small).want(t, "stage within the cap", http.StatusNoContent)
		e.wantStaged(t, "after the retry", id)
	})
}

func TestImportStageFormatMismatch(t *testing.T) {
	e := newImpEnv(t, nil)
	c := e.as("A", "member")
	junk := randomBytes(64<<10, 3)
	qcow := func() string { return c.newRawImage(t, "disk_format", "qcow2") }

	// The refusal is the one an upload of the same bytes gets.
	viaFile := c.putFile(t, qcow(), junk).want(t, "upload of bytes that are not qcow2", http.StatusUnsupportedMediaType)
	id := qcow()
	r := c.stage(t, id, junk).want(t, "stage of bytes that are not qcow2", http.StatusUnsupportedMediaType)
	if got, want := r.message(t), viaFile.message(t); got != want {
		t.Errorf("got message %q, want %q (as PUT /file)", got, want)
	}
	wantProps(t, "after the refusal", e.impImage(t, id), map[string]any{"status": "queued", "size": nil})
	e.wantStaged(t, "after the refusal")
}

func TestImportStageDisabled(t *testing.T) {
	e := newImpEnv(t, func(cfg *config.Config) { cfg.Default.EnabledImportMethods = []string{"web-download", "copy-image"} })
	c := e.as("A", "member")
	id := c.newRawImage(t)
	c.stage(t, id, []byte("abc")).wantError(t, "stage", http.StatusNotFound, "'glance-direct' method is not available at this site.", "")
	if got := e.status(t, id); got != "queued" {
		t.Errorf("got status %s, want queued", got)
	}
	c.startImport(t, id, glanceDirect()).wantError(t, "glance-direct import", http.StatusBadRequest, "Unknown import method name 'glance-direct'.", "")
}

// node_staging_uri moves the staging area of the legacy store setup.
func TestImportNodeStagingURI(t *testing.T) {
	dir := t.TempDir()
	e := newImpEnv(t, func(cfg *config.Config) { cfg.Default.NodeStagingURI = "file://" + dir })
	c := e.as("A", "member")
	data := randomBytes(5000, 4)
	id := c.newRawImage(t)
	c.stage(t, id, data).want(t, "stage", http.StatusNoContent)
	wantDir(t, "node_staging_uri after staging", dir, id)
	wantDir(t, "default staging area", e.stagingDir)
	c.startImport(t, id, glanceDirect()).want(t, "import", http.StatusAccepted)
	e.waitImport(t, id, 1)
	wantDir(t, "node_staging_uri after the import", dir)
	if got := e.status(t, id); got != "active" {
		t.Errorf("got status %s, want active", got)
	}
}

func TestImportGlanceDirect(t *testing.T) {
	e := newImpEnv(t, nil)
	owner := e.as("A", "member")
	// Several of the import's 1 MiB chunks, and a tail.
	data := randomBytes(3<<20+123, 5)
	id := owner.newRawImage(t)
	owner.stage(t, id, data).want(t, "stage", http.StatusNoContent)

	body := map[string]any{"method": map[string]any{"name": "glance-direct"}, "all_stores_must_succeed": true}
	r := owner.startImport(t, id, body).want(t, "import", http.StatusAccepted)
	if len(r.Body) != 0 {
		t.Errorf("import: got body %q, want none", r.Body)
	}
	tasks := e.waitImport(t, id, 1)

	wantProps(t, "imported image", e.impImage(t, id), map[string]any{
		"status": "active", "size": float64(len(data)), "virtual_size": float64(len(data)),
		"checksum": md5Hex(data), "os_hash_algo": "sha512", "os_hash_value": sha512Hex(data),
		"os_glance_import_task": absent, "os_glance_importing_to_stores": "", "os_glance_failed_import": "",
		"os_glance_stage_host": absent, "stores": absent,
	})
	if got := owner.getFile(t, id).want(t, "download", http.StatusOK).Body; !bytes.Equal(got, data) {
		t.Errorf("download: got %d bytes, want the %d imported", len(got), len(data))
	}
	e.wantStaged(t, "after the import")
	e.wantInStore(t, "after the import", "file", id)

	task := tasks[0]
	wantProps(t, "task", task, map[string]any{
		// As Glance, the last progress report stays on the ended task.
		"type": "api_image_import", "status": "success", "owner": "A", "image_id": id,
		"message": fmt.Sprintf("Copied %d MiB", len(data)>>20),
		"deleted": false, "deleted_at": nil,
	})
	if rid, _ := task["request_id"].(string); !strings.HasPrefix(rid, "req-") {
		t.Errorf("task request_id: got %v, want the import request's id, as Glance records it", task["request_id"])
	}
	if got, want := task["result"], map[string]any{"image_id": id}; !cmp.Equal(got, want) {
		t.Errorf("task result: got %v, want %v", got, want)
	}
	input, _ := task["input"].(map[string]any)
	if got := input["import_req"]; !cmp.Equal(got, body) {
		t.Errorf("task input import_req: got %v, want %v", got, body)
	}
	if got := input["image_id"]; got != id {
		t.Errorf("task input image_id: got %v, want %s", got, id)
	}
	if task["expires_at"] == nil {
		t.Errorf("ended task has no expires_at")
	}

	// The owner sees the task too; another project does not see the
	// image at all.
	r = owner.do(t, "GET", "/v2/images/"+id+"/tasks", "").want(t, "owner's tasks", http.StatusOK)
	var mine struct{ Tasks []map[string]any }
	if err := json.Unmarshal(r.Body, &mine); err != nil {
		t.Fatal(err)
	}
	if len(mine.Tasks) != 1 || mine.Tasks[0]["id"] != task["id"] {
		t.Errorf("owner's tasks: got %v, want the one task %v", mine.Tasks, task["id"])
	}
	e.as("B", "member").do(t, "GET", "/v2/images/"+id+"/tasks", "").want(t, "other project's tasks", http.StatusNotFound)

	// Importing again is refused: the image is active.
	owner.startImport(t, id, glanceDirect()).wantError(t, "second import", http.StatusConflict,
		"Image with status active cannot be target for import", "")
}

// A failed glance-direct import puts the image back to queued and drops
// the staged data, so that it can be staged afresh.
func TestImportGlanceDirectFailure(t *testing.T) {
	const limit = 4000
	e := newImpEnv(t, func(cfg *config.Config) { cfg.Default.ImageSizeCap = limit })
	c := e.as("A", "member")
	id := c.newRawImage(t)
	data := randomBytes(limit, 6)
	c.stage(t, id, data).want(t, "stage", http.StatusNoContent)
	// The staged data no longer passes the format check: the import's own
	// inspection refuses it.
	e.setImage(t, id, func(img *image.Image) { img.DiskFormat = image.Str("qcow2") })
	c.startImport(t, id, glanceDirect()).want(t, "import", http.StatusAccepted)
	tasks := e.waitImport(t, id, 1)
	if tasks[0]["status"] != "failure" || tasks[0]["message"] == "" {
		t.Errorf("task: got status %v message %q, want failure with a message", tasks[0]["status"], tasks[0]["message"])
	}
	wantProps(t, "after the failure", e.impImage(t, id), map[string]any{
		"status": "queued", "checksum": nil, "os_glance_import_task": absent,
	})
	e.wantStaged(t, "after the failure")
	e.wantInStore(t, "after the failure", "file")

	e.setImage(t, id, func(img *image.Image) { img.DiskFormat = image.Str("raw") })
	c.stage(t, id, data).want(t, "stage after the failure", http.StatusNoContent)
	nextTaskSecond()
	c.startImport(t, id, glanceDirect()).want(t, "import after the failure", http.StatusAccepted)
	if tasks := e.waitImport(t, id, 2); tasks[0]["status"] != "success" {
		t.Errorf("second import: got task status %v (%v), want success", tasks[0]["status"], tasks[0]["message"])
	}
	wantProps(t, "after the second import", e.impImage(t, id), map[string]any{"status": "active", "checksum": md5Hex(data)})
}

// Staging records where the data is staged (the public endpoint when no
// worker URL is set) in a property the API never shows, and the import
// clears it.
func TestImportStageHost(t *testing.T) {
	const self = "http://glimpse.test:9292"
	e := newImpEnv(t, func(cfg *config.Config) { cfg.Default.PublicEndpoint = self })
	c := e.as("A", "member")
	id := e.stagedImage(t, c, []byte("staged bytes"))
	host := func() *string {
		img, err := e.catalog(t).GetImage(context.Background(), id)
		if err != nil {
			t.Fatalf("GetImage: %v", err)
		}
		return img.Properties["os_glance_stage_host"]
	}
	if got := host(); got == nil || *got != self {
		t.Errorf("staged image: got os_glance_stage_host %v, want %s", got, self)
	}
	wantProps(t, "staged image", e.impImage(t, id), map[string]any{"os_glance_stage_host": absent})
	c.startImport(t, id, glanceDirect()).want(t, "import", http.StatusAccepted)
	e.waitImport(t, id, 1)
	if got := host(); got != nil {
		t.Errorf("imported image: got os_glance_stage_host %q, want none", *got)
	}
}

func TestImportRequestValidation(t *testing.T) {
	e := newImpEnv(t, nil)
	c := e.as("A", "member")
	data := []byte("staged bytes")

	staged := func() string {
		id := c.newRawImage(t)
		c.stage(t, id, data).want(t, "stage", http.StatusNoContent)
		return id
	}
	queued := func() string { return c.newRawImage(t) }
	active := func() string {
		id := c.newRawImage(t)
		c.putFile(t, id, data).want(t, "upload", http.StatusNoContent)
		return id
	}
	stagedWithout := func(attrs map[string]any) func() string {
		return func() string {
			id := c.createImage(t, attrs)["id"].(string)
			c.stage(t, id, data).want(t, "stage", http.StatusNoContent)
			return id
		}
	}
	gd := map[string]any{"name": "glance-direct"}
	for _, tc := range []struct {
		name   string
		image  func() string
		body   string
		status int
		msg    string
	}{
		{"no body", staged, "", 400, "Body expected in request."},
		{"malformed", staged, `{"method": `, 400, "Malformed JSON in request body."},
		// Glance fails with 500 on a body that is not an object.
		{"list body", staged, `[]`, 400, "Unexpected body type. Expected list/dict."},
		{"no method", staged, `{}`, 400, "Import request requires a 'method' field."},
		{"no name", staged, `{"method": {}}`, 400, "Import request requires a 'name' field."},
		{"unknown name", staged, `{"method": {"name": "x"}}`, 400, "Unknown import method name 'x'."},
		{"glance-download is not offered", staged, `{"method": {"name": "glance-download"}}`, 400, "Unknown import method name 'glance-download'."},
		{"all_stores not boolean", staged, mustJSON(t, map[string]any{"method": gd, "all_stores": "true"}), 400, "'all_stores' must be boolean value only"},
		{"all_stores_must_succeed not boolean", staged, mustJSON(t, map[string]any{"method": gd, "all_stores_must_succeed": 0}), 400, "'all_stores_must_succeed' must be boolean value only"},
		{"active image", active, mustJSON(t, map[string]any{"method": gd}), 409, "Image with status active cannot be target for import"},
		{"not staged", queued, mustJSON(t, map[string]any{"method": gd}), 409, "Image needs to be staged before 'glance-direct' method can be used"},
		{"copy of a queued image", queued, `{"method": {"name": "copy-image"}}`, 409, "Only images with status active can be targeted for copying"},
		{"web-download of a staged image", staged, `{"method": {"name": "web-download", "uri": "https://example.com/x.img"}}`, 409, "Image needs to be in 'queued' state to use 'web-download' method"},
		{"no container_format", stagedWithout(map[string]any{"disk_format": "raw"}), mustJSON(t, map[string]any{"method": gd}), 409, "'container_format' needs to be set before import"},
		{"no disk_format", stagedWithout(map[string]any{"container_format": "bare"}), mustJSON(t, map[string]any{"method": gd}), 409, "'disk_format' needs to be set before import"},
		{"all_stores_must_succeed without stores by name", staged, mustJSON(t, map[string]any{"method": gd, "all_stores_must_succeed": false}), 400, "All_stores_must_succeed can only be set with enabled_backends None"},
		{"web-download to loopback", queued, `{"method": {"name": "web-download", "uri": "http://127.0.0.1/x.img"}}`, 400, "URI for web-download does not pass filtering: http://127.0.0.1/x.img"},
		{"web-download of a file", queued, `{"method": {"name": "web-download", "uri": "file:///etc/passwd"}}`, 400, "URI for web-download does not pass filtering: file:///etc/passwd"},
		{"unknown image", func() string { return "5b0e9b6c-0000-4000-8000-000000000000" }, mustJSON(t, map[string]any{"method": gd}), 404, "No image found with ID 5b0e9b6c-0000-4000-8000-000000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.image()
			var before []byte
			if tc.status != http.StatusNotFound {
				before = e.getRaw(t, id)
			}
			c.do(t, "POST", "/v2/images/"+id+"/import", tc.body).wantError(t, "import", tc.status, tc.msg, "")
			if before == nil {
				return
			}
			if after := e.getRaw(t, id); !bytes.Equal(before, after) {
				t.Errorf("the refusal changed the image:\nbefore %s\nafter  %s", before, after)
			}
			if ts := e.impTasks(t, id); len(ts) != 0 {
				t.Errorf("the refusal recorded tasks: %v", ts)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestImportAuthorization(t *testing.T) {
	for _, newDefaults := range []bool{false, true} {
		t.Run(fmt.Sprintf("enforce_new_defaults=%t", newDefaults), func(t *testing.T) {
			testImportAuthorization(t, newDefaults)
		})
	}
}

func testImportAuthorization(t *testing.T, newDefaults bool) {
	e := newImpEnv(t, func(cfg *config.Config) { cfg.OsloPolicy.EnforceNewDefaults = newDefaults })
	owner, other := e.as("A", "reader,member"), e.as("B", "reader,member")
	data := []byte("staged bytes")

	private := owner.newRawImage(t)
	owner.stage(t, private, data).want(t, "stage", http.StatusNoContent)
	community := owner.newRawImage(t, "visibility", "community")
	owner.stage(t, community, data).want(t, "stage", http.StatusNoContent)
	shared := owner.newRawImage(t, "visibility", "shared")
	owner.stage(t, shared, data).want(t, "stage", http.StatusNoContent)
	owner.json(t, "POST", "/v2/images/"+shared+"/members", map[string]any{"member": "B"}).want(t, "add member", http.StatusOK)
	other.json(t, "PUT", "/v2/images/"+shared+"/members/B", map[string]any{"status": "accepted"}).want(t, "accept", http.StatusOK)
	activeCommunity := owner.newRawImage(t, "visibility", "community")
	owner.putFile(t, activeCommunity, data).want(t, "upload", http.StatusNoContent)

	other.startImport(t, private, glanceDirect()).wantError(t, "import of an invisible image", http.StatusNotFound, "No image found with ID "+private, "")
	for name, id := range map[string]string{"community": community, "shared with B": shared} {
		other.startImport(t, id, glanceDirect()).wantError(t, "import of a "+name+" image by another project",
			http.StatusForbidden, notOwner(newDefaults), "")
	}
	// copy-image is the admin's by default.
	other.startImport(t, activeCommunity, map[string]any{"method": map[string]any{"name": "copy-image"}}).wantError(t,
		"copy by another project", http.StatusForbidden, "You are not authorized to complete copy_image action.", "")
	owner.startImport(t, activeCommunity, map[string]any{"method": map[string]any{"name": "copy-image"}}).wantError(t,
		"copy by the owner", http.StatusForbidden, "You are not authorized to complete copy_image action.", "")

	for _, id := range []string{private, community, shared} {
		if got := e.status(t, id); got != "uploading" {
			t.Errorf("image %s: got status %s, want uploading", id, got)
		}
		if ts := e.impTasks(t, id); len(ts) != 0 {
			t.Errorf("image %s: refused imports recorded tasks %v", id, ts)
		}
	}
	e.wantStaged(t, "after the refusals", private, community, shared)
}

func TestImportLock(t *testing.T) {
	e := newImpEnv(t, nil)
	c := e.as("A", "member")
	db := e.catalog(t)
	ctx := context.Background()
	data := randomBytes(2000, 7)

	// lockedBy stages an image and has it held by a task in status that
	// was last touched age ago (no task at all when status is "").
	lockedBy := func(t *testing.T, status string, age time.Duration) (id, task string) {
		id = c.newRawImage(t)
		c.stage(t, id, data).want(t, "stage", http.StatusNoContent)
		task = uuid.NewString()
		if status != "" {
			at := time.Now().UTC().Add(-age)
			err := db.CreateTask(ctx, &catalog.Task{ID: task, Type: "api_image_import", Status: status, Owner: "A",
				CreatedAt: at, UpdatedAt: at, ImageID: id,
				Input: json.RawMessage(`{"image_id": "` + id + `", "import_req": {"method": {"name": "glance-direct"}}, "backend": [null]}`)})
			if err != nil {
				t.Fatalf("CreateTask: %v", err)
			}
		}
		e.setImage(t, id, func(img *image.Image) { img.Properties["os_glance_import_task"] = image.Str(task) })
		return id, task
	}

	for _, tc := range []struct {
		name   string
		status string
		age    time.Duration
		held   bool
	}{
		{"running task", "processing", time.Minute, true},
		{"pending task within twice the expiry", "pending", 90 * time.Minute, true},
		{"task that ended recently", "failure", 10 * time.Minute, true},
		{"task gone", "", 0, false},
		{"processing task idle for over an hour", "processing", 61 * time.Minute, false},
		{"pending task idle for over two hours", "pending", 121 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, holder := lockedBy(t, tc.status, tc.age)
			r := c.startImport(t, id, glanceDirect())
			if tc.held {
				r.wantError(t, "import", http.StatusConflict, "Image has active task", "")
				wantProps(t, "after the refusal", e.impImage(t, id), map[string]any{"status": "uploading", "os_glance_import_task": holder})
				if !slices.Contains(e.stagedSoFar(t), id) {
					t.Errorf("after the refusal: the staged data of %s is gone", id)
				}
				if got, err := db.GetTask(ctx, holder); err != nil || got.Status != tc.status {
					t.Errorf("holder task: got %+v, %v; want it untouched in status %s", got, err, tc.status)
				}
				return
			}
			r.want(t, "import", http.StatusAccepted)
			n := 1
			if tc.status != "" {
				n = 2
			}
			tasks := e.waitImport(t, id, n)
			if tasks[0]["id"] == holder || tasks[0]["status"] != "success" {
				t.Errorf("newest task: got %v in status %v, want a new successful task", tasks[0]["id"], tasks[0]["status"])
			}
			wantProps(t, "after the import", e.impImage(t, id), map[string]any{
				"status": "active", "checksum": md5Hex(data), "os_glance_import_task": absent,
			})
			if tc.status != "" {
				// A stale task that had not ended is failed by the
				// import that takes its lock.
				got, err := db.GetTask(ctx, holder)
				if err != nil || got.Status != "failure" {
					t.Errorf("stale task: got %+v, %v; want it failed", got, err)
				}
			}
		})
	}
}

func TestImportInfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		methods []string
		want    string
	}{
		{"default", nil, `{"import-methods": {"description": "Import methods available.", "type": "array", "value": ["glance-direct", "web-download", "copy-image"]}}`},
		{"configured", []string{"copy-image", "glance-direct"}, `{"import-methods": {"description": "Import methods available.", "type": "array", "value": ["copy-image", "glance-direct"]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newImpEnv(t, func(cfg *config.Config) {
				if tc.methods != nil {
					cfg.Default.EnabledImportMethods = tc.methods
				}
			})
			c := e.as("A", "member")
			r := c.do(t, "GET", "/v2/info/import", "").want(t, "import info", http.StatusOK)
			if string(r.Body) != tc.want {
				t.Errorf("got body %s, want %s", r.Body, tc.want)
			}
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("got Content-Type %q, want application/json", got)
			}
			var info struct {
				M struct{ Value []string } `json:"import-methods"`
			}
			if err := json.Unmarshal([]byte(tc.want), &info); err != nil {
				t.Fatal(err)
			}
			cr := c.json(t, "POST", "/v2/images", map[string]any{}).want(t, "create", http.StatusCreated)
			if got, want := cr.Header.Get("OpenStack-image-import-methods"), strings.Join(info.M.Value, ","); got != want {
				t.Errorf("OpenStack-image-import-methods: got %q, want %q", got, want)
			}
		})
	}
}

// The reference client stages, imports and reads the import information.
func TestImportGophercloud(t *testing.T) {
	ctx := context.Background()
	e := newImpEnv(t, nil)
	c := e.as("A", "member")
	sc := c.gophercloud()

	info, err := imageimport.Get(ctx, sc).Extract()
	if err != nil {
		t.Fatalf("imageimport.Get: %v", err)
	}
	want := imageimport.ImportMethods{Description: "Import methods available.", Type: "array",
		Value: []string{"glance-direct", "web-download", "copy-image"}}
	if diff := cmp.Diff(want, info.ImportMethods); diff != "" {
		t.Errorf("import info (-want +got):\n%s", diff)
	}

	data := randomBytes(200_000, 8)
	id := c.newRawImage(t)
	if err := imagedata.Stage(ctx, sc, id, bytes.NewReader(data)).ExtractErr(); err != nil {
		t.Fatalf("imagedata.Stage: %v", err)
	}
	if err := imageimport.Create(ctx, sc, id, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod}).ExtractErr(); err != nil {
		t.Fatalf("imageimport.Create: %v", err)
	}
	e.waitImport(t, id, 1)
	wantProps(t, "imported image", e.impImage(t, id), map[string]any{"status": "active", "checksum": md5Hex(data)})

	// A second import is refused, and the client reports Glance's answer.
	err = imageimport.Create(ctx, sc, id, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod}).ExtractErr()
	wantCode(t, "second import", err, http.StatusConflict, "Image with status active cannot be target for import")
	err = imageimport.Create(ctx, sc, id, imageimport.CreateOpts{Name: "nope"}).ExtractErr()
	wantCode(t, "unknown method", err, http.StatusBadRequest, "Unknown import method name 'nope'.")
}

// A process that starts finds the imports a stopped one left unfinished:
// their tasks fail, their images go back to queued with the lock and the
// staged data gone, and data written but never recorded is removed.
func TestImportRecoverInterrupted(t *testing.T) {
	e := newImpEnv(t, nil)
	c := e.as("A", "member")
	data := randomBytes(3000, 16)
	dead, deadTask := e.interruptedImport(t, c, data, time.Hour)
	// The dead import had written its data but not recorded it.
	if err := os.WriteFile(filepath.Join(e.storeDirs["file"], dead), data[:1000], 0o600); err != nil {
		t.Fatal(err)
	}

	// A second process on the same data directory.
	h2 := newHarness(t, true, func(cfg *config.Config) {
		cfg.Glimpse.DataDir = e.dataDir
		cfg.Database.Connection = e.conn
	})

	wantProps(t, "image of the dead import", h2.impImage(t, dead), map[string]any{
		"status": "queued", "os_glance_import_task": absent, "os_glance_importing_to_stores": "",
	})
	got, err := e.catalog(t).GetTask(context.Background(), deadTask)
	if err != nil || got.Status != "failure" || got.Message == "" {
		t.Errorf("dead task: got %+v, %v; want it failed with a message", got, err)
	}
	e.wantInStore(t, "after recovery", "file")
	e.wantStaged(t, "after recovery")

	// The recovered image takes a new stage and import.
	c2 := h2.as("A", "member")
	c2.stage(t, dead, data).want(t, "stage after recovery", http.StatusNoContent)
	c2.startImport(t, dead, glanceDirect()).want(t, "import after recovery", http.StatusAccepted)
	if ts := h2.waitImport(t, dead, 2); ts[0]["status"] != "success" {
		t.Errorf("import after recovery: got status %v (%v), want success", ts[0]["status"], ts[0]["message"])
	}
	wantProps(t, "after the new import", h2.impImage(t, dead), map[string]any{"status": "active", "checksum": md5Hex(data)})
}

// A task touched moments ago may belong to a live process sharing the
// catalog: a starting process leaves it be, and still stops promptly.
func TestImportRecoverLeavesLiveTasks(t *testing.T) {
	e := newImpEnv(t, nil)
	c := e.as("A", "member")
	data := randomBytes(3000, 17)
	live, liveTask := e.interruptedImport(t, c, data, 0)

	cfg := config.Default()
	cfg.Glimpse.DataDir = e.dataDir
	cfg.Database.Connection = e.conn
	cfg.PasteDeploy.Flavor = "noauth"
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	h2 := &harness{ts: httptest.NewServer(srv.Handler()), noauth: true, conn: e.conn}
	wantProps(t, "image of the live import", h2.impImage(t, live), map[string]any{
		"status": "importing", "os_glance_import_task": liveTask,
	})
	if got, err := e.catalog(t).GetTask(context.Background(), liveTask); err != nil || got.Status != "processing" {
		t.Errorf("live task: got %+v, %v; want it still processing", got, err)
	}
	e.wantStaged(t, "after the start", live)

	h2.ts.Close()
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Second):
		// Not waited for further: the server goes on closing after the
		// test, on files it still holds open.
		t.Errorf("Close: still waiting after 1s, held up by the later look at the live task")
	}
}

// interruptedImport stages an image as c and leaves it as an import that
// stopped age ago would: importing, locked by a processing task.
func (e *impEnv) interruptedImport(t *testing.T, c *client, data []byte, age time.Duration) (id, task string) {
	t.Helper()
	id = e.stagedImage(t, c, data)
	task = uuid.NewString()
	at := time.Now().UTC().Add(-age)
	err := e.catalog(t).CreateTask(context.Background(), &catalog.Task{ID: task, Type: "api_image_import", Status: "processing",
		Owner: "A", CreatedAt: at, UpdatedAt: at, ImageID: id,
		Input: json.RawMessage(`{"image_id": "` + id + `", "import_req": {"method": {"name": "glance-direct"}}, "backend": [null]}`)})
	if err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	e.setImage(t, id, func(img *image.Image) {
		img.Status = image.Importing
		img.Properties["os_glance_import_task"] = image.Str(task)
		img.Properties["os_glance_importing_to_stores"] = image.Str("")
		img.Properties["os_glance_failed_import"] = image.Str("")
	})
	return id, task
}
