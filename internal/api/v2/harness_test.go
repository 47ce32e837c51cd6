package v2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/catalog/sqlcat/sqlcattest"
	"glimpse/internal/config"
	"glimpse/internal/image"
	"glimpse/internal/server"
)

// harness is one glimpse server on its own catalog, served over loopback.
type harness struct {
	ts     *httptest.Server
	noauth bool
	conn   string     // the catalog's [database] connection
	back   *sqlcat.DB // second handle on the catalog, for states the API cannot reach
}

// onServer reports whether the tests run on a database server.
func onServer() bool {
	b := os.Getenv("GLIMPSE_TEST_CATALOG")
	return b != "" && b != "sqlite"
}

// wholeSeconds reports whether the tests run on MariaDB/MySQL, whose Glance
// tables keep whole seconds and compare text without case.
func wholeSeconds() bool { return os.Getenv("GLIMPSE_TEST_CATALOG") == "mysql" }

// nextTaskSecond waits, on MariaDB, until a new second begins, so that a
// task created next sorts after the earlier ones: in whole seconds two
// tasks of one second tie, and their random ids decide.
func nextTaskSecond() {
	if wholeSeconds() {
		now := time.Now()
		time.Sleep(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now))
	}
}

// testCatalog is the database the API tests run on: SQLite unless
// GLIMPSE_TEST_CATALOG names a server (postgresql or mysql), on which each
// harness gets a fresh database.
func testCatalog(t *testing.T, cfg *config.Config) {
	t.Helper()
	if onServer() {
		cfg.Database.Connection = sqlcattest.FreshURL(t, os.Getenv("GLIMPSE_TEST_CATALOG"))
	}
}

// newHarness starts a server in unauthenticated mode (every caller is an
// admin without roles) or, with noauth, in the header-trusting mode.
// configure may adjust the configuration first.
func newHarness(t *testing.T, noauth bool, configure func(*config.Config)) *harness {
	t.Helper()
	cfg := config.Default()
	cfg.Glimpse.DataDir = t.TempDir()
	if noauth {
		cfg.PasteDeploy.Flavor = "noauth"
	}
	testCatalog(t, cfg)
	if configure != nil {
		configure(cfg)
	}
	ctx := context.Background()
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	h := &harness{ts: httptest.NewServer(srv.Handler()), noauth: noauth, conn: server.CatalogURL(cfg)}
	t.Cleanup(func() {
		h.ts.Close()
		if h.back != nil {
			h.back.Close()
		}
		srv.Close()
	})
	return h
}

// setImage changes an image behind the API's back (status, size, …), the
// way an upload would.
func (h *harness) setImage(t *testing.T, id string, change func(img *image.Image)) {
	t.Helper()
	ctx := context.Background()
	old, err := h.catalog(t).GetImage(ctx, id)
	if err != nil {
		t.Fatalf("GetImage %s: %v", id, err)
	}
	img := old.Clone()
	change(img)
	if err := h.back.UpdateImage(ctx, old, img); err != nil {
		t.Fatalf("UpdateImage %s: %v", id, err)
	}
}

// catalog is a second handle on the harness's catalog, opened on first use.
func (h *harness) catalog(t *testing.T) *sqlcat.DB {
	t.Helper()
	if h.back == nil {
		db, err := sqlcat.OpenURL(context.Background(), h.conn, sqlcat.Options{})
		if err != nil {
			t.Fatalf("open catalog: %v", err)
		}
		h.back = db
	}
	return h.back
}

// client sends requests as one caller.
type client struct {
	h      *harness
	header map[string]string
}

// admin is the unauthenticated admin, or in noauth mode a caller with the
// admin role and no project.
func (h *harness) admin() *client {
	if !h.noauth {
		return &client{h: h, header: map[string]string{}}
	}
	return h.as("", "admin")
}

// as is a noauth caller of project (none when empty) with roles.
func (h *harness) as(project, roles string) *client {
	hd := map[string]string{"X-Identity-Status": "Confirmed"}
	if project != "" {
		hd["X-Project-Id"] = project
	}
	if roles != "" {
		hd["X-Roles"] = roles
	}
	return &client{h: h, header: hd}
}

// response is a buffered HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request. body "" sends none. hdr are header name/value
// pairs ("Host" sets the request's host); an empty value removes the
// header. Accept defaults to
// application/json so error bodies can be read.
func (c *client) do(t *testing.T, method, path, body string, hdr ...string) *response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.h.ts.URL+path, rd)
	if err != nil {
		t.Fatalf("NewRequest %s %s: %v", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := c.h.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// json sends v as a JSON body.
func (c *client) json(t *testing.T, method, path string, v any, hdr ...string) *response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return c.do(t, method, path, string(b), hdr...)
}

// patch sends a v2.1 JSON patch.
func (c *client) patch(t *testing.T, id string, ops ...map[string]any) *response {
	t.Helper()
	if ops == nil {
		ops = []map[string]any{}
	}
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return c.do(t, "PATCH", "/v2/images/"+id, string(b), "Content-Type", "application/openstack-images-v2.1-json-patch")
}

// want fails the test unless the response has status.
func (r *response) want(t *testing.T, what string, status int) *response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: got status %d, want %d; body %s", what, r.Status, status, r.Body)
	}
	return r
}

