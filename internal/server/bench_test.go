package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkShowImage measures GET /v2/images/{id} through the whole
// handler stack (middleware, identity, catalog, JSON).
func BenchmarkShowImage(b *testing.B) {
	h := newHandler(b, "")
	id := createOne(b, h)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", "/v2/images/"+id, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("GET = %d", w.Code)
			}
		}
	})
}

// BenchmarkCreateImage measures POST /v2/images with durable commits.
func BenchmarkCreateImage(b *testing.B) {
	h := newHandler(b, "")
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := do(h, "POST", "/v2/images", "application/json", `{"name":"b","disk_format":"qcow2","container_format":"bare","tags":["x","y"],"os_distro":"debian"}`)
			if w.Code != http.StatusCreated {
				b.Fatalf("POST = %d %s", w.Code, w.Body)
			}
		}
	})
}
