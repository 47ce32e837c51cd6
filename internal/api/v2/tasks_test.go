package v2_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/tasks"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"glimpse/internal/catalog"
	"glimpse/internal/config"
)

// newTaskHarness is a header-trusting harness whose policy lets members
// use the tasks API (Glance keeps it for admins by default), so that
// projects can be told apart.
func newTaskHarness(t *testing.T, configure func(*config.Config)) *harness {
	t.Helper()
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte("tasks_api_access: \"role:admin or role:member\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return newHarness(t, true, func(cfg *config.Config) {
		cfg.OsloPolicy.PolicyFile = pol
		if configure != nil {
			configure(cfg)
		}
	})
}

func seedTask(t *testing.T, h *harness, task *catalog.Task) {
	t.Helper()
	if err := h.catalog(t).CreateTask(context.Background(), task); err != nil {
		t.Fatalf("CreateTask %s: %v", task.ID, err)
	}
}

// taskPage decodes a GET /v2/tasks body.
type taskPage struct {
	Tasks  []json.RawMessage `json:"tasks"`
	First  string            `json:"first"`
	Next   string            `json:"next"`
	Schema string            `json:"schema"`
}

func (c *client) taskPage(t *testing.T, query string) taskPage {
	t.Helper()
	r := c.do(t, "GET", "/v2/tasks"+query, "").want(t, "GET /v2/tasks"+query, http.StatusOK)
	var p taskPage
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
	return p
}

func (c *client) taskIDs(t *testing.T, query string) []string {
	t.Helper()
	ids := []string{}
	for _, raw := range c.taskPage(t, query).Tasks {
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	return ids
}

// orderedKeys lists an object's keys in the order the JSON spells them.
func orderedKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s is not an object", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// The seeded tasks of the list tests: three of project A, one of B, one
// of A that has expired.
const (
	tA1   = "a1a1a1a1-0000-4000-8000-000000000001"
	tA2   = "a2a2a2a2-0000-4000-8000-000000000002"
	tA3   = "a3a3a3a3-0000-4000-8000-000000000003"
	tB1   = "b1b1b1b1-0000-4000-8000-000000000004"
	tAexp = "aeaeaeae-0000-4000-8000-000000000005"
	tImg  = "11111111-2222-4333-8444-555555555555"
)

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func seedTasks(t *testing.T, h *harness) {
	t.Helper()
	future := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second)
	past := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	seedTask(t, h, &catalog.Task{ID: tA1, Type: "import", Status: "success", Owner: "A", ExpiresAt: &future,
		CreatedAt: at(0), UpdatedAt: at(10), ImageID: tImg, RequestID: "req-1", UserID: "u1",
		Input:  json.RawMessage(`{"import_from":"http://example.com/x","import_from_format":"raw","image_properties":{"name":"n"}}`),
		Result: json.RawMessage(`{"image_id":"` + tImg + `"}`)})
	seedTask(t, h, &catalog.Task{ID: tA2, Type: "import", Status: "failure", Owner: "A", CreatedAt: at(1), UpdatedAt: at(1),
		Message: "it broke", Input: json.RawMessage(`{}`)})
	seedTask(t, h, &catalog.Task{ID: tA3, Type: "api_image_import", Status: "processing", Owner: "A", CreatedAt: at(2), UpdatedAt: at(2)})
	seedTask(t, h, &catalog.Task{ID: tB1, Type: "import", Status: "pending", Owner: "B", CreatedAt: at(3), UpdatedAt: at(3)})
	seedTask(t, h, &catalog.Task{ID: tAexp, Type: "import", Status: "success", Owner: "A", ExpiresAt: &past,
		CreatedAt: at(4), UpdatedAt: at(4)})
}

