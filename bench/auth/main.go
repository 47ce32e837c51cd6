// Command auth measures what Keystone authentication costs glimpse.
//
// It starts a fresh glimpse binary for every measurement, once with
// [paste_deploy] flavor = noauth (identity taken from headers) and once
// with flavor = keystone against a real Keystone on loopback, and compares
// the GET /v2/images/{id} throughput of the two with a warm token cache.
// It then times the first request with each of a batch of fresh tokens,
// which glimpse must validate with Keystone. The modes alternate within
// every run and the ratio is taken per run, since on a small, shared
// machine only figures measured side by side compare. It never judges the
// figures: what they are read against lives in bench/README.md.
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
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Bounds that keep every loop finite in count and time whatever the flags.
const (
	maxOpsPerPhase   = 5_000_000        // requests per timed phase
	warmupPerWorker  = 5                // untimed requests per client before a timed phase
	readyTimeout     = 30 * time.Second // started binary must answer GET /versions by then
	stopTimeout      = 10 * time.Second // SIGTERM grace before SIGKILL
	requestTimeout   = 30 * time.Second // glimpse allows Keystone up to 30 s per request by default
	coldPhaseLimit   = 10 * time.Minute // all cold and warm requests of one run together
	tokenPhaseLimit  = 10 * time.Minute // issuing all fresh tokens of one run together
	maxRuns          = 100
	maxConcurrency   = 1024
	maxColdTokens    = 1000
	maxPhaseDuration = 10 * time.Minute
)

type config struct {
	binary      string
	keystoneURL string
	fixtureFile string
	user        string
	runs        int
	conc        int
	cold        int
	duration    time.Duration
	json        bool
}

// figures are one run's results.
type figures struct {
	NoauthPerS     float64        `json:"noauth_gets_per_s"`
	KeystonePerS   float64        `json:"keystone_gets_per_s"`
	Ratio          float64        `json:"keystone_over_noauth"`
	NoauthP50Ms    float64        `json:"noauth_get_p50_ms"`
	KeystoneP50Ms  float64        `json:"keystone_get_p50_ms"`
	ColdP50Ms      float64        `json:"cold_p50_ms"`
	ColdP90Ms      float64        `json:"cold_p90_ms"`
	WarmP50Ms      float64        `json:"warm_p50_ms"`
	Errors         int            `json:"errors"`
	ErrorsByPhase  map[string]int `json:"errors_by_phase,omitempty"`
	FirstErrorText string         `json:"first_error,omitempty"`
}

// floatFigures lists every float figure once, for the median and the table.
var floatFigures = []struct {
	name   string
	format string
	get    func(*figures) *float64
}{
	{"noauth get/s", "%.0f", func(f *figures) *float64 { return &f.NoauthPerS }},
	{"keystone get/s", "%.0f", func(f *figures) *float64 { return &f.KeystonePerS }},
	{"keystone/noauth", "%.3f", func(f *figures) *float64 { return &f.Ratio }},
	{"noauth get p50 ms (load)", "%.2f", func(f *figures) *float64 { return &f.NoauthP50Ms }},
	{"keystone get p50 ms (load)", "%.2f", func(f *figures) *float64 { return &f.KeystoneP50Ms }},
	{"cold token p50 ms", "%.2f", func(f *figures) *float64 { return &f.ColdP50Ms }},
	{"cold token p90 ms", "%.2f", func(f *figures) *float64 { return &f.ColdP90Ms }},
	{"warm token p50 ms", "%.2f", func(f *figures) *float64 { return &f.WarmP50Ms }},
}

