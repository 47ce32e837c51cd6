package catalogtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/catalog"
)

// tt0 is the creation time of the first task a case makes.
var tt0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// taskID is the n-th test task ID: a UUID whose sort order differs from
// n's and from the image IDs'.
func taskID(n int) string {
	h := uint32(n) * 2246822519
	return fmt.Sprintf("%08x-%04x-4%03x-9%03x-%012x", h, (n*7)&0xffff, n&0xfff, (n>>12)&0xfff, n)
}

// tasks returns the catalog's task store; every catalog glimpse serves
// imports from has one.
func (e *env) tasks() catalog.Tasks {
	e.Helper()
	ts, ok := e.cat.(catalog.Tasks)
	if !ok {
		e.Fatalf("%T does not implement catalog.Tasks", e.cat)
	}
	return ts
}

// newTask returns an unsaved pending import task of project p1 with a new
// ID, created one second after the previous task or image of the case.
func (e *env) newTask(mods ...func(*catalog.Task)) *catalog.Task {
	e.n++
	at := tt0.Add(time.Duration(e.n) * time.Second)
	t := &catalog.Task{
		ID: taskID(e.n), Type: "api_image_import", Status: "pending", Owner: "p1",
		CreatedAt: at, UpdatedAt: at,
		Input: json.RawMessage(fmt.Sprintf(`{"image_id": %q}`, imageID(e.n))),
	}
	for _, m := range mods {
		m(t)
	}
	return t
}

// createTask stores a new task and returns it as stored (a copy).
func (e *env) createTask(mods ...func(*catalog.Task)) *catalog.Task {
	e.Helper()
	t := e.newTask(mods...)
	c := *t
	if err := e.tasks().CreateTask(e.ctx, &c); err != nil {
		e.Fatalf("CreateTask(%s): got error %v, want nil", t.ID, err)
	}
	return t
}

func (e *env) getTask(id string) *catalog.Task {
	e.Helper()
	t, err := e.tasks().GetTask(e.ctx, id)
	if err != nil {
		e.Fatalf("GetTask(%s): got error %v, want nil", id, err)
	}
	return t
}

// taskView is a task as callers compare it: times to the second (MariaDB
// keeps no fraction), in UTC; input and result as the exact JSON text
// stored, which the API shows as it is.
type taskView struct {
	ID, Type, Status, Owner    string
	ExpiresAt                  string
	CreatedAt, UpdatedAt       string
	ImageID, RequestID, UserID string
	Input, Result              string
	Message                    string
}

func second(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.DateTime) }

func rawText(m json.RawMessage) string {
	if m == nil {
		return "<absent>"
	}
	return string(m)
}

func viewTask(t *catalog.Task) taskView {
	if t == nil {
		return taskView{ID: "<nil task>"}
	}
	v := taskView{
		ID: t.ID, Type: t.Type, Status: t.Status, Owner: t.Owner, ExpiresAt: "<nil>",
		CreatedAt: second(t.CreatedAt), UpdatedAt: second(t.UpdatedAt),
		ImageID: t.ImageID, RequestID: t.RequestID, UserID: t.UserID,
		Input: rawText(t.Input), Result: rawText(t.Result), Message: t.Message,
	}
	if t.ExpiresAt != nil {
		v.ExpiresAt = second(*t.ExpiresAt)
	}
	return v
}

func (e *env) wantTask(what string, want *catalog.Task) {
	e.Helper()
	got := e.getTask(want.ID)
	if d := cmp.Diff(viewTask(want), viewTask(got)); d != "" {
		e.Errorf("%s: GetTask(%s) mismatch (-want +got):\n%s", what, want.ID, d)
	}
}

