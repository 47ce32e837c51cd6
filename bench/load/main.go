// Command load is an HTTP load benchmark for the Images v2 metadata API.
//
// It either starts a fresh glimpse binary for every run (-binary) or drives
// an already running service such as a real Glance (-url), and prints the
// median of the runs for each figure plus the per-run raw figures. It never
// judges the figures: goals and reference numbers live in bench/README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"glimpse/bench/internal/launch"
	"glimpse/bench/internal/loadgen"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// Bounds that keep every loop finite in count and time whatever the flags.
const (
	maxOpsPerPhase = 2_000_000        // requests per timed phase
	minListSamples = 200              // list latency needs enough samples for a p99
	listOvertime   = time.Minute      // a slow service may take this long past -duration to reach minListSamples
	fillTimeout    = 30 * time.Minute // filling 10,000 images into Glance at ~95/s takes ~2 min
	readyTimeout   = 30 * time.Second // started binary must answer GET /versions by then
	stopTimeout    = 10 * time.Second // SIGTERM grace before SIGKILL
	requestTimeout = 60 * time.Second
	concurrency    = 16
)

type config struct {
	binary   string
	baseURL  string
	pid      int
	runs     int
	images   int
	duration time.Duration
	json     bool

	db        string // catalog of a started binary: sqlite, postgresql or mysql
	dbURL     string // a database on the -db server; each run creates its own beside it
	dbVersion string // what the -db server reports, for the output
}

// figures are one run's results. Float fields are medianed across runs by
// reflection, so every float64 here must be a figure.
type figures struct {
	Images         int            `json:"images"`
	Errors         int            `json:"errors"`
	IdleRSSMiB     float64        `json:"idle_rss_mib"`
	CreatesC1      float64        `json:"creates_per_s_c1"`
	CreatesC16     float64        `json:"creates_per_s_c16"`
	ListP50Ms      float64        `json:"list_p50_ms"`
	ListP99Ms      float64        `json:"list_p99_ms"`
	ListNameP50Ms  float64        `json:"list_name_p50_ms"`
	ListNameP99Ms  float64        `json:"list_name_p99_ms"`
	ListTagP50Ms   float64        `json:"list_tag_p50_ms"`
	ListTagP99Ms   float64        `json:"list_tag_p99_ms"`
	GetsPerS       float64        `json:"gets_per_s_c16"`
	GetP50Ms       float64        `json:"get_p50_ms"`
	GetP99Ms       float64        `json:"get_p99_ms"`
	RSSAfterMiB    float64        `json:"rss_after_mib"`
	RSSMeasured    bool           `json:"rss_measured"`
	ErrorsByPhase  map[string]int `json:"errors_by_phase,omitempty"`
	FirstErrorText string         `json:"first_error,omitempty"`
}

func main() {
	var cfg config
	flag.StringVar(&cfg.binary, "binary", "", "glimpse binary to start fresh for every run")
	flag.StringVar(&cfg.baseURL, "url", "", "base URL of an already running service (loopback only)")
	flag.IntVar(&cfg.pid, "pid", 0, "PID of the -url service, for RSS (children are included)")
	flag.IntVar(&cfg.runs, "runs", 3, "repetitions; the median of each figure is reported")
	flag.IntVar(&cfg.images, "images", 10000, "images in the service before the list and get phases")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of each timed phase")
	flag.BoolVar(&cfg.json, "json", false, "print machine-readable JSON instead of a table")
	flag.StringVar(&cfg.db, "db", dbSQLite, "catalog of the -binary instances: sqlite (a file in the data dir), or postgresql or mysql (a fresh database per run on the server of -db-url)")
	flag.StringVar(&cfg.dbURL, "db-url", "", "for -db postgresql or mysql: URL of any database on that server, as [database] connection takes it (default $GLIMPSE_PG_URL or $GLIMPSE_MYSQL_URL)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if (cfg.binary == "") == (cfg.baseURL == "") {
		return errors.New("give exactly one of -binary or -url")
	}
	if cfg.runs < 1 || cfg.runs > 100 || cfg.images < 100 || cfg.duration <= 0 {
		return errors.New("need 1 <= -runs <= 100, -images >= 100 and -duration > 0")
	}
	if cfg.baseURL != "" {
		cfg.baseURL = strings.TrimRight(cfg.baseURL, "/")
		if err := launch.CheckLoopback(cfg.baseURL, "-url"); err != nil {
			return err
		}
	}
	version, err := checkDB(ctx, &cfg)
	if err != nil {
		return err
	}
	cfg.dbVersion = version
	if cfg.binary != "" {
		logf("database: %s", database(cfg))
	}

	b := newBench(cfg.duration)
	var runs []figures
	var warnings []string
	for i := range cfg.runs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		logf("run %d/%d", i+1, cfg.runs)
		var f figures
		var err error
		if cfg.binary != "" {
			f, err = runFresh(ctx, b, cfg)
		} else {
			// The same service is reused, so earlier runs' images count
			// towards -images and names keep counting up.
			f, err = b.runPhases(ctx, cfg.baseURL, cfg.pid, cfg.images)
		}
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		runs = append(runs, f)
	}
	warnings = b.warnings()

	med := median(runs)
	if cfg.json {
		out := struct {
			Runs        int       `json:"runs"`
			Images      int       `json:"images"`
			DurationSec float64   `json:"duration_s"`
			Target      string    `json:"target"`
			Database    string    `json:"database,omitempty"`
			Median      figures   `json:"median"`
			PerRun      []figures `json:"per_run"`
			Warnings    []string  `json:"warnings,omitempty"`
		}{cfg.runs, cfg.images, cfg.duration.Seconds(), target(cfg), database(cfg), med, runs, warnings}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printTable(os.Stdout, cfg, med, runs, warnings)
	return nil
}

