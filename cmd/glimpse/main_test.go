package main

import (
	"bytes"
	"context"
	"database/sql"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"glimpse/internal/catalog/sqlcat"
)

// result is what one invocation of run produced.
type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// lines splits s into its non-empty lines.
func lines(s string) []string {
	var ls []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			ls = append(ls, l)
		}
	}
	return ls
}

// noStackTrace fails when stderr looks like a Go panic or stack dump:
// operators must get sentences, not goroutine listings.
func noStackTrace(t *testing.T, stderr string) {
	t.Helper()
	for _, bad := range []string{"goroutine ", "panic:", ".go:", "runtime."} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr contains %q, want no stack trace:\n%s", bad, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		t.Run(arg, func(t *testing.T) {
			r := runCmd(t, arg)
			if r.code != 0 {
				t.Fatalf("exit code: got %d, want 0 (stderr %q)", r.code, r.stderr)
			}
			want := "glimpse " + version + " (Images API v2, Glance schema " + sqlcat.HeadRevision + ")\n"
			if r.stdout != want {
				t.Errorf("stdout: got %q, want %q", r.stdout, want)
			}
			if r.stderr != "" {
				t.Errorf("stderr: got %q, want nothing", r.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	r := runCmd(t, "help")
	if r.code != 0 {
		t.Fatalf("exit code: got %d, want 0", r.code)
	}
	for _, cmd := range []string{"glimpse serve", "glimpse db sync", "glimpse db version", "glimpse version"} {
		if !strings.Contains(r.stdout, cmd) {
			t.Errorf("help output lacks %q:\n%s", cmd, r.stdout)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		wantStderr []string // substrings
	}{
		{"no command", nil, []string{"usage:"}},
		{"unknown command", []string{"frobnicate"}, []string{`glimpse: unknown command "frobnicate"`, "usage:"}},
		{"db without subcommand", []string{"db"}, []string{"usage:"}},
		{"db unknown subcommand", []string{"db", "upgrade"}, []string{"usage:"}},
		{"serve unknown flag", []string{"serve", "--bogus"}, []string{"flag provided but not defined: -bogus"}},
		{"serve stray argument", []string{"serve", "--data-dir", dir, "extra"}, []string{`glimpse serve: unexpected argument "extra"`}},
		{"db sync stray argument", []string{"db", "sync", "--data-dir", dir, "now"}, []string{`glimpse db sync: unexpected argument "now"`}},
		{"db version takes no --listen", []string{"db", "version", "--listen", "127.0.0.1:1"}, []string{"flag provided but not defined: -listen"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, tc.args...)
			if r.code != 2 {
				t.Errorf("exit code: got %d, want 2", r.code)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr: got %q, want it to contain %q", r.stderr, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout: got %q, want nothing", r.stdout)
			}
			noStackTrace(t, r.stderr)
		})
	}
	// None of these may have touched the data directory.
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("data dir after refused commands: got %d entries (err %v), want none", len(entries), err)
	}
}