func TestTasksList(t *testing.T) {
	h := newTaskHarness(t, nil)
	seedTasks(t, h)
	admin, a, b := h.as("X", "admin"), h.as("A", "member"), h.as("B", "member")

	// Newest first by default; the expired task is gone; projects see
	// their own tasks only.
	wantIDs(t, "admin", admin.taskIDs(t, ""), tB1, tA3, tA2, tA1)
	wantIDs(t, "A", a.taskIDs(t, ""), tA3, tA2, tA1)
	wantIDs(t, "B", b.taskIDs(t, ""), tB1)
	wantIDs(t, "no project", h.as("", "member").taskIDs(t, ""))

	p := a.taskPage(t, "")
	if p.First != "/v2/tasks" || p.Schema != "/v2/schemas/tasks" || p.Next != "" {
		t.Errorf("links: first %q schema %q next %q", p.First, p.Schema, p.Next)
	}
	r := a.do(t, "GET", "/v2/tasks", "").want(t, "list", http.StatusOK)
	if got := orderedKeys(t, r.Body); !slices.Equal(got, []string{"tasks", "first", "schema"}) {
		t.Errorf("list keys %q", got)
	}
	var stub map[string]any
	json.Unmarshal(p.Tasks[2], &stub)
	want := fmt.Sprintf(`{"id": "%s", "type": "import", "status": "success", "owner": "A", "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-02T03:04:15Z", "self": "/v2/tasks/%s", "schema": "/v2/schemas/task", "expires_at": "%s"}`,
		tA1, tA1, stub["expires_at"])
	if string(p.Tasks[2]) != want {
		t.Errorf("stub:\n got %s\nwant %s", p.Tasks[2], want)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", stub["expires_at"].(string)); err != nil {
		t.Errorf("expires_at %v: %v", stub["expires_at"], err)
	}
	want = fmt.Sprintf(`{"id": "%s", "type": "import", "status": "failure", "owner": "A", "created_at": "2024-01-02T03:04:06Z", "updated_at": "2024-01-02T03:04:06Z", "self": "/v2/tasks/%s", "schema": "/v2/schemas/task"}`, tA2, tA2)
	if string(p.Tasks[1]) != want {
		t.Errorf("stub without expiry:\n got %s\nwant %s", p.Tasks[1], want)
	}

	// Filters.
	wantIDs(t, "status", admin.taskIDs(t, "?status=success"), tA1)
	wantIDs(t, "type", admin.taskIDs(t, "?type=import"), tB1, tA2, tA1)
	wantIDs(t, "owner", admin.taskIDs(t, "?owner=B"), tB1)
	wantIDs(t, "owner of another project", a.taskIDs(t, "?owner=B"))
	wantIDs(t, "own owner", a.taskIDs(t, "?owner=A&status=failure"), tA2)
	wantIDs(t, "empty status", admin.taskIDs(t, "?status="))
	wantIDs(t, "image_id", admin.taskIDs(t, "?image_id="+tImg), tA1)
	wantIDs(t, "user_id", admin.taskIDs(t, "?user_id=u1"), tA1)
	wantIDs(t, "unknown parameter", admin.taskIDs(t, "?foo=bar"), tB1, tA3, tA2, tA1)

	// Sorting.
	wantIDs(t, "asc", admin.taskIDs(t, "?sort_dir=asc"), tA1, tA2, tA3, tB1)
	wantIDs(t, "status asc", admin.taskIDs(t, "?sort_key=status&sort_dir=asc"), tA2, tB1, tA3, tA1)
	wantIDs(t, "id desc", admin.taskIDs(t, "?sort_key=id"), tB1, tA3, tA2, tA1)
	wantIDs(t, "type", admin.taskIDs(t, "?sort_key=type&sort_dir=asc"), tA3, tA1, tA2, tB1)

	// Pages: next keeps the other parameters and puts the marker last.
	p = admin.taskPage(t, "?limit=2&sort_dir=desc")
	if p.First != "/v2/tasks?limit=2&sort_dir=desc" || p.Next != "/v2/tasks?limit=2&sort_dir=desc&marker="+tA3 {
		t.Errorf("page 1 links: first %q next %q", p.First, p.Next)
	}
	wantIDs(t, "page 2", admin.taskIDs(t, strings.TrimPrefix(p.Next, "/v2/tasks")), tA2, tA1)
	p = admin.taskPage(t, "?marker="+tA3+"&limit=2")
	if p.First != "/v2/tasks?limit=2" || p.Next != "/v2/tasks?limit=2&marker="+tA1 {
		t.Errorf("page 2 links: first %q next %q", p.First, p.Next)
	}
	if p = admin.taskPage(t, "?marker="+tA1+"&limit=2"); len(p.Tasks) != 0 || p.Next != "" {
		t.Errorf("after the last: %d tasks, next %q", len(p.Tasks), p.Next)
	}
	// An expired task in the way does not shorten a page.
	wantIDs(t, "asc past expired", admin.taskIDs(t, "?sort_dir=asc&marker="+tA3+"&limit=1"), tB1)
	wantIDs(t, "limit 0", admin.taskIDs(t, "?limit=0"))
	wantIDs(t, "A's page", a.taskIDs(t, "?limit=1&marker="+tA3), tA2)

	// Glance's refusals.
	for _, tc := range []struct{ query, msg string }{
		{"?sort_dir=up", "Invalid sort direction: up"},
		{"?status=done", "Invalid status value: done"},
		{"?type=api_image_import", "Invalid type value: api_image_import"},
		{"?marker=nope", "Invalid marker format"},
		{"?limit=x", "limit param must be an integer"},
		{"?limit=-1", "limit param must be positive"},
		{"?sort_key=owner", "Sort key supplied was not valid."},
		{"?marker=", "Task with the given id  not found"},
		{"?marker=00000000-0000-4000-8000-000000000000", "Task with the given id 00000000-0000-4000-8000-000000000000 not found"},
		{"?marker=" + tAexp, "Task with the given id " + tAexp + " not found"},
		// The order Glance checks in: direction before status before
		// marker before limit.
		{"?limit=x&marker=nope&status=done&sort_dir=up", "Invalid sort direction: up"},
		{"?limit=x&marker=nope&status=done", "Invalid status value: done"},
		{"?limit=x&marker=nope", "Invalid marker format"},
	} {
		admin.do(t, "GET", "/v2/tasks"+tc.query, "").wantError(t, tc.query, http.StatusBadRequest, tc.msg, "")
	}
	a.do(t, "GET", "/v2/tasks?marker="+tB1, "").wantError(t, "marker of another project", http.StatusBadRequest,
		"Task with the given id "+tB1+" not found", "")
}