// object decodes a JSON object body (numbers as float64).
func (r *response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("decoding %q: %v", r.Body, err)
	}
	return m
}

// errorText splits a JSON error body into the explanation and the detail
// line webob renders as "explanation<br /><br />\ndetail\n\n".
func (r *response) errorText(t *testing.T) (explanation, detail string) {
	t.Helper()
	var e struct {
		Message string `json:"message"`
		Code    string `json:"code"`
		Title   string `json:"title"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("decoding error body %q: %v", r.Body, err)
	}
	if want := strconv.Itoa(r.Status) + " " + e.Title; e.Code != want || e.Title == "" {
		t.Errorf("error code %q, title %q: want code %q", e.Code, e.Title, want)
	}
	explanation, rest, ok := strings.Cut(e.Message, "<br /><br />\n")
	if !ok {
		t.Fatalf("error message %q lacks webob's separator", e.Message)
	}
	detail, ok = strings.CutSuffix(rest, "\n\n")
	if !ok {
		t.Fatalf("error message %q does not end as webob's template does", e.Message)
	}
	return explanation, strings.TrimSuffix(detail, "\n")
}

// wantError checks status and Glance's wording of an error.
func (r *response) wantError(t *testing.T, what string, status int, explanation, detail string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: got status %d, want %d; body %s", what, r.Status, status, r.Body)
		return
	}
	gotE, gotD := r.errorText(t)
	// Schema violations end with the refused attribute and value; cases
	// that do not spell that tail out check the reason alone.
	if strings.HasPrefix(explanation, "Provided object does not match schema") && !strings.Contains(explanation, "\n\nOn instance[") {
		reason, tail, found := strings.Cut(gotE, "\n\nOn instance[")
		if !found || tail == "" {
			t.Errorf("%s: message %q does not name the refused attribute", what, gotE)
		}
		gotE = reason
	}
	if gotE != explanation {
		t.Errorf("%s: got message %q, want %q", what, gotE, explanation)
	}
	if gotD != detail {
		t.Errorf("%s: got detail %q, want %q", what, gotD, detail)
	}
}

// createImage creates an image and returns its JSON.
func (c *client) createImage(t *testing.T, attrs map[string]any) map[string]any {
	t.Helper()
	if attrs == nil {
		attrs = map[string]any{}
	}
	return c.json(t, "POST", "/v2/images", attrs).want(t, "create image", http.StatusCreated).object(t)
}

// getRaw returns an image's JSON bytes as the admin sees them.
func (h *harness) getRaw(t *testing.T, id string) []byte {
	t.Helper()
	return h.admin().do(t, "GET", "/v2/images/"+id, "").want(t, "GET image "+id, http.StatusOK).Body
}

// catalogState is every image the admin can list (hidden or not, any
// visibility), as raw JSON: equal states mean nothing was created, changed
// or deleted.
func (h *harness) catalogState(t *testing.T) []byte {
	t.Helper()
	var all bytes.Buffer
	for _, q := range []string{"os_hidden=false", "os_hidden=true"} {
		r := h.admin().do(t, "GET", "/v2/images?visibility=all&limit=1000&sort=id:asc&"+q, "")
		all.Write(r.want(t, "list all images", http.StatusOK).Body)
	}
	return all.Bytes()
}

// listIDs returns the ids on one page of GET /v2/images?query.
func (c *client) listIDs(t *testing.T, query string) []string {
	t.Helper()
	r := c.do(t, "GET", "/v2/images?"+query, "").want(t, "list "+query, http.StatusOK)
	var page struct {
		Images []struct {
			ID string `json:"id"`
		} `json:"images"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatalf("decoding list: %v", err)
	}
	ids := []string{}
	for _, img := range page.Images {
		ids = append(ids, img.ID)
	}
	return ids
}

// gophercloud returns an image service client that talks to the harness
// as c.
func (c *client) gophercloud() *gophercloud.ServiceClient {
	pc := &gophercloud.ProviderClient{HTTPClient: *c.h.ts.Client()}
	more := map[string]string{}
	for k, v := range c.header {
		more[k] = v
	}
	return &gophercloud.ServiceClient{
		ProviderClient: pc,
		Endpoint:       c.h.ts.URL + "/",
		ResourceBase:   c.h.ts.URL + "/v2/",
		MoreHeaders:    more,
	}
}
