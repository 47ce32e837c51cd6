package v2_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"glimpse/internal/config"
)

func TestImportStores(t *testing.T) {
	e := newMultiEnv(t, nil)
	c := e.as("A", "member")
	data := randomBytes(1<<20+4321, 10)
	for _, tc := range []struct {
		name   string
		body   map[string]any
		hdr    []string
		stores string // the image's stores attribute: its locations' order
	}{
		{"default store", glanceDirect(), nil, "fast"},
		{"both, listed", map[string]any{"method": map[string]any{"name": "glance-direct"}, "stores": []string{"fast", "cheap"}}, nil, "fast,cheap"},
		{"both, listed the other way", map[string]any{"method": map[string]any{"name": "glance-direct"}, "stores": []string{"cheap", "fast"}}, nil, "cheap,fast"},
		{"all stores", map[string]any{"method": map[string]any{"name": "glance-direct"}, "all_stores": true}, nil, "fast,cheap"},
		{"header", glanceDirect(), []string{"X-Image-Meta-Store", "cheap"}, "cheap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.stagedImage(t, c, data)
			c.startImport(t, id, tc.body, tc.hdr...).want(t, "import", http.StatusAccepted)
			tasks := e.waitImport(t, id, 1)
			if tasks[0]["status"] != "success" {
				t.Fatalf("task: got status %v (%v), want success", tasks[0]["status"], tasks[0]["message"])
			}
			wantProps(t, "imported image", e.impImage(t, id), map[string]any{
				"status": "active", "stores": tc.stores, "size": float64(len(data)), "checksum": md5Hex(data),
				"os_hash_value": sha512Hex(data), "os_glance_import_task": absent,
				"os_glance_importing_to_stores": "", "os_glance_failed_import": "",
			})
			for _, st := range []string{"fast", "cheap"} {
				in := slices.Contains(strings.Split(tc.stores, ","), st)
				if _, err := os.Stat(filepath.Join(e.storeDirs[st], id)); (err == nil) != in {
					t.Errorf("store %s: file present %t, want %t", st, err == nil, in)
				}
				if in {
					e.wantHeld(t, id, data, st)
				}
			}
			if got := c.getFile(t, id).want(t, "download", http.StatusOK).Body; !bytes.Equal(got, data) {
				t.Errorf("download: got %d bytes, want the %d imported", len(got), len(data))
			}
			// The task records the stores it imported to.
			input, _ := tasks[0]["input"].(map[string]any)
			backend, _ := input["backend"].([]any)
			var names []string
			for _, b := range backend {
				s, _ := b.(string)
				names = append(names, s)
			}
			if got := strings.Join(names, ","); got != tc.stores {
				t.Errorf("task input backend: got %v, want %s", backend, tc.stores)
			}
		})
	}
	e.wantStaged(t, "after the imports")
}