func TestServeBadListen(t *testing.T) {
	tests := []struct {
		listen string
		want   string
	}{
		{"bogus", `glimpse: config error: --listen "bogus": want HOST:PORT`},
		{"127.0.0.1:99999", `glimpse: config error: --listen "127.0.0.1:99999": want HOST:PORT`},
		{"127.0.0.1:http", `glimpse: config error: --listen "127.0.0.1:http": want HOST:PORT`},
	}
	for _, tc := range tests {
		t.Run(tc.listen, func(t *testing.T) {
			dir := t.TempDir()
			r := runCmd(t, "serve", "--data-dir", dir, "--listen", tc.listen)
			if r.code != 2 {
				t.Errorf("exit code: got %d, want 2", r.code)
			}
			if got := lines(r.stderr); len(got) != 1 || got[0] != tc.want {
				t.Errorf("stderr lines: got %q, want exactly [%q]", got, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "glance.sqlite")); err == nil {
				t.Errorf("catalog created although the command line was refused")
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	const text = `[DEFAULT]
bind_port = eighty
image_member_quota = lots
debug = maybe
`
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"bind_port", "image_member_quota", "debug"}
	for _, args := range [][]string{
		{"serve", "--config", conf, "--data-dir", dir},
		{"db", "sync", "--config", conf, "--data-dir", dir},
		{"db", "version", "--config", conf, "--data-dir", dir},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			r := runCmd(t, args...)
			if r.code != 2 {
				t.Errorf("exit code: got %d, want 2", r.code)
			}
			var errLines []string
			for _, l := range lines(r.stderr) {
				if strings.Contains(l, "config error") {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) != 3 {
				t.Fatalf("config error lines: got %d, want 3:\n%s", len(errLines), r.stderr)
			}
			for i, key := range wantKeys {
				if !strings.HasPrefix(errLines[i], "glimpse: config error: ") || !strings.Contains(errLines[i], key) {
					t.Errorf("config error line %d: got %q, want a 'glimpse: config error:' line naming %s", i, errLines[i], key)
				}
			}
			noStackTrace(t, r.stderr)
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "glance.sqlite")); err == nil {
		t.Errorf("catalog created although the configuration was refused")
	}
}

func TestConfigFileMissing(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.conf")
	r := runCmd(t, "db", "version", "--config", missing, "--data-dir", dir)
	if r.code != 2 {
		t.Errorf("exit code: got %d, want 2", r.code)
	}
	want := "glimpse: config error: cannot read config file " + missing + ": no such file or directory"
	if got := lines(r.stderr); len(got) != 1 || got[0] != want {
		t.Errorf("stderr lines: got %q, want exactly [%q]", got, want)
	}
}

func TestEnvironmentOverrideError(t *testing.T) {
	t.Setenv("GLIMPSE_DEFAULT_BIND_PORT", "not-a-port")
	dir := t.TempDir()
	r := runCmd(t, "db", "version", "--data-dir", dir)
	if r.code != 2 {
		t.Errorf("exit code: got %d, want 2", r.code)
	}
	got := lines(r.stderr)
	if len(got) != 1 || !strings.HasPrefix(got[0], "glimpse: config error: ") || !strings.Contains(got[0], "not-a-port") {
		t.Errorf("stderr lines: got %q, want one config error naming the bad value", got)
	}
}

func TestServeRefusesPublicAddressWithoutAuth(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", "[::]:0"} {
		t.Run(listen, func(t *testing.T) {
			dir := t.TempDir()
			r := runCmd(t, "serve", "--data-dir", dir, "--listen", listen)
			if r.code != 2 {
				t.Errorf("exit code: got %d, want 2", r.code)
			}
			got := lines(r.stderr)
			if len(got) != 1 {
				t.Fatalf("stderr lines: got %q, want exactly one", got)
			}
			for _, w := range []string{"glimpse: config error: ", "is not a loopback address", "does not authenticate requests", "insecure"} {
				if !strings.Contains(got[0], w) {
					t.Errorf("stderr: got %q, want it to contain %q", got[0], w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "glance.sqlite")); err == nil {
				t.Errorf("catalog created although serving was refused")
			}
		})
	}
}

func TestDBSyncAndVersion(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"db", "version"}, "(empty database)\n"},
		{[]string{"db", "sync"}, "created schema at " + sqlcat.HeadRevision + "\n"},
		{[]string{"db", "version"}, sqlcat.HeadRevision + "\n"},
		{[]string{"db", "sync"}, "schema already at " + sqlcat.HeadRevision + "\n"},
		{[]string{"db", "version"}, sqlcat.HeadRevision + "\n"},
	}
	for i, s := range steps {
		r := runCmd(t, append(s.args, "--data-dir", dir)...)
		if r.code != 0 || r.stdout != s.want || r.stderr != "" {
			t.Fatalf("step %d %v: got code %d stdout %q stderr %q, want code 0 stdout %q and no stderr",
				i, s.args, r.code, r.stdout, r.stderr, s.want)
		}
	}

	// The file is Glance's schema: a glance-manage user can read it.
	db := openCatalog(t, dir)
	var rev string
	if err := db.QueryRow(`SELECT version_num FROM alembic_version`).Scan(&rev); err != nil {
		t.Fatal(err)
	}
	if rev != sqlcat.HeadRevision {
		t.Errorf("alembic_version: got %q, want %q", rev, sqlcat.HeadRevision)
	}
	for _, table := range []string{"images", "image_properties", "image_tags", "image_members", "image_locations", "tasks", "metadef_namespaces"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Errorf("table %s: %v", table, err)
		} else if n != 0 {
			t.Errorf("table %s: got %d rows, want 0", table, n)
		}
	}
}