func TestTasksListLimits(t *testing.T) {
	h := newTaskHarness(t, func(cfg *config.Config) {
		cfg.Default.LimitParamDefault = 3
		cfg.Default.APILimitMax = 2
	})
	seedTasks(t, h)
	admin := h.as("X", "admin")
	p := admin.taskPage(t, "?limit=1000")
	if len(p.Tasks) != 2 || p.Next != "/v2/tasks?limit=1000&marker="+tA3 {
		t.Errorf("capped limit: %d tasks, next %q", len(p.Tasks), p.Next)
	}
	h = newTaskHarness(t, func(cfg *config.Config) { cfg.Default.LimitParamDefault = 3 })
	seedTasks(t, h)
	p = h.as("X", "admin").taskPage(t, "")
	if len(p.Tasks) != 3 || p.Next != "/v2/tasks?marker="+tA2 {
		t.Errorf("default limit: %d tasks, next %q", len(p.Tasks), p.Next)
	}
}

func TestTaskShow(t *testing.T) {
	h := newTaskHarness(t, nil)
	seedTasks(t, h)
	a := h.as("A", "member")
	r := a.do(t, "GET", "/v2/tasks/"+tA1, "").want(t, "show", http.StatusOK)
	var got map[string]any
	json.Unmarshal(r.Body, &got)
	want := fmt.Sprintf(`{"id": "%s", "input": {"import_from": "http://example.com/x", "import_from_format": "raw", "image_properties": {"name": "n"}}, "type": "import", "status": "success", "owner": "A", "message": "", "result": {"image_id": "%s"}, "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-02T03:04:15Z", "self": "/v2/tasks/%s", "schema": "/v2/schemas/task", "image_id": "%s", "request_id": "req-1", "user_id": "u1", "expires_at": "%s"}`,
		tA1, tImg, tA1, tImg, got["expires_at"])
	if string(r.Body) != want {
		t.Errorf("show:\n got %s\nwant %s", r.Body, want)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	r = a.do(t, "GET", "/v2/tasks/"+tA3, "").want(t, "show", http.StatusOK)
	want = fmt.Sprintf(`{"id": "%s", "input": null, "type": "api_image_import", "status": "processing", "owner": "A", "message": "", "result": null, "created_at": "2024-01-02T03:04:07Z", "updated_at": "2024-01-02T03:04:07Z", "self": "/v2/tasks/%s", "schema": "/v2/schemas/task"}`, tA3, tA3)
	if string(r.Body) != want {
		t.Errorf("show bare:\n got %s\nwant %s", r.Body, want)
	}

	notFound := func(c *client, id, what string) {
		t.Helper()
		c.do(t, "GET", "/v2/tasks/"+id, "").wantError(t, what, http.StatusNotFound, "Task with the given id "+id+" not found", "")
	}
	notFound(h.as("B", "member"), tA1, "another project's task")
	notFound(h.as("", "member"), tA1, "caller without a project")
	notFound(a, tAexp, "expired task")
	notFound(h.as("X", "admin"), tAexp, "expired task, admin")
	notFound(a, "nope", "unknown id")
	h.as("X", "admin").do(t, "GET", "/v2/tasks/"+tB1, "").want(t, "admin sees any", http.StatusOK)
}

// Glance keeps the tasks API for admins unless the policy says otherwise.
func TestTasksAPIAccess(t *testing.T) {
	h := newHarness(t, true, nil)
	member := h.as("A", "member")
	const msg = "You are not authorized to complete tasks_api_access action."
	for _, m := range []struct{ method, path, body string }{
		{"GET", "/v2/tasks", ""},
		{"GET", "/v2/tasks/" + tA1, ""},
		{"DELETE", "/v2/tasks/" + tA1, ""},
		{"POST", "/v2/tasks", `{"type": "import", "input": {"import_from": "file:///etc/passwd"}}`},
		// The access check comes before the body is read.
		{"POST", "/v2/tasks", `not json`},
	} {
		member.do(t, m.method, m.path, m.body).wantError(t, m.method+" "+m.path, http.StatusForbidden, msg, "")
	}
	h.as("A", "admin").do(t, "GET", "/v2/tasks", "").want(t, "admin", http.StatusOK)
}

func TestTaskMethods(t *testing.T) {
	h := newTaskHarness(t, nil)
	seedTasks(t, h)
	admin := h.as("X", "admin")
	r := admin.do(t, "DELETE", "/v2/tasks/"+tA1, "")
	want := `{"message": "This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.", "code": "405 Method Not Allowed", "title": "Method Not Allowed"}`
	if r.Status != http.StatusMethodNotAllowed || string(r.Body) != want || r.Header.Get("Allow") != "GET" {
		t.Errorf("DELETE: %d, Allow %q, body %s", r.Status, r.Header.Get("Allow"), r.Body)
	}
	admin.do(t, "GET", "/v2/tasks/"+tA1, "").want(t, "task still there", http.StatusOK)
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/v2/tasks", "GET, POST"},
		{"DELETE", "/v2/tasks", "GET, POST"},
		{"HEAD", "/v2/tasks", "GET, POST"},
		{"POST", "/v2/tasks/" + tA1, "GET, DELETE"},
		{"PATCH", "/v2/tasks/" + tA1, "GET, DELETE"},
		{"HEAD", "/v2/tasks/" + tA1, "GET, DELETE"},
		{"POST", "/v2/schemas/task", "GET"},
		{"PUT", "/v2/schemas/tasks", "GET"},
	} {
		r := admin.do(t, tc.method, tc.path, "")
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q", tc.method, tc.path, r.Status, r.Header.Get("Allow"))
			continue
		}
		if tc.method != "HEAD" {
			r.wantError405(t, tc.method)
		}
	}
}

