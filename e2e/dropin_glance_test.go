//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The drop-in tests run Debian's glance-api (Glance 25.1) and glimpse on
// one PostgreSQL, MariaDB or SQLite database and one file store, and
// compare what the two answer. This file holds their tools: a fresh
// database (on the servers scripts/db/start.sh runs), a glance-api
// process, an HTTP client that sends the identity headers both
// understand, and the comparison.

// diBackend is one kind of database.
type diBackend struct {
	name string // subtest name
	env  string // variable holding the server's SQLAlchemy-style URL; "" for SQLite
}

// diBackends are the databases both Glance and glimpse run on; SQLite
// needs no server, so its check always runs.
var diBackends = []diBackend{
	{name: "postgresql", env: "GLIMPSE_PG_URL"},
	{name: "mysql", env: "GLIMPSE_MYSQL_URL"},
	{name: "sqlite"},
}

// diDatabase is a database made for one test: on a server scripts/db
// started, dropped when the test ends, or a SQLite file in a temporary
// directory.
type diDatabase struct {
	backend string
	url     string // SQLAlchemy-style, as [database] connection takes it
	host    string
	port    string
	user    string
	pass    string
	name    string // the database's name; for SQLite the file's path
	admin   string // the database in the server's URL, used to create and drop name
	cli     string // psql, mariadb or sqlite3
}

// diFreshDatabase creates an empty database glance_dropin_<random> on the
// server named by the backend's variable (the glance user may create
// databases named glance_*), with the server's own command-line client;
// for SQLite it names a file that does not exist yet.
func diFreshDatabase(t *testing.T, b diBackend) *diDatabase {
	t.Helper()
	if b.name == "sqlite" {
		d := &diDatabase{backend: b.name, cli: needTool(t, "sqlite3", "sqlite3")}
		d.name = filepath.Join(t.TempDir(), "glance.sqlite")
		d.url = "sqlite:///" + d.name
		return d
	}
	raw := os.Getenv(b.env)
	if raw == "" {
		msg := fmt.Sprintf("%s is not set (scripts/db/start.sh starts the server and prints it)", b.env)
		if requireBackends() {
			t.Fatalf("%s; GLIMPSE_REQUIRE_BACKENDS=1 forbids skipping", msg)
		}
		t.Skipf("SKIPPING DROP-IN CHECKS ON %s: %s", strings.ToUpper(b.name), msg)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", b.env, err)
	}
	pass, _ := u.User.Password()
	d := &diDatabase{
		backend: b.name,
		host:    u.Hostname(),
		port:    u.Port(),
		user:    u.User.Username(),
		pass:    pass,
		name:    "glance_dropin_" + uniq(t),
		admin:   strings.TrimPrefix(u.Path, "/"),
	}
	switch b.name {
	case "postgresql":
		d.cli = needTool(t, "psql", "postgresql-client")
		if d.port == "" {
			d.port = "5432"
		}
	default:
		d.cli = needTool(t, "mariadb", "mariadb-client")
		if d.port == "" {
			d.port = "3306"
		}
	}
	d.exec(t, d.admin, "CREATE DATABASE "+d.name)
	t.Cleanup(func() {
		drop := "DROP DATABASE " + d.name
		if d.backend == "postgresql" {
			drop += " WITH (FORCE)"
		}
		if out, err := d.run(d.admin, drop); err != nil {
			t.Errorf("drop database %s: %v\n%s", d.name, err, out)
		}
	})
	u.Path = "/" + d.name
	d.url = u.String()
	return d
}

