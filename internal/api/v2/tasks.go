package v2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"glimpse/internal/api/httperr"
	"glimpse/internal/api/wirejson"
	"glimpse/internal/catalog"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// The tasks API (/v2/tasks): Glance's deprecated way to list, show and
// start asynchronous tasks, of which only the legacy import runs.

// registerTasks adds the tasks routes. Glance answers HEAD on them with
// 405 and the route's own Allow list.
func (a *API) registerTasks(mux *http.ServeMux, route func(path string, methods map[string]handler, allow string, bodyless ...string)) {
	routes := []struct {
		path, allow string
		methods     map[string]handler
	}{
		{"/v2/tasks", "GET, POST", map[string]handler{"GET": a.listTasks, "POST": a.createTask}},
		{"/v2/tasks/{id}", "GET, DELETE", map[string]handler{"GET": a.showTask, "DELETE": a.deleteTask}},
	}
	for _, rt := range routes {
		route(rt.path, rt.methods, rt.allow)
		allow := rt.allow
		mux.HandleFunc("HEAD "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			httperr.MethodNotAllowed(w, r, allow)
		})
	}
}

// tasksAccess is the check Glance makes first on every tasks call.
func (a *API) tasksAccess(r *http.Request) error {
	return a.ops.Authorize("v2.tasks", caller(r), "tasks_api_access")
}

// taskFilters are the GET /v2/tasks parameters that filter on a column.
var taskFilters = []string{"status", "type", "owner", "id", "image_id", "request_id", "user_id"}

// listTasks answers GET /v2/tasks.
func (a *API) listTasks(w http.ResponseWriter, r *http.Request) error {
	if err := a.tasksAccess(r); err != nil {
		return err
	}
	q, err := a.parseTaskQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ts, full, err := a.ops.ListTasks(r.Context(), caller(r), q)
	if err != nil {
		return err
	}
	items := make([][]byte, len(ts))
	lastID := ""
	for i, t := range ts {
		items[i] = taskStubJSON(t)
		lastID = t.ID
	}
	first, next := pageLinks(r.URL.RawQuery, lastID, len(ts) > 0 && full)
	o := wirejson.NewObject().RawBytes("tasks", wirejson.Array(items)).
		String("first", "/v2/tasks"+strings.TrimPrefix(first, "/v2/images")).
		String("schema", "/v2/schemas/tasks")
	if next != "" {
		o.String("next", "/v2/tasks"+strings.TrimPrefix(next, "/v2/images"))
	}
	writeUnicodeJSON(w, http.StatusOK, o.Bytes())
	return nil
}

// parseTaskQuery reads the list parameters in the order Glance checks
// them: sort direction, status and type filters, marker, limit.
func (a *API) parseTaskQuery(q map[string][]string) (*imageops.TaskListQuery, error) {
	get := func(k string) (string, bool) {
		if v, ok := q[k]; ok {
			return last(v), true
		}
		return "", false
	}
	tq := &imageops.TaskListQuery{Limit: a.cfg.LimitDefault, SortDesc: true}
	if dir, ok := get("sort_dir"); ok {
		if dir != "asc" && dir != "desc" {
			return nil, badRequest("Invalid sort direction: %s", dir)
		}
		tq.SortDesc = dir == "desc"
	}
	if v, _ := get("status"); v != "" && !slices.Contains(imageops.TaskStatuses, v) {
		return nil, badRequest("Invalid status value: %s", v)
	}
	if v, _ := get("type"); v != "" && v != imageops.TaskImport {
		return nil, badRequest("Invalid type value: %s", v)
	}
	if m, ok := get("marker"); ok {
		if m != "" && !uuidLike(m) {
			return nil, badRequest("Invalid marker format")
		}
		tq.Marker, tq.MarkerGiven = m, true
	}
	if v, ok := get("limit"); ok {
		n, err := parsePyInt(v)
		if err != nil {
			return nil, err
		}
		tq.Limit = n
	}
	tq.Limit = min(tq.Limit, a.cfg.LimitMax)
	tq.SortKey, _ = get("sort_key")
	for _, k := range taskFilters {
		v, ok := get(k)
		if !ok {
			continue
		}
		if v == "" {
			tq.Unmatchable = true
		}
		switch k {
		case "status":
			tq.Status = v
		case "type":
			tq.Type = v
		case "owner":
			tq.Owner = v
		case "id":
			tq.ID = v
		case "image_id":
			tq.ImageID = v
		case "request_id":
			tq.RequestID = v
		case "user_id":
			tq.UserID = v
		}
	}
	return tq, nil
}

