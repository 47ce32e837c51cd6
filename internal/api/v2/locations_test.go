package v2_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"glimpse/internal/config"
	"glimpse/internal/image"
)

// webSource serves image data over HTTP on loopback, as a web server
// holding images would for the http store, and records what it was asked.
type webSource struct {
	srv  *httptest.Server
	mu   sync.Mutex
	data map[string][]byte
	reqs []string // "METHOD /path"
}

func newWebSource(t *testing.T) *webSource {
	t.Helper()
	s := &webSource{data: map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Method+" "+r.URL.Path)
		b, ok := s.data[r.URL.Path]
		s.mu.Unlock()
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// put serves b at path and returns its URL.
func (s *webSource) put(path string, b []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[path] = b
	return s.srv.URL + path
}

// asked reports the requests the server got for path, in order.
func (s *webSource) asked(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reqs {
		if strings.HasSuffix(r, " "+path) {
			out = append(out, strings.Fields(r)[0])
		}
	}
	return out
}

func (s *webSource) port() string {
	u, _ := url.Parse(s.srv.URL)
	return u.Port()
}

// locEnv is a glimpse showing locations (show_multiple_locations), with a
// web source whose loopback address and port the import URI filter lets
// through.
type locEnv struct {
	*dataEnv
	src *webSource
}

func newLocEnv(t *testing.T, noauth bool, configure func(*config.Config)) *locEnv {
	t.Helper()
	src := newWebSource(t)
	e := newDataEnv(t, noauth, func(cfg *config.Config) {
		cfg.Default.ShowMultipleLocations = true
		cfg.ImportFiltering.AllowedPorts = []string{src.port()}
		cfg.ImportFiltering.AllowPrivateAddresses = true
		if configure != nil {
			configure(cfg)
		}
	})
	return &locEnv{dataEnv: e, src: src}
}

func addLocation(path, uri string, meta map[string]any) map[string]any {
	if meta == nil {
		meta = map[string]any{}
	}
	return map[string]any{"op": "add", "path": path, "value": map[string]any{"url": uri, "metadata": meta}}
}

func removeLocation(path string) map[string]any {
	return map[string]any{"op": "remove", "path": path}
}

// locationsOf returns the URLs an image's JSON shows in locations, and
// fails when it shows none.
func locationsOf(t *testing.T, img map[string]any) []string {
	t.Helper()
	list, ok := img["locations"].([]any)
	if !ok {
		t.Fatalf("image shows no locations list: %v", img)
	}
	urls := []string{}
	for _, l := range list {
		m := l.(map[string]any)
		if _, ok := m["id"]; ok {
			t.Errorf("location %v shows its id", m)
		}
		if _, ok := m["status"]; ok {
			t.Errorf("location %v shows its status", m)
		}
		if _, ok := m["metadata"].(map[string]any); !ok {
			t.Errorf("location %v has no metadata object", m)
		}
		urls = append(urls, m["url"].(string))
	}
	return urls
}

func (c *client) show(t *testing.T, id string) map[string]any {
	t.Helper()
	return c.do(t, "GET", "/v2/images/"+id, "").want(t, "GET image", http.StatusOK).object(t)
}

func TestLocationsAddToQueuedImage(t *testing.T) {
	e := newLocEnv(t, false, func(cfg *config.Config) { cfg.Default.ShowImageDirectURL = true })
	admin := e.admin()
	data := randomBytes(70000, 1)
	uri := e.src.put("/images/a.raw", data)

	id := admin.newRawImage(t)
	img := admin.show(t, id)
	if got := locationsOf(t, img); len(got) != 0 {
		t.Fatalf("new image: locations %v, want []", got)
	}
	if _, ok := img["direct_url"]; ok {
		t.Errorf("an image without locations shows direct_url %v", img["direct_url"])
	}

	img = admin.patch(t, id, addLocation("/locations/-", uri, map[string]any{"note": "web"})).want(t, "add a location", http.StatusOK).object(t)
	if img["status"] != "active" || img["size"] != float64(len(data)) {
		t.Fatalf("after the first location: status %v size %v, want active %d", img["status"], img["size"], len(data))
	}
	if img["checksum"] != nil || img["os_hash_value"] != nil {
		t.Errorf("hashes set without validation data: checksum %v os_hash_value %v", img["checksum"], img["os_hash_value"])
	}
	if got := locationsOf(t, img); !slices.Equal(got, []string{uri}) {
		t.Fatalf("locations %v, want [%s]", got, uri)
	}
	if img["direct_url"] != uri {
		t.Errorf("direct_url %v, want %s", img["direct_url"], uri)
	}
	shown := admin.show(t, id)
	if got := locationsOf(t, shown); !slices.Equal(got, []string{uri}) {
		t.Fatalf("GET: locations %v, want [%s]", got, uri)
	}
	meta := shown["locations"].([]any)[0].(map[string]any)["metadata"].(map[string]any)
	if meta["note"] != "web" {
		t.Errorf("location metadata %v, want note=web", meta)
	}
	// The data comes from the web source, through glimpse.
	r := admin.getFile(t, id).want(t, "download", http.StatusOK)
	if !bytes.Equal(r.Body, data) {
		t.Fatalf("download: got %d bytes, want the %d served at the location", len(r.Body), len(data))
	}
	if asked := e.src.asked("/images/a.raw"); !slices.Contains(asked, "HEAD") || !slices.Contains(asked, "GET") {
		t.Errorf("the web source was asked %v, want a HEAD (size) and a GET (download)", asked)
	}
	// Lists show locations too.
	r = admin.do(t, "GET", "/v2/images?id="+id, "").want(t, "list", http.StatusOK)
	if !bytes.Contains(r.Body, []byte(`"locations": [{"url": "`+uri+`", "metadata": {"note": "web"}}]`)) {
		t.Errorf("list does not show the location: %s", r.Body)
	}
	e.wantStoreFiles(t, "after adding a web location")
}

func TestLocationsValidationData(t *testing.T) {
	e := newLocEnv(t, false, nil)
	admin := e.admin()
	data := randomBytes(5000, 2)
	uri := e.src.put("/v.raw", data)
	vd := map[string]any{"checksum": md5Hex(data), "os_hash_algo": "sha512", "os_hash_value": sha512Hex(data)}

	id := admin.newRawImage(t)
	img := admin.patch(t, id, map[string]any{"op": "add", "path": "/locations/-",
		"value": map[string]any{"url": uri, "metadata": map[string]any{}, "validation_data": vd}}).want(t, "add with validation data", http.StatusOK).object(t)
	if img["checksum"] != md5Hex(data) || img["os_hash_algo"] != "sha512" || img["os_hash_value"] != sha512Hex(data) {
		t.Fatalf("hashes: %v %v %v", img["checksum"], img["os_hash_algo"], img["os_hash_value"])
	}
	if loc := img["locations"].([]any)[0].(map[string]any); loc["validation_data"] != nil {
		t.Errorf("validation_data is shown: %v", loc)
	}

	// Other hashes for an image that has some: refused.
	other := e.src.put("/v2.raw", data)
	bad := map[string]any{"os_hash_algo": "sha512", "os_hash_value": strings.Repeat("0", 128)}
	admin.patch(t, id, map[string]any{"op": "add", "path": "/locations/-",
		"value": map[string]any{"url": other, "metadata": map[string]any{}, "validation_data": bad}}).
		wantError(t, "different hash", http.StatusConflict, "os_hash_value is already set with a different value", "")

	// A queued image: wrong algorithm, malformed values.
	q := admin.newRawImage(t)
	for _, c := range []struct {
		what string
		vd   map[string]any
		msg  string
	}{
		{"algorithm", map[string]any{"os_hash_algo": "sha256", "os_hash_value": strings.Repeat("a", 64)}, "os_hash_algo must be sha512, not sha256"},
		{"not hex", map[string]any{"os_hash_algo": "sha512", "os_hash_value": strings.Repeat("z", 128)}, "os_hash_value (" + strings.Repeat("z", 128) + ") is not a valid hexadecimal value"},
		{"short", map[string]any{"os_hash_algo": "sha512", "os_hash_value": "abcd"}, "os_hash_value (abcd) is not the correct size for sha512 (should be 64 bytes)"},
		{"checksum", map[string]any{"checksum": strings.Repeat("g", 32), "os_hash_algo": "sha512", "os_hash_value": sha512Hex(data)}, "checksum (" + strings.Repeat("g", 32) + ") is not a valid hexadecimal value"},
	} {
		admin.patch(t, q, map[string]any{"op": "add", "path": "/locations/-",
			"value": map[string]any{"url": uri, "metadata": map[string]any{}, "validation_data": c.vd}}).
			wantError(t, c.what, http.StatusConflict, c.msg, "")
	}
	const schema = "Provided object does not match schema 'image': "
	admin.patch(t, q, map[string]any{"op": "add", "path": "/locations/-",
		"value": map[string]any{"url": uri, "metadata": map[string]any{}, "validation_data": map[string]any{"os_hash_algo": "sha512"}}}).
		wantError(t, "os_hash_value missing", http.StatusBadRequest, schema+"'os_hash_value' is a required property", "")
	admin.patch(t, q, map[string]any{"op": "add", "path": "/locations/-", "value": map[string]any{"url": uri}}).
		wantError(t, "metadata missing", http.StatusBadRequest, schema+"'metadata' is a required property", "")
	admin.patch(t, q, map[string]any{"op": "add", "path": "/locations/-", "value": map[string]any{"url": uri, "metadata": map[string]any{"n": 1.5}}}).
		wantError(t, "metadata number", http.StatusBadRequest, "The image metadata key n has an invalid type of <class 'float'>. Only dict, list, and unicode are supported.", "")
	if st := e.status(t, q); st != "queued" {
		t.Errorf("refused adds left the image %s, want queued", st)
	}
}

func TestLocationsSecondRemoveAndLast(t *testing.T) {
	e := newLocEnv(t, false, nil)
	admin := e.admin()
	data := randomBytes(3000, 3)
	a, b := e.src.put("/a", data), e.src.put("/b", data)

	id := admin.newRawImage(t)
	admin.patch(t, id, addLocation("/locations/-", a, nil)).want(t, "first", http.StatusOK)
	img := admin.patch(t, id, addLocation("/locations/0", b, nil)).want(t, "second, in front", http.StatusOK).object(t)
	if got := locationsOf(t, img); !slices.Equal(got, []string{b, a}) {
		t.Errorf("PATCH response locations %v, want [%s %s]", got, b, a)
	}
	if got := locationsOf(t, admin.show(t, id)); len(got) != 2 {
		t.Fatalf("locations %v, want two", got)
	}
	// The same location again.
	admin.patch(t, id, addLocation("/locations/-", a, nil)).
		wantError(t, "duplicate", http.StatusBadRequest, "The location "+a+" already exists", "")
	admin.patch(t, id, addLocation("/locations/x", a, map[string]any{"k": "v"})).
		wantError(t, "bad add position", http.StatusBadRequest, "Invalid position for adding a location.", "")
	admin.patch(t, id, removeLocation("/locations/2")).
		wantError(t, "bad remove position", http.StatusBadRequest, "Invalid position for removing a location.", "")

	// Removing one of two: the web data stays (glimpse never deletes
	// from the http store).
	first := locationsOf(t, admin.show(t, id))[0]
	img = admin.patch(t, id, removeLocation("/locations/0")).want(t, "remove one of two", http.StatusOK).object(t)
	rest := locationsOf(t, img)
	if len(rest) != 1 || rest[0] == first {
		t.Fatalf("after removing %s: locations %v", first, rest)
	}
	if got := locationsOf(t, admin.show(t, id)); !slices.Equal(got, rest) {
		t.Fatalf("GET after remove: %v, want %v", got, rest)
	}
	r := admin.getFile(t, id).want(t, "download after remove", http.StatusOK)
	if !bytes.Equal(r.Body, data) {
		t.Fatal("download after remove: wrong data")
	}
	for _, p := range []string{"/a", "/b"} {
		if asked := e.src.asked(p); slices.Contains(asked, "DELETE") {
			t.Errorf("the web source got a DELETE for %s", p)
		}
	}

	// The last one stays (OSSA-2016-006), and so does the image.
	admin.patch(t, id, removeLocation("/locations/0")).
		wantError(t, "remove the last", http.StatusForbidden, "Access was denied to this resource.", "Cannot remove last location in the image.")
	admin.patch(t, id, removeLocation("/locations/-")).
		wantError(t, "remove the last (-)", http.StatusForbidden, "Access was denied to this resource.", "Cannot remove last location in the image.")
	admin.patch(t, id, map[string]any{"op": "replace", "path": "/locations", "value": []any{}}).
		wantError(t, "replace with none", http.StatusForbidden, "Access was denied to this resource.", "Cannot set locations to empty list.")
	img = admin.show(t, id)
	if img["status"] != "active" || len(locationsOf(t, img)) != 1 {
		t.Fatalf("after refused removals: status %v locations %v", img["status"], img["locations"])
	}
}

func TestLocationsStatus(t *testing.T) {
	e := newLocEnv(t, false, nil)
	admin := e.admin()
	data := randomBytes(1000, 4)
	a, b := e.src.put("/a", data), e.src.put("/b", data)

	id := admin.newRawImage(t)
	admin.patch(t, id, addLocation("/locations/-", a, nil)).want(t, "add", http.StatusOK)
	admin.do(t, "POST", "/v2/images/"+id+"/actions/deactivate", "").want(t, "deactivate", http.StatusNoContent)
	admin.patch(t, id, addLocation("/locations/-", b, nil)).
		wantError(t, "add to a deactivated image", http.StatusConflict, "It's not allowed to add locations if image status is deactivated.", "")
	admin.patch(t, id, removeLocation("/locations/0")).
		wantError(t, "remove from a deactivated image", http.StatusConflict, "It's not allowed to remove locations if image status is deactivated.", "")

	saving := admin.newRawImage(t)
	e.setImage(t, saving, func(img *image.Image) { img.Status = image.Saving })
	admin.patch(t, saving, addLocation("/locations/-", b, nil)).
		wantError(t, "add to a saving image", http.StatusConflict, "It's not allowed to add locations if image status is saving.", "")
	admin.patch(t, saving, map[string]any{"op": "replace", "path": "/locations", "value": []any{map[string]any{"url": b, "metadata": map[string]any{}}}}).
		wantError(t, "replace on a saving image", http.StatusConflict, "It's not allowed to replace locations if image status is saving.", "")
	if len(e.src.asked("/b")) != 0 {
		t.Errorf("the web source was asked for a location refused by status: %v", e.src.asked("/b"))
	}

	// A queued image without formats cannot become active.
	bare := admin.createImage(t, nil)["id"].(string)
	admin.patch(t, bare, addLocation("/locations/-", b, nil)).
		wantError(t, "no formats", http.StatusBadRequest, "Properties disk_format, container_format must be set prior to saving data.", "")
}

func TestLocationsLocalAndUnknownSchemes(t *testing.T) {
	e := newLocEnv(t, false, nil)
	admin := e.admin()
	// Another image's data, in glimpse's own file store.
	other := admin.newRawImage(t)
	admin.putFile(t, other, randomBytes(100, 5)).want(t, "upload", http.StatusNoContent)
	id := admin.newRawImage(t)
	for _, uri := range []string{
		"file:///etc/passwd",
		"FILE:///etc/passwd",
		"filesystem:///etc/passwd",
		"file://" + filepath.Join(e.storeDir, other),
		"swift+config://ref1/container/obj",
		"ftp://127.0.0.1/x",
		"nope://x",
		"no-scheme",
		e.src.srv.URL + "/missing",
	} {
		admin.patch(t, id, addLocation("/locations/-", uri, nil)).
			wantError(t, "add "+uri, http.StatusBadRequest, "Invalid location", "")
		admin.patch(t, id, map[string]any{"op": "replace", "path": "/locations", "value": []any{map[string]any{"url": uri, "metadata": map[string]any{}}}}).
			wantError(t, "replace with "+uri, http.StatusBadRequest, "Invalid location", "")
	}
	img := admin.show(t, id)
	if img["status"] != "queued" || img["size"] != nil || len(locationsOf(t, img)) != 0 {
		t.Fatalf("after refused locations: status %v size %v locations %v", img["status"], img["size"], img["locations"])
	}
	// The other image's data is still its own.
	if _, err := os.Stat(filepath.Join(e.storeDir, other)); err != nil {
		t.Fatalf("the other image's file: %v", err)
	}
}

func TestLocationsReplace(t *testing.T) {
	e := newLocEnv(t, false, nil)
	admin := e.admin()
	data := randomBytes(2000, 6)
	a, b, c := e.src.put("/a", data), e.src.put("/b", data), e.src.put("/c", data)

	id := admin.newRawImage(t)
	img := admin.patch(t, id, map[string]any{"op": "replace", "path": "/locations", "value": []any{
		map[string]any{"url": a, "metadata": map[string]any{}},
		map[string]any{"url": b, "metadata": map[string]any{}},
	}}).want(t, "replace on a queued image", http.StatusOK).object(t)
	if img["status"] != "active" || img["size"] != float64(len(data)) || !slices.Equal(locationsOf(t, img), []string{a, b}) {
		t.Fatalf("after replace: status %v size %v locations %v", img["status"], img["size"], img["locations"])
	}
	// The same URLs with new metadata: nothing else changes.
	img = admin.patch(t, id, map[string]any{"op": "replace", "path": "/locations", "value": []any{
		map[string]any{"url": b, "metadata": map[string]any{"k": "2"}},
		map[string]any{"url": a, "metadata": map[string]any{"k": "1"}},
	}}).want(t, "replace metadata", http.StatusOK).object(t)
	if img["status"] != "active" || img["size"] != float64(len(data)) {
		t.Errorf("after a metadata replace: status %v size %v, want active and %d", img["status"], img["size"], len(data))
	}
	if got := locationsOf(t, admin.show(t, id)); len(got) != 2 {
		t.Fatalf("after a metadata replace: %v", got)
	}
	// Other URLs for an image that has locations: refused.
	r := admin.patch(t, id, map[string]any{"op": "replace", "path": "/locations", "value": []any{
		map[string]any{"url": c, "metadata": map[string]any{}},
	}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "Original locations is not empty: [{") {
		t.Fatalf("replace with other URLs: got %d %s", r.Status, r.Body)
	}
	// Two equal locations at once.
	q := admin.newRawImage(t)
	admin.patch(t, q, map[string]any{"op": "replace", "path": "/locations", "value": []any{
		map[string]any{"url": a, "metadata": map[string]any{}},
		map[string]any{"url": a, "metadata": map[string]any{}},
	}}).wantError(t, "replace with duplicates", http.StatusBadRequest, "The location "+a+" already exists", "")
	admin.patch(t, q, map[string]any{"op": "replace", "path": "/locations", "value": map[string]any{"url": a}}).
		wantError(t, "replace with an object", http.StatusBadRequest, "Provided object does not match schema 'image': {'url': '"+a+"'} is not of type 'array'", "")
}

func TestLocationsRemovedFileDataGoes(t *testing.T) {
	e := newLocEnv(t, false, nil)
	admin := e.admin()
	data := randomBytes(4096, 7)
	id := admin.newRawImage(t)
	admin.putFile(t, id, data).want(t, "upload", http.StatusNoContent)
	e.wantStoreFiles(t, "after upload", id)
	uploaded := locationsOf(t, admin.show(t, id))
	if len(uploaded) != 1 || !strings.HasPrefix(uploaded[0], "file://") {
		t.Fatalf("uploaded image locations %v", uploaded)
	}
	// A copy elsewhere, then the uploaded file's location goes: its data
	// goes from the store, and the image is served from the copy.
	mirror := e.src.put("/mirror", data)
	admin.patch(t, id, addLocation("/locations/-", mirror, nil)).want(t, "add a mirror", http.StatusOK)
	admin.patch(t, id, removeLocation("/locations/0")).want(t, "remove the file location", http.StatusOK)
	e.wantStoreFiles(t, "after removing the file location")
	if got := locationsOf(t, admin.show(t, id)); !slices.Equal(got, []string{mirror}) {
		t.Fatalf("locations %v, want [%s]", got, mirror)
	}
	if r := admin.getFile(t, id).want(t, "download", http.StatusOK); !bytes.Equal(r.Body, data) {
		t.Fatal("download from the mirror: wrong data")
	}
	// A location of another size is not the image's data.
	other := e.src.put("/other", randomBytes(100, 8))
	admin.patch(t, id, addLocation("/locations/-", other, nil)).
		wantError(t, "other size", http.StatusConflict, "The data at "+other+" does not match the image: size 100, recorded 4096.", "")
}

func TestLocationsQuota(t *testing.T) {
	e := newLocEnv(t, false, func(cfg *config.Config) { cfg.Default.ImageLocationQuota = 1 })
	admin := e.admin()
	data := randomBytes(500, 9)
	a, b := e.src.put("/a", data), e.src.put("/b", data)
	id := admin.newRawImage(t)
	admin.patch(t, id, addLocation("/locations/-", a, nil)).want(t, "first", http.StatusOK)
	admin.patch(t, id, addLocation("/locations/-", b, nil)).
		wantError(t, "over the location quota", http.StatusRequestEntityTooLarge, "The limit has been exceeded on the number of allowed image locations. Attempted: 2, Maximum: 1", "")
}

func TestLocationsMixedWithOtherChanges(t *testing.T) {
	e := newLocEnv(t, false, nil)
	admin := e.admin()
	a := e.src.put("/a", randomBytes(800, 10))
	id := admin.newRawImage(t)
	img := admin.patch(t, id,
		map[string]any{"op": "replace", "path": "/name", "value": "web image"},
		addLocation("/locations/-", a, nil),
		map[string]any{"op": "add", "path": "/origin", "value": "web"},
	).want(t, "mixed edit", http.StatusOK).object(t)
	if img["name"] != "web image" || img["origin"] != "web" || img["status"] != "active" {
		t.Fatalf("mixed edit: %v", img)
	}
	// A failing operation leaves everything as it was.
	b := e.src.put("/b", randomBytes(800, 11))
	admin.patch(t, id,
		map[string]any{"op": "replace", "path": "/name", "value": "changed"},
		addLocation("/locations/-", b, nil),
		map[string]any{"op": "replace", "path": "/nosuch", "value": "x"},
	).wantError(t, "mixed edit failing", http.StatusConflict, "There was a conflict when trying to complete your request.", "Property nosuch does not exist.")
	img = admin.show(t, id)
	if img["name"] != "web image" || len(locationsOf(t, img)) != 1 {
		t.Fatalf("after a failed mixed edit: name %v locations %v", img["name"], img["locations"])
	}
}

func TestLocationsPolicy(t *testing.T) {
	e := newLocEnv(t, true, func(cfg *config.Config) { cfg.OsloPolicy.EnforceNewDefaults = true })
	owner, other, admin := e.as("A", "member,reader"), e.as("B", "member,reader"), e.as("A", "admin,member,reader")
	data := randomBytes(1500, 12)
	a, b := e.src.put("/a", data), e.src.put("/b", data)

	// set_image_location lets a project member try, but a web location
	// is an admin's to set: the service fetches it whenever the image is
	// read, and a user's address could point inside the cloud (SSRF).
	id := owner.newRawImage(t)
	owner.patch(t, id, addLocation("/locations/-", a, nil)).
		wantError(t, "member adds", http.StatusForbidden, "Only administrators may set image locations on a web store.", "")
	if asked := e.src.asked("/a"); len(asked) != 0 {
		t.Errorf("a member's refused location was asked for: %v", asked)
	}
	admin.patch(t, id, addLocation("/locations/-", a, nil)).want(t, "admin adds", http.StatusOK)
	// A member of another project the image is shared with is refused
	// by the policy first.
	owner.json(t, "POST", "/v2/images/"+id+"/members", map[string]any{"member": "B"}).want(t, "share", http.StatusOK)
	other.patch(t, id, addLocation("/locations/-", b, nil)).
		wantError(t, "other project adds", http.StatusForbidden, "You are not authorized to complete set_image_location action.", "")
	admin.patch(t, id, addLocation("/locations/-", b, nil)).want(t, "admin adds a copy", http.StatusOK)
	// delete_image_location is the admin's.
	owner.patch(t, id, removeLocation("/locations/0")).
		wantError(t, "member removes", http.StatusForbidden, "You are not authorized to complete delete_image_location action.", "")
	admin.patch(t, id, removeLocation("/locations/0")).want(t, "admin removes", http.StatusOK)

	// Deactivated: locations hidden from all but admins.
	admin.do(t, "POST", "/v2/images/"+id+"/actions/deactivate", "").want(t, "deactivate", http.StatusNoContent)
	if got := locationsOf(t, owner.show(t, id)); len(got) != 0 {
		t.Errorf("a member sees the locations of a deactivated image: %v", got)
	}
	if got := locationsOf(t, admin.show(t, id)); len(got) != 1 {
		t.Errorf("the admin sees %v of a deactivated image, want one location", got)
	}
}

func TestLocationsHiddenWhenOff(t *testing.T) {
	src := newWebSource(t)
	h := newHarness(t, false, func(cfg *config.Config) { cfg.Default.ShowImageDirectURL = false })
	admin := h.admin()
	id := admin.createImage(t, map[string]any{"disk_format": "raw", "container_format": "bare"})["id"].(string)
	if img := admin.show(t, id); img["locations"] != nil || img["direct_url"] != nil {
		t.Fatalf("locations shown while show_multiple_locations is off: %v", img)
	}
	uri := src.put("/a", randomBytes(10, 14))
	admin.patch(t, id, addLocation("/locations/-", uri, nil)).
		wantError(t, "add", http.StatusForbidden, "It's not allowed to add locations if locations are invisible.", "")
	admin.patch(t, id, removeLocation("/locations/0")).
		wantError(t, "remove", http.StatusForbidden, "It's not allowed to remove locations if locations are invisible.", "")
	admin.patch(t, id, map[string]any{"op": "replace", "path": "/locations", "value": []any{map[string]any{"url": uri, "metadata": map[string]any{}}}}).
		wantError(t, "replace", http.StatusForbidden, "It's not allowed to update locations if locations are invisible.", "")
	admin.patch(t, id, map[string]any{"op": "replace", "path": "/locations", "value": []any{}}).
		wantError(t, "replace with none", http.StatusForbidden, "Access was denied to this resource.", "Cannot set locations to empty list.")
	if asked := src.asked("/a"); len(asked) != 0 {
		t.Errorf("a refused location was asked for: %v", asked)
	}
}

func TestLocationsDirectURLAlone(t *testing.T) {
	h := newHarness(t, false, func(cfg *config.Config) { cfg.Default.ShowImageDirectURL = true })
	admin := h.admin()
	id := admin.createImage(t, map[string]any{"disk_format": "raw", "container_format": "bare"})["id"].(string)
	admin.do(t, "PUT", "/v2/images/"+id+"/file", "data", "Content-Type", "application/octet-stream").want(t, "upload", http.StatusNoContent)
	img := admin.show(t, id)
	if u, _ := img["direct_url"].(string); !strings.HasPrefix(u, "file://") {
		t.Errorf("direct_url %v, want the file location", img["direct_url"])
	}
	if _, ok := img["locations"]; ok {
		t.Errorf("locations shown with only show_image_direct_url: %v", img["locations"])
	}
}

func TestLocationsStorageQuota(t *testing.T) {
	e := newLocEnv(t, true, func(cfg *config.Config) { cfg.Default.UserStorageQuota = 1500 })
	admin := e.as("A", "admin,member,reader")
	data := randomBytes(1000, 15)
	a, b := e.src.put("/a", data), e.src.put("/b", data)
	id := admin.newRawImage(t)
	admin.patch(t, id, addLocation("/locations/-", a, nil)).want(t, "first", http.StatusOK)
	admin.patch(t, id, addLocation("/locations/-", b, nil)).
		wantError(t, "over the storage quota", http.StatusRequestEntityTooLarge, "Denying attempt to upload image because it exceeds the quota: The size of the data 1000 will exceed the limit. 500 bytes remaining.", "")
}

func TestLocationsNamedStores(t *testing.T) {
	fast := t.TempDir()
	e := newLocEnv(t, true, func(cfg *config.Config) {
		cfg.Default.EnabledBackends = []config.Backend{{Name: "fast", Type: "file"}, {Name: "web", Type: "http"}}
		cfg.GlanceStore.DefaultBackend = "fast"
		cfg.Raw["fast"] = map[string]string{"filesystem_store_datadir": fast}
		cfg.Raw["web"] = map[string]string{}
	})
	admin := e.as("A", "admin,member,reader")
	a := e.src.put("/a", randomBytes(300, 16))
	id := admin.newRawImage(t)
	// The store a location belongs to is glimpse's to say.
	img := admin.patch(t, id, addLocation("/locations/-", a, map[string]any{"store": "fast"})).want(t, "add", http.StatusOK).object(t)
	if img["stores"] != "web" {
		t.Errorf("stores %v, want web", img["stores"])
	}
	meta := admin.show(t, id)["locations"].([]any)[0].(map[string]any)["metadata"].(map[string]any)
	if meta["store"] != "web" {
		t.Errorf("location metadata %v, want store web", meta)
	}
	// Deleting the image leaves the web data alone.
	admin.do(t, "DELETE", "/v2/images/"+id, "").want(t, "delete", http.StatusNoContent)
	if asked := e.src.asked("/a"); slices.Contains(asked, "DELETE") {
		t.Errorf("deleting the image sent a DELETE to the web source")
	}
}

// Even an admin's web location passes the import URI filter: the service
// fetches it for every user who downloads the image.
func TestLocationsURIFilterForAdmins(t *testing.T) {
	e := newLocEnv(t, true, func(cfg *config.Config) {
		cfg.ImportFiltering.AllowedPorts = []string{"80", "443"}
		cfg.ImportFiltering.AllowPrivateAddresses = false
	})
	admin := e.as("A", "admin,member,reader")
	a := e.src.put("/a", randomBytes(100, 13))
	id := admin.newRawImage(t)
	admin.patch(t, id, addLocation("/locations/-", a, nil)).
		wantError(t, "admin adds an internal address", http.StatusBadRequest, "URI for location does not pass filtering: "+a, "")
	if asked := e.src.asked("/a"); len(asked) != 0 {
		t.Errorf("a filtered location was asked for: %v", asked)
	}
}

// Which store holds a location is the service's to say: a client's
// "store" metadata is dropped, so it cannot make an image claim a store.
func TestLocationsStoreMetadataIsTheServices(t *testing.T) {
	e := newLocEnv(t, true, nil)
	admin := e.as("A", "admin,member,reader")
	a := e.src.put("/a", randomBytes(100, 14))
	id := admin.newRawImage(t)
	admin.patch(t, id, addLocation("/locations/-", a, map[string]any{"store": "fast", "k": "v"})).want(t, "add", http.StatusOK)
	img := admin.show(t, id)
	if _, ok := img["stores"]; ok {
		t.Errorf("image claims stores %v after a client's store metadata", img["stores"])
	}
	locs, _ := img["locations"].([]any)
	if len(locs) != 1 {
		t.Fatalf("locations: %v", img["locations"])
	}
	meta := locs[0].(map[string]any)["metadata"].(map[string]any)
	if _, ok := meta["store"]; ok || meta["k"] != "v" {
		t.Errorf("location metadata: %v, want the client's k kept and no store", meta)
	}
}