func TestTaskSchemas(t *testing.T) {
	h := newHarness(t, true, nil)
	c := h.as("A", "member")
	props := []string{"id", "type", "status", "input", "result", "owner", "message", "image_id",
		"request_id", "user_id", "expires_at", "created_at", "updated_at", "self", "schema"}

	r := c.do(t, "GET", "/v2/schemas/task", "").want(t, "task schema", http.StatusOK)
	if got := orderedKeys(t, r.Body); !slices.Equal(got, []string{"name", "properties"}) {
		t.Errorf("task schema keys %q", got)
	}
	var task struct {
		Name       string                     `json:"name"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(r.Body, &task); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Properties json.RawMessage `json:"properties"`
	}
	json.Unmarshal(r.Body, &raw)
	if got := orderedKeys(t, raw.Properties); task.Name != "task" || !slices.Equal(got, props) {
		t.Errorf("task schema %q properties %q", task.Name, got)
	}
	for k, want := range map[string]string{
		"id":         `"pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$", "type": "string"}`,
		"type":       `"enum": ["import", "api_image_import", "location_import"], "type": "string"}`,
		"status":     `"enum": ["pending", "processing", "success", "failure"], "type": "string"}`,
		"input":      `"type": ["null", "object"]}`,
		"expires_at": `"type": ["null", "string"]}`,
		"owner":      `"type": "string"}`,
		"self":       `{"readOnly": true, "type": "string"}`,
		"schema":     `{"readOnly": true, "type": "string"}`,
	} {
		if !strings.HasSuffix(string(task.Properties[k]), want) {
			t.Errorf("property %s: %s, want it to end with %s", k, task.Properties[k], want)
		}
		if k != "self" && k != "schema" && !strings.HasPrefix(string(task.Properties[k]), `{"description": "`) {
			t.Errorf("property %s: %s does not start with its description", k, task.Properties[k])
		}
	}

	r = c.do(t, "GET", "/v2/schemas/tasks", "").want(t, "tasks schema", http.StatusOK)
	if got := orderedKeys(t, r.Body); !slices.Equal(got, []string{"name", "properties", "links"}) {
		t.Errorf("tasks schema keys %q", got)
	}
	var tasksDoc struct {
		Name       string `json:"name"`
		Properties struct {
			Tasks struct {
				Type  string          `json:"type"`
				Items json.RawMessage `json:"items"`
			} `json:"tasks"`
			Schema json.RawMessage `json:"schema"`
		} `json:"properties"`
		Links json.RawMessage `json:"links"`
	}
	if err := json.Unmarshal(r.Body, &tasksDoc); err != nil {
		t.Fatal(err)
	}
	var items struct {
		Name       string          `json:"name"`
		Properties json.RawMessage `json:"properties"`
	}
	json.Unmarshal(tasksDoc.Properties.Tasks.Items, &items)
	stubProps := slices.DeleteFunc(slices.Clone(props), func(k string) bool { return k == "input" || k == "result" || k == "message" })
	if got := orderedKeys(t, items.Properties); tasksDoc.Name != "tasks" || tasksDoc.Properties.Tasks.Type != "array" ||
		items.Name != "task" || !slices.Equal(got, stubProps) || string(tasksDoc.Properties.Schema) != `{"type": "string"}` ||
		string(tasksDoc.Links) != `[{"rel": "describedby", "href": "{schema}"}]` {
		t.Errorf("tasks schema: %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `"properties": {"tasks": {"type": "array", "items": {"name": "task", "properties": {"id": {`) {
		t.Errorf("tasks schema layout: %s", r.Body)
	}
}