func TestImportStoreRefusals(t *testing.T) {
	e := newMultiEnv(t, nil)
	c := e.as("A", "member")
	id := e.stagedImage(t, c, []byte("staged bytes"))
	gd := map[string]any{"name": "glance-direct"}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		hdr    []string
		status int
		msg    string
	}{
		{"stores and all_stores", map[string]any{"method": gd, "stores": []string{"fast"}, "all_stores": true}, nil,
			400, "All_stores parameter can't be used with x-image-meta-store header or stores parameter"},
		{"header and all_stores", map[string]any{"method": gd, "all_stores": true}, []string{"X-Image-Meta-Store", "fast"},
			400, "All_stores parameter can't be used with x-image-meta-store header or stores parameter"},
		{"stores and header", map[string]any{"method": gd, "stores": []string{"fast"}}, []string{"X-Image-Meta-Store", "cheap"},
			400, "Stores parameter and x-image-meta-store header can't be both specified"},
		{"unknown store", map[string]any{"method": gd, "stores": []string{"fast", "nope"}}, nil,
			409, "Unknown scheme 'nope' found in URI"},
		{"unknown store in the header", map[string]any{"method": gd}, []string{"X-Image-Meta-Store", "nope"},
			409, "Unknown scheme 'nope' found in URI"},
		{"staging is no target", map[string]any{"method": gd, "stores": []string{"os_glance_staging_store"}}, nil,
			409, "Unknown scheme 'os_glance_staging_store' found in URI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.getRaw(t, id)
			c.startImport(t, id, tc.body, tc.hdr...).wantError(t, "import", tc.status, tc.msg, "")
			if after := e.getRaw(t, id); !bytes.Equal(before, after) {
				t.Errorf("the refusal changed the image:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	if ts := e.impTasks(t, id); len(ts) != 0 {
		t.Errorf("refused imports recorded tasks: %v", ts)
	}
	e.wantStaged(t, "after the refusals", id)
	e.wantInStore(t, "after the refusals", "fast")
	e.wantInStore(t, "after the refusals", "cheap")
}

// The staging area of stores configured by name is the reserved
// os_glance_staging_store section's directory.
func TestImportStagingStoreSection(t *testing.T) {
	staging := t.TempDir()
	e := newMultiEnv(t, func(cfg *config.Config) {
		cfg.Raw["os_glance_staging_store"] = map[string]string{"filesystem_store_datadir": staging}
	})
	c := e.as("A", "member")
	id := e.stagedImage(t, c, []byte("staged bytes"))
	wantDir(t, "configured staging area", staging, id)
	e.wantStaged(t, "default staging area")
	c.startImport(t, id, glanceDirect()).want(t, "import", http.StatusAccepted)
	e.waitImport(t, id, 1)
	wantDir(t, "configured staging area after the import", staging)
	e.wantHeld(t, id, []byte("staged bytes"), "fast")
}

// breakStore makes a store fail every write from now on. Tests run as
// root, for whom permission bits do not stop writes; a store whose
// directory has gone cannot create the temporary file a write starts
// with, whatever the caller's privileges.
func (e *impEnv) breakStore(t *testing.T, name string) {
	t.Helper()
	if err := os.RemoveAll(e.storeDirs[name]); err != nil {
		t.Fatalf("removing store %s's directory: %v", name, err)
	}
}

func TestImportPartialFailure(t *testing.T) {
	data := randomBytes(2<<20+77, 11)
	body := func(mustSucceed bool) map[string]any {
		return map[string]any{"method": map[string]any{"name": "glance-direct"}, "stores": []string{"fast", "cheap"},
			"all_stores_must_succeed": mustSucceed}
	}

	t.Run("all stores must succeed", func(t *testing.T) {
		e := newMultiEnv(t, nil)
		c := e.as("A", "member")
		id := e.stagedImage(t, c, data)
		e.breakStore(t, "cheap")
		c.startImport(t, id, body(true)).want(t, "import", http.StatusAccepted)
		tasks := e.waitImport(t, id, 1)
		if tasks[0]["status"] != "failure" || tasks[0]["message"] == "" {
			t.Errorf("task: got status %v message %q, want failure with a message", tasks[0]["status"], tasks[0]["message"])
		}
		img := e.impImage(t, id)
		wantProps(t, "after the failure", img, map[string]any{
			"status": "queued", "stores": absent, "checksum": nil, "os_glance_import_task": absent,
			"os_glance_importing_to_stores": "", "os_glance_failed_import": "cheap",
		})
		// What the good store wrote is gone with the failed import.
		e.wantInStore(t, "after the failure", "fast")
		e.wantStaged(t, "after the failure")

		// The image can be staged and imported again.
		nextTaskSecond()
		c.stage(t, id, data).want(t, "stage after the failure", http.StatusNoContent)
		c.startImport(t, id, map[string]any{"method": map[string]any{"name": "glance-direct"}, "stores": []string{"fast"}}).want(t, "import into the good store", http.StatusAccepted)
		if tasks := e.waitImport(t, id, 2); tasks[0]["status"] != "success" {
			t.Fatalf("second import: got status %v (%v), want success", tasks[0]["status"], tasks[0]["message"])
		}
		wantProps(t, "after the second import", e.impImage(t, id), map[string]any{
			"status": "active", "stores": "fast", "checksum": md5Hex(data),
			"os_glance_importing_to_stores": "", "os_glance_failed_import": "cheap",
		})
		e.wantHeld(t, id, data, "fast")
	})

	t.Run("some stores may fail", func(t *testing.T) {
		e := newMultiEnv(t, nil)
		c := e.as("A", "member")
		id := e.stagedImage(t, c, data)
		e.breakStore(t, "cheap")
		c.startImport(t, id, body(false)).want(t, "import", http.StatusAccepted)
		tasks := e.waitImport(t, id, 1)
		if tasks[0]["status"] != "success" {
			t.Errorf("task: got status %v (%v), want success", tasks[0]["status"], tasks[0]["message"])
		}
		wantProps(t, "after the import", e.impImage(t, id), map[string]any{
			"status": "active", "stores": "fast", "checksum": md5Hex(data), "size": float64(len(data)),
			"os_glance_import_task": absent, "os_glance_importing_to_stores": "", "os_glance_failed_import": "cheap",
		})
		e.wantInStore(t, "after the import", "fast", id)
		e.wantHeld(t, id, data, "fast")
		e.wantStaged(t, "after the import")
	})
}

func TestImportCopyImage(t *testing.T) {
	e := newMultiEnv(t, nil)
	admin := e.admin()
	owner := e.as("A", "member")
	data := randomBytes(1<<20+999, 12)
	id := owner.newRawImage(t)
	owner.putFile(t, id, data).want(t, "upload", http.StatusNoContent)
	before := e.impImage(t, id)
	wantProps(t, "uploaded image", before, map[string]any{"status": "active", "stores": "fast"})

	copyTo := func(stores ...string) map[string]any {
		return map[string]any{"method": map[string]any{"name": "copy-image"}, "stores": stores}
	}
	admin.startImport(t, id, copyTo("cheap")).want(t, "copy", http.StatusAccepted)
	tasks := e.waitImport(t, id, 1)
	if tasks[0]["status"] != "success" {
		t.Fatalf("copy task: got status %v (%v), want success", tasks[0]["status"], tasks[0]["message"])
	}
	after := e.impImage(t, id)
	wantProps(t, "copied image", after, map[string]any{
		"status": "active", "stores": "fast,cheap", "os_glance_import_task": absent,
		"os_glance_importing_to_stores": "", "os_glance_failed_import": "",
	})
	for _, k := range []string{"checksum", "os_hash_value", "size", "virtual_size"} {
		if after[k] != before[k] {
			t.Errorf("copy changed %s: got %v, want %v", k, after[k], before[k])
		}
	}
	e.wantHeld(t, id, data, "fast", "cheap")

	admin.startImport(t, id, copyTo("fast")).wantError(t, "copy to a store that has it", http.StatusBadRequest,
		"Image is already present at store 'fast'", "")
	admin.startImport(t, id, copyTo("cheap", "fast")).wantError(t, "copy to stores that have it", http.StatusBadRequest,
		"Image is already present at store 'fast'", "")
	// Already everywhere: accepted, and nothing to do.
	admin.startImport(t, id, map[string]any{"method": map[string]any{"name": "copy-image"}, "all_stores": true}).want(t, "copy to all stores", http.StatusAccepted)
	if ts := e.impTasks(t, id); len(ts) != 1 {
		t.Errorf("copy to all stores when everywhere: got %d tasks, want the 1 of the first copy", len(ts))
	}
	wantProps(t, "after copying nowhere", e.impImage(t, id), map[string]any{"stores": "fast,cheap", "os_glance_import_task": absent})
}

func TestImportCopyAllStores(t *testing.T) {
	e := newMultiEnv(t, nil)
	admin := e.admin()
	data := randomBytes(30_000, 13)
	id := admin.newRawImage(t)
	admin.putFile(t, id, data, "X-Image-Meta-Store", "cheap").want(t, "upload", http.StatusNoContent)
	admin.startImport(t, id, map[string]any{"method": map[string]any{"name": "copy-image"}, "all_stores": true}).want(t, "copy", http.StatusAccepted)
	tasks := e.waitImport(t, id, 1)
	if tasks[0]["status"] != "success" {
		t.Fatalf("copy task: got status %v (%v), want success", tasks[0]["status"], tasks[0]["message"])
	}
	// all_stores copies to the stores that lack the image only.
	input, _ := tasks[0]["input"].(map[string]any)
	if backend, _ := input["backend"].([]any); len(backend) != 1 || backend[0] != "fast" {
		t.Errorf("task input backend: got %v, want [fast]", input["backend"])
	}
	wantProps(t, "copied image", e.impImage(t, id), map[string]any{"status": "active", "stores": "cheap,fast"})
	e.wantHeld(t, id, data, "fast", "cheap")
}

func TestImportCopyFailures(t *testing.T) {
	data := randomBytes(1<<20+5, 14)
	copyToCheap := map[string]any{"method": map[string]any{"name": "copy-image"}, "stores": []string{"cheap"}}

	t.Run("source does not match the checksum", func(t *testing.T) {
		e := newMultiEnv(t, nil)
		admin := e.admin()
		id := admin.newRawImage(t)
		admin.putFile(t, id, data).want(t, "upload", http.StatusNoContent)
		before := e.impImage(t, id)
		// The same length, other bytes: only the hashes can tell.
		bad := randomBytes(len(data), 15)
		if err := os.WriteFile(filepath.Join(e.storeDirs["fast"], id), bad, 0o600); err != nil {
			t.Fatal(err)
		}
		admin.startImport(t, id, copyToCheap).want(t, "copy", http.StatusAccepted)
		tasks := e.waitImport(t, id, 1)
		if tasks[0]["status"] != "failure" || tasks[0]["message"] == "" {
			t.Errorf("task: got status %v message %q, want failure with a message", tasks[0]["status"], tasks[0]["message"])
		}
		after := e.impImage(t, id)
		wantProps(t, "after the failed copy", after, map[string]any{
			"status": "active", "stores": "fast", "checksum": before["checksum"], "os_hash_value": before["os_hash_value"],
			"os_glance_import_task": absent, "os_glance_importing_to_stores": "",
		})
		e.wantInStore(t, "after the failed copy", "cheap")
		e.wantInStore(t, "after the failed copy", "fast", id)
	})

	t.Run("target store fails", func(t *testing.T) {
		e := newMultiEnv(t, nil)
		admin := e.admin()
		id := admin.newRawImage(t)
		admin.putFile(t, id, data).want(t, "upload", http.StatusNoContent)
		e.breakStore(t, "cheap")
		admin.startImport(t, id, copyToCheap).want(t, "copy", http.StatusAccepted)
		tasks := e.waitImport(t, id, 1)
		if tasks[0]["status"] != "failure" {
			t.Errorf("task: got status %v, want failure", tasks[0]["status"])
		}
		wantProps(t, "after the failed copy", e.impImage(t, id), map[string]any{
			"status": "active", "stores": "fast", "checksum": md5Hex(data), "os_glance_import_task": absent,
			"os_glance_importing_to_stores": "", "os_glance_failed_import": "cheap",
		})
		e.wantHeld(t, id, data, "fast")
	})
}

// pipeInPlace replaces a file with a named pipe, so that an import
// opening it waits until release opens the pipe's other end; the import
// then fails, as the data is no regular file. The other end stays open
// until the test ends: an import that reaches its open only after
// release must not wait either.
func pipeInPlace(t *testing.T, path string) (release func()) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	var w *os.File
	release = func() {
		if w != nil {
			return
		}
		// O_RDWR does not wait for a reader on Linux.
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Errorf("opening the pipe: %v", err)
			return
		}
		w = f
	}
	// Registered before the caller's later cleanups and after the
	// harness's: it runs before the server stops, which waits for the
	// import.
	t.Cleanup(func() {
		release()
		if w != nil {
			w.Close()
		}
	})
	return release
}

