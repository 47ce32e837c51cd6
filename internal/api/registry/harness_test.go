package registry_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"glimpse/internal/api/apitest"
	"glimpse/internal/api/registry"
	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/catalog/sqlcat/sqlcattest"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// harness is a registry API over a fresh catalog, served over loopback
// behind a header-trusting identity middleware.
type harness struct {
	ts  *httptest.Server
	ops *imageops.Service
	db  *sqlcat.DB
}

func newHarness(t *testing.T, cfg registry.Config, opts ...imageops.Option) *harness {
	t.Helper()
	db := sqlcattest.Open(t)
	ops := imageops.New(db, imageops.Limits{Properties: -1, Tags: -1, Members: 3}, opts...)
	ts := apitest.Serve(t, registry.New(ops, cfg).Handler())
	return &harness{ts: ts, ops: ops, db: db}
}

// client sends requests as one caller.
type client struct {
	h       *harness
	project string
	roles   string
}

func (h *harness) as(project, roles string) *client {
	return &client{h: h, project: project, roles: roles}
}

// admin is a caller with the admin role in project "admin-project".
func (h *harness) admin() *client { return h.as("admin-project", "admin") }

func (c *client) authContext() *auth.Context {
	ac := &auth.Context{ProjectID: c.project}
	for _, r := range strings.Split(c.roles, ",") {
		if r != "" {
			ac.Roles = append(ac.Roles, r)
		}
	}
	ac.IsAdmin = ac.HasRole("admin")
	return ac
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request; hdr are header name/value pairs. Accept is
// application/json unless hdr sets it.
func (c *client) do(t *testing.T, method, path, body string, hdr ...string) *response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.h.ts.URL+path, rd)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Identity-Status", "Confirmed")
	if c.project != "" {
		req.Header.Set("X-Project-Id", c.project)
	}
	if c.roles != "" {
		req.Header.Set("X-Roles", c.roles)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// json decodes the body.
func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
	return m
}

// errMessage is the message of a JSON error body.
func (r *response) errMessage(t *testing.T) string {
	t.Helper()
	m, _ := r.json(t)["message"].(string)
	return m
}

// want checks the status.
func (r *response) want(t *testing.T, status int) *response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	return r
}

// image returns the body's "image" object.
func (r *response) image(t *testing.T) map[string]any {
	t.Helper()
	img, ok := r.json(t)["image"].(map[string]any)
	if !ok {
		t.Fatalf("body %s has no image object", r.Body)
	}
	return img
}

// create registers an image and returns its id.
func (c *client) create(t *testing.T, body string) string {
	t.Helper()
	img := c.do(t, "POST", "/images", body).want(t, http.StatusOK).image(t)
	return img["id"].(string)
}

// all lists every live image in the catalog, as an admin.
func (h *harness) all(t *testing.T) []*image.Image {
	t.Helper()
	imgs, _, err := h.ops.List(context.Background(), &auth.Context{IsAdmin: true, Roles: []string{"admin"}},
		&catalog.ListQuery{Visibility: "all", MemberStatus: "all", Limit: -1,
			Sort: []catalog.SortKey{{Key: "created_at"}, {Key: "id"}}})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return imgs
}

// get reads an image through the shared use cases.
func (h *harness) get(t *testing.T, id string) *image.Image {
	t.Helper()
	img, err := h.ops.Get(context.Background(), &auth.Context{IsAdmin: true, Roles: []string{"admin"}}, id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return img
}

func ids(t *testing.T, r *response) []string {
	t.Helper()
	var out []string
	for _, it := range r.json(t)["images"].([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}