func target(cfg config) string {
	if cfg.binary != "" {
		return "binary " + cfg.binary
	}
	return "url " + cfg.baseURL
}

// database says which catalog database a started binary's figures are
// for; empty for a -url service, whose database the tool does not know.
func database(cfg config) string {
	switch {
	case cfg.binary == "":
		return ""
	case cfg.db == "" || cfg.db == dbSQLite:
		return "sqlite, a file in each run's data dir"
	}
	return fmt.Sprintf("%s, a fresh database per run on %s (%s)", cfg.db, redactURL(cfg.dbURL), cfg.dbVersion)
}

// runFresh starts a new glimpse instance with an empty data dir (and for
// -db postgresql or mysql, an empty database of its own on that server),
// runs the phases against it and always stops it, removes the dir and
// drops the database.
func runFresh(ctx context.Context, b *bench, cfg config) (figures, error) {
	root, err := os.MkdirTemp("", "glimpse-bench-")
	if err != nil {
		return figures{}, err
	}
	defer os.RemoveAll(root)
	dataDir := filepath.Join(root, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return figures{}, err
	}
	// The server's output goes beside, not into, its data dir.
	logFile, err := os.Create(filepath.Join(root, "server.log"))
	if err != nil {
		return figures{}, err
	}
	defer logFile.Close()

	addr, err := launch.FreeLoopbackAddr()
	if err != nil {
		return figures{}, err
	}
	args := []string{"serve", "--data-dir", dataDir, "--listen", addr}
	if cfg.db != "" && cfg.db != dbSQLite {
		conn, drop, err := freshDatabase(ctx, cfg.dbURL)
		if err != nil {
			return figures{}, err
		}
		// Deferred before the server's stop, so it runs after it: a
		// database with open connections cannot be dropped.
		defer func() {
			if err := drop(); err != nil {
				b.warn(err.Error())
			}
		}()
		logf("fresh database %s", redactURL(conn))
		conf, err := writeDBConfig(root, conn)
		if err != nil {
			return figures{}, err
		}
		args = append(args, "--config", conf)
	}
	cmd := exec.Command(cfg.binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return figures{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stopServer(cmd, exited)

	base := "http://" + addr
	if err := launch.WaitReady(ctx, b.client, base, exited, readyTimeout); err != nil {
		return figures{}, fmt.Errorf("%w; server log:\n%s", err, loadgen.Tail(filepath.Join(root, "server.log"), 2000))
	}
	b.resetIDs() // fresh instance: no images yet
	f, err := b.runPhases(ctx, base, cmd.Process.Pid, cfg.images)
	if f.Errors > 0 {
		// The log goes with the temp dir; what the server said about
		// the failures is shown before that.
		logf("%d requests failed; server log (last 4000 bytes):\n%s", f.Errors, loadgen.Tail(filepath.Join(root, "server.log"), 4000))
	}
	return f, err
}

// stopServer stops a server this tool started.
func stopServer(cmd *exec.Cmd, exited <-chan error) {
	launch.Stop(cmd, exited, stopTimeout, logf)
}

// bench holds what is shared by all runs: the HTTP client and the images
// created so far on the current service.
type bench struct {
	client   *http.Client
	duration time.Duration

	mu     sync.Mutex
	ids    []string
	nextN  int
	warned map[string]bool
	warns  []string
}

func newBench(d time.Duration) *bench {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never route through an environment proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64, // above the concurrency so connections are reused, not re-dialled
		IdleConnTimeout:     90 * time.Second,
	}
	return &bench{
		client:   &http.Client{Transport: tr, Timeout: requestTimeout},
		duration: d,
		warned:   map[string]bool{},
	}
}

func (b *bench) resetIDs() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ids, b.nextN = nil, 0
	b.client.Transport.(*http.Transport).CloseIdleConnections()
}