// parsePyInt reads a limit as Python's int() does: surrounding blanks and
// a sign are fine, and any size (a huge one is capped later anyway).
func parsePyInt(v string) (int, error) {
	s := strings.TrimSpace(v)
	n, err := strconv.Atoi(s)
	var ne *strconv.NumError
	if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
		if strings.HasPrefix(s, "-") {
			return 0, badRequest("limit param must be positive")
		}
		return int(^uint(0) >> 1), nil
	}
	if err != nil {
		return 0, badRequest("limit param must be an integer")
	}
	if n < 0 {
		return 0, badRequest("limit param must be positive")
	}
	return n, nil
}

var hex32 = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// uuidLike is oslo's is_uuid_like: a UUID in any spelling Python's uuid
// module reads (braces, urn:uuid: prefix, hyphens anywhere or none).
func uuidLike(s string) bool {
	s = strings.ReplaceAll(s, "urn:", "")
	s = strings.ReplaceAll(s, "uuid:", "")
	s = strings.Trim(s, "{}")
	s = strings.ReplaceAll(s, "-", "")
	return hex32.MatchString(s)
}

// showTask answers GET /v2/tasks/{id}.
func (a *API) showTask(w http.ResponseWriter, r *http.Request) error {
	if err := a.tasksAccess(r); err != nil {
		return err
	}
	t, err := a.ops.GetTask(r.Context(), caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeUnicodeJSON(w, http.StatusOK, taskJSON(t))
	return nil
}

// deleteTask answers DELETE /v2/tasks/{id}: tasks are never deleted by
// hand, they expire.
func (a *API) deleteTask(w http.ResponseWriter, r *http.Request) error {
	if err := a.tasksAccess(r); err != nil {
		return err
	}
	w.Header().Set("Allow", "GET")
	httperr.WriteText(w, r, http.StatusMethodNotAllowed, "This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.")
	return nil
}

// createTask answers POST /v2/tasks.
func (a *API) createTask(w http.ResponseWriter, r *http.Request) error {
	if err := a.tasksAccess(r); err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return &image.Error{Op: "v2.createTask", Kind: image.Invalid, Msg: "Unable to read the request body.", Err: err}
	}
	body, err := readObject(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	for _, k := range []string{"type", "input"} {
		if _, ok := body[k]; !ok {
			return badRequest("Task '%s' is required", k)
		}
	}
	if err := checkTask(body, topKeys(raw)); err != nil {
		return err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return badRequest("Malformed JSON in request body.")
	}
	var input bytes.Buffer
	if err := json.Compact(&input, members["input"]); err != nil {
		return badRequest("Malformed JSON in request body.")
	}
	in, _ := body["input"].(map[string]any)
	t, err := a.ops.CreateTask(r.Context(), caller(r), &imageops.TaskRequest{
		Type: body["type"].(string), Input: in, RawInput: input.Bytes(), Image: a.taskImage,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v2/tasks/"+t.ID)
	writeUnicodeJSON(w, http.StatusCreated, taskJSON(t))
	return nil
}

// topKeys lists the members of a JSON object in the order sent.
func topKeys(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := tok.(string)
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

// taskTypeEnum is the task schema's list of task types.
var taskTypeEnum = []string{imageops.TaskImport, imageops.TaskAPIImageImport, imageops.TaskLocationImport}

// checkTask validates a POST /v2/tasks body against the task schema the
// way jsonschema reports it: unknown members first (the schema allows no
// others), then the first property in schema order that fails.
func checkTask(body map[string]any, order []string) error {
	const prefix = "Provided object does not match schema 'task': "
	var extra []string
	for _, k := range order {
		if _, known := taskSchemaProps[k]; !known {
			extra = append(extra, imageops.PyRepr(k))
		}
	}
	if len(extra) > 0 {
		verb := "was"
		if len(extra) > 1 {
			verb = "were"
		}
		return badRequest("%sAdditional properties are not allowed (%s %s unexpected)", prefix, strings.Join(extra, ", "), verb)
	}
	for _, k := range taskSchemaOrder {
		v, ok := body[k]
		if !ok {
			continue
		}
		reason := ""
		str, isStr := v.(string)
		switch k {
		case "id":
			switch {
			case !isStr:
				reason = imageops.PyRepr(v) + " is not of type 'string'"
			case !uuidPattern.MatchString(str):
				reason = fmt.Sprintf("%s does not match %s", imageops.PyRepr(str), imageops.PyRepr(uuidRE))
			}
		case "type", "status":
			enum := taskTypeEnum
			if k == "status" {
				enum = imageops.TaskStatuses
			}
			switch {
			case !isStr || !slices.Contains(enum, str):
				reason = imageops.PyRepr(v) + " is not one of " + pyList(enum, false)
			}
		case "input", "result":
			if _, isObj := v.(map[string]any); v != nil && !isObj {
				reason = imageops.PyRepr(v) + " is not of type 'null', 'object'"
			}
		case "expires_at":
			if v != nil && !isStr {
				reason = imageops.PyRepr(v) + " is not of type 'null', 'string'"
			}
		default:
			if !isStr {
				reason = imageops.PyRepr(v) + " is not of type 'string'"
			}
		}
		if reason != "" {
			return badRequest("%s%s\n\nOn instance['%s']:\n    %s", prefix, reason, k, imageops.PyRepr(v))
		}
	}
	return nil
}

// taskImage turns a legacy import's image_properties into the image to
// create, with the checks POST /v2/images makes: Glance's attributes
// typed as in its image schema, the others custom string properties, and
// nothing the service keeps for itself.
func (a *API) taskImage(props map[string]any) (*image.Image, int, error) {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range []string{"created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "direct_url", "self", "file", "schema", "stores"} {
		if _, ok := props[k]; ok {
			return nil, 0, readOnlyErr(k)
		}
	}
	for _, k := range []string{"id", "locations"} {
		if _, ok := props[k]; ok {
			return nil, 0, image.E("v2", image.Forbidden, "Attribute '%s' is reserved.", k)
		}
	}
	for _, k := range keys {
		if err := a.schema.checkValue(k, props[k]); err != nil {
			return nil, 0, err
		}
	}
	for _, k := range keys {
		if baseAttrs[k] {
			continue
		}
		if len([]rune(k)) > image.MaxFieldLength {
			return nil, 0, image.E("v2.createTask", image.Invalid, "Custom property should not be greater than 255 characters.")
		}
		if reservedAttr(k) {
			return nil, 0, image.E("v2", image.Forbidden, "Attribute '%s' is reserved.", k)
		}
	}
	in := &image.Image{Properties: map[string]*string{}}
	tags := 0
	for _, k := range keys {
		if k == "tags" {
			tags = len(props[k].([]any))
		}
		setAttr(in, k, props[k])
	}
	return in, tags, nil
}

// rawJSON re-spells a stored JSON value as Glance's responses do; null
// when absent or unreadable.
func rawJSON(m json.RawMessage) []byte {
	var b bytes.Buffer
	if m == nil || json.Compact(&b, m) != nil {
		return []byte("null")
	}
	return wirejson.Respace(b.Bytes())
}

// taskJSON renders a task as Glance's tasks API does, in its key order.
func taskJSON(t *catalog.Task) []byte {
	o := wirejson.NewObject().
		String("id", t.ID).
		RawBytes("input", rawJSON(t.Input)).
		String("type", t.Type).
		String("status", t.Status).
		String("owner", t.Owner).
		String("message", t.Message).
		RawBytes("result", rawJSON(t.Result)).
		String("created_at", timestamp(t.CreatedAt)).
		String("updated_at", timestamp(t.UpdatedAt)).
		String("self", "/v2/tasks/"+t.ID).
		String("schema", "/v2/schemas/task")
	for _, f := range []struct{ k, v string }{{"image_id", t.ImageID}, {"request_id", t.RequestID}, {"user_id", t.UserID}} {
		if f.v != "" {
			o.String(f.k, f.v)
		}
	}
	if t.ExpiresAt != nil {
		o.String("expires_at", timestamp(*t.ExpiresAt))
	}
	return o.Bytes()
}

// taskStubJSON is a task as GET /v2/tasks lists it.
func taskStubJSON(t *catalog.Task) []byte {
	o := wirejson.NewObject().
		String("id", t.ID).
		String("type", t.Type).
		String("status", t.Status).
		String("owner", t.Owner).
		String("created_at", timestamp(t.CreatedAt)).
		String("updated_at", timestamp(t.UpdatedAt)).
		String("self", "/v2/tasks/"+t.ID).
		String("schema", "/v2/schemas/task")
	if t.ExpiresAt != nil {
		o.String("expires_at", timestamp(*t.ExpiresAt))
	}
	return o.Bytes()
}

// taskSchemaOrder is the task schema's property order; taskSchemaProps
// their definitions, key order as Glance serves them.
var taskSchemaOrder = []string{"id", "type", "status", "input", "result", "owner", "message",
	"image_id", "request_id", "user_id", "expires_at", "created_at", "updated_at", "self", "schema"}

var taskSchemaProps = map[string][]kv{
	"id":         {{"description", "Unique identifier of the task (a UUID)."}, {"pattern", uuidRE}, {"type", "string"}},
	"type":       {{"description", "What the task does."}, {"enum", taskTypeEnum}, {"type", "string"}},
	"status":     {{"description", "Where the task is in its lifecycle."}, {"enum", imageops.TaskStatuses}, {"type", "string"}},
	"input":      {{"description", "What the task was asked to do, a JSON object."}, {"type", []any{"null", "object"}}},
	"result":     {{"description", "What the task produced, a JSON object."}, {"type", []any{"null", "object"}}},
	"owner":      {{"description", "Project that owns the task."}, {"type", "string"}},
	"message":    {{"description", "Human-readable note on the task, usually why it failed."}, {"type", "string"}},
	"image_id":   {{"description", "Image the task works on."}, {"type", "string"}},
	"request_id": {{"description", "Request that started the task."}, {"type", "string"}},
	"user_id":    {{"description", "User who started the task."}, {"type", "string"}},
	"expires_at": {{"description", "When the ended task will be removed."}, {"type", []any{"null", "string"}}},
	"created_at": {{"description", "When the task was created."}, {"type", "string"}},
	"updated_at": {{"description", "When the task was last changed."}, {"type", "string"}},
	"self":       {{"readOnly", true}, {"type", "string"}},
	"schema":     {{"readOnly", true}, {"type", "string"}},
}

// taskSchemas renders /v2/schemas/task and /v2/schemas/tasks: Glance
// serves both in their minimal form (no additionalProperties), the list
// items without input, result and message.
func taskSchemas() (task, tasks []byte) {
	props := func(skip ...string) []byte {
		var members []kv
		for _, k := range taskSchemaOrder {
			if !slices.Contains(skip, k) {
				members = append(members, kv{k, obj(taskSchemaProps[k]...)})
			}
		}
		return obj(members...)
	}
	task = obj(kv{"name", "task"}, kv{"properties", props()})
	stub := obj(kv{"name", "task"}, kv{"properties", props("input", "result", "message")})
	tasks = obj(
		kv{"name", "tasks"},
		kv{"properties", obj(
			kv{"tasks", obj(kv{"type", "array"}, kv{"items", stub})},
			kv{"schema", obj(kv{"type", "string"})},
		)},
		kv{"links", wirejson.Array([][]byte{obj(kv{"rel", "describedby"}, kv{"href", "{schema}"})})},
	)
	return task, tasks
}
