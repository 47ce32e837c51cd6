package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"glimpse/internal/config"
	"glimpse/internal/server"
)

// newHandler returns the real server over a fresh catalog.
func newHandler(t testing.TB, flavor string) http.Handler {
	t.Helper()
	cfg := config.Default()
	cfg.Glimpse.DataDir = t.TempDir()
	cfg.PasteDeploy.Flavor = flavor
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Handler()
}

func do(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	path, query, _ := strings.Cut(target, "?")
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	// Set the raw query after parsing the request line, as a server
	// receives any bytes a client sends there.
	r.URL.RawQuery = query
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func createOne(t testing.TB, h http.Handler) string {
	t.Helper()
	w := do(h, "POST", "/v2/images", "application/json", `{"name":"seed","disk_format":"raw","container_format":"bare","tags":["a"],"p":"v"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create = %d %s", w.Code, w.Body)
	}
	loc := w.Header().Get("Location")
	return loc[strings.LastIndex(loc, "/")+1:]
}

// Untrusted request bodies and query strings must never produce a 5xx.
func FuzzCreateBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x","tags":["a","a"],"k":"v"}`, `[]`, `"s"`, `null`, `{"min_ram":1e99}`,
		`{"id":"11111111-2222-3333-4444-555555555555"}`, `{"os_glance_x":"1"}`, `{"visibility":"community","protected":true}`,
		`{"kernel_id":null,"ramdisk_id":"x"}`, `{"name":"\u00e9\ud83d\ude00"}`, `{"min_disk":-0}`, `{"tags":[null]}`} {
		f.Add(s)
	}
	h := newHandler(f, "")
	f.Fuzz(func(t *testing.T, body string) {
		w := do(h, "POST", "/v2/images", "application/json", body)
		if w.Code >= 500 {
			t.Fatalf("POST /v2/images %q = %d %s", body, w.Code, w.Body)
		}
	})
}

func FuzzPatchBody(f *testing.F) {
	for _, s := range []string{`[{"op":"replace","path":"/name","value":"x"}]`, `[{"op":"add","path":"/k","value":"v"}]`,
		`[{"op":"remove","path":"/k"}]`, `[{"add":"/k","value":"v"}]`, `[{"op":"add","path":"/locations/-","value":{}}]`,
		`[{"op":"replace","path":"/tags","value":["a",1]}]`, `[{"op":"add","path":"/~01","value":"v"}]`, `{}`, `[1]`} {
		f.Add(s, true)
		f.Add(s, false)
	}
	h := newHandler(f, "")
	id := createOne(f, h)
	f.Fuzz(func(t *testing.T, body string, v21 bool) {
		mt := "application/openstack-images-v2.0-json-patch"
		if v21 {
			mt = "application/openstack-images-v2.1-json-patch"
		}
		w := do(h, "PATCH", "/v2/images/"+id, mt, body)
		if w.Code >= 500 {
			t.Fatalf("PATCH %q = %d %s", body, w.Code, w.Body)
		}
	})
}

func FuzzListQuery(f *testing.F) {
	for _, s := range []string{"limit=1", "sort=name:asc,status", "sort_key=name&sort_dir=asc&sort_dir=desc", "name=in:\"a,b\",c",
		"created_at=gt:2020-01-01T00:00:00Z", "size_min=-1&size_max=x", "tag=a&tag=b", "marker=x", "visibility=all&member_status=all",
		"os_hidden=TRUE", "min_ram_min=3", "foo=bar", "name=in:\"", "updated_at=neq:2020"} {
		f.Add(s)
	}
	h := newHandler(f, "")
	id := createOne(f, h)
	f.Fuzz(func(t *testing.T, q string) {
		for _, target := range []string{"/v2/images?" + q, "/v2/images?marker=" + id + "&" + q} {
			w := do(h, "GET", target, "", "")
			if w.Code >= 500 {
				t.Fatalf("GET %s = %d %s", target, w.Code, w.Body)
			}
		}
	})
}

// Identity headers are untrusted input in noauth mode too.
func FuzzNoAuthHeaders(f *testing.F) {
	f.Add("Confirmed", "proj", "member,admin", "req-1")
	f.Add("Confirmed", "", "", strings.Repeat("x", 80))
	f.Add("Invalid", "p", "reader", "")
	h := newHandler(f, "noauth")
	f.Fuzz(func(t *testing.T, status, project, roles, reqID string) {
		r := httptest.NewRequest("POST", "/v2/images", strings.NewReader(`{"name":"n"}`))
		for k, v := range map[string]string{"X-Identity-Status": status, "X-Project-Id": project, "X-Roles": roles, "X-Openstack-Request-Id": reqID} {
			if strings.ContainsAny(v, "\r\n\x00") {
				return
			}
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("POST with identity %q/%q/%q/%q = %d %s", status, project, roles, reqID, w.Code, w.Body)
		}
	})
}