func TestDBSyncConfiguredConnection(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "elsewhere", "catalog.db")
	conf := filepath.Join(dir, "glance-api.conf")
	text := "[database]\nconnection = sqlite:///" + dbPath + "\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, "db", "sync", "--config", conf, "--data-dir", filepath.Join(dir, "data"))
	if r.code != 0 {
		t.Fatalf("exit code: got %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	if _, err := os.Stat(dbPath); err != nil {
		t.Errorf("database at [database] connection path: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "glance.sqlite")); err == nil {
		t.Errorf("database created in the data dir although [database] connection names another file")
	}
}

func TestUnsupportedDatabaseConnection(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	text := "[database]\nconnection = oracle://glance:secret@127.0.0.1/glance\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"db", "sync"}, {"serve", "--listen", "127.0.0.1:0"}} {
		t.Run(args[0], func(t *testing.T) {
			r := runCmd(t, append(args, "--config", conf, "--data-dir", dir)...)
			if r.code != 2 {
				t.Errorf("exit code: got %d, want 2 (stderr %q)", r.code, r.stderr)
			}
			want := `glimpse: config error: [database] connection: unsupported database "oracle" (sqlite, postgresql and mysql are)`
			if got := lines(r.stderr); len(got) != 1 || got[0] != want {
				t.Errorf("stderr lines: got %q, want exactly [%q]", got, want)
			}
		})
	}
}

// TestUnreachableDatabaseServer: with max_retries = 0 a server that is not
// there fails the start at once, with the reason and without the password.
func TestUnreachableDatabaseServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	for _, scheme := range []string{"postgresql+psycopg2", "mysql+pymysql"} {
		t.Run(scheme, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "glance-api.conf")
			text := "[database]\nconnection = " + scheme + "://glance:hunter2@" + addr + "/glance\nmax_retries = 0\n"
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCmd(t, "db", "version", "--config", conf, "--data-dir", dir)
			if r.code != 1 {
				t.Errorf("exit code: got %d, want 1 (stderr %q)", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "open catalog on") || !strings.Contains(r.stderr, "refused") {
				t.Errorf("stderr: got %q, want the catalog's connection refused", r.stderr)
			}
			if strings.Contains(r.stderr, "hunter2") {
				t.Errorf("stderr shows the database password: %q", r.stderr)
			}
		})
	}
	// With retries, each failed attempt is reported before the next.
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	text := "[database]\nconnection = postgresql://glance:hunter2@" + addr + "/glance\nmax_retries = 2\nretry_interval = 1\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, "db", "version", "--config", conf, "--data-dir", dir)
	if r.code != 1 || strings.Count(r.stderr, "database not reachable") != 2 || strings.Contains(r.stderr, "hunter2") {
		t.Errorf("with max_retries = 2: got exit %d, stderr %q; want 1 and two retry warnings without the password", r.code, r.stderr)
	}
}

