package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"glimpse/internal/catalog/sqlcat"
)

// fakeEnv makes the test binary act as a tiny Images API server, so that
// the -binary path (start, readiness, SIGTERM, phases) is exercised without
// a real glimpse build.
const fakeEnv = "GLIMPSE_BENCH_FAKE_SERVER"

// fakeRecordEnv names a file the fake server writes the [database]
// connection of its --config file into, after it reached that database.
const fakeRecordEnv = "GLIMPSE_BENCH_FAKE_RECORD"

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
	conf := fs.String("config", "", "")
	if fs.Parse(args[1:]) != nil || fs.NArg() > 0 {
		return 2
	}
	if *conf != "" {
		if err := fakeUseDatabase(*conf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
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

// fakeUseDatabase reads [database] connection from the config file,
// writes a table into that database, as glimpse would its schema, and
// records the URL for the test.
func fakeUseDatabase(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var conn string
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connection = "); ok {
			conn = v
		}
	}
	if !strings.HasPrefix(string(data), "[database]\n") || conn == "" {
		return fmt.Errorf("config file without [database] connection: %q", data)
	}
	db, _, err := sqlcat.OpenRaw(conn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE images (id VARCHAR(36) PRIMARY KEY)"); err != nil {
		return fmt.Errorf("%s: %w", conn, err)
	}
	return os.WriteFile(os.Getenv(fakeRecordEnv), []byte(conn), 0o600)
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

// TestFreshRunOnServer runs the -binary path with -db postgresql and
// mysql: each run's server must be handed a config file naming a new,
// empty database of its own on that server, which must be gone after the
// run.
func TestFreshRunOnServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs timed phases")
	}
	for _, db := range []string{dbPostgreSQL, dbMySQL} {
		t.Run(db, func(t *testing.T) {
			serverURL := os.Getenv(dbServerEnv[db])
			if serverURL == "" {
				if os.Getenv("GLIMPSE_REQUIRE_BACKENDS") == "1" {
					t.Fatalf("%s is not set and GLIMPSE_REQUIRE_BACKENDS=1", dbServerEnv[db])
				}
				t.Skipf("%s is not set: no %s server (scripts/db/start.sh starts one)", dbServerEnv[db], db)
			}
			t.Setenv(fakeEnv, "1")
			record := t.TempDir() + "/conn"
			t.Setenv(fakeRecordEnv, record)
			cfg := config{binary: os.Args[0], images: 100, duration: 50 * time.Millisecond, db: db}
			ctx := context.Background()
			if _, err := checkDB(ctx, &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.dbURL != serverURL {
				t.Errorf("-db-url from the environment: got %q, want %q", cfg.dbURL, serverURL)
			}
			b := newBench(cfg.duration)
			f, err := runFresh(ctx, b, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if f.Errors != 0 || len(b.warnings()) != 0 {
				t.Fatalf("errors %v (%s), warnings %v", f.ErrorsByPhase, f.FirstErrorText, b.warnings())
			}
			data, err := os.ReadFile(record)
			if err != nil {
				t.Fatalf("the server was not given a database: %v", err)
			}
			got, err := url.Parse(string(data))
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimPrefix(got.Path, "/")
			if !strings.HasPrefix(name, "glance_bench_") || len(name) != len("glance_bench_")+12 {
				t.Errorf("database name: got %q, want glance_bench_<12 hex digits>", name)
			}
			want, _ := url.Parse(serverURL)
			want.Path = got.Path
			if got.String() != want.String() {
				t.Errorf("database URL: got %q, want %q", got, want)
			}
			admin, _, err := sqlcat.OpenRaw(serverURL)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			q := "SELECT COUNT(*) FROM pg_database WHERE datname = $1"
			if db == dbMySQL {
				q = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?"
			}
			var n int
			if err := admin.QueryRow(q, name).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("database %s still exists after the run", name)
			}
		})
	}
}

func TestCheckDB(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config
		want string
	}{
		{"unknown database", config{binary: "g", db: "oracle"}, `-db "oracle": want sqlite, postgresql or mysql`},
		{"url on sqlite", config{binary: "g", db: dbSQLite, dbURL: "mysql://u:p@127.0.0.1/glance"}, "-db-url needs -db postgresql or -db mysql"},
		{"server without binary", config{baseURL: "http://127.0.0.1:9292", db: dbPostgreSQL, dbURL: "postgresql://u:p@127.0.0.1/glance"}, "-db postgresql and -db mysql need -binary: a -url service has its own database"},
		{"remote server", config{binary: "g", db: dbMySQL, dbURL: "mysql+pymysql://u:p@192.0.2.1:3306/glance"}, "-db-url host 192.0.2.1 is not a loopback address"},
		{"wrong dialect", config{binary: "g", db: dbMySQL, dbURL: "postgresql://u:p@127.0.0.1:5432/glance"}, "-db-url postgresql://u:xxxxx@127.0.0.1:5432/glance is a postgresql URL, not mysql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkDB(context.Background(), &tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %s", err, tc.want)
			}
		})
	}
	t.Run("sqlite", func(t *testing.T) {
		cfg := config{binary: "g", db: dbSQLite}
		if _, err := checkDB(context.Background(), &cfg); err != nil {
			t.Errorf("got %v, want no error", err)
		}
	})
}