func main() {
	var cfg config
	flag.StringVar(&cfg.binary, "binary", "", "glimpse binary to start fresh for every measurement (required)")
	flag.StringVar(&cfg.keystoneURL, "keystone", os.Getenv("GLIMPSE_KEYSTONE_URL"), "Keystone root URL, loopback only (default $GLIMPSE_KEYSTONE_URL)")
	flag.StringVar(&cfg.fixtureFile, "fixture", os.Getenv("GLIMPSE_KEYSTONE_FIXTURE"), "fixture.json of scripts/keystone/start.sh (default $GLIMPSE_KEYSTONE_FIXTURE)")
	flag.StringVar(&cfg.user, "user", "alice", "fixture user whose tokens the requests carry")
	flag.IntVar(&cfg.runs, "runs", 3, "repetitions, each measuring noauth then keystone; medians are reported")
	flag.IntVar(&cfg.conc, "c", 16, "concurrent clients in the throughput phases")
	flag.IntVar(&cfg.cold, "cold", 30, "fresh tokens per run whose first request is timed")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of each throughput phase")
	flag.BoolVar(&cfg.json, "json", false, "print machine-readable JSON instead of a table")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "auth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if cfg.binary == "" {
		return errors.New("-binary is required")
	}
	if cfg.keystoneURL == "" || cfg.fixtureFile == "" {
		return errors.New("no Keystone: set -keystone and -fixture, or GLIMPSE_KEYSTONE_URL and GLIMPSE_KEYSTONE_FIXTURE (eval \"$(scripts/keystone/start.sh)\")")
	}
	if cfg.runs < 1 || cfg.runs > maxRuns || cfg.conc < 1 || cfg.conc > maxConcurrency ||
		cfg.cold < 1 || cfg.cold > maxColdTokens || cfg.duration <= 0 || cfg.duration > maxPhaseDuration {
		return fmt.Errorf("need 1 <= -runs <= %d, 1 <= -c <= %d, 1 <= -cold <= %d and 0 < -duration <= %s",
			maxRuns, maxConcurrency, maxColdTokens, maxPhaseDuration)
	}
	cfg.keystoneURL = strings.TrimRight(cfg.keystoneURL, "/")
	if err := launch.CheckLoopback(cfg.keystoneURL, "Keystone URL"); err != nil {
		return err
	}
	data, err := os.ReadFile(cfg.fixtureFile)
	if err != nil {
		return err
	}
	fx, err := parseFixture(data, cfg.keystoneURL)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.fixtureFile, err)
	}
	if _, ok := fx.Users[cfg.user]; !ok {
		return fmt.Errorf("-user %q is not a fixture user", cfg.user)
	}
	if _, ok := fx.Users["glance"]; !ok {
		return errors.New("fixture has no glance service user")
	}
	projectID := fx.Projects[fx.Users[cfg.user].Project]
	if projectID == "" {
		return fmt.Errorf("fixture has no id for project %q of %s", fx.Users[cfg.user].Project, cfg.user)
	}

	b := newBench(cfg)
	// One token serves every keystone throughput phase: each server starts
	// with an empty cache, so reusing it across runs favours none of them.
	token, err := b.issueToken(ctx, fx, cfg.user)
	if err != nil {
		return err
	}
	modes := []mode{
		{name: "noauth", flavor: "noauth", headers: map[string]string{
			"X-Identity-Status": "Confirmed",
			"X-User-Id":         fx.Users[cfg.user].ID,
			"X-Project-Id":      projectID,
			"X-Roles":           "member,reader",
		}},
		{name: "keystone", flavor: "keystone", authtoken: authTokenOptions(fx),
			headers: map[string]string{"X-Auth-Token": token}},
	}

	var runs []figures
	for i := range cfg.runs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		logf("run %d/%d", i+1, cfg.runs)
		f, err := b.runOnce(ctx, fx, modes)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		runs = append(runs, f)
	}

	med := median(runs)
	if cfg.json {
		out := struct {
			Runs        int       `json:"runs"`
			Concurrency int       `json:"concurrency"`
			ColdTokens  int       `json:"cold_tokens"`
			DurationSec float64   `json:"duration_s"`
			Binary      string    `json:"binary"`
			Keystone    string    `json:"keystone"`
			Median      figures   `json:"median"`
			PerRun      []figures `json:"per_run"`
		}{cfg.runs, cfg.conc, cfg.cold, cfg.duration.Seconds(), cfg.binary, cfg.keystoneURL, med, runs}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printTable(os.Stdout, cfg, med, runs)
	return nil
}

