package v2_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/config"
)

const unknownID = "6f1b2a7e-3c1d-4b8a-9e2f-0a1b2c3d4e5f"

var requestIDPattern = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// imageTemplate is the body Glance returns for POST /v2/images {} with
// the id and timestamps to fill in.
const imageTemplate = `{"name": null, "disk_format": null, "container_format": null, "visibility": "shared", "size": null, "virtual_size": null, "status": "queued", "checksum": null, "protected": false, "min_ram": 0, "min_disk": 0, "owner": null, "os_hidden": false, "os_hash_algo": null, "os_hash_value": null, "id": "ID", "created_at": "T", "updated_at": "T", "tags": [], "self": "/v2/images/ID", "file": "/v2/images/ID/file", "schema": "/v2/schemas/image"}`

// fullTemplate is the body for the create with custom properties below.
const fullTemplate = `{"foo": "bar", "kernel_id": null, "name": "full", "disk_format": "qcow2", "container_format": "bare", "visibility": "private", "size": null, "virtual_size": null, "status": "queued", "checksum": null, "protected": false, "min_ram": 1, "min_disk": 2, "owner": null, "os_hidden": false, "os_hash_algo": null, "os_hash_value": null, "id": "ID", "created_at": "T", "updated_at": "T", "tags": ["a"], "self": "/v2/images/ID", "file": "/v2/images/ID/file", "schema": "/v2/schemas/image"}`