func (b *bench) warn(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.warned[msg] {
		b.warned[msg] = true
		b.warns = append(b.warns, msg)
		logf("warning: %s", msg)
	}
}

func (b *bench) warnings() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.warns)
}

// do sends one request and reads the whole body, so the measured latency
// includes transferring the response and the connection can be reused.
func (b *bench) do(ctx context.Context, method, u string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// runPhases runs phases a–e against one service.
func (b *bench) runPhases(ctx context.Context, base string, pid, images int) (figures, error) {
	f := figures{ErrorsByPhase: map[string]int{}, RSSMeasured: pid > 0}
	note := func(phase string, r loadgen.Result) {
		if r.Errs > 0 {
			f.ErrorsByPhase[phase] += r.Errs
			f.Errors += r.Errs
			if f.FirstErrorText == "" {
				f.FirstErrorText = phase + ": " + r.FirstErr
			}
		}
	}

	// a. idle RSS
	sleepCtx(ctx, time.Second)
	if pid > 0 {
		f.IdleRSSMiB = rssMiB(pid)
	}

	// b. creates at concurrency 1 and 16
	// The limit leaves room for in-flight requests to finish, so that no
	// request is cut off and every created image is remembered.
	long := loadgen.Phase{Dur: b.duration, Limit: b.duration + requestTimeout, MaxOps: maxOpsPerPhase}
	for _, c := range []int{1, concurrency} {
		spec := long
		spec.Conc = c
		logf("creates at concurrency %d for %s", c, b.duration)
		r := loadgen.Run(ctx, spec, b.createOp(base))
		note(fmt.Sprintf("create c%d", c), r)
		if c == 1 {
			f.CreatesC1 = r.Rate()
		} else {
			f.CreatesC16 = r.Rate()
		}
	}

	// c. fill, then list latency unfiltered, by name and by tag. A service
	// that created nothing so far would only time out request after request.
	if b.idCount() == 0 {
		return f, fmt.Errorf("no image could be created (%s)", f.FirstErrorText)
	}
	if need := images - b.idCount(); need > 0 {
		logf("filling %d images", need)
		r := loadgen.Run(ctx, loadgen.Phase{Conc: concurrency, Dur: fillTimeout, Limit: fillTimeout, MaxOps: need}, b.createOp(base))
		note("fill", r)
	}
	if surplus := b.idCount() - images; surplus > 0 {
		// The create phases may make more images than asked for; the
		// list and GET figures are for exactly that many live images.
		logf("deleting the %d oldest images, to leave %d", surplus, images)
		r := loadgen.Run(ctx, loadgen.Phase{Conc: concurrency, Dur: fillTimeout, Limit: fillTimeout, MaxOps: surplus}, b.deleteOp(base))
		note("trim", r)
	}
	f.Images = b.idCount()
	if f.Images == 0 {
		return f, fmt.Errorf("no image could be created (%s)", f.FirstErrorText)
	}
	b.checkListPage(ctx, base)
	listSpec := loadgen.Phase{Conc: 1, Dur: b.duration, MinOps: minListSamples, Limit: b.duration + listOvertime, MaxOps: maxOpsPerPhase}
	for _, q := range []struct {
		name     string
		query    string
		p50, p99 *float64
	}{
		{"list", "limit=100", &f.ListP50Ms, &f.ListP99Ms},
		{"list name=", "limit=100&name=bench-77", &f.ListNameP50Ms, &f.ListNameP99Ms},
		{"list tag=", "limit=100&tag=t3", &f.ListTagP50Ms, &f.ListTagP99Ms},
	} {
		logf("%s for %s", q.name, b.duration)
		r := loadgen.Run(ctx, listSpec, b.getOp(base+"/v2/images?"+q.query))
		note(q.name, r)
		if r.OK < minListSamples {
			b.warn(fmt.Sprintf("%s: only %d successful requests within %s; its p99 is rough", q.name, r.OK, listSpec.Limit))
		}
		*q.p50, *q.p99 = loadgen.Ms(loadgen.Percentile(r.Lat, 50)), loadgen.Ms(loadgen.Percentile(r.Lat, 99))
	}

	// d. GET by id over random created images
	ids := b.idSnapshot()
	getSpec := long
	getSpec.Conc = concurrency
	logf("gets at concurrency %d for %s", concurrency, b.duration)
	r := loadgen.Run(ctx, getSpec, func(ctx context.Context) error {
		return b.expect(ctx, http.MethodGet, base+"/v2/images/"+ids[rand.IntN(len(ids))], nil, http.StatusOK, nil)
	})
	note("get", r)
	f.GetsPerS, f.GetP50Ms, f.GetP99Ms = r.Rate(), loadgen.Ms(loadgen.Percentile(r.Lat, 50)), loadgen.Ms(loadgen.Percentile(r.Lat, 99))

	// e. RSS after load
	if pid > 0 {
		f.RSSAfterMiB = rssMiB(pid)
	}
	return f, ctx.Err()
}

// createOp returns an operation that creates the next "bench-<n>" image
// and remembers its id for the get phase.
func (b *bench) createOp(base string) func(context.Context) error {
	return func(ctx context.Context) error {
		b.mu.Lock()
		n := b.nextN
		b.nextN++
		b.mu.Unlock()
		body, _ := json.Marshal(map[string]any{
			"name":             fmt.Sprintf("bench-%d", n),
			"disk_format":      "qcow2",
			"container_format": "bare",
			"visibility":       "private",
			"tags":             []string{"bench", fmt.Sprintf("t%d", n%10)},
			"os_distro":        "debian",
			"hw_disk_bus":      "virtio",
		})
		return b.expect(ctx, http.MethodPost, base+"/v2/images", body, http.StatusCreated, func(resp []byte) error {
			var img struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(resp, &img); err != nil || img.ID == "" {
				return fmt.Errorf("201 without an image id: %.200s", resp)
			}
			b.mu.Lock()
			b.ids = append(b.ids, img.ID)
			b.mu.Unlock()
			return nil
		})
	}
}

// deleteOp deletes the oldest image it has not yet taken, so that the
// deleted rows lie behind the pages the list phases read.
func (b *bench) deleteOp(base string) func(context.Context) error {
	return func(ctx context.Context) error {
		b.mu.Lock()
		if len(b.ids) == 0 {
			b.mu.Unlock()
			return errors.New("no image left to delete")
		}
		id := b.ids[0]
		b.ids = b.ids[1:]
		b.mu.Unlock()
		return b.expect(ctx, http.MethodDelete, base+"/v2/images/"+id, nil, http.StatusNoContent, nil)
	}
}

func (b *bench) getOp(u string) func(context.Context) error {
	return func(ctx context.Context) error {
		return b.expect(ctx, http.MethodGet, u, nil, http.StatusOK, nil)
	}
}

// expect sends a request and turns any status other than want into an error.
func (b *bench) expect(ctx context.Context, method, u string, body []byte, want int, check func([]byte) error) error {
	status, resp, err := b.do(ctx, method, u, body)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.200s", method, u, status, want, resp)
	}
	if check != nil {
		return check(resp)
	}
	return nil
}