// run runs one SQL statement in database db and returns the unadorned
// result rows.
func (d *diDatabase) run(db, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	var cmd *exec.Cmd
	switch d.backend {
	case "sqlite":
		cmd = exec.CommandContext(ctx, d.cli, db, sql)
	case "postgresql":
		cmd = exec.CommandContext(ctx, d.cli, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
			"-h", d.host, "-p", d.port, "-U", d.user, "-d", db, "-c", sql)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+d.pass, "PGCONNECT_TIMEOUT=10")
	default:
		args := []string{"--no-defaults", "--protocol=tcp", "--connect-timeout=10", "-h", d.host, "-P", d.port,
			"-u", d.user, "-N", "-B", "-e", sql, db}
		cmd = exec.CommandContext(ctx, d.cli, args...)
		cmd.Env = append(os.Environ(), "MYSQL_PWD="+d.pass)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// exec is run that fails the test on an error.
func (d *diDatabase) exec(t *testing.T, db, sql string) string {
	t.Helper()
	out, err := d.run(db, sql)
	if err != nil {
		t.Fatalf("%s on %s: %v\n%s", sql, d.backend, err, out)
	}
	return out
}

// revision is the database's alembic_version.
func (d *diDatabase) revision(t *testing.T) string {
	t.Helper()
	return d.exec(t, d.name, "SELECT version_num FROM alembic_version")
}

// diFreePort returns a loopback TCP port nobody listens on right now.
func diFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// diPasteINI is a paste pipeline for glance-api without Keystone: Glance's
// context middleware takes the identity from the X-Identity-Status,
// X-Project-Id, X-Roles and X-User-Id headers, as glimpse's noauth flavor
// does.
const diPasteINI = `[pipeline:glance-api-dropin]
pipeline = versionnegotiation context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:context]
paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory
`

// diSite is what glance-api and glimpse share: the database and the file
// store, plus each one's configuration file.
type diSite struct {
	dir        string
	db         *diDatabase
	storeDir   string
	glanceConf string
	glimpse    string // glimpse's configuration file
}

// diCommon is the part of both configuration files that must agree.
func (s *diSite) common() string {
	return fmt.Sprintf(`show_image_direct_url = true
show_multiple_locations = true

[database]
connection = %s

[glance_store]
stores = file
default_store = file
filesystem_store_datadir = %s
`, s.db.url, s.storeDir)
}

// newDiSite writes glance-api's and glimpse's configuration for db into a
// fresh directory; glance-api gets port.
func newDiSite(t *testing.T, db *diDatabase, port int) *diSite {
	t.Helper()
	s := &diSite{dir: t.TempDir(), db: db}
	s.storeDir = filepath.Join(s.dir, "images")
	paste := filepath.Join(s.dir, "glance-api-paste.ini")
	if err := os.WriteFile(paste, []byte(diPasteINI), 0o644); err != nil {
		t.Fatal(err)
	}
	g := filepath.Join(s.dir, "glance")
	glance := fmt.Sprintf(`[DEFAULT]
bind_host = 127.0.0.1
bind_port = %d
workers = 1
log_file = %s
node_staging_uri = file://%s
image_cache_dir = %s
%s
[os_glance_staging_store]
filesystem_store_datadir = %s

[os_glance_tasks_store]
filesystem_store_datadir = %s

[oslo_concurrency]
lock_path = %s

[paste_deploy]
flavor = dropin
config_file = %s
`, port, filepath.Join(g, "glance-api.log"), filepath.Join(g, "staging"), filepath.Join(g, "cache"),
		s.common(), filepath.Join(g, "staging"), filepath.Join(g, "tasks"), filepath.Join(g, "lock"), paste)
	glimpse := fmt.Sprintf(`[DEFAULT]
bind_host = 127.0.0.1
%s
[paste_deploy]
flavor = noauth
`, s.common())
	if err := os.MkdirAll(g, 0o755); err != nil {
		t.Fatal(err)
	}
	s.glanceConf = filepath.Join(s.dir, "glance-api.conf")
	s.glimpse = filepath.Join(s.dir, "glimpse.conf")
	for name, text := range map[string]string{s.glanceConf: glance, s.glimpse: glimpse} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// glanceManage runs `glance-manage --config-file <glance-api.conf> args`.
func (s *diSite) glanceManage(t *testing.T, args ...string) string {
	t.Helper()
	bin := needTool(t, "glance-manage", "glance-common")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--config-file", s.glanceConf}, args...)...)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("glance-manage %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// glimpseDB runs `glimpse db <args> --config <glimpse.conf>`.
func (s *diSite) glimpseDB(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"db"}, args...), "--config", s.glimpse)...)
	cmd.Env = serverEnv()
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("glimpse db %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// diProcess is a running glance-api master; its worker is its child.
type diProcess struct {
	cmd  *exec.Cmd
	url  string
	logs []string // files to show when the test fails
	done chan struct{}
}

// startGlanceAPI runs glance-api with the site's configuration and waits
// (bounded) until GET /versions answers 200.
func startGlanceAPI(t *testing.T, s *diSite, port int) *diProcess {
	t.Helper()
	bin := needTool(t, "glance-api", "glance-api")
	out, err := os.Create(filepath.Join(s.dir, "glance", "glance-api.stdout"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file", s.glanceConf)
	cmd.Dir = s.dir
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = out, out
	// The master dies with the test binary; its worker follows it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start glance-api: %v", err)
	}
	p := &diProcess{
		cmd:  cmd,
		url:  fmt.Sprintf("http://127.0.0.1:%d", port),
		logs: []string{out.Name(), filepath.Join(s.dir, "glance", "glance-api.log")},
		done: make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			p.showLogs(t, " ERROR ")
		}
	})
	if err := waitVersions(p.url, 90*time.Second, p.done); err != nil {
		p.showLogs(t, "")
		t.Fatalf("glance-api: %v", err)
	}
	return p
}

