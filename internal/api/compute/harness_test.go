package compute_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"glimpse/internal/api/apitest"
	"glimpse/internal/api/compute"
	"glimpse/internal/auth"
	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/catalog/sqlcat/sqlcattest"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// harness is the proxy over imageops and a SQLite catalog, behind a
// header-trusting identity middleware, served over loopback.
type harness struct {
	ts  *httptest.Server
	ops *imageops.Service
	db  *sqlcat.DB
}

func newHarness(t *testing.T, cfg compute.Config, limits ...imageops.Limits) *harness {
	t.Helper()
	db := sqlcattest.Open(t)
	lim := imageops.Limits{Properties: -1, Tags: -1, Members: -1}
	if len(limits) > 0 {
		lim = limits[0]
	}
	ops := imageops.New(db, lim)
	ts := apitest.Serve(t, compute.New(ops, cfg).Handler())
	return &harness{ts: ts, ops: ops, db: db}
}

// caller identifies a noauth client.
type caller struct {
	project string
	roles   string
}

var (
	admin = caller{project: "", roles: "admin"}
	alice = caller{project: "a1a1", roles: "member"}
	bob   = caller{project: "b2b2", roles: "member"}
)

func (c caller) ctx() *auth.Context {
	ac := &auth.Context{ProjectID: c.project, Roles: strings.Split(c.roles, ",")}
	ac.IsAdmin = ac.HasRole("admin")
	return ac
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// do sends a request as c; hdr are header name/value pairs.
func (h *harness) do(t *testing.T, c caller, method, path, body string, hdr ...string) *response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.ts.URL+path, rd)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("X-Identity-Status", "Confirmed")
	if c.project != "" {
		req.Header.Set("X-Project-Id", c.project)
	}
	req.Header.Set("X-Roles", c.roles)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
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

// create makes an image through imageops, as the Images API would.
func (h *harness) create(t *testing.T, c caller, in *image.Image) *image.Image {
	t.Helper()
	img, err := h.ops.Create(context.Background(), c.ctx(), in, 0)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return img
}

// set changes an image behind the API's back (status, size, times).
func (h *harness) set(t *testing.T, id string, change func(*image.Image)) {
	t.Helper()
	ctx := context.Background()
	old, err := h.db.GetImage(ctx, id)
	if err != nil {
		t.Fatalf("GetImage: %v", err)
	}
	img := old.Clone()
	change(img)
	if err := h.db.UpdateImage(ctx, old, img); err != nil {
		t.Fatalf("UpdateImage: %v", err)
	}
}

func props(kv ...string) map[string]*string {
	m := map[string]*string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = image.Str(kv[i+1])
	}
	return m
}

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// faultBody is Nova's error body.
func faultBody(name string, code int, msg string) string {
	b, _ := json.Marshal(map[string]any{name: map[string]any{"code": code, "message": msg}})
	return string(b)
}

// sameJSON reports whether two JSON texts are equal as values.
func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("body %q: %v", got, err)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}

// imageopsLimits is a property quota for imageops (Glance's
// image_property_quota), other quotas unlimited.
func imageopsLimits(properties int) imageops.Limits {
	return imageops.Limits{Properties: properties, Tags: -1, Members: -1}
}