// A legacy import server: serves data at /image and counts requests.
type taskSource struct {
	*httptest.Server
	hits atomic.Int64
	port string
}

func newTaskSource(t *testing.T, data []byte) *taskSource {
	t.Helper()
	s := &taskSource{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if r.URL.Path != "/image" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	s.port = u.Port()
	return s
}

// waitTask waits for a task to end and returns it as its owner sees it.
func (c *client) waitTask(t *testing.T, id string) map[string]any {
	t.Helper()
	var task map[string]any
	waitFor(t, "task "+id+" ended", func() bool {
		task = c.do(t, "GET", "/v2/tasks/"+id, "").want(t, "GET task", http.StatusOK).object(t)
		return task["status"] == "success" || task["status"] == "failure"
	})
	return task
}

func legacyImport(uri string, props map[string]any) map[string]any {
	return map[string]any{"type": "import", "input": map[string]any{
		"import_from": uri, "import_from_format": "raw", "image_properties": props}}
}

func TestTaskLegacyImport(t *testing.T) {
	data := randomBytes(3<<20+17, 7)
	src := newTaskSource(t, data)
	h := newTaskHarness(t, func(cfg *config.Config) {
		cfg.ImportFiltering.AllowPrivateAddresses = true
		cfg.ImportFiltering.AllowedPorts = []string{src.port}
	})
	a := h.as("A", "member")
	a.header["X-User-Id"] = "alice"
	body := `{"type": "import", "input": {"import_from": "` + src.URL + `/image", "import_from_format": "raw", "image_properties": {"name": "legacy", "disk_format": "raw", "container_format": "bare", "hw_disk_bus": "scsi", "tags": ["t1"]}}}`
	r := a.do(t, "POST", "/v2/tasks", body).want(t, "create task", http.StatusCreated)
	created := r.object(t)
	id, _ := created["id"].(string)
	if loc := r.Header.Get("Location"); loc != "/v2/tasks/"+id {
		t.Errorf("Location %q", loc)
	}
	imgID, _ := created["image_id"].(string)
	wantProps(t, "created task", created, map[string]any{"type": "import", "status": "pending", "owner": "A",
		"message": "", "result": nil, "self": "/v2/tasks/" + id, "schema": "/v2/schemas/task", "user_id": "alice", "expires_at": absent})
	if got := orderedKeys(t, r.Body); !slices.Equal(got[:11], []string{"id", "input", "type", "status", "owner", "message", "result", "created_at", "updated_at", "self", "schema"}) {
		t.Errorf("created task keys %q", got)
	}
	in, _ := json.Marshal(created["input"])
	var sent map[string]any
	json.Unmarshal([]byte(body), &sent)
	if want, _ := json.Marshal(sent["input"]); !bytes.Equal(in, want) {
		t.Errorf("input %s, want %s", in, want)
	}
	if !strings.Contains(string(r.Body), `"input": {"import_from": "`+src.URL+`/image", "import_from_format": "raw", "image_properties": {"name": "legacy", "disk_format": "raw"`) {
		t.Errorf("input not echoed as sent: %s", r.Body)
	}

	task := a.waitTask(t, id)
	if task["status"] != "success" {
		t.Fatalf("task ended %v: %v", task["status"], task["message"])
	}
	res, _ := task["result"].(map[string]any)
	if res["image_id"] != imgID || imgID == "" {
		t.Errorf("result %v, image_id %q", task["result"], imgID)
	}
	if _, ok := task["expires_at"].(string); !ok {
		t.Errorf("ended task has no expires_at: %v", task)
	}
	img := a.do(t, "GET", "/v2/images/"+imgID, "").want(t, "GET image", http.StatusOK).object(t)
	sum := md5.Sum(data)
	wantProps(t, "image", img, map[string]any{"status": "active", "name": "legacy", "owner": "A",
		"checksum": hex.EncodeToString(sum[:]), "size": float64(len(data)), "hw_disk_bus": "scsi",
		"os_glance_import_task": absent, "os_glance_importing_to_stores": absent, "os_glance_failed_import": absent})
	if tags, _ := json.Marshal(img["tags"]); string(tags) != `["t1"]` {
		t.Errorf("tags %s", tags)
	}
	if got := a.getFile(t, imgID).want(t, "download", http.StatusOK).Body; !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes, differ from the %d imported", len(got), len(data))
	}
	wantIDs(t, "list", a.taskIDs(t, ""), id)

	// Empty image_properties get Glance's placeholder formats, qcow2 in
	// bare: the raw data served does not pass as qcow2.
	r = a.json(t, "POST", "/v2/tasks", legacyImport(src.URL+"/image", map[string]any{})).want(t, "create", http.StatusCreated)
	task = a.waitTask(t, r.object(t)["id"].(string))
	if msg, _ := task["message"].(string); task["status"] != "failure" || !strings.Contains(msg, "disk_format qcow2 does not match") {
		t.Errorf("placeholder formats: task %v: %q", task["status"], msg)
	}
	a.do(t, "GET", "/v2/images/"+task["image_id"].(string), "").want(t, "image of the failed task", http.StatusNotFound)
}

