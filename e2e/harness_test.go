//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// cliTimeout bounds every client invocation.
const cliTimeout = 60 * time.Second

// requireBackends reports whether a missing client must fail the run
// rather than skip it (CI sets GLIMPSE_REQUIRE_BACKENDS=1).
func requireBackends() bool { return os.Getenv("GLIMPSE_REQUIRE_BACKENDS") == "1" }

// needTool returns the path of a command-line tool, skipping the test
// (or failing it under GLIMPSE_REQUIRE_BACKENDS=1) when it is missing.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found on PATH (Debian package %s): %v", name, pkg, err)
	if requireBackends() {
		t.Fatalf("%s; GLIMPSE_REQUIRE_BACKENDS=1 forbids skipping", msg)
	}
	t.Skipf("SKIPPING END-TO-END CHECKS: %s; install it (scripts/test.sh does) to run them", msg)
	return ""
}

// target is the Images API under test.
type target struct {
	url string
	// srv is nil when the tests run against an external endpoint.
	srv *glimpseProcess
	// dataDir is glimpse's data directory ("" for an external endpoint).
	dataDir string
}

// newTarget starts glimpse from GLIMPSE_BIN in a fresh data directory, or
// uses GLIMPSE_E2E_ENDPOINT, or skips when neither is set.
//
// The clients are looked for first, so that a missing one is reported
// before anything starts.
func newTarget(t *testing.T) *target {
	t.Helper()
	ep := os.Getenv("GLIMPSE_E2E_ENDPOINT")
	bin := os.Getenv("GLIMPSE_BIN")
	if ep == "" && bin == "" {
		t.Skip("GLIMPSE_BIN is not set: scripts/test.sh builds glimpse and runs these tests with it")
	}
	needTool(t, "openstack", "python3-openstackclient")
	needTool(t, "glance", "python3-glanceclient")
	if ep != "" {
		return &target{url: strings.TrimRight(ep, "/")}
	}
	dir := t.TempDir()
	p := startGlimpse(t, bin, dir)
	return &target{url: p.url, srv: p, dataDir: dir}
}

// local reports whether glimpse runs as a child process of this test.
func (tg *target) local() bool { return tg.srv != nil }

// glimpseProcess is a running `glimpse serve`.
type glimpseProcess struct {
	cmd  *exec.Cmd
	url  string
	logs *lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // from Wait, valid after done
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serverEnv is the environment without GLIMPSE_* configuration overrides,
// so that the developer's or CI's variables cannot change the server.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GLIMPSE_") {
			env = append(env, kv)
		}
	}
	return env
}

// startGlimpse runs `glimpse serve` on an ephemeral loopback port, reads
// the address it reports, and waits until /versions answers.
func startGlimpse(t *testing.T, bin, dataDir string, extra ...string) *glimpseProcess {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = serverEnv()
	p := &glimpseProcess{cmd: cmd, logs: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.logs
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			var rec struct {
				Listen string `json:"listen"`
			}
			if !sent && json.Unmarshal([]byte(line), &rec) == nil && rec.Listen != "" {
				addrc <- rec.Listen
				sent = true
			}
		}
		// Drain anything after a scanner error so the child never blocks.
		_, _ = io.Copy(p.logs, stderr)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("glimpse log (last lines):\n%s", tail(p.logs.String(), 60))
		}
	})

	select {
	case addr := <-addrc:
		p.url = "http://" + addr
	case <-p.done:
		t.Fatalf("glimpse serve exited before listening: %v\n%s", p.err, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("glimpse serve did not report its address within 30 s:\n%s", p.logs.String())
	}

	if err := waitVersions(p.url, 15*time.Second, p.done); err != nil {
		t.Fatalf("glimpse: %v", err)
	}
	return p
}