// waitRunning waits for an image's newest task to be processing and
// returns it.
func (e *impEnv) waitRunning(t *testing.T, id string, n int) map[string]any {
	t.Helper()
	var task map[string]any
	waitFor(t, "import of "+id+" running", func() bool {
		ts := e.impTasks(t, id)
		if len(ts) == n && ts[0]["status"] == "processing" {
			task = ts[0]
			return true
		}
		return false
	})
	return task
}

// A glance-direct import in flight holds its image until it ends.
func TestImportInFlight(t *testing.T) {
	e := newMultiEnv(t, nil)
	c := e.as("A", "member")
	id := e.stagedImage(t, c, []byte("staged bytes"))
	release := pipeInPlace(t, filepath.Join(e.stagingDir, id))

	body := map[string]any{"method": map[string]any{"name": "glance-direct"}, "stores": []string{"fast", "cheap"}}
	c.startImport(t, id, body).want(t, "import", http.StatusAccepted)
	task := e.waitRunning(t, id, 1)
	wantProps(t, "image being imported", e.impImage(t, id), map[string]any{
		"status": "importing", "os_glance_import_task": task["id"],
		"os_glance_importing_to_stores": "cheap,fast", "os_glance_failed_import": "",
	})
	// Glance checks the image's status before its lock.
	c.startImport(t, id, body).wantError(t, "second import", http.StatusConflict,
		"Image needs to be staged before 'glance-direct' method can be used", "")
	c.stage(t, id, []byte("x")).wantError(t, "stage during the import", http.StatusConflict,
		"Image status transition from importing to uploading is not allowed", "")

	release()
	tasks := e.waitImport(t, id, 1)
	if tasks[0]["status"] != "failure" || tasks[0]["message"] == "" {
		t.Errorf("task: got status %v message %q, want failure with a message", tasks[0]["status"], tasks[0]["message"])
	}
	wantProps(t, "after the failure", e.impImage(t, id), map[string]any{
		"status": "queued", "os_glance_import_task": absent, "os_glance_importing_to_stores": "", "os_glance_failed_import": "",
	})
	e.wantInStore(t, "after the failure", "fast")
	e.wantInStore(t, "after the failure", "cheap")
}