func TestTaskLegacyImportFailures(t *testing.T) {
	src := newTaskSource(t, []byte("data"))
	h := newTaskHarness(t, func(cfg *config.Config) {
		cfg.ImportFiltering.AllowPrivateAddresses = true
		cfg.ImportFiltering.AllowedPorts = []string{src.port}
	})
	a := h.as("A", "member")
	before := h.catalogState(t)
	props := map[string]any{"name": "x", "disk_format": "raw", "container_format": "bare"}
	for _, tc := range []struct {
		what string
		body any
		msg  string // "" for any message
	}{
		{"data missing", legacyImport(src.URL+"/missing", props), ""},
		{"no format", map[string]any{"type": "import", "input": map[string]any{"import_from": src.URL + "/image", "image_properties": props}},
			"Input does not contain 'import_from_format' field"},
		{"no properties", map[string]any{"type": "import", "input": map[string]any{"import_from": src.URL + "/image", "import_from_format": "raw"}},
			"Input does not contain 'image_properties' field"},
		{"read-only property", legacyImport(src.URL+"/image", map[string]any{"status": "active"}), "Attribute 'status' is read-only."},
		{"bad property", legacyImport(src.URL+"/image", map[string]any{"min_ram": "lots"}), ""},
		{"no container format", legacyImport(src.URL+"/image", map[string]any{"disk_format": "raw"}),
			"'container_format' needs to be set before import"},
		{"publicize", legacyImport(src.URL+"/image", map[string]any{"visibility": "public", "disk_format": "raw", "container_format": "bare"}),
			"You are not authorized to complete publicize_image action."},
		{"api_image_import", map[string]any{"type": "api_image_import", "input": map[string]any{}}, "Input to api_image_import task is empty."},
		{"api_image_import without image", map[string]any{"type": "api_image_import", "input": map[string]any{"x": 1}}, "Missing required 'image_id' field"},
		{"location_import", map[string]any{"type": "location_import", "input": map[string]any{"image_id": "x"}}, "Input does not contain 'loc_url' field"},
	} {
		r := a.json(t, "POST", "/v2/tasks", tc.body).want(t, tc.what, http.StatusCreated)
		task := a.waitTask(t, r.object(t)["id"].(string))
		if task["status"] != "failure" || (tc.msg != "" && task["message"] != tc.msg) || task["message"] == "" {
			t.Errorf("%s: task ended %v with %q, want failure with %q", tc.what, task["status"], task["message"], tc.msg)
		}
		if id, _ := task["image_id"].(string); id != "" && tc.body.(map[string]any)["type"] == "import" {
			a.do(t, "GET", "/v2/images/"+id, "").want(t, tc.what+": image left", http.StatusNotFound)
		}
	}
	if after := h.catalogState(t); !bytes.Equal(before, after) {
		t.Errorf("failed imports left images: %s", after)
	}
}