func taskIDs(ts []*catalog.Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func testTaskRoundTrip(e *env) {
	zone := time.FixedZone("UTC-5", -5*3600)
	created := time.Date(2024, 5, 1, 7, 0, 0, 250e6, zone)
	expires := created.Add(48 * time.Hour)
	full := &catalog.Task{
		ID:        taskID(1),
		Type:      "api_image_import",
		Status:    "processing",
		Owner:     "0123456789abcdef0123456789abcdef",
		ExpiresAt: &expires,
		CreatedAt: created,
		UpdatedAt: created.Add(90 * time.Second),
		ImageID:   imageID(1),
		RequestID: "req-0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
		UserID:    "fedcba9876543210fedcba9876543210",
		Input: json.RawMessage(`{"image_id": "` + imageID(1) + `", "import_req": {"method": {"name": "web-download",` +
			` "uri": "http://127.0.0.1/ä?a=1&b=<2>"}, "stores": ["a", "b"], "all_stores_must_succeed": true},` +
			` "backend": [null, "b"], "big": 12345678901234567890, "f": 1.50, "esc": "tab\there \"quoted\" \u00e9"}`),
		Result:  json.RawMessage(`{"image_id": "` + imageID(1) + `"}`),
		Message: "Copied 12 MiB ünï 名前 " + strings.Repeat("m", 3000),
	}
	// Every optional field absent.
	bare := &catalog.Task{
		ID:        taskID(2),
		Type:      "import",
		Status:    "pending",
		Owner:     "",
		CreatedAt: tt0,
		UpdatedAt: tt0,
	}
	// Empty JSON values are values, not absent ones.
	empty := &catalog.Task{
		ID: taskID(3), Type: "import", Status: "failure", Owner: "p1",
		CreatedAt: tt0, UpdatedAt: tt0.Add(time.Second),
		Input: json.RawMessage(`{}`), Result: json.RawMessage(`{}`), Message: "",
	}
	for _, t := range []*catalog.Task{full, bare, empty} {
		c := *t
		if err := e.tasks().CreateTask(e.ctx, &c); err != nil {
			e.Fatalf("CreateTask(%s): got error %v, want nil", t.ID, err)
		}
	}
	for _, t := range []*catalog.Task{full, bare, empty} {
		e.wantTask("after create", t)
	}
	_, err := e.tasks().GetTask(e.ctx, taskID(99))
	e.wantErr("GetTask of an unknown ID", err, catalog.ErrNotFound)
	_, err = e.tasks().GetTask(e.ctx, "not-a-uuid")
	e.wantErr("GetTask of a malformed ID", err, catalog.ErrNotFound)
}

func testTaskCreateDuplicate(e *env) {
	first := e.createTask(func(t *catalog.Task) { t.Message = "first" })
	dup := e.newTask(func(t *catalog.Task) {
		t.ID, t.Status, t.Owner, t.Message = first.ID, "processing", "p2", "second"
		t.Input = json.RawMessage(`{"second": true}`)
	})
	e.wantErr("CreateTask with an existing ID", e.tasks().CreateTask(e.ctx, dup), catalog.ErrDuplicate)
	e.wantTask("the first task after a duplicate create", first)
}

func testTaskUpdate(e *env) {
	neighbour := e.createTask(func(t *catalog.Task) { t.Message = "untouched" })
	orig := e.createTask(func(t *catalog.Task) {
		t.ImageID, t.RequestID, t.UserID = imageID(50), "req-1", "u1"
	})

	steps := []struct {
		name   string
		change func(t *catalog.Task)
	}{
		{"processing with progress", func(t *catalog.Task) {
			t.Status, t.Message = "processing", "Copied 3 MiB"
		}},
		{"success with result and expiry", func(t *catalog.Task) {
			exp := t.UpdatedAt.Add(48 * time.Hour)
			t.Status, t.Message, t.ExpiresAt = "success", "Copied 9 MiB ü", &exp
			t.Result = json.RawMessage(`{"image_id": "` + imageID(50) + `"}`)
		}},
		{"result, message and expiry cleared", func(t *catalog.Task) {
			t.Status, t.Message, t.ExpiresAt, t.Result = "failure", "", nil, nil
		}},
	}
	want := *orig
	for i, s := range steps {
		s.change(&want)
		want.UpdatedAt = orig.UpdatedAt.Add(time.Duration(i+1) * time.Minute)
		c := want
		if err := e.tasks().UpdateTask(e.ctx, &c); err != nil {
			e.Fatalf("%s: UpdateTask: got error %v, want nil", s.name, err)
		}
		e.wantTask(s.name, &want)
	}

	// What UpdateTask writes is the status, message, result, expiry and
	// updated_at; the rest of the task stays as created.
	other := want
	other.Type, other.Owner, other.ImageID, other.RequestID, other.UserID = "import", "p9", imageID(51), "req-2", "u2"
	other.CreatedAt = orig.CreatedAt.Add(time.Hour)
	other.Input = json.RawMessage(`{"other": 1}`)
	other.Status, other.Message = "processing", "again"
	other.UpdatedAt = want.UpdatedAt.Add(time.Minute)
	if err := e.tasks().UpdateTask(e.ctx, &other); err != nil {
		e.Fatalf("UpdateTask with other fields changed: got error %v, want nil", err)
	}
	want.Status, want.Message, want.UpdatedAt = "processing", "again", other.UpdatedAt
	e.wantTask("after an update that changes fields UpdateTask does not write", &want)

	missing := e.newTask(func(t *catalog.Task) { t.Status = "success" })
	e.wantErr("UpdateTask of an unknown task", e.tasks().UpdateTask(e.ctx, missing), catalog.ErrNotFound)
	_, err := e.tasks().GetTask(e.ctx, missing.ID)
	e.wantErr("GetTask after updating an unknown task", err, catalog.ErrNotFound)
	e.wantTask("another task", neighbour)
}

// taskSet makes 14 tasks with repeated owners, statuses, types, creation
// and update times, in an insertion order that differs from every sort.
func (e *env) taskSet() []*catalog.Task {
	specs := []struct {
		owner, status, typ string
		created, updated   int // seconds after tt0
	}{
		{"p1", "pending", "api_image_import", 5, 50},
		{"p2", "processing", "import", 3, 40},
		{"p1", "success", "api_image_import", 5, 45},
		{"p1", "failure", "import", 1, 50},
		{"p2", "pending", "api_image_import", 7, 41},
		{"p1", "processing", "api_image_import", 3, 42},
		{"p3", "success", "import", 9, 45},
		{"p1", "pending", "import", 5, 43},
		{"p2", "failure", "api_image_import", 2, 50},
		{"p1", "success", "api_image_import", 8, 44},
		{"", "pending", "api_image_import", 6, 41},
		{"p2", "success", "api_image_import", 3, 46},
		{"p1", "processing", "import", 4, 40},
		{"p3", "pending", "api_image_import", 5, 47},
	}
	var out []*catalog.Task
	for i, s := range specs {
		t := e.createTask(func(t *catalog.Task) {
			t.Owner, t.Status, t.Type = s.owner, s.status, s.typ
			t.CreatedAt = tt0.Add(time.Duration(s.created) * time.Second)
			t.UpdatedAt = tt0.Add(time.Duration(s.updated) * time.Second)
			t.Message = fmt.Sprint("task ", i)
		})
		out = append(out, t)
	}
	return out
}

func taskKey(t *catalog.Task, key string) string {
	switch key {
	case "type":
		return t.Type
	case "status":
		return t.Status
	case "id":
		return t.ID
	case "created_at":
		return second(t.CreatedAt)
	case "updated_at":
		return second(t.UpdatedAt)
	}
	panic("unknown task sort key " + key)
}

func (e *env) listTasks(q catalog.TaskQuery) []*catalog.Task {
	e.Helper()
	ts, err := e.tasks().ListTasks(e.ctx, &q)
	if err != nil {
		e.Fatalf("ListTasks(%+v): got error %v, want nil", q, err)
	}
	return ts
}

// taskPages lists q page by page, following the last task of each page as
// the next marker, as imageops does.
func (e *env) taskPages(q catalog.TaskQuery, limit int) []string {
	e.Helper()
	var out []string
	q.Limit = limit
	for range 100 {
		page := e.listTasks(q)
		if len(page) > limit {
			e.Fatalf("page of %d tasks, want at most %d", len(page), limit)
		}
		out = append(out, taskIDs(page)...)
		if len(page) < limit {
			return out
		}
		q.Marker = page[len(page)-1].ID
	}
	e.Fatalf("still paging after 100 pages: %d tasks so far", len(out))
	return nil
}

func testTaskListFilters(e *env) {
	set := e.taskSet()
	match := func(f func(t *catalog.Task) bool) []string {
		var out []string
		for _, t := range set {
			if f(t) {
				out = append(out, t.ID)
			}
		}
		slices.Sort(out)
		return out
	}
	cases := []struct {
		name string
		q    catalog.TaskQuery
		want []string
	}{
		{"no filter", catalog.TaskQuery{}, match(func(*catalog.Task) bool { return true })},
		{"owner", catalog.TaskQuery{Owner: "p2"}, match(func(t *catalog.Task) bool { return t.Owner == "p2" })},
		{"unknown owner", catalog.TaskQuery{Owner: "p9"}, nil},
		{"status", catalog.TaskQuery{Status: "pending"}, match(func(t *catalog.Task) bool { return t.Status == "pending" })},
		{"type", catalog.TaskQuery{Type: "import"}, match(func(t *catalog.Task) bool { return t.Type == "import" })},
		{"owner and status", catalog.TaskQuery{Owner: "p1", Status: "success"},
			match(func(t *catalog.Task) bool { return t.Owner == "p1" && t.Status == "success" })},
		{"owner, status and type", catalog.TaskQuery{Owner: "p1", Status: "processing", Type: "import"},
			match(func(t *catalog.Task) bool { return t.Owner == "p1" && t.Status == "processing" && t.Type == "import" })},
		{"status matching none", catalog.TaskQuery{Status: "nope"}, nil},
	}
	for _, tc := range cases {
		q := tc.q
		q.SortKey, q.Limit = "created_at", -1
		got := taskIDs(e.listTasks(q))
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			e.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// The listed tasks are whole.
	byID := map[string]*catalog.Task{}
	for _, t := range set {
		byID[t.ID] = t
	}
	for _, got := range e.listTasks(catalog.TaskQuery{SortKey: "id", Limit: -1}) {
		if d := cmp.Diff(viewTask(byID[got.ID]), viewTask(got)); d != "" {
			e.Errorf("listed task %s (-want +got):\n%s", got.ID, d)
		}
	}
}

func testTaskListSortAndPages(e *env) {
	set := e.taskSet()
	for _, key := range catalog.TaskSortKeys {
		for _, desc := range []bool{false, true} {
			name := fmt.Sprintf("sort %s desc=%v", key, desc)
			q := catalog.TaskQuery{SortKey: key, SortDesc: desc}
			whole := e.listTasks(catalog.TaskQuery{SortKey: key, SortDesc: desc, Limit: -1})
			got := taskIDs(whole)
			want := taskIDs(set)
			slices.Sort(want)
			sortedGot := slices.Sorted(slices.Values(got))
			if !slices.Equal(sortedGot, want) {
				e.Errorf("%s: listed %q, want every task once %q", name, sortedGot, want)
				continue
			}
			for i := 1; i < len(whole); i++ {
				a, b := taskKey(whole[i-1], key), taskKey(whole[i], key)
				if (!desc && a > b) || (desc && a < b) {
					e.Errorf("%s: %s (%s) listed before %s (%s)", name, whole[i-1].ID, a, whole[i].ID, b)
				}
			}
			for _, limit := range []int{1, 3, 5} {
				if pages := e.taskPages(q, limit); !slices.Equal(pages, got) {
					e.Errorf("%s, pages of %d: got %q,\nwant the one-query order %q", name, limit, pages, got)
				}
			}
			for _, limit := range []int{4, len(set), len(set) + 3} {
				page := taskIDs(e.listTasks(catalog.TaskQuery{SortKey: key, SortDesc: desc, Limit: limit}))
				if w := got[:min(limit, len(got))]; !slices.Equal(page, w) {
					e.Errorf("%s, limit %d: got %q, want %q", name, limit, page, w)
				}
			}
		}
	}

	// Filtered pages walk exactly the filtered tasks.
	for _, f := range []catalog.TaskQuery{{Owner: "p1"}, {Status: "pending"}, {Owner: "p2", Type: "api_image_import"}} {
		for _, key := range []string{"created_at", "status", "updated_at"} {
			q := f
			q.SortKey, q.SortDesc = key, key == "updated_at"
			whole := taskIDs(e.listTasks(catalog.TaskQuery{Owner: q.Owner, Status: q.Status, Type: q.Type,
				SortKey: q.SortKey, SortDesc: q.SortDesc, Limit: -1}))
			if pages := e.taskPages(q, 2); !slices.Equal(pages, whole) {
				e.Errorf("filter %+v sort %s, pages of 2: got %q, want %q", f, key, pages, whole)
			}
		}
	}
}

func testTaskListMarker(e *env) {
	set := e.taskSet()
	all := taskIDs(e.listTasks(catalog.TaskQuery{SortKey: "created_at", Limit: -1}))
	if len(all) != len(set) {
		e.Fatalf("listed %d tasks, want %d", len(all), len(set))
	}
	// A marker that does not pass the filter still marks a position: the
	// page holds the filtered tasks after it.
	pending := map[string]bool{}
	for _, t := range set {
		if t.Status == "pending" {
			pending[t.ID] = true
		}
	}
	for i, marker := range all {
		var want []string
		for _, id := range all[i+1:] {
			if pending[id] {
				want = append(want, id)
			}
		}
		got := taskIDs(e.listTasks(catalog.TaskQuery{Status: "pending", SortKey: "created_at", Marker: marker, Limit: -1}))
		if !slices.Equal(got, want) {
			e.Errorf("pending tasks after %s (pending %v): got %q, want %q", marker, pending[marker], got, want)
		}
	}
	for _, m := range []string{taskID(999), "not-a-uuid"} {
		ts, err := e.tasks().ListTasks(e.ctx, &catalog.TaskQuery{SortKey: "created_at", Marker: m, Limit: 10})
		if !errors.Is(err, catalog.ErrMarkerNotFound) {
			e.Errorf("ListTasks with unknown marker %s: got %d tasks and error %v, want %v", m, len(ts), err, catalog.ErrMarkerNotFound)
		}
	}
}

func testImageTasks(e *env) {
	img, other := imageID(100), imageID(101)
	// Creation times out of insertion (and ID) order.
	var mine []*catalog.Task
	for _, sec := range []int{30, 10, 50, 20, 40} {
		mine = append(mine, e.createTask(func(t *catalog.Task) {
			t.ImageID = img
			t.CreatedAt = tt0.Add(time.Duration(sec) * time.Second)
			t.UpdatedAt = t.CreatedAt
		}))
	}
	e.createTask(func(t *catalog.Task) { t.ImageID = other })
	e.createTask(func(t *catalog.Task) { t.ImageID = "" })
	// Ended tasks are still the image's.
	ended := *mine[1]
	ended.Status, ended.UpdatedAt = "success", ended.UpdatedAt.Add(time.Hour)
	if err := e.tasks().UpdateTask(e.ctx, &ended); err != nil {
		e.Fatalf("UpdateTask: got error %v, want nil", err)
	}
	mine[1] = &ended

	newest := slices.Clone(mine)
	slices.SortFunc(newest, func(a, b *catalog.Task) int { return b.CreatedAt.Compare(a.CreatedAt) })
	got, err := e.tasks().ImageTasks(e.ctx, img)
	if err != nil {
		e.Fatalf("ImageTasks: got error %v, want nil", err)
	}
	if !slices.Equal(taskIDs(got), taskIDs(newest)) {
		e.Errorf("ImageTasks: got %q, want newest first %q", taskIDs(got), taskIDs(newest))
	}
	for i := range min(len(got), len(newest)) {
		if d := cmp.Diff(viewTask(newest[i]), viewTask(got[i])); d != "" {
			e.Errorf("ImageTasks entry %d (-want +got):\n%s", i, d)
		}
	}
	if got, err := e.tasks().ImageTasks(e.ctx, imageID(102)); err != nil || len(got) != 0 {
		e.Errorf("ImageTasks of an image without tasks: got %q, %v; want none, nil", taskIDs(got), err)
	}
}

func testUnfinishedTasks(e *env) {
	set := e.taskSet()
	want := func() []string {
		var out []string
		for _, t := range set {
			if t.Status == "pending" || t.Status == "processing" {
				out = append(out, t.ID)
			}
		}
		slices.Sort(out)
		return out
	}
	check := func(what string) {
		e.Helper()
		got, err := e.tasks().UnfinishedTasks(e.ctx)
		if err != nil {
			e.Fatalf("%s: UnfinishedTasks: got error %v, want nil", what, err)
		}
		ids := taskIDs(got)
		slices.Sort(ids)
		if w := want(); !slices.Equal(ids, w) {
			e.Errorf("%s: UnfinishedTasks: got %q, want %q", what, ids, w)
		}
		byID := map[string]*catalog.Task{}
		for _, t := range set {
			byID[t.ID] = t
		}
		for _, g := range got {
			if w, ok := byID[g.ID]; ok {
				if d := cmp.Diff(viewTask(w), viewTask(g)); d != "" {
					e.Errorf("%s: unfinished task %s (-want +got):\n%s", what, g.ID, d)
				}
			}
		}
	}
	check("as created")
	// One ends, one ended task is taken up again.
	for _, tc := range []struct {
		i      int
		status string
	}{{0, "success"}, {3, "processing"}, {1, "failure"}} {
		t := *set[tc.i]
		t.Status, t.UpdatedAt = tc.status, t.UpdatedAt.Add(time.Minute)
		if err := e.tasks().UpdateTask(e.ctx, &t); err != nil {
			e.Fatalf("UpdateTask: got error %v, want nil", err)
		}
		set[tc.i] = &t
	}
	check("after updates")
}

// Several workers report on the same task at once: each UpdateTask is
// whole, so the task ends up as exactly one of them wrote it.
func testTaskConcurrentUpdates(e *env) {
	orig := e.createTask()
	const n = 8
	writes := make([]catalog.Task, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		w := *orig
		exp := orig.CreatedAt.Add(time.Duration(i+1) * time.Hour)
		w.Status, w.Message, w.ExpiresAt = []string{"processing", "success", "failure"}[i%3], fmt.Sprint("writer ", i), &exp
		w.Result = json.RawMessage(fmt.Sprintf(`{"writer": %d}`, i))
		w.UpdatedAt = orig.UpdatedAt.Add(time.Duration(i+1) * time.Minute)
		writes[i] = w
		wg.Go(func() {
			<-start
			c := writes[i]
			errs[i] = e.tasks().UpdateTask(e.ctx, &c)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			e.Errorf("writer %d: got error %v, want nil", i, err)
		}
	}
	got := viewTask(e.getTask(orig.ID))
	for i := range writes {
		if viewTask(&writes[i]) == got {
			return
		}
	}
	e.Errorf("after concurrent updates: got %+v, want exactly one writer's task", got)
}