// showLogs shows the end of glance-api's logs that contain mark ("" for
// any).
func (p *diProcess) showLogs(t *testing.T, mark string) {
	t.Helper()
	for _, f := range p.logs {
		b, err := os.ReadFile(f)
		if err == nil && len(b) > 0 && strings.Contains(string(b), mark) {
			t.Logf("%s (last lines):\n%s", filepath.Base(f), tail(string(b), 40))
		}
	}
}

// diProc identifies a process by PID and start time, so that a PID the
// kernel has handed to another process since is never signalled.
type diProc struct {
	pid   int
	start string
}

// diStat returns the parent PID and start time of pid from /proc.
func diStat(pid int) (ppid int, start string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	// The command name may contain spaces and parentheses: the fields
	// after it start past the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is the state (field 3), f[1] the parent PID, f[19] the start time.
	if len(f) < 20 || f[0] == "Z" {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, "", false
	}
	return ppid, f[19], true
}

// diChildren lists the children of pid.
func diChildren(pid int) []diProc {
	ents, _ := os.ReadDir("/proc")
	var kids []diProc
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, start, ok := diStat(n); ok && ppid == pid {
			kids = append(kids, diProc{pid: n, start: start})
		}
	}
	return kids
}

func (c diProc) alive() bool {
	_, start, ok := diStat(c.pid)
	return ok && start == c.start
}

// stop sends SIGTERM to the master, which stops its worker and exits;
// the worker is found by its parent PID beforehand, and killed should it
// outlive the master by 10 s.
func (p *diProcess) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	pid := p.cmd.Process.Pid
	kids := diChildren(pid)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Logf("glance-api (PID %d) still running 30 s after SIGTERM; killing it", pid)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, k := range kids {
		for k.alive() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if k.alive() {
			t.Logf("glance-api worker (PID %d) outlived its master; killing it", k.pid)
			_ = syscall.Kill(k.pid, syscall.SIGKILL)
		}
	}
}

// diIdentity is who a request claims to be, in the headers both servers
// read without Keystone.
type diIdentity struct {
	project, user, roles string
}

var (
	diA = diIdentity{project: "project-a", user: "user-a", roles: "admin,member,reader"}
	diB = diIdentity{project: "project-b", user: "user-b", roles: "member,reader"}
	diC = diIdentity{project: "project-c", user: "user-c", roles: "member,reader"}
)

// diResp is one answer.
type diResp struct {
	status int
	header http.Header
	body   []byte
}

// diClient talks to one server as one identity.
type diClient struct {
	server string // "glance-api" or "glimpse", for messages
	base   string
	who    diIdentity
}

var diHTTP = &http.Client{Timeout: 60 * time.Second}

func (c diClient) as(who diIdentity) diClient { c.who = who; return c }

