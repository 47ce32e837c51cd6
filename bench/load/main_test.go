package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeEnv makes the test binary act as a tiny Images API server, so that
// the -binary path (start, readiness, SIGTERM, phases) is exercised without
// a real glimpse build.
const fakeEnv = "GLIMPSE_BENCH_FAKE_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) == "1" {
		os.Exit(fakeServe(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeServe answers the shapes the benchmark relies on, nothing more.
func fakeServe(args []string) int {
	if len(args) == 0 || args[0] != "serve" {
		return 2
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.String("data-dir", "", "")
	listen := fs.String("listen", "", "")
	if fs.Parse(args[1:]) != nil {
		return 2
	}
	type image struct {
		ID   string   `json:"id"`
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	var mu sync.Mutex
	var images []image // newest last
	byID := map[string]image{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /versions", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"versions":[{"id":"v2.16","status":"CURRENT"}]}`)
	})
	mux.HandleFunc("POST /v2/images", func(w http.ResponseWriter, r *http.Request) {
		var img image
		if json.NewDecoder(r.Body).Decode(&img) != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		img.ID = rand.Text()
		mu.Lock()
		images = append(images, img)
		byID[img.ID] = img
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(img)
	})
	mux.HandleFunc("GET /v2/images", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		var page []image
		mu.Lock()
		for i := len(images) - 1; i >= 0 && len(page) < limit; i-- {
			img := images[i]
			if (q.Has("name") && img.Name != q.Get("name")) || (q.Has("tag") && !slices.Contains(img.Tags, q.Get("tag"))) {
				continue
			}
			page = append(page, img)
		}
		mu.Unlock()
		out := map[string]any{"images": page}
		if len(page) == limit {
			out["next"] = "/v2/images?marker=" + page[len(page)-1].ID
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /v2/images/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		img, ok := byID[r.PathValue("id")]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(img)
	})
	mux.HandleFunc("DELETE /v2/images/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id := r.PathValue("id")
		if _, ok := byID[id]; !ok {
			http.NotFound(w, r)
			return
		}
		delete(byID, id)
		images = slices.DeleteFunc(images, func(img image) bool { return img.ID == id })
		w.WriteHeader(http.StatusNoContent)
	})
	if err := http.ListenAndServe(*listen, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestMedian(t *testing.T) {
	runs := []figures{
		{CreatesC16: 100, GetP99Ms: 9, Errors: 1, ErrorsByPhase: map[string]int{"get": 1}},
		{CreatesC16: 300, GetP99Ms: 1},
		{CreatesC16: 200, GetP99Ms: 5, Errors: 2, ErrorsByPhase: map[string]int{"get": 2}},
	}
	m := median(runs)
	if m.CreatesC16 != 200 || m.GetP99Ms != 5 {
		t.Errorf("median figures = %+v", m)
	}
	if m.Errors != 3 || m.ErrorsByPhase["get"] != 3 {
		t.Errorf("errors should be summed, got %d %v", m.Errors, m.ErrorsByPhase)
	}
}

// TestFreshRunAgainstFake runs every phase through the -binary path with
// the test binary standing in for glimpse.
func TestFreshRunAgainstFake(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs timed phases")
	}
	t.Setenv(fakeEnv, "1")
	cfg := config{binary: os.Args[0], images: 300, duration: 100 * time.Millisecond}
	b := newBench(cfg.duration)
	f, err := runFresh(context.Background(), b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.Errors != 0 || len(b.warnings()) != 0 {
		t.Fatalf("errors %v (%s), warnings %v", f.ErrorsByPhase, f.FirstErrorText, b.warnings())
	}
	if f.Images != cfg.images || f.CreatesC1 <= 0 || f.CreatesC16 <= 0 || f.GetsPerS <= 0 {
		t.Errorf("implausible figures: %+v", f)
	}
	if f.ListP50Ms <= 0 || f.ListP99Ms < f.ListP50Ms || f.ListTagP50Ms <= 0 || f.ListNameP50Ms <= 0 {
		t.Errorf("implausible list latencies: %+v", f)
	}
	if !f.RSSMeasured || f.IdleRSSMiB <= 0 || f.RSSAfterMiB <= 0 {
		t.Errorf("RSS not measured: %+v", f)
	}
}