// waitVersions polls base/versions until it answers 200, or fails when the
// process serving it ends (done closes) or timeout passes.
func waitVersions(base string, timeout time.Duration, done <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-done:
			return errors.New("the process exited during start-up")
		default:
		}
		resp, err := client.Get(base + "/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s/versions never answered 200 within %v: %w", base, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and requires a clean exit (code 0) within 30 s. It
// does nothing when the process has already been stopped.
func (p *glimpseProcess) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM glimpse (pid %d): %v", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("glimpse (pid %d) still running 30 s after SIGTERM; killed it", p.cmd.Process.Pid)
		return
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("glimpse exit after SIGTERM: got %v (code %d), want exit code 0\n%s", p.err, code, p.logs.String())
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// openPTY returns a pseudo-terminal pair. The CLIs read image data from
// standard input whenever it is not a terminal, so every invocation gets
// the terminal end as stdin: an image create then sends no data, exactly as
// when an operator types the command.
func openPTY() (master, tty *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		m.Close()
		return nil, nil, fmt.Errorf("TIOCGPTN: %w", e)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		return nil, nil, fmt.Errorf("TIOCSPTLCK: %w", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// cliResult is one finished client invocation.
type cliResult struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// runTool runs a client with a terminal as stdin, a fresh HOME (so no
// clouds.yaml or cached schema of the developer's is read), no OS_*
// variables, and a 60 s limit.
func runTool(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	home, err := os.MkdirTemp(t.TempDir(), "home")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "PYTHONIOENCODING=utf-8"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OS_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	master, tty, err := openPTY()
	if err != nil {
		t.Fatalf("pseudo-terminal for %s: %v", args[0], err)
	}
	defer master.Close()
	defer tty.Close()
	cmd.Stdin = tty
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	r := cliResult{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s: no answer within %s\n%s", strings.Join(args, " "), cliTimeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return r
}

// cli runs the OpenStack clients against one endpoint without Keystone.
type cli struct {
	t   *testing.T
	url string
}

func newCLI(t *testing.T, url string) *cli {
	needTool(t, "openstack", "python3-openstackclient")
	return &cli{t: t, url: url}
}

// openstack runs `openstack <args>` with no authentication against the
// endpoint.
func (c *cli) openstack(args ...string) cliResult {
	c.t.Helper()
	base := []string{"openstack", "--os-auth-type", "none", "--os-endpoint", c.url, "--os-image-api-version", "2"}
	return runTool(c.t, append(base, args...)...)
}

// ok runs `openstack <args>` and fails the test unless it exits 0.
func (c *cli) ok(args ...string) cliResult {
	c.t.Helper()
	r := c.openstack(args...)
	if r.code != 0 {
		c.t.Fatalf("want exit 0, got:\n%s", r)
	}
	return r
}

// json runs `openstack <args> -f json` and decodes its output into v.
func (c *cli) json(v any, args ...string) {
	c.t.Helper()
	r := c.ok(append(args, "-f", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		c.t.Fatalf("decode output of %s: %v\n%s", strings.Join(args, " "), err, r)
	}
}

// fails runs `openstack <args>`, requires a non-zero exit and returns the
// result for checks on the message.
func (c *cli) fails(args ...string) cliResult {
	c.t.Helper()
	r := c.openstack(args...)
	if r.code == 0 {
		c.t.Fatalf("want a non-zero exit, got:\n%s", r)
	}
	return r
}

// glance runs python3-glanceclient's `glance <args>` against the endpoint.
// Each run has a fresh HOME: glanceclient 4.1 caches the server's image
// schema there and then refuses to start, because the schema's "stores"
// property clashes with its own --stores option (Glance 25.1 does the same
// to it).
func (c *cli) glance(args ...string) cliResult {
	c.t.Helper()
	needTool(c.t, "glance", "python3-glanceclient")
	base := []string{"glance", "--os-image-url", c.url, "--os-auth-token", "unused"}
	return runTool(c.t, append(base, args...)...)
}

// table parses the rows of a prettytable printed by glanceclient, header
// row first. A row whose first cell is empty continues the previous row.
func table(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(rows) > 1 && cells[0] == "" {
			prev := rows[len(rows)-1]
			for i := 1; i < len(cells) && i < len(prev); i++ {
				prev[i] += cells[i]
			}
			continue
		}
		rows = append(rows, cells)
	}
	return rows
}

// propertyTable turns glanceclient's two-column Property/Value table into
// a map.
func propertyTable(t *testing.T, r cliResult) map[string]string {
	t.Helper()
	rows := table(r.stdout)
	if len(rows) == 0 || len(rows[0]) != 2 || rows[0][0] != "Property" {
		t.Fatalf("want a Property/Value table, got:\n%s", r)
	}
	m := map[string]string{}
	for _, row := range rows[1:] {
		m[row[0]] = row[1]
	}
	return m
}

// uniq returns a short random token so that names and tags of one run
// never match another's, even on a shared server.
func uniq(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// forget deletes an image over HTTP when the test ends, unprotecting it
// first, so that nothing a test created outlives it.
func forget(t *testing.T, url, id string) {
	t.Cleanup(func() {
		client := &http.Client{Timeout: 10 * time.Second}
		patch := `[{"op": "replace", "path": "/protected", "value": false}]`
		req, _ := http.NewRequest(http.MethodPatch, url+"/v2/images/"+id, strings.NewReader(patch))
		req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
		req, _ = http.NewRequest(http.MethodDelete, url+"/v2/images/"+id, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	})
}

// sqlite3 runs a query on glimpse's catalog with the sqlite3 shell, an
// independent reader of the file.
func sqlite3(t *testing.T, dataDir, query string) string {
	t.Helper()
	needTool(t, "sqlite3", "sqlite3")
	r := runTool(t, "sqlite3", filepath.Join(dataDir, "glance.sqlite"), query)
	if r.code != 0 {
		t.Fatalf("sqlite3: %s", r)
	}
	return strings.TrimSpace(r.stdout)
}