// A copy in flight holds the import lock: a second copy is refused.
func TestImportCopyInFlight(t *testing.T) {
	e := newMultiEnv(t, nil)
	admin := e.admin()
	data := randomBytes(5000, 18)
	id := admin.newRawImage(t)
	admin.putFile(t, id, data).want(t, "upload", http.StatusNoContent)
	release := pipeInPlace(t, filepath.Join(e.storeDirs["fast"], id))

	copyTo := map[string]any{"method": map[string]any{"name": "copy-image"}, "stores": []string{"cheap"}}
	admin.startImport(t, id, copyTo).want(t, "copy", http.StatusAccepted)
	task := e.waitRunning(t, id, 1)
	wantProps(t, "image being copied", e.impImage(t, id), map[string]any{
		"status": "active", "stores": "fast", "os_glance_import_task": task["id"],
		"os_glance_importing_to_stores": "cheap", "os_glance_failed_import": "",
	})
	admin.startImport(t, id, copyTo).wantError(t, "second copy", http.StatusConflict, "Image has active task", "")
	if ts := e.impTasks(t, id); len(ts) != 1 {
		t.Errorf("the refused copy recorded a task: %d tasks", len(ts))
	}

	release()
	tasks := e.waitImport(t, id, 1)
	if tasks[0]["status"] != "failure" || tasks[0]["message"] == "" {
		t.Errorf("task: got status %v message %q, want failure with a message", tasks[0]["status"], tasks[0]["message"])
	}
	wantProps(t, "after the failed copy", e.impImage(t, id), map[string]any{
		"status": "active", "stores": "fast", "checksum": md5Hex(data), "os_glance_import_task": absent,
		"os_glance_importing_to_stores": "",
	})
	e.wantInStore(t, "after the failed copy", "cheap")
}