func TestCreateResponse(t *testing.T) {
	h := newHarness(t, false, nil)
	c := h.admin()
	for _, tc := range []struct {
		name     string
		body     string
		template string
		hdr      []string
	}{
		{"empty object", `{}`, imageTemplate, nil},
		{"writable attributes and properties", `{"name":"full","disk_format":"qcow2","container_format":"bare","visibility":"private","protected":false,"min_ram":1,"min_disk":2,"tags":["a","a"],"os_hidden":false,"foo":"bar","kernel_id":null}`, fullTemplate, nil},
		// Glance reads the body as JSON whatever the Content-Type says.
		{"text/plain body", `{}`, imageTemplate, []string{"Content-Type", "text/plain"}},
		{"no Content-Type", `{}`, imageTemplate, []string{"Content-Type", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(t, "POST", "/v2/images", tc.body, tc.hdr...).want(t, "create", http.StatusCreated)
			img := r.object(t)
			id, created := img["id"].(string), img["created_at"].(string)
			want := strings.NewReplacer(`"ID"`, `"`+id+`"`, "/ID", "/"+id, `"T"`, `"`+created+`"`).Replace(tc.template)
			if string(r.Body) != want {
				t.Errorf("got body\n%s\nwant\n%s", r.Body, want)
			}
			if got, want := r.Header.Get("Location"), h.ts.URL+"/v2/images/"+id; got != want {
				t.Errorf("got Location %q, want %q", got, want)
			}
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("got Content-Type %q, want application/json", got)
			}
			if got := r.Header.Get("X-Openstack-Request-Id"); !requestIDPattern.MatchString(got) {
				t.Errorf("got X-Openstack-Request-Id %q, want req-<uuid4>", got)
			}
			if got := h.getRaw(t, id); string(got) != want {
				t.Errorf("GET returns\n%s\nwant\n%s", got, want)
			}
		})
	}

	r := c.do(t, "POST", "/v2/images", `{}`, "Host", "other.example:1234").want(t, "create with Host", http.StatusCreated)
	if got, want := r.Header.Get("Location"), "http://other.example:1234/v2/images/"+r.object(t)["id"].(string); got != want {
		t.Errorf("Location with a Host header: got %q, want %q", got, want)
	}

	// Duplicate keys: the last one wins, as with Python's json.
	if got := c.do(t, "POST", "/v2/images", `{"name": "first", "name": "second"}`).want(t, "duplicate keys", http.StatusCreated).object(t)["name"]; got != "second" {
		t.Errorf("duplicate keys: got name %v, want second", got)
	}
	// A chunked body is a body.
	req, err := http.NewRequest("POST", h.ts.URL+"/v2/images", io.MultiReader(strings.NewReader(`{"name": "chunked"}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	chunked, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !bytes.Contains(chunked, []byte(`"name": "chunked"`)) {
		t.Errorf("chunked create: got %d %s, want 201 with the name", resp.StatusCode, chunked)
	}

	pub := newHarness(t, false, func(cfg *config.Config) { cfg.Default.PublicEndpoint = "https://images.example.com/" })
	r = pub.admin().do(t, "POST", "/v2/images", `{}`).want(t, "create with public_endpoint", http.StatusCreated)
	if got, want := r.Header.Get("Location"), "https://images.example.com/v2/images/"+r.object(t)["id"].(string); got != want {
		t.Errorf("Location with public_endpoint: got %q, want %q", got, want)
	}

	// Success bodies of lists and members keep Glance's key order too.
	r = c.do(t, "GET", "/v2/images?limit=0", "").want(t, "list limit=0", http.StatusOK)
	if want := `{"images": [], "first": "/v2/images?limit=0", "schema": "/v2/schemas/images"}`; string(r.Body) != want {
		t.Errorf("list limit=0: got %s, want %s", r.Body, want)
	}
	id := c.createImage(t, nil)["id"].(string)
	r = c.json(t, "POST", "/v2/images/"+id+"/members", map[string]string{"member": "tenantB"}).want(t, "add member", http.StatusOK)
	m := r.object(t)
	wantMember := `{"member_id": "tenantB", "image_id": "` + id + `", "status": "pending", "created_at": "` + m["created_at"].(string) +
		`", "updated_at": "` + m["updated_at"].(string) + `", "schema": "/v2/schemas/member"}`
	if string(r.Body) != wantMember {
		t.Errorf("add member: got %s, want %s", r.Body, wantMember)
	}
	r = c.do(t, "GET", "/v2/images/"+id+"/members", "").want(t, "list members", http.StatusOK)
	if want := `{"members": [` + wantMember + `], "schema": "/v2/schemas/members"}`; string(r.Body) != want {
		t.Errorf("list members: got %s, want %s", r.Body, want)
	}
}

func TestRequestIDs(t *testing.T) {
	t.Run("unauthenticated", func(t *testing.T) {
		h := newHarness(t, false, nil)
		seen := map[string]bool{}
		for _, tc := range []struct {
			name string
			hdr  []string
		}{
			{"no client id", nil},
			// The unauthenticated context never reads the client's id.
			{"client id ignored", []string{"X-Openstack-Request-Id", "req-8b2d4e5a-1111-4222-8333-944455556666"}},
		} {
			r := h.admin().do(t, "GET", "/v2/images", "", tc.hdr...).want(t, tc.name, http.StatusOK)
			got := r.Header.Get("X-Openstack-Request-Id")
			if !requestIDPattern.MatchString(got) || seen[got] {
				t.Errorf("%s: got X-Openstack-Request-Id %q, want a fresh req-<uuid4>", tc.name, got)
			}
			seen[got] = true
		}
		r := h.admin().do(t, "GET", "/v2/images/"+unknownID, "").want(t, "404", http.StatusNotFound)
		if got := r.Header.Get("X-Openstack-Request-Id"); !requestIDPattern.MatchString(got) {
			t.Errorf("404: got X-Openstack-Request-Id %q, want req-<uuid4>", got)
		}
	})

	t.Run("noauth", func(t *testing.T) {
		h := newHarness(t, true, nil)
		c := h.as("A", "member")
		for _, tc := range []struct {
			name, sent, want string
		}{
			{"echoed", "req-8b2d4e5a-1111-4222-8333-944455556666", "req-8b2d4e5a-1111-4222-8333-944455556666"},
			{"prefixed", "abc123", "req-abc123"},
			{"64 characters", "req-" + strings.Repeat("x", 60), "req-" + strings.Repeat("x", 60)},
		} {
			r := c.do(t, "GET", "/v2/images", "", "X-Openstack-Request-Id", tc.sent).want(t, tc.name, http.StatusOK)
			if got := r.Header.Get("X-Openstack-Request-Id"); got != tc.want {
				t.Errorf("%s: got X-Openstack-Request-Id %q, want %q", tc.name, got, tc.want)
			}
		}
		r := c.do(t, "GET", "/v2/images/"+unknownID, "", "X-Openstack-Request-Id", "abc123").want(t, "404", http.StatusNotFound)
		if got := r.Header.Get("X-Openstack-Request-Id"); got != "req-abc123" {
			t.Errorf("error response: got X-Openstack-Request-Id %q, want req-abc123", got)
		}
		r = c.do(t, "GET", "/v2/images", "")
		if got := r.Header.Get("X-Openstack-Request-Id"); !requestIDPattern.MatchString(got) {
			t.Errorf("no client id: got X-Openstack-Request-Id %q, want req-<uuid4>", got)
		}

		const unauthorized = "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required."
		anon := &client{h: h, header: map[string]string{}}
		for _, tc := range []struct {
			name, method, path, body string
			hdr                      []string
		}{
			{"no identity", "GET", "/v2/images", "", nil},
			{"identity invalid", "GET", "/v2/images", "", []string{"X-Identity-Status", "Invalid"}},
			{"identity lower-case", "GET", "/v2/images", "", []string{"X-Identity-Status", "confirmed"}},
			{"create without identity", "POST", "/v2/images", "{}", []string{"X-Project-Id", "A"}},
			{"schema without identity", "GET", "/v2/schemas/image", "", nil},
		} {
			r := anon.do(t, tc.method, tc.path, tc.body, append(tc.hdr, "X-Openstack-Request-Id", "abc123")...)
			r.wantError(t, tc.name, http.StatusUnauthorized, unauthorized, "")
			if got, ok := r.Header["X-Openstack-Request-Id"]; ok {
				t.Errorf("%s: 401 carries X-Openstack-Request-Id %q, want none", tc.name, got)
			}
		}
		if got := h.catalogState(t); bytes.Count(got, []byte(`"images": []`)) != 2 {
			t.Errorf("a create without identity stored an image: %s", got)
		}
		r = anon.do(t, "GET", "/", "")
		if r.Status != http.StatusMultipleChoices {
			t.Errorf("GET / without identity: got %d, want 300", r.Status)
		}
		if got, ok := r.Header["X-Openstack-Request-Id"]; ok {
			t.Errorf("300 carries X-Openstack-Request-Id %q, want none", got)
		}
	})
}

func TestErrorBodiesExact(t *testing.T) {
	h := newHarness(t, false, nil)
	c := h.admin()
	const taken = "11111111-2222-3333-4444-555555555555"
	c.createImage(t, map[string]any{"id": taken, "name": "withid"})

	html := func(code, inner string) string {
		return "<html>\n <head>\n  <title>" + code + "</title>\n </head>\n <body>\n  <h1>" + code + "</h1>\n  " + inner + "\n </body>\n</html>"
	}
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		contentType              string
		want                     string
		allow, acceptPatch       string
	}{
		{
			name: "404 HTML", method: "GET", path: "/v2/images/" + unknownID, hdr: []string{"Accept", "*/*"},
			status: 404, contentType: "text/html; charset=UTF-8",
			want: html("404 Not Found", "No image found with ID "+unknownID+"<br /><br />\n\n\n"),
		},
		{
			name: "404 JSON", method: "GET", path: "/v2/images/" + unknownID,
			status: 404, contentType: "application/json",
			want: `{"message": "No image found with ID ` + unknownID + `<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}`,
		},
		{
			name: "404 plain without Accept", method: "GET", path: "/v2/images/" + unknownID, hdr: []string{"Accept", ""},
			status: 404, contentType: "text/plain; charset=UTF-8",
			want: "404 Not Found\n\nNo image found with ID " + unknownID + "\n\n   ",
		},
		{
			name: "404 plain for text/plain", method: "GET", path: "/v2/images/" + unknownID, hdr: []string{"Accept", "text/plain"},
			status: 404, contentType: "text/plain; charset=UTF-8",
			want: "404 Not Found\n\nNo image found with ID " + unknownID + "\n\n   ",
		},
		{
			name: "404 plain for application/xml", method: "GET", path: "/v2/images/" + unknownID, hdr: []string{"Accept", "application/xml"},
			status: 404, contentType: "text/plain; charset=UTF-8",
			want: "404 Not Found\n\nNo image found with ID " + unknownID + "\n\n   ",
		},
		{
			name: "404 HTML wins a tie", method: "GET", path: "/v2/images/" + unknownID, hdr: []string{"Accept", "application/json, text/html"},
			status: 404, contentType: "text/html; charset=UTF-8",
			want: html("404 Not Found", "No image found with ID "+unknownID+"<br /><br />\n\n\n"),
		},
		{
			name: "404 JSON by quality", method: "GET", path: "/v2/images/" + unknownID, hdr: []string{"Accept", "application/json;q=0.9, text/html;q=0.1"},
			status: 404, contentType: "application/json",
			want: `{"message": "No image found with ID ` + unknownID + `<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}`,
		},
		{
			name: "404 JSON for application/*", method: "GET", path: "/v2/images/" + unknownID, hdr: []string{"Accept", "application/*"},
			status: 404, contentType: "application/json",
			want: `{"message": "No image found with ID ` + unknownID + `<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}`,
		},
		{
			name: "404 unknown path", method: "GET", path: "/v2/foo",
			status: 404, contentType: "application/json",
			want: `{"message": "The resource could not be found.<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}`,
		},
		{
			name: "403 read-only HTML", method: "POST", path: "/v2/images", body: `{"status":"active"}`, hdr: []string{"Accept", "*/*"},
			status: 403, contentType: "text/html; charset=UTF-8",
			want: html("403 Forbidden", "Attribute &#x27;status&#x27; is read-only.<br /><br />\n\n\n"),
		},
		{
			name: "403 read-only JSON", method: "POST", path: "/v2/images", body: `{"status":"active"}`,
			status: 403, contentType: "application/json",
			want: `{"message": "Attribute 'status' is read-only.<br /><br />\n\n\n", "code": "403 Forbidden", "title": "Forbidden"}`,
		},
		{
			name: "403 with detail, plain", method: "POST", path: "/v2/images", body: `{"os_glance_foo":"x"}`, hdr: []string{"Accept", ""},
			status: 403, contentType: "text/plain; charset=UTF-8",
			want: "403 Forbidden\n\nAccess was denied to this resource.\n\n Attribute 'os_glance_foo' is reserved.  ",
		},
		{
			name: "403 with detail, JSON", method: "POST", path: "/v2/images", body: `{"os_glance_foo":"x"}`,
			status: 403, contentType: "application/json",
			want: `{"message": "Access was denied to this resource.<br /><br />\nAttribute 'os_glance_foo' is reserved.\n\n", "code": "403 Forbidden", "title": "Forbidden"}`,
		},
		{
			name: "409 duplicate id HTML", method: "POST", path: "/v2/images", body: `{"id":"` + taken + `","name":"withid"}`, hdr: []string{"Accept", "*/*"},
			status: 409, contentType: "text/html; charset=UTF-8",
			want: html("409 Conflict", "Image ID "+taken+" already exists!<br /><br />\n\n\n"),
		},
		{
			name: "409 duplicate id JSON", method: "POST", path: "/v2/images", body: `{"id":"` + taken + `","name":"withid"}`,
			status: 409, contentType: "application/json",
			want: `{"message": "Image ID ` + taken + ` already exists!<br /><br />\n\n\n", "code": "409 Conflict", "title": "Conflict"}`,
		},
		{
			name: "405 HTML", method: "DELETE", path: "/v2/images", hdr: []string{"Accept", "*/*"},
			status: 405, contentType: "text/html; charset=UTF-8", allow: "GET, POST",
			want: html("405 Method Not Allowed", "The method DELETE is not allowed for this resource. <br /><br />\n"),
		},
		{
			name: "405 JSON", method: "DELETE", path: "/v2/images",
			status: 405, contentType: "application/json", allow: "GET, POST",
			want: `{"message": "The method DELETE is not allowed for this resource. <br /><br />\n", "code": "405 Method Not Allowed", "title": "Method Not Allowed"}`,
		},
		{
			name: "405 plain", method: "DELETE", path: "/v2/images", hdr: []string{"Accept", ""},
			status: 405, contentType: "text/plain; charset=UTF-8", allow: "GET, POST",
			want: "405 Method Not Allowed\n\nThe method DELETE is not allowed for this resource. \n\n ",
		},
		{
			name: "415 HTML", method: "PATCH", path: "/v2/images/" + taken, body: `[{"op":"replace","path":"/name","value":"x"}]`, hdr: []string{"Accept", "*/*"},
			status: 415, contentType: "text/html; charset=UTF-8",
			acceptPatch: "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch",
			want:        html("415 Unsupported Media Type", "The request media type application/json is not supported by this server.\n<br /><br />\n"),
		},
		{
			name: "415 JSON", method: "PATCH", path: "/v2/images/" + taken, body: `[]`,
			status: 415, contentType: "application/json",
			acceptPatch: "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch",
			want:        `{"message": "The request media type application/json is not supported by this server.\n<br /><br />\n", "code": "415 Unsupported Media Type", "title": "Unsupported Media Type"}`,
		},
		{
			name: "415 plain", method: "PATCH", path: "/v2/images/" + unknownID, body: `[]`, hdr: []string{"Accept", ""},
			status: 415, contentType: "text/plain; charset=UTF-8",
			acceptPatch: "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch",
			want:        "415 Unsupported Media Type\n\nThe request media type application/json is not supported by this server. \n\n ",
		},
		{
			name: "415 without Content-Type", method: "PATCH", path: "/v2/images/" + taken, body: `[]`, hdr: []string{"Content-Type", ""},
			status: 415, contentType: "application/json",
			acceptPatch: "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch",
			want:        `{"message": "The request media type text/plain is not supported by this server.\n<br /><br />\n", "code": "415 Unsupported Media Type", "title": "Unsupported Media Type"}`,
		},
		{
			name: "415 RFC 6902 media type", method: "PATCH", path: "/v2/images/" + taken, body: `[]`, hdr: []string{"Content-Type", "application/json-patch+json"},
			status: 415, contentType: "application/json",
			acceptPatch: "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch",
			want:        `{"message": "The request media type application/json-patch+json is not supported by this server.\n<br /><br />\n", "code": "415 Unsupported Media Type", "title": "Unsupported Media Type"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.catalogState(t)
			r := c.do(t, tc.method, tc.path, tc.body, tc.hdr...)
			if r.Status != tc.status {
				t.Errorf("got status %d, want %d", r.Status, tc.status)
			}
			if string(r.Body) != tc.want {
				t.Errorf("got body\n%q\nwant\n%q", r.Body, tc.want)
			}
			if got := r.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("got Content-Type %q, want %q", got, tc.contentType)
			}
			if got := r.Header.Get("Allow"); got != tc.allow {
				t.Errorf("got Allow %q, want %q", got, tc.allow)
			}
			if got := r.Header.Get("Accept-Patch"); got != tc.acceptPatch {
				t.Errorf("got Accept-Patch %q, want %q", got, tc.acceptPatch)
			}
			if !requestIDPattern.MatchString(r.Header.Get("X-Openstack-Request-Id")) {
				t.Errorf("got X-Openstack-Request-Id %q, want req-<uuid4>", r.Header.Get("X-Openstack-Request-Id"))
			}
			if after := h.catalogState(t); !bytes.Equal(before, after) {
				t.Errorf("the catalog changed")
			}
		})
	}
}

func TestMethodsAndPaths(t *testing.T) {
	h := newHarness(t, false, nil)
	c := h.admin()
	id := c.createImage(t, nil)["id"].(string)
	img := "/v2/images/" + id
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"PUT", "/v2/images", 405, "GET, POST"},
		{"PATCH", "/v2/images", 405, "GET, POST"},
		{"DELETE", "/v2/images", 405, "GET, POST"},
		{"POST", img, 405, "GET, PATCH, DELETE"},
		{"PUT", img, 405, "GET, PATCH, DELETE"},
		{"HEAD", img, 405, "GET, PATCH, DELETE"},
		{"GET", img + "/tags/x", 405, "PUT, DELETE"},
		{"POST", img + "/tags/x", 405, "PUT, DELETE"},
		{"DELETE", img + "/members", 405, "GET, POST"},
		{"POST", img + "/members/m", 405, "GET, PUT, DELETE"},
		{"GET", img + "/actions/deactivate", 405, "POST"},
		{"GET", img + "/actions/reactivate", 405, "POST"},
		{"POST", "/v2/schemas/image", 405, "GET"},
		{"DELETE", "/v2/schemas/members", 405, "GET"},
		{"GET", "/v2/images/", 404, ""},
		{"GET", img + "/", 404, ""},
		{"GET", img + "/bogus", 404, ""},
		{"GET", img + "/tags", 404, ""},
		{"POST", img + "/actions/bogus", 404, ""},
		{"GET", "/v2/schemas/bogus", 404, ""},
		{"GET", "/v2/foo", 404, ""},
		{"PUT", img + "/tags/a%2Fb", 404, ""},
	} {
		t.Run(tc.method+" "+strings.ReplaceAll(tc.path, id, "{id}"), func(t *testing.T) {
			r := c.do(t, tc.method, tc.path, "")
			if r.Status != tc.status {
				t.Fatalf("got status %d, want %d; body %s", r.Status, tc.status, r.Body)
			}
			if got := r.Header.Get("Allow"); got != tc.allow {
				t.Errorf("got Allow %q, want %q", got, tc.allow)
			}
			switch {
			case tc.method == "HEAD":
				if len(r.Body) != 0 {
					t.Errorf("HEAD: got body %q, want none", r.Body)
				}
			case tc.status == 405:
				r.wantError405(t, tc.method)
			default:
				r.wantError(t, tc.path, 404, "The resource could not be found.", "")
			}
		})
	}
	if got := h.getRaw(t, id); !bytes.Contains(got, []byte(`"tags": []`)) {
		t.Errorf("tag calls on wrong routes changed the image: %s", got)
	}
}

// wantError405 checks webob's 405 text for method.
func (r *response) wantError405(t *testing.T, method string) {
	t.Helper()
	want := `{"message": "The method ` + method + ` is not allowed for this resource. <br /><br />\n", "code": "405 Method Not Allowed", "title": "Method Not Allowed"}`
	if string(r.Body) != want {
		t.Errorf("got body %s, want %s", r.Body, want)
	}
}

func TestListLinks(t *testing.T) {
	h := newHarness(t, false, nil)
	c := h.admin()
	byName, seq := map[string]string{}, map[string]int{}
	var ids []string
	for i, name := range []string{"c", "a", "b"} {
		id := c.createImage(t, map[string]any{"name": name})["id"].(string)
		byName[name], seq[id] = id, i
		ids = append(ids, id)
	}
	ids = h.defaultOrder(t, seq, ids)
	for _, tc := range []struct {
		query     string
		first     string
		next      string // without the marker, which is the page's last id
		wantCount int
	}{
		{"", "/v2/images", "", 3},
		{"limit=1", "/v2/images?limit=1", "/v2/images?limit=1", 1},
		{"limit=2", "/v2/images?limit=2", "/v2/images?limit=2", 2},
		// A page exactly as long as the limit links on, even when it is
		// the last one.
		{"limit=3", "/v2/images?limit=3", "/v2/images?limit=3", 3},
		{"limit=4", "/v2/images?limit=4", "", 3},
		{"limit=0", "/v2/images?limit=0", "", 0},
		{"limit=5000", "/v2/images?limit=5000", "", 3},
		{"limit=1&sort=name:asc,status", "/v2/images?limit=1&sort=name%3Aasc%2Cstatus", "/v2/images?limit=1&sort=name%3Aasc%2Cstatus", 1},
		// Repeated keys keep their first position and their last value.
		{"tag=a&tag=b", "/v2/images?tag=b", "", 0},
		{"sort_key=name&sort_key=status&sort_dir=asc&sort_dir=desc", "/v2/images?sort_key=status&sort_dir=desc", "", 3},
		{"limit=5&os_hidden=false&limit=1", "/v2/images?limit=1&os_hidden=false", "/v2/images?limit=1&os_hidden=false", 1},
		// The marker is dropped from first and put last in next.
		{"marker=NAMED_A&limit=1&sort_key=name&sort_dir=asc", "/v2/images?limit=1&sort_key=name&sort_dir=asc", "/v2/images?limit=1&sort_key=name&sort_dir=asc", 1},
		{"limit=1&marker=" + unknownID + "&marker=NEWEST", "/v2/images?limit=1", "/v2/images?limit=1", 1},
		// quote_plus: ':' ',' '"' and space are escaped, '-' '_' '.' '~' not.
		{`name=in:%22a%20b%22,c`, "/v2/images?name=in%3A%22a+b%22%2Cc", "", 1},
		{"name=a+b", "/v2/images?name=a+b", "", 0},
		{"created_at=gt:2020-01-01T00:00:00Z&limit=2", "/v2/images?created_at=gt%3A2020-01-01T00%3A00%3A00Z&limit=2", "/v2/images?created_at=gt%3A2020-01-01T00%3A00%3A00Z&limit=2", 2},
		{"foo=a-b_c.d~e/f", "/v2/images?foo=a-b_c.d~e%2Ff", "", 0},
		{"zzz", "/v2/images?zzz=", "", 0},
	} {
		t.Run(tc.query, func(t *testing.T) {
			query := strings.NewReplacer("NAMED_A", byName["a"], "NEWEST", ids[0]).Replace(tc.query)
			r := c.do(t, "GET", "/v2/images?"+query, "").want(t, "list", http.StatusOK)
			var page struct {
				Images []struct {
					ID string `json:"id"`
				} `json:"images"`
				First  string  `json:"first"`
				Next   *string `json:"next"`
				Schema string  `json:"schema"`
			}
			if err := json.Unmarshal(r.Body, &page); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if len(page.Images) != tc.wantCount {
				t.Errorf("got %d images, want %d", len(page.Images), tc.wantCount)
			}
			if page.First != tc.first {
				t.Errorf("got first %q, want %q", page.First, tc.first)
			}
			keys := []string{"images", "first", "schema"}
			switch {
			case tc.next == "" && page.Next != nil:
				t.Errorf("got next %q, want none", *page.Next)
			case tc.next != "" && page.Next == nil:
				t.Errorf("got no next, want one")
			case tc.next != "":
				keys = append(keys, "next")
				if want := tc.next + "&marker=" + page.Images[len(page.Images)-1].ID; *page.Next != want {
					t.Errorf("got next %q, want %q", *page.Next, want)
				}
			}
			if page.Schema != "/v2/schemas/images" {
				t.Errorf("got schema %q, want /v2/schemas/images", page.Schema)
			}
			if got := topKeys(t, r.Body); !cmp.Equal(got, keys) {
				t.Errorf("got keys %v, want %v", got, keys)
			}
		})
	}

	// Following next walks the whole list once; the last full page links
	// to an empty one without next.
	var walked []string
	next := "/v2/images?limit=1"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatalf("more than 5 pages for 3 images")
		}
		var page struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(c.do(t, "GET", next, "").want(t, next, http.StatusOK).Body, &page); err != nil {
			t.Fatalf("decoding: %v", err)
		}
		for _, img := range page.Images {
			walked = append(walked, img.ID)
		}
		next = page.Next
	}
	if diff := cmp.Diff(ids, walked); diff != "" {
		t.Errorf("walking next links (-want +got):\n%s", diff)
	}
}

// topKeys returns the keys of a JSON object in order.
func topKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("decoding keys: %v", err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("decoding value: %v", err)
		}
	}
	return keys
}

func TestPatchDialects(t *testing.T) {
	h := newHarness(t, false, nil)
	c := h.admin()
	id := c.createImage(t, map[string]any{"name": "patchme", "foo": "bar"})["id"].(string)
	v20 := func(ops string) *response {
		return c.do(t, "PATCH", "/v2/images/"+id, ops, "Content-Type", "application/openstack-images-v2.0-json-patch")
	}
	v21 := func(ops string) *response {
		return c.do(t, "PATCH", "/v2/images/"+id, ops, "Content-Type", "application/openstack-images-v2.1-json-patch")
	}
	prop := func(r *response, k string) any {
		t.Helper()
		v, ok := r.object(t)[k]
		if !ok {
			return "<absent>"
		}
		return v
	}

	r := v20(`[{"add": "/newprop", "value": "v"}]`).want(t, "v2.0 add", http.StatusOK)
	if got := prop(r, "newprop"); got != "v" {
		t.Errorf("v2.0 add: got newprop %v, want v", got)
	}
	before := h.getRaw(t, id)
	v20(`[{"add": "/newprop", "value": "w"}]`).wantError(t, "v2.0 add existing", http.StatusConflict,
		"There was a conflict when trying to complete your request.", "Property newprop already present.")
	v20(`[{"add": "/foo", "value": "baz"}]`).wantError(t, "v2.0 add existing foo", http.StatusConflict,
		"There was a conflict when trying to complete your request.", "Property foo already present.")
	v20(`[{"op": "replace", "path": "/name", "value": "x"}]`).wantError(t, "v2.0 with a v2.1 body", http.StatusBadRequest,
		`Operation objects must contain exactly one member named "add", "remove", or "replace".`, "")
	v20(`[{"add": "/a", "replace": "/b", "value": "x"}]`).wantError(t, "v2.0 two operations in one", http.StatusBadRequest,
		`Operation objects must contain only one member named "add", "remove", or "replace".`, "")
	v20(`[{"replace": "name", "value": "v"}]`).wantError(t, "v2.0 path without slash", http.StatusBadRequest,
		"Pointer `name` does not start with \"/\".", "")
	if got := h.getRaw(t, id); !bytes.Equal(got, before) {
		t.Errorf("refused v2.0 patches changed the image:\n got %s\nwant %s", got, before)
	}
	r = v20(`[{"replace": "/name", "value": "v20name"}]`).want(t, "v2.0 replace", http.StatusOK)
	if got := prop(r, "name"); got != "v20name" {
		t.Errorf("v2.0 replace: got name %v, want v20name", got)
	}
	r = v20(`[{"remove": "/newprop"}]`).want(t, "v2.0 remove", http.StatusOK)
	if got := prop(r, "newprop"); got != "<absent>" {
		t.Errorf("v2.0 remove: got newprop %v, want it gone", got)
	}

	// v2.1 add on an existing key replaces it.
	r = v21(`[{"op": "add", "path": "/foo", "value": "baz"}, {"op": "add", "path": "/name", "value": "added"}]`).want(t, "v2.1 add existing", http.StatusOK)
	if got, name := prop(r, "foo"), prop(r, "name"); got != "baz" || name != "added" {
		t.Errorf("v2.1 add existing: got foo %v name %v, want baz added", got, name)
	}
	// Pointer escapes, blanks and the empty key, as Glance stores them.
	// A name longer than the column's 255 characters is stored on SQLite,
	// which does not enforce lengths, and refused by the servers.
	long := strings.Repeat("k", 256)
	longOp := `, {"op": "add", "path": "/` + long + `", "value": "5"}`
	want := map[string]string{"a/b": "1", "c~d": "2", "": "3", "spaced": "4", long: "5"}
	if onServer() {
		v21(`[{"op": "add", "path": "/short", "value": "0"}`+longOp+`]`).want(t, "v2.1 over-long name", http.StatusBadRequest)
		longOp = ""
		want["short"] = "<absent>" // the refused request stored nothing
		delete(want, long)
	}
	r = v21(`[{"op": "add", "path": "/a~1b", "value": "1"}, {"op": "add", "path": "/c~0d", "value": "2"},
		{"op": "add", "path": "/", "value": "3"}, {"op": "add", "path": "/ spaced ", "value": "4"}`+longOp+`]`).want(t, "v2.1 escapes", http.StatusOK)
	for k, want := range want {
		if got := prop(r, k); got != want {
			t.Errorf("v2.1 escapes: got %q = %v, want %v", k, got, want)
		}
	}
	r = v21(`[]`).want(t, "v2.1 empty patch", http.StatusOK)
	if got := prop(r, "a/b"); got != "1" {
		t.Errorf("empty patch: got a/b %v, want 1", got)
	}
	r = v21(`[{"op": "replace", "path": "/name", "value": null}, {"op": "replace", "path": "/disk_format", "value": null}]`).want(t, "v2.1 null name", http.StatusOK)
	if got, df := prop(r, "name"), prop(r, "disk_format"); got != nil || df != nil {
		t.Errorf("null name and disk_format: got %v %v, want null null", got, df)
	}
	c.do(t, "PATCH", "/v2/images/"+unknownID, `[]`, "Content-Type", "application/openstack-images-v2.1-json-patch").
		wantError(t, "PATCH unknown image", http.StatusNotFound, "No image found with ID "+unknownID, "")
}

func TestSchemas(t *testing.T) {
	h := newHarness(t, false, nil)
	c := h.admin()
	for _, name := range []string{"image", "images", "member", "members"} {
		t.Run(name, func(t *testing.T) {
			r := c.do(t, "GET", "/v2/schemas/"+name, "").want(t, "GET schema", http.StatusOK)
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("got Content-Type %q, want application/json", got)
			}
			var got any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			f, err := os.Open("testdata/schema-" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			wantRaw, err := io.ReadAll(f)
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal(wantRaw, &want); err != nil {
				t.Fatalf("decoding testdata: %v", err)
			}
			// The recorded schemas have their prose descriptions removed;
			// glimpse words its own.
			if diff := cmp.Diff(want, withoutDescriptions(got)); diff != "" {
				t.Errorf("schema differs from Glance's (-want +got):\n%s", diff)
			}
			if got, want := topKeys(t, r.Body), topKeys(t, wantRaw); !cmp.Equal(got, want) {
				t.Errorf("got top-level keys %v, want %v", got, want)
			}
			if name == "image" {
				var doc struct {
					Properties json.RawMessage `json:"properties"`
				}
				json.Unmarshal(r.Body, &doc)
				var wantDoc struct {
					Properties json.RawMessage `json:"properties"`
				}
				json.Unmarshal(wantRaw, &wantDoc)
				if got, want := topKeys(t, doc.Properties), topKeys(t, wantDoc.Properties); !cmp.Equal(got, want) {
					t.Errorf("property order differs (-want +got):\n%s", cmp.Diff(want, got))
				}
			}
		})
	}

	custom := newHarness(t, false, func(cfg *config.Config) {
		cfg.ImageFormat.DiskFormats = []string{"raw", "qcow2"}
		cfg.ImageFormat.ContainerFormats = []string{"bare"}
	})
	var doc struct {
		Properties map[string]struct {
			Enum []any `json:"enum"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(custom.admin().do(t, "GET", "/v2/schemas/image", "").want(t, "custom schema", http.StatusOK).Body, &doc); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if diff := cmp.Diff([]any{nil, "raw", "qcow2"}, doc.Properties["disk_format"].Enum); diff != "" {
		t.Errorf("disk_format enum (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{nil, "bare"}, doc.Properties["container_format"].Enum); diff != "" {
		t.Errorf("container_format enum (-want +got):\n%s", diff)
	}
	// The configured formats are also what create accepts.
	custom.admin().json(t, "POST", "/v2/images", map[string]any{"disk_format": "vmdk"}).wantError(t, "unconfigured disk_format", http.StatusBadRequest,
		"Provided object does not match schema 'image': 'vmdk' is not one of [None, 'raw', 'qcow2']", "")
	custom.admin().json(t, "POST", "/v2/images", map[string]any{"disk_format": "qcow2", "container_format": "bare"}).want(t, "configured formats", http.StatusCreated)
}

// withoutDescriptions drops every schema "description" keyword (a string
// value), keeping properties that happen to be named description.
func withoutDescriptions(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if _, isText := e.(string); k == "description" && isText {
				continue
			}
			out[k] = withoutDescriptions(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutDescriptions(e)
		}
		return out
	}
	return v
}

func TestVersions(t *testing.T) {
	h := newHarness(t, true, nil)
	anon := &client{h: h, header: map[string]string{}}
	for _, tc := range []struct {
		path   string
		status int
		hdr    []string
		base   string
	}{
		{"/", http.StatusMultipleChoices, nil, h.ts.URL},
		{"/versions", http.StatusOK, nil, h.ts.URL},
		{"/v9/images", http.StatusMultipleChoices, nil, h.ts.URL},
		{"/foo", http.StatusMultipleChoices, nil, h.ts.URL},
		{"/", http.StatusMultipleChoices, []string{"Host", "other.example:1234"}, "http://other.example:1234"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := anon.do(t, "GET", tc.path, "", tc.hdr...)
			if r.Status != tc.status {
				t.Fatalf("got status %d, want %d", r.Status, tc.status)
			}
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("got Content-Type %q, want application/json", got)
			}
			var doc struct {
				Versions []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
					Links  []struct {
						Rel  string `json:"rel"`
						Href string `json:"href"`
					} `json:"links"`
				} `json:"versions"`
			}
			if err := json.Unmarshal(r.Body, &doc); err != nil {
				t.Fatalf("decoding %s: %v", r.Body, err)
			}
			if len(doc.Versions) == 0 {
				t.Fatalf("no versions in %s", r.Body)
			}
			ids := map[string]bool{}
			for i, v := range doc.Versions {
				if v.ID == "v1.1" || v.ID == "v1.0" {
					// The deprecated v1 API, listed after v2.
					if v.Status != "DEPRECATED" || len(v.Links) != 1 || v.Links[0].Href != tc.base+"/v1/" || !ids["v2.0"] {
						t.Errorf("version %s at %d: got %s %+v, want DEPRECATED linking %s/v1/ after the v2 versions", v.ID, i, v.Status, v.Links, tc.base)
					}
					continue
				}
				wantStatus := "SUPPORTED"
				if i == 0 {
					wantStatus = "CURRENT"
				}
				if v.Status != wantStatus {
					t.Errorf("version %d (%s): got status %q, want %q", i, v.ID, v.Status, wantStatus)
				}
				if !regexp.MustCompile(`^v2\.\d+$`).MatchString(v.ID) || ids[v.ID] {
					t.Errorf("version %d: got id %q, want a new v2.N", i, v.ID)
				}
				ids[v.ID] = true
				if len(v.Links) != 1 || v.Links[0].Rel != "self" || v.Links[0].Href != tc.base+"/v2/" {
					t.Errorf("version %s: got links %+v, want one self link to %s/v2/", v.ID, v.Links, tc.base)
				}
			}
			if !ids["v2.0"] {
				t.Errorf("v2.0 is not listed: %s", r.Body)
			}
		})
	}
}
