package v2_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"glimpse/internal/config"
)

// impEnv is a header-trusting harness whose staging area and store
// directories the test knows, so that it can see what an import leaves
// behind.
type impEnv struct {
	*harness
	dataDir    string
	stagingDir string
	storeDirs  map[string]string // store name → directory
}

// newImpEnv serves the single file store of the legacy configuration
// (<data-dir>/images), staging in <data-dir>/staging.
func newImpEnv(t *testing.T, configure func(*config.Config)) *impEnv {
	t.Helper()
	dir := t.TempDir()
	h := newHarness(t, true, func(cfg *config.Config) {
		cfg.Glimpse.DataDir = dir
		if configure != nil {
			configure(cfg)
		}
	})
	return &impEnv{harness: h, dataDir: dir, stagingDir: filepath.Join(dir, "staging"),
		storeDirs: map[string]string{"file": filepath.Join(dir, "images")}}
}

// newMultiEnv serves two file stores configured by name, "fast" (the
// default) and "cheap", each in a directory of its own.
func newMultiEnv(t *testing.T, configure func(*config.Config)) *impEnv {
	t.Helper()
	dir := t.TempDir()
	dirs := map[string]string{"fast": t.TempDir(), "cheap": t.TempDir()}
	h := newHarness(t, true, func(cfg *config.Config) {
		cfg.Glimpse.DataDir = dir
		cfg.Default.EnabledBackends = []config.Backend{{Name: "fast", Type: "file"}, {Name: "cheap", Type: "file"}}
		cfg.GlanceStore.DefaultBackend = "fast"
		for name, d := range dirs {
			cfg.Raw[name] = map[string]string{"filesystem_store_datadir": d}
		}
		if configure != nil {
			configure(cfg)
		}
	})
	return &impEnv{harness: h, dataDir: dir, stagingDir: filepath.Join(dir, "staging"), storeDirs: dirs}
}

// dirNames lists every name in dir, hidden temporary files included,
// sorted; a directory that does not exist holds nothing.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return []string{}
	}
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	names := []string{}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// wantDir checks that dir holds exactly names and nothing else (no
// temporary file either).
func wantDir(t *testing.T, what, dir string, names ...string) {
	t.Helper()
	want := slices.Clone(names)
	if want == nil {
		want = []string{}
	}
	slices.Sort(want)
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("%s: directory holds %q, want %q", what, got, want)
	}
}

// wantStaged checks what the staging area holds.
func (e *impEnv) wantStaged(t *testing.T, what string, ids ...string) {
	t.Helper()
	wantDir(t, what+": staging area", e.stagingDir, ids...)
}

// wantInStore checks that a store holds exactly the files of ids.
func (e *impEnv) wantInStore(t *testing.T, what, store string, ids ...string) {
	t.Helper()
	wantDir(t, what+": store "+store, e.storeDirs[store], ids...)
}

// storeBytes reads an image's file in a store's directory.
func (e *impEnv) storeBytes(t *testing.T, store, id string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.storeDirs[store], id))
	if err != nil {
		t.Fatalf("reading %s's file in store %s: %v", id, store, err)
	}
	return b
}

// stagedImage creates a raw image as c and stages data for it.
func (e *impEnv) stagedImage(t *testing.T, c *client, data []byte) string {
	t.Helper()
	id := c.newRawImage(t)
	c.stage(t, id, data).want(t, "stage", http.StatusNoContent)
	return id
}

// wantHeld checks that each of stores holds exactly data for id.
func (e *impEnv) wantHeld(t *testing.T, id string, data []byte, stores ...string) {
	t.Helper()
	for _, st := range stores {
		if got := e.storeBytes(t, st, id); !bytes.Equal(got, data) {
			t.Errorf("store %s: holds %d bytes that are not the %d imported", st, len(got), len(data))
		}
	}
}

// stage sends PUT /v2/images/{id}/stage with a declared length.
func (c *client) stage(t *testing.T, id string, data []byte, hdr ...string) *response {
	t.Helper()
	r, err := c.send(t, "PUT", "/v2/images/"+id+"/stage", bytes.NewReader(data), int64(len(data)),
		append([]string{"Content-Type", octets}, hdr...)...)
	if err != nil {
		t.Fatalf("PUT stage of %s: %v", id, err)
	}
	return r
}

// startImport sends POST /v2/images/{id}/import.
func (c *client) startImport(t *testing.T, id string, body any, hdr ...string) *response {
	t.Helper()
	return c.json(t, "POST", "/v2/images/"+id+"/import", body, hdr...)
}

// glanceDirect is the body of a plain glance-direct import.
func glanceDirect() map[string]any {
	return map[string]any{"method": map[string]any{"name": "glance-direct"}}
}

// impImage is an image's JSON as the admin sees it.
func (h *harness) impImage(t *testing.T, id string) map[string]any {
	t.Helper()
	return h.admin().do(t, "GET", "/v2/images/"+id, "").want(t, "GET image "+id, http.StatusOK).object(t)
}

// impTasks lists an image's tasks as the admin sees them, newest first.
func (h *harness) impTasks(t *testing.T, id string) []map[string]any {
	t.Helper()
	r := h.admin().do(t, "GET", "/v2/images/"+id+"/tasks", "").want(t, "GET tasks of "+id, http.StatusOK)
	var body struct {
		Tasks []map[string]any `json:"tasks"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("decoding tasks %q: %v", r.Body, err)
	}
	return body.Tasks
}

// waitImport waits until the image has n tasks and all of them have
// ended, and returns them, newest first. A task ends after the import has
// put the image in its final state and cleaned the staging area.
func (h *harness) waitImport(t *testing.T, id string, n int) []map[string]any {
	t.Helper()
	var ts []map[string]any
	waitFor(t, "import of "+id+" ended", func() bool {
		ts = h.impTasks(t, id)
		if len(ts) != n {
			return false
		}
		for _, task := range ts {
			if s := task["status"]; s != "success" && s != "failure" {
				return false
			}
		}
		return true
	})
	return ts
}

// absent marks, in wantProps, a key the JSON must not have.
var absent = &struct{ absent bool }{}

// wantProps checks image (or task) attributes and properties: nil wants a
// JSON null, absent wants no such key.
func wantProps(t *testing.T, what string, obj map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := obj[k]
		switch {
		case w == absent && ok:
			t.Errorf("%s: %s is %v, want it absent", what, k, got)
		case w == absent:
		case !ok:
			t.Errorf("%s: %s is absent, want %v", what, k, w)
		case got != w:
			t.Errorf("%s: got %s %v, want %v", what, k, got, w)
		}
	}
}