func TestCatalogCannotBeOpened(t *testing.T) {
	// The data directory is a regular file: a failure while running
	// (exit 1), not a usage error.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"db", "sync"}, {"db", "version"}, {"serve", "--listen", "127.0.0.1:0"}} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			r := runCmd(t, append(args, "--data-dir", notDir)...)
			if r.code != 1 {
				t.Errorf("exit code: got %d, want 1 (stderr %q)", r.code, r.stderr)
			}
			got := lines(r.stderr)
			if len(got) != 1 || !strings.HasPrefix(got[0], "glimpse: ") || !strings.Contains(got[0], notDir) {
				t.Errorf("stderr lines: got %q, want one line naming %s", got, notDir)
			}
			noStackTrace(t, r.stderr)
		})
	}
}

func TestFutureSchemaRevisionRefused(t *testing.T) {
	const future = "2099_1_contract01"
	dir := t.TempDir()
	if r := runCmd(t, "db", "sync", "--data-dir", dir); r.code != 0 {
		t.Fatalf("db sync: exit code %d, stderr %q", r.code, r.stderr)
	}
	db := openCatalog(t, dir)
	if _, err := db.Exec(`UPDATE alembic_version SET version_num = ?`, future); err != nil {
		t.Fatal(err)
	}
	db.Close()

	wantMsg := `glimpse: database schema is newer than this glimpse: unknown revision "` + future + `" (this glimpse knows up to ` + sqlcat.HeadRevision + `)`
	tests := []struct {
		name string
		args []string
	}{
		{"serve", []string{"serve", "--listen", "127.0.0.1:0"}},
		// --insecure lifts the loopback refusal, so the schema check is
		// what stops this one.
		{"serve insecure public", []string{"serve", "--listen", "0.0.0.0:0", "--insecure"}},
		{"db sync", []string{"db", "sync"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, append(tc.args, "--data-dir", dir)...)
			if r.code != 2 {
				t.Errorf("exit code: got %d, want 2", r.code)
			}
			if got := lines(r.stderr); len(got) != 1 || got[0] != wantMsg {
				t.Errorf("stderr lines: got %q, want exactly [%q]", got, wantMsg)
			}
			noStackTrace(t, r.stderr)
		})
	}

	// db version still reports what is there, so the operator can see it.
	r := runCmd(t, "db", "version", "--data-dir", dir)
	if r.code != 0 || r.stdout != future+"\n" {
		t.Errorf("db version: got code %d stdout %q, want code 0 stdout %q", r.code, r.stdout, future+"\n")
	}

	// Nothing was rewritten.
	db = openCatalog(t, dir)
	var rev string
	if err := db.QueryRow(`SELECT version_num FROM alembic_version`).Scan(&rev); err != nil {
		t.Fatal(err)
	}
	if rev != future {
		t.Errorf("alembic_version after refused commands: got %q, want %q", rev, future)
	}
}

func openCatalog(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "glance.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// Settings that only the server can check (stores, policy files, the
// Keystone section) are configuration errors too: one clear line, exit 2.
func TestServeSettingErrors(t *testing.T) {
	for _, tc := range []struct{ name, conf, want string }{
		{"both file store options", "[glance_store]\nfilesystem_store_datadir = /tmp/a\nfilesystem_store_datadirs = /tmp/b:1\n", "filesystem_store_datadirs"},
		{"policy check that does not parse", "[oslo_policy]\npolicy_file = policy.yaml\n", "policy"},
		{"keystone without credentials", "[paste_deploy]\nflavor = keystone\n", "keystone_authtoken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if strings.Contains(tc.conf, "policy.yaml") {
				if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("get_image: \"(role:admin\"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			conf := filepath.Join(dir, "glance-api.conf")
			if err := os.WriteFile(conf, []byte(tc.conf), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCmd(t, "serve", "--config", conf, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
			if r.code != 2 {
				t.Errorf("exit code: got %d, want 2\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr: got %q, want it to name %s", r.stderr, tc.want)
			}
			noStackTrace(t, r.stderr)
			if _, err := os.Stat(filepath.Join(dir, "data", "glance.sqlite")); err == nil {
				t.Errorf("catalog created although the configuration was refused")
			}
		})
	}
}