// fixture is the part of scripts/keystone/start.sh's fixture.json the
// benchmark needs.
type fixture struct {
	URL      string                 `json:"url"`
	Region   string                 `json:"region"`
	Domain   string                 `json:"domain"`
	Projects map[string]string      `json:"projects"`
	Users    map[string]fixtureUser `json:"users"`
}

type fixtureUser struct {
	ID       string `json:"id"`
	Password string `json:"password"`
	Project  string `json:"project"`
}

// parseFixture reads fixture.json; keystoneURL replaces the file's url, as
// the environment names the Keystone actually running.
func parseFixture(data []byte, keystoneURL string) (*fixture, error) {
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f.Domain == "" || len(f.Users) == 0 {
		return nil, errors.New("no domain or no users")
	}
	f.URL = strings.TrimRight(keystoneURL, "/")
	return &f, nil
}

// authTokenOptions are the [keystone_authtoken] options that make glimpse
// log in as the fixture's service user glance, as a glance-api.conf would.
func authTokenOptions(f *fixture) map[string]string {
	return map[string]string{
		"www_authenticate_uri": f.URL,
		"auth_url":             f.URL,
		"auth_type":            "password",
		"username":             "glance",
		"password":             f.Users["glance"].Password,
		"project_name":         "service",
		"user_domain_name":     "Default",
		"project_domain_name":  "Default",
		"region_name":          f.Region,
	}
}

// configFile renders glimpse's INI configuration for a flavor, with a
// [keystone_authtoken] section when authtoken is not empty. Keys are
// sorted so the file is the same for the same input.
func configFile(flavor string, authtoken map[string]string) (string, error) {
	var sb strings.Builder
	check := func(s string) error {
		if strings.ContainsAny(s, "\r\n") {
			return fmt.Errorf("configuration value %q spans lines", s)
		}
		return nil
	}
	if err := check(flavor); err != nil {
		return "", err
	}
	fmt.Fprintf(&sb, "[paste_deploy]\nflavor = %s\n", flavor)
	if len(authtoken) == 0 {
		return sb.String(), nil
	}
	keys := make([]string, 0, len(authtoken))
	for k := range authtoken {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sb.WriteString("\n[keystone_authtoken]\n")
	for _, k := range keys {
		if err := check(k); err != nil {
			return "", err
		}
		if err := check(authtoken[k]); err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "%s = %s\n", k, authtoken[k])
	}
	return sb.String(), nil
}

// tokenRequest is the body of POST /v3/auth/tokens: password method,
// scoped to the user's fixture project.
func tokenRequest(f *fixture, user string) ([]byte, error) {
	u, ok := f.Users[user]
	if !ok {
		return nil, fmt.Errorf("%q is not a fixture user", user)
	}
	return json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"id": u.ID, "password": u.Password}}},
		"scope": map[string]any{"project": map[string]any{
			"name": u.Project, "domain": map[string]string{"id": f.Domain}}},
	}})
}

// mode is one way of running glimpse and of authenticating to it.
type mode struct {
	name      string
	flavor    string
	authtoken map[string]string
	headers   map[string]string
}

// bench holds the HTTP clients shared by all runs.
type bench struct {
	cfg    config
	client *http.Client // to glimpse
	ks     *http.Client // to Keystone, kept apart so its connections never mix with glimpse's
}