// SSRF: every way of aiming import_from at the server's own network is
// refused when the task is requested, and nothing is fetched.
func TestTaskLegacyImportSSRF(t *testing.T) {
	src := newTaskSource(t, []byte("secret"))
	p := src.port
	for _, cfgCase := range []struct {
		name      string
		configure func(*config.Config)
	}{
		{"default filtering", nil},
		{"port allowed", func(cfg *config.Config) { cfg.ImportFiltering.AllowedPorts = []string{"80", p} }},
	} {
		t.Run(cfgCase.name, func(t *testing.T) {
			h := newTaskHarness(t, cfgCase.configure)
			admin := h.as("A", "admin")
			before := h.catalogState(t)
			// A name is refused when the request comes if the service
			// resolves it then, else when the fetch connects: either
			// way no image is left and nothing is fetched.
			localhost := "http://localhost:" + p + "/image"
			r := admin.json(t, "POST", "/v2/tasks", legacyImport(localhost, map[string]any{"disk_format": "raw", "container_format": "bare"}))
			if r.Status == http.StatusCreated {
				id := r.object(t)["id"].(string)
				if task := admin.waitTask(t, id); task["status"] != "failure" {
					t.Errorf("%s: task %v", localhost, task["status"])
				}
			} else {
				r.wantError(t, localhost, http.StatusBadRequest, "URI for legacy import task does not pass filtering: "+localhost, "")
			}
			if after := h.catalogState(t); !bytes.Equal(before, after) {
				t.Errorf("%s: images before %s, after %s; want none left", localhost, before, after)
			}
			before = h.catalogState(t)
			for _, uri := range []string{
				"http://127.0.0.1:" + p + "/image",
				"http://127.0.0.1/",
				"http://2130706433/",
				"http://2130706433:" + p + "/image",
				"http://0x7f000001/",
				"http://0x7f000001:" + p + "/image",
				"http://0177.0.0.1:" + p + "/image",
				"http://127.1:" + p + "/image",
				"http://[::ffff:127.0.0.1]/",
				"http://[::ffff:127.0.0.1]:" + p + "/image",
				"http://[::1]:" + p + "/image",
				"http://169.254.169.254/",
				"http://169.254.169.254/latest/meta-data/",
				"https://[::ffff:a9fe:a9fe]/",
			} {
				r := admin.json(t, "POST", "/v2/tasks", legacyImport(uri, map[string]any{"disk_format": "raw", "container_format": "bare"}))
				r.wantError(t, uri, http.StatusBadRequest, "URI for legacy import task does not pass filtering: "+uri, "")
			}
			for _, tc := range []struct{ uri, msg string }{
				{"file:///etc/passwd", "File based imports are not allowed. Please use a non-local source of image data."},
				{"filesystem:///etc/passwd", "File based imports are not allowed. Please use a non-local source of image data."},
				{"file://localhost/etc/passwd", "The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http']"},
				{"ftp://example.com/x", "The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http']"},
				{"HTTP://127.0.0.1:" + p + "/image", "The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http']"},
				{"", "Invalid location: "},
			} {
				r := admin.json(t, "POST", "/v2/tasks", legacyImport(tc.uri, map[string]any{}))
				r.wantError(t, tc.uri, http.StatusBadRequest, tc.msg, "")
			}
			admin.json(t, "POST", "/v2/tasks", map[string]any{"type": "import", "input": map[string]any{}}).
				wantError(t, "no import_from", http.StatusBadRequest, "Invalid location: None", "")
			admin.json(t, "POST", "/v2/tasks", map[string]any{"type": "import", "input": nil}).
				wantError(t, "null input", http.StatusBadRequest, "Invalid location: None", "")
			if ids := admin.taskIDs(t, ""); len(ids) > 1 {
				t.Errorf("refused imports recorded tasks: %q", ids)
			}
			if after := h.catalogState(t); !bytes.Equal(before, after) {
				t.Errorf("refused imports changed the catalog: %s", after)
			}
		})
	}
	if n := src.hits.Load(); n != 0 {
		t.Errorf("the loopback server was reached %d times", n)
	}
}

// A redirect from an allowed server to a refused one is not followed: the
// task fails and its image never gets data.
func TestTaskLegacyImportRedirect(t *testing.T) {
	inner := newTaskSource(t, []byte("secret"))
	redirector := httptest.NewServer(http.RedirectHandler(inner.URL+"/image", http.StatusFound))
	t.Cleanup(redirector.Close)
	u, _ := url.Parse(redirector.URL)
	h := newTaskHarness(t, func(cfg *config.Config) {
		cfg.ImportFiltering.AllowPrivateAddresses = true
		cfg.ImportFiltering.AllowedPorts = []string{u.Port()}
	})
	a := h.as("A", "member")
	before := h.catalogState(t)
	r := a.json(t, "POST", "/v2/tasks", legacyImport(redirector.URL+"/x", map[string]any{"disk_format": "raw", "container_format": "bare"}))
	id := r.want(t, "create", http.StatusCreated).object(t)["id"].(string)
	task := a.waitTask(t, id)
	if task["status"] != "failure" {
		t.Errorf("redirect to a refused port: task %v", task["status"])
	}
	a.do(t, "GET", "/v2/images/"+task["image_id"].(string), "").want(t, "image of the failed task", http.StatusNotFound)
	if after := h.catalogState(t); !bytes.Equal(before, after) {
		t.Errorf("catalog changed: %s", after)
	}
	if n := inner.hits.Load(); n != 0 {
		t.Errorf("the redirect target was reached %d times", n)
	}
}