// do sends one request; ctype "" sends no body.
func (c diClient) do(t *testing.T, method, path, ctype string, body []byte) diResp {
	t.Helper()
	var rd io.Reader
	if ctype != "" {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("X-Identity-Status", "Confirmed")
	req.Header.Set("X-Project-Id", c.who.project)
	req.Header.Set("X-User-Id", c.who.user)
	req.Header.Set("X-Roles", c.who.roles)
	resp, err := diHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s %s: %v", c.server, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s %s: read body: %v", c.server, method, path, err)
	}
	return diResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// must sends a request and fails the test unless the status is want.
func (c diClient) must(t *testing.T, want int, method, path, ctype string, body []byte) diResp {
	t.Helper()
	r := c.do(t, method, path, ctype, body)
	if r.status != want {
		t.Fatalf("%s as %s: %s %s %s: got status %d, want %d\n%s", c.server, c.who.project, method, path, body, r.status, want, r.body)
	}
	return r
}

// create posts an image and returns its id.
func (c diClient) create(t *testing.T, img map[string]any) string {
	t.Helper()
	b, err := json.Marshal(img)
	if err != nil {
		t.Fatal(err)
	}
	r := c.must(t, http.StatusCreated, http.MethodPost, "/v2/images", "application/json", b)
	var got struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil || got.ID == "" {
		t.Fatalf("%s: create: no id in %s (%v)", c.server, r.body, err)
	}
	return got.ID
}

// patch applies a JSON patch to an image.
func (c diClient) patch(t *testing.T, id string, ops ...map[string]any) {
	t.Helper()
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	c.must(t, http.StatusOK, http.MethodPatch, "/v2/images/"+id, "application/openstack-images-v2.1-json-patch", b)
}

func (c diClient) upload(t *testing.T, id string, data []byte) {
	t.Helper()
	c.must(t, http.StatusNoContent, http.MethodPut, "/v2/images/"+id+"/file", "application/octet-stream", data)
}

func (c diClient) addMember(t *testing.T, id, member string) {
	t.Helper()
	c.must(t, http.StatusOK, http.MethodPost, "/v2/images/"+id+"/members", "application/json",
		[]byte(`{"member": "`+member+`"}`))
}

// setMemberStatus is the member's own answer to a share.
func (c diClient) setMemberStatus(t *testing.T, id, status string) {
	t.Helper()
	c.must(t, http.StatusOK, http.MethodPut, "/v2/images/"+id+"/members/"+c.who.project, "application/json",
		[]byte(`{"status": "`+status+`"}`))
}