func newBench(cfg config) *bench {
	transport := func() *http.Transport {
		return &http.Transport{
			Proxy:               nil, // loopback only: never route through an environment proxy
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        cfg.conc + 16,
			MaxIdleConnsPerHost: cfg.conc + 16, // above the concurrency so connections are reused, not re-dialled
			IdleConnTimeout:     90 * time.Second,
		}
	}
	return &bench{
		cfg:    cfg,
		client: &http.Client{Transport: transport(), Timeout: requestTimeout},
		ks:     &http.Client{Transport: transport(), Timeout: requestTimeout},
	}
}

// issueToken gets a new project-scoped token of user from Keystone.
func (b *bench) issueToken(ctx context.Context, f *fixture, user string) (string, error) {
	body, err := tokenRequest(f, user)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL+"/v3/auth/tokens?nocatalog", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.ks.Do(req)
	if err != nil {
		return "", fmt.Errorf("token for %s: %w", user, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	tok := resp.Header.Get("X-Subject-Token")
	if resp.StatusCode != http.StatusCreated || tok == "" {
		return "", fmt.Errorf("token for %s: HTTP %d: %.300s", user, resp.StatusCode, data)
	}
	return tok, nil
}

// freshTokens issues n distinct tokens; a repeated token would be answered
// from glimpse's cache and not measure a validation.
func (b *bench) freshTokens(ctx context.Context, f *fixture, user string, n int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, tokenPhaseLimit)
	defer cancel()
	seen := map[string]bool{}
	toks := make([]string, 0, n)
	for range n {
		tok, err := b.issueToken(ctx, f, user)
		if err != nil {
			return nil, err
		}
		if seen[tok] {
			return nil, errors.New("the same token was issued twice; cold requests would hit the cache")
		}
		seen[tok] = true
		toks = append(toks, tok)
	}
	return toks, nil
}

// runOnce measures every mode in order with a fresh server each, then the
// cold tokens against the keystone server before it stops.
func (b *bench) runOnce(ctx context.Context, fx *fixture, modes []mode) (figures, error) {
	f := figures{ErrorsByPhase: map[string]int{}}
	note := func(phase string, r loadgen.Result) {
		if r.Errs > 0 {
			f.ErrorsByPhase[phase] += r.Errs
			f.Errors += r.Errs
			if f.FirstErrorText == "" {
				f.FirstErrorText = phase + ": " + r.FirstErr
			}
		}
	}
	for _, m := range modes {
		var cold []string
		if m.flavor == "keystone" {
			// Issued before the server starts, so Keystone's work on them
			// overlaps nothing that is timed.
			logf("issuing %d fresh tokens for %s", b.cfg.cold, b.cfg.user)
			var err error
			if cold, err = b.freshTokens(ctx, fx, b.cfg.user, b.cfg.cold); err != nil {
				return f, err
			}
		}
		err := b.withServer(ctx, m, func(base string) error {
			id, err := b.createImage(ctx, base, m.headers)
			if err != nil {
				return err
			}
			// A server that let anonymous requests through would not be
			// measuring authentication at all.
			if status, _, err := b.do(ctx, http.MethodGet, base+"/v2/images/"+id, nil, nil); err != nil || status != http.StatusUnauthorized {
				return fmt.Errorf("GET without credentials: status %d, error %v; want 401 in %s mode", status, err, m.name)
			}
			get := b.getOp(base+"/v2/images/"+id, m.headers)
			// Warm-up: the keystone server logs in as glance and caches the
			// token, and every client's connection is dialled, before timing.
			w := loadgen.Run(ctx, loadgen.Phase{Conc: b.cfg.conc, Dur: 0, MinOps: b.cfg.conc * warmupPerWorker,
				Limit: requestTimeout, MaxOps: b.cfg.conc * warmupPerWorker}, get)
			if w.OK == 0 {
				return fmt.Errorf("%s warm-up: no request succeeded: %s", m.name, w.FirstErr)
			}
			note(m.name+" warm-up", w)

			logf("%s: gets at concurrency %d for %s", m.name, b.cfg.conc, b.cfg.duration)
			r := loadgen.Run(ctx, loadgen.Phase{Conc: b.cfg.conc, Dur: b.cfg.duration,
				Limit: b.cfg.duration + requestTimeout, MaxOps: maxOpsPerPhase}, get)
			note(m.name, r)
			p50 := loadgen.Ms(loadgen.Percentile(r.Lat, 50))
			if m.flavor == "keystone" {
				f.KeystonePerS, f.KeystoneP50Ms = r.Rate(), p50
			} else {
				f.NoauthPerS, f.NoauthP50Ms = r.Rate(), p50
			}

			if cold == nil {
				return nil
			}
			logf("%s: first request with each of %d fresh tokens", m.name, len(cold))
			c, w2, errs, first := b.coldPhase(ctx, base+"/v2/images/"+id, cold)
			note("cold", loadgen.Result{Errs: errs, FirstErr: first})
			if len(c) == 0 {
				return fmt.Errorf("cold phase: no request succeeded: %s", first)
			}
			f.ColdP50Ms, f.ColdP90Ms = loadgen.Ms(loadgen.Percentile(c, 50)), loadgen.Ms(loadgen.Percentile(c, 90))
			f.WarmP50Ms = loadgen.Ms(loadgen.Percentile(w2, 50))
			return nil
		})
		if err != nil {
			return f, err
		}
	}
	f.Ratio = ratio(f.KeystonePerS, f.NoauthPerS)
	return f, ctx.Err()
}

// coldPhase sends, one at a time, the first request with each token (timed
// as cold: glimpse must ask Keystone) and at once a second one with the
// same token (timed as warm: answered from glimpse's cache). It returns
// the sorted latencies of successful requests.
func (b *bench) coldPhase(ctx context.Context, u string, tokens []string) (cold, warm []time.Duration, errs int, firstErr string) {
	ctx, cancel := context.WithTimeout(ctx, coldPhaseLimit)
	defer cancel()
	fail := func(err error) {
		errs++
		if firstErr == "" {
			firstErr = err.Error()
		}
	}
	for _, tok := range tokens {
		if ctx.Err() != nil {
			break
		}
		op := b.getOp(u, map[string]string{"X-Auth-Token": tok})
		t0 := time.Now()
		err := op(ctx)
		d := time.Since(t0)
		if err != nil {
			fail(err)
			continue
		}
		cold = append(cold, d)
		t0 = time.Now()
		err = op(ctx)
		d = time.Since(t0)
		if err != nil {
			fail(err)
			continue
		}
		warm = append(warm, d)
	}
	slices.Sort(cold)
	slices.Sort(warm)
	return cold, warm, errs, firstErr
}

// withServer starts a fresh glimpse in mode m with an empty data dir, calls
// fn with its base URL and always stops it (by its PID) and removes the dir.
func (b *bench) withServer(ctx context.Context, m mode, fn func(base string) error) error {
	root, err := os.MkdirTemp("", "glimpse-bench-auth-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	dataDir := filepath.Join(root, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return err
	}
	conf, err := configFile(m.flavor, m.authtoken)
	if err != nil {
		return err
	}
	confPath := filepath.Join(root, "glimpse.conf")
	// 0600: the file holds the service user's password.
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return err
	}
	logPath := filepath.Join(root, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()

	addr, err := launch.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	cmd := exec.Command(b.cfg.binary, "serve", "--config", confPath, "--data-dir", dataDir, "--listen", addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer launch.Stop(cmd, exited, stopTimeout, logf)
	// A new server means new connections; idle ones to the last server
	// are dead.
	defer b.client.Transport.(*http.Transport).CloseIdleConnections()

	base := "http://" + addr
	if err := launch.WaitReady(ctx, b.client, base, exited, readyTimeout); err != nil {
		return fmt.Errorf("%s: %w; server log:\n%s", m.name, err, loadgen.Tail(logPath, 2000))
	}
	if err := fn(base); err != nil {
		return fmt.Errorf("%s: %w; server log:\n%s", m.name, err, loadgen.Tail(logPath, 2000))
	}
	return nil
}

// createImage creates the one image every GET asks for and returns its id.
func (b *bench) createImage(ctx context.Context, base string, headers map[string]string) (string, error) {
	body := []byte(`{"name":"bench","disk_format":"raw","container_format":"bare"}`)
	status, data, err := b.do(ctx, http.MethodPost, base+"/v2/images", body, headers)
	if err != nil {
		return "", fmt.Errorf("create image: %w", err)
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("create image: status %d: %.300s", status, data)
	}
	var img struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &img); err != nil || img.ID == "" {
		return "", fmt.Errorf("create image: 201 without an image id: %.300s", data)
	}
	return img.ID, nil
}

// do sends one request and reads the whole body, so the measured latency
// includes transferring the response and the connection can be reused.
func (b *bench) do(ctx context.Context, method, u string, body []byte, headers map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// getOp returns an operation that GETs u and wants 200.
func (b *bench) getOp(u string, headers map[string]string) func(context.Context) error {
	return func(ctx context.Context) error {
		status, data, err := b.do(ctx, http.MethodGet, u, nil, headers)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("GET %s: status %d, want 200: %.200s", u, status, data)
		}
		return nil
	}
}

// ratio is a/b, or 0 when b is 0 (a mode that served nothing).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// median takes the median of every float figure and sums the error counts,
// since one failing run matters even when the others were clean. The ratio
// is the median of the per-run ratios, not the ratio of the medians: only
// the two modes measured side by side in one run compare.
func median(runs []figures) figures {
	out := figures{ErrorsByPhase: map[string]int{}}
	for _, ff := range floatFigures {
		vals := make([]float64, len(runs))
		for j := range runs {
			vals[j] = *ff.get(&runs[j])
		}
		*ff.get(&out) = loadgen.Median(vals)
	}
	for _, r := range runs {
		out.Errors += r.Errors
		for k, v := range r.ErrorsByPhase {
			out.ErrorsByPhase[k] += v
		}
		if out.FirstErrorText == "" {
			out.FirstErrorText = r.FirstErrorText
		}
	}
	return out
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func printTable(w io.Writer, cfg config, med figures, runs []figures) {
	fmt.Fprintf(w, "glimpse auth benchmark (median of %d runs, c%d, %s per throughput phase, %d cold tokens per run, binary %s, Keystone %s)\n",
		len(runs), cfg.conc, cfg.duration, cfg.cold, cfg.binary, cfg.keystoneURL)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := fmt.Sprintf("%-28s\t", "figure") + "median\t"
	for i := range runs {
		header += fmt.Sprintf("run %d\t", i+1)
	}
	fmt.Fprintln(tw, header)
	for _, ff := range floatFigures {
		// Names are padded here because the table aligns cells right.
		line := fmt.Sprintf("%-28s\t", ff.name) + fmt.Sprintf(ff.format, *ff.get(&med)) + "\t"
		for i := range runs {
			line += fmt.Sprintf(ff.format, *ff.get(&runs[i])) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	line := fmt.Sprintf("%-28s\t", "errors (median col: sum)") + strconv.Itoa(med.Errors) + "\t"
	for _, r := range runs {
		line += strconv.Itoa(r.Errors) + "\t"
	}
	fmt.Fprintln(tw, line)
	tw.Flush()
	if med.Errors > 0 {
		phases := make([]string, 0, len(med.ErrorsByPhase))
		for k, v := range med.ErrorsByPhase {
			phases = append(phases, fmt.Sprintf("%s: %d", k, v))
		}
		slices.Sort(phases)
		fmt.Fprintf(w, "errors by phase: %s\nfirst error: %s\n", strings.Join(phases, ", "), med.FirstErrorText)
	}
}