// checkListPage verifies once per run that an unfiltered page is full and
// links to the next one; a short page would make the list figures look
// better than they are.
func (b *bench) checkListPage(ctx context.Context, base string) {
	status, data, err := b.do(ctx, http.MethodGet, base+"/v2/images?limit=100", nil)
	if err != nil || status != http.StatusOK {
		b.warn(fmt.Sprintf("GET /v2/images?limit=100: status %d, error %v", status, err))
		return
	}
	var page struct {
		Images []json.RawMessage `json:"images"`
		Next   string            `json:"next"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		b.warn(fmt.Sprintf("GET /v2/images?limit=100: bad JSON: %v", err))
		return
	}
	if len(page.Images) != 100 || page.Next == "" {
		b.warn(fmt.Sprintf("GET /v2/images?limit=100 returned %d images and next=%q; want 100 and a next link", len(page.Images), page.Next))
	}
}

func (b *bench) idCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.ids)
}

func (b *bench) idSnapshot() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.ids)
}

// median takes the median of every float64 figure and sums the error counts,
// since one failing run matters even when the others were clean.
func median(runs []figures) figures {
	out := figures{ErrorsByPhase: map[string]int{}, RSSMeasured: len(runs) > 0 && runs[0].RSSMeasured}
	ov := reflect.ValueOf(&out).Elem()
	for i := range ov.NumField() {
		if ov.Field(i).Kind() != reflect.Float64 {
			continue
		}
		vals := make([]float64, len(runs))
		for j := range runs {
			vals[j] = reflect.ValueOf(runs[j]).Field(i).Float()
		}
		ov.Field(i).SetFloat(loadgen.Median(vals))
	}
	var imgs []float64
	for _, r := range runs {
		out.Errors += r.Errors
		for k, v := range r.ErrorsByPhase {
			out.ErrorsByPhase[k] += v
		}
		if out.FirstErrorText == "" {
			out.FirstErrorText = r.FirstErrorText
		}
		imgs = append(imgs, float64(r.Images))
	}
	out.Images = int(loadgen.Median(imgs))
	return out
}

// rssMiB sums VmRSS of pid and its descendants: glimpse is one process,
// but Glance forks API workers and comparing one of them would flatter it.
func rssMiB(pid int) float64 {
	parents := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces; fields after its ")" are fixed.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		if fs := strings.Fields(rest); len(fs) > 2 {
			if ppid, err := strconv.Atoi(fs[1]); err == nil {
				parents[ppid] = append(parents[ppid], child)
			}
		}
	}
	var kb int
	queue := []int{pid}
	for i := 0; i < len(queue) && i < 10000; i++ {
		kb += vmRSSkB(queue[i])
		queue = append(queue, parents[queue[i]]...)
	}
	return float64(kb) / 1024
}

func vmRSSkB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if fs := strings.Fields(rest); len(fs) > 0 {
				n, _ := strconv.Atoi(fs[0])
				return n
			}
		}
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func printTable(w io.Writer, cfg config, med figures, runs []figures, warnings []string) {
	fmt.Fprintf(w, "glimpse load benchmark (median of %d runs, %d images, %s per phase, %s)\n",
		len(runs), cfg.images, cfg.duration, target(cfg))
	if db := database(cfg); db != "" {
		fmt.Fprintf(w, "database: %s\n", db)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := fmt.Sprintf("%-26s\t", "figure") + "median\t"
	for i := range runs {
		header += fmt.Sprintf("run %d\t", i+1)
	}
	fmt.Fprintln(tw, header)
	rss := func(v float64) string {
		if !med.RSSMeasured {
			return "n/a"
		}
		return fmt.Sprintf("%.1f", v)
	}
	rows := []struct {
		name string
		get  func(figures) string
	}{
		{"creates/s c1", func(f figures) string { return fmt.Sprintf("%.0f", f.CreatesC1) }},
		{"creates/s c16", func(f figures) string { return fmt.Sprintf("%.0f", f.CreatesC16) }},
		{"list p50 ms", func(f figures) string { return fmt.Sprintf("%.2f", f.ListP50Ms) }},
		{"list p99 ms", func(f figures) string { return fmt.Sprintf("%.2f", f.ListP99Ms) }},
		{"list name= p50 ms", func(f figures) string { return fmt.Sprintf("%.2f", f.ListNameP50Ms) }},
		{"list name= p99 ms", func(f figures) string { return fmt.Sprintf("%.2f", f.ListNameP99Ms) }},
		{"list tag= p50 ms", func(f figures) string { return fmt.Sprintf("%.2f", f.ListTagP50Ms) }},
		{"list tag= p99 ms", func(f figures) string { return fmt.Sprintf("%.2f", f.ListTagP99Ms) }},
		{"get/s c16", func(f figures) string { return fmt.Sprintf("%.0f", f.GetsPerS) }},
		{"get p50 ms", func(f figures) string { return fmt.Sprintf("%.2f", f.GetP50Ms) }},
		{"get p99 ms", func(f figures) string { return fmt.Sprintf("%.2f", f.GetP99Ms) }},
		{"idle RSS MiB", func(f figures) string { return rss(f.IdleRSSMiB) }},
		{"RSS after MiB", func(f figures) string { return rss(f.RSSAfterMiB) }},
		{"images", func(f figures) string { return strconv.Itoa(f.Images) }},
		{"errors (median col: sum)", func(f figures) string { return strconv.Itoa(f.Errors) }},
	}
	for _, row := range rows {
		// Names are padded here because the table aligns cells right.
		line := fmt.Sprintf("%-26s\t", row.name) + row.get(med) + "\t"
		for _, r := range runs {
			line += row.get(r) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	if med.Errors > 0 {
		phases := make([]string, 0, len(med.ErrorsByPhase))
		for k, v := range med.ErrorsByPhase {
			phases = append(phases, fmt.Sprintf("%s: %d", k, v))
		}
		slices.Sort(phases)
		fmt.Fprintf(w, "errors by phase: %s\nfirst error: %s\n", strings.Join(phases, ", "), med.FirstErrorText)
	}
	for _, msg := range warnings {
		fmt.Fprintln(w, "warning:", msg)
	}
}