func TestTaskCreateValidation(t *testing.T) {
	h := newTaskHarness(t, nil)
	a := h.as("A", "member")
	const prefix = "Provided object does not match schema 'task': "
	for _, tc := range []struct{ body, msg string }{
		{"", "Body expected in request."},
		{"{", "Malformed JSON in request body."},
		{`{}`, "Task 'type' is required"},
		{`{"input": {}}`, "Task 'type' is required"},
		{`{"type": "import"}`, "Task 'input' is required"},
		{`{"type": "clone", "input": {}}`, prefix + "'clone' is not one of ['import', 'api_image_import', 'location_import']\n\nOn instance['type']:\n    'clone'"},
		{`{"type": 1, "input": {}}`, prefix + "1 is not one of ['import', 'api_image_import', 'location_import']\n\nOn instance['type']:\n    1"},
		{`{"type": "import", "input": "x"}`, prefix + "'x' is not of type 'null', 'object'\n\nOn instance['input']:\n    'x'"},
		{`{"type": "import", "input": {}, "status": "done"}`, prefix + "'done' is not one of ['pending', 'processing', 'success', 'failure']\n\nOn instance['status']:\n    'done'"},
		{`{"type": "import", "input": {}, "id": "x"}`, prefix + "'x' does not match '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'\n\nOn instance['id']:\n    'x'"},
		{`{"type": "import", "input": {}, "owner": 5, "result": 1}`, prefix + "1 is not of type 'null', 'object'\n\nOn instance['result']:\n    1"},
		{`{"type": "clone", "input": {}, "zeta": 1, "alpha": 2}`, prefix + "Additional properties are not allowed ('zeta', 'alpha' were unexpected)"},
		{`{"type": "import", "input": {}, "foo": 1}`, prefix + "Additional properties are not allowed ('foo' was unexpected)"},
		{`{"type": "import", "input": {"import_from": 5}}`, "The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http']"},
		{`{"type": "import", "input": {"import_from": false}}`, "Invalid location: False"},
	} {
		r := a.do(t, "POST", "/v2/tasks", tc.body)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: got %d %s", tc.body, r.Status, r.Body)
			continue
		}
		if got, _ := r.errorText(t); got != tc.msg {
			t.Errorf("%s:\n got %q\nwant %q", tc.body, got, tc.msg)
		}
	}
	wantIDs(t, "no task recorded", a.taskIDs(t, ""))
}

func TestTaskGophercloud(t *testing.T) {
	ctx := context.Background()
	data := []byte("gophercloud task data")
	src := newTaskSource(t, data)
	h := newTaskHarness(t, func(cfg *config.Config) {
		cfg.ImportFiltering.AllowPrivateAddresses = true
		cfg.ImportFiltering.AllowedPorts = []string{src.port}
	})
	seedTasks(t, h)
	a := h.as("A", "member")
	sc := a.gophercloud()

	created, err := tasks.Create(ctx, sc, tasks.CreateOpts{Type: "import", Input: map[string]any{
		"import_from": src.URL + "/image", "import_from_format": "raw",
		"image_properties": map[string]any{"name": "gc", "disk_format": "raw", "container_format": "bare"},
	}}).Extract()
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if created.Status != "pending" || created.Owner != "A" || created.Self != "/v2/tasks/"+created.ID ||
		created.Input["import_from"] != src.URL+"/image" || created.CreatedAt.IsZero() || !created.ExpiresAt.IsZero() {
		t.Errorf("created: %+v", created)
	}
	a.waitTask(t, created.ID)
	got, err := tasks.Get(ctx, sc, created.ID).Extract()
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Status != "success" || got.Result["image_id"] == nil || got.ExpiresAt.IsZero() || got.Schema != "/v2/schemas/task" {
		t.Errorf("got: %+v", got)
	}

	var all []string
	err = tasks.List(sc, tasks.ListOpts{Limit: 2}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		ts, err := tasks.ExtractTasks(p)
		for _, task := range ts {
			if task.CreatedAt.IsZero() || task.Owner != "A" {
				t.Errorf("listed %+v", task)
			}
			all = append(all, task.ID)
		}
		return true, err
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	wantIDs(t, "gophercloud list", all, created.ID, tA3, tA2, tA1)

	var ok []string
	err = tasks.List(sc, tasks.ListOpts{Status: tasks.TaskStatusSuccess, SortDir: "asc"}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		ts, err := tasks.ExtractTasks(p)
		for _, task := range ts {
			ok = append(ok, task.ID)
		}
		return true, err
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	wantIDs(t, "gophercloud success list", ok, tA1, created.ID)

	_, err = tasks.Get(ctx, h.as("B", "member").gophercloud(), created.ID).Extract()
	wantCode(t, "Get of another project's task", err, http.StatusNotFound, "Task with the given id "+created.ID+" not found")
	_, err = tasks.Create(ctx, sc, tasks.CreateOpts{Type: "import", Input: map[string]any{"import_from": "http://169.254.169.254/"}}).Extract()
	wantCode(t, "Create from the metadata service", err, http.StatusBadRequest, "URI for legacy import task does not pass filtering: http://169.254.169.254/")
}