// diNormalize decodes a JSON answer and puts in a fixed order what both
// servers return in an order of no meaning: an image's tags (Glance keeps
// them in a Python set, whose order changes from one glance-api process
// to the next) and a member list (Glance's query has no ORDER BY).
// Nothing is removed.
func diNormalize(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if tags, ok := x["tags"].([]any); ok {
				slices.SortFunc(tags, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
			}
			if ms, ok := x["members"].([]any); ok {
				slices.SortFunc(ms, func(a, b any) int { return strings.Compare(diMemberID(a), diMemberID(b)) })
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return v, nil
}

func diMemberID(v any) string {
	if m, ok := v.(map[string]any); ok {
		return fmt.Sprint(m["member_id"])
	}
	return ""
}

// diHeaders are the response headers whose values must agree. Date and
// the request id legitimately differ; Content-Length is checked through
// the body's length, because glimpse sends a long body chunked, without
// one, and a 204 never has one from glimpse (Go's server drops it).
var diHeaders = []string{"Content-Type", "Content-Md5"}

// diSame compares glimpse's answer m with glance-api's g to the same
// request and reports every difference; it returns false if there was one.
// JSON documents are compared value by value, and then byte for byte in
// length: the reordering diNormalize does keeps the length, so a different
// length is a different spelling (escapes, separators, number format).
func diSame(t *testing.T, what string, g, m diResp, tally *diTally) bool {
	t.Helper()
	same := true
	if m.status != g.status {
		t.Errorf("%s: glimpse status: got %d, want %d (glance-api)\nglance-api body: %s\nglimpse body: %s", what, m.status, g.status, diShort(g.body), diShort(m.body))
		return false
	}
	for _, h := range diHeaders {
		if gv, mv := g.header.Values(h), m.header.Values(h); !slices.Equal(gv, mv) {
			t.Errorf("%s: glimpse header %s: got %q, want %q (glance-api)", what, h, mv, gv)
			same = false
		}
	}
	if strings.HasPrefix(g.header.Get("Content-Type"), "application/json") && len(g.body) > 0 {
		gv, gerr := diNormalize(g.body)
		mv, merr := diNormalize(m.body)
		switch {
		case gerr != nil:
			t.Errorf("%s: glance-api body is not JSON: %v\n%s", what, gerr, g.body)
			return false
		case merr != nil:
			t.Errorf("%s: glimpse body is not JSON: %v\n%s", what, merr, m.body)
			return false
		}
		if gOrd, mOrd := diOrder(gv), diOrder(mv); !slices.Equal(gOrd, mOrd) {
			t.Errorf("%s: glimpse lists other images or in another order:\ngot  %q\nwant %q (glance-api)", what, mOrd, gOrd)
			return false
		}
		if d := cmp.Diff(gv, mv); d != "" {
			t.Errorf("%s: glimpse body differs from glance-api's (-glance-api +glimpse):\n%s", what, d)
			return false
		}
		if len(m.body) != len(g.body) {
			if tally != nil {
				if tally.spelled++; tally.spelled > diTallyShown {
					return false
				}
			}
			i := 0
			for i < len(g.body) && i < len(m.body) && g.body[i] == m.body[i] {
				i++
			}
			t.Errorf("%s: same JSON, but glimpse's body is %d bytes, glance-api's %d, spelled differently from byte %d: got %q, want %q (glance-api)",
				what, len(m.body), len(g.body), i, diAround(m.body, i), diAround(g.body, i))
			same = false
		}
		return same
	}
	if !bytes.Equal(g.body, m.body) {
		t.Errorf("%s: glimpse body: got %q, want %q (glance-api)", what, diShort(m.body), diShort(g.body))
		same = false
	}
	return same
}

// diAround is the part of b around offset i.
func diAround(b []byte, i int) string {
	lo, hi := max(i-30, 0), min(i+50, len(b))
	return string(b[lo:hi])
}

// diOrder names the images of a list document in order ("name id"), nil
// for any other document.
func diOrder(doc any) []string {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	imgs, ok := m["images"].([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(imgs))
	for _, i := range imgs {
		img, _ := i.(map[string]any)
		out = append(out, fmt.Sprintf("%v %v", img["name"], img["id"]))
	}
	return out
}

// diShort abbreviates a body for a message.
func diShort(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}

// diTally counts the answers that differ only in their JSON spelling, of
// which only the first diTallyShown are shown one by one.
type diTally struct{ spelled int }

const diTallyShown = 5

// diPair sends the same requests to glance-api and glimpse.
type diPair struct {
	glance, glimpse diClient
	tally           *diTally // nil: show every difference
}

func (p diPair) as(who diIdentity) diPair {
	return diPair{glance: p.glance.as(who), glimpse: p.glimpse.as(who), tally: p.tally}
}

// same sends a GET to both and compares the answers.
func (p diPair) same(t *testing.T, path string) (glance diResp, ok bool) {
	t.Helper()
	g := p.glance.do(t, http.MethodGet, path, "", nil)
	m := p.glimpse.do(t, http.MethodGet, path, "", nil)
	return g, diSame(t, fmt.Sprintf("GET %s as %s", path, p.glance.who.project), g, m, p.tally)
}

// sameList compares a list and, page by page, every page its next links
// lead to on glance-api.
func (p diPair) sameList(t *testing.T, path string) {
	t.Helper()
	for page := 0; path != "" && page < 50; page++ {
		g, ok := p.same(t, path)
		if !ok || g.status != http.StatusOK {
			return
		}
		var doc struct {
			Next string `json:"next"`
		}
		if err := json.Unmarshal(g.body, &doc); err != nil {
			t.Errorf("GET %s on glance-api: %v", path, err)
			return
		}
		path = doc.Next
	}
}
