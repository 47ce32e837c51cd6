package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glimpse/internal/config"
	"glimpse/internal/server"
)

// opsRun runs the command line and returns the exit code and outputs.
func opsRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// dataServer is a running server on a data directory, driven over HTTP as
// an administrator.
type dataServer struct {
	t   *testing.T
	dir string
	ts  *httptest.Server
	srv *server.Server
}

func startDataServer(t *testing.T, dir string, delayed bool) *dataServer {
	t.Helper()
	cfg := config.Default()
	cfg.Glimpse.DataDir = dir
	cfg.Default.DelayedDelete = delayed
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	d := &dataServer{t: t, dir: dir, srv: srv, ts: httptest.NewServer(srv.Handler())}
	t.Cleanup(d.stop)
	return d
}

// stop shuts the server down (more than once is fine).
func (d *dataServer) stop() {
	if d.ts != nil {
		d.ts.Close()
		d.srv.Close()
		d.ts = nil
	}
}

func (d *dataServer) do(method, path, ctype string, body []byte, want int) []byte {
	d.t.Helper()
	req, err := http.NewRequest(method, d.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		d.t.Fatalf("%s %s: got status %d (%s), want %d", method, path, resp.StatusCode, b, want)
	}
	return b
}

// create creates a queued raw/bare image and returns its ID.
func (d *dataServer) create() string {
	d.t.Helper()
	b := d.do("POST", "/v2/images", "application/json", []byte(`{"disk_format":"raw","container_format":"bare"}`), http.StatusCreated)
	var img struct{ ID string }
	if err := json.Unmarshal(b, &img); err != nil || img.ID == "" {
		d.t.Fatalf("create image: got %s (%v), want an image", b, err)
	}
	return img.ID
}

// upload creates an image holding data and returns its ID.
func (d *dataServer) upload(data []byte) string {
	d.t.Helper()
	id := d.create()
	d.do("PUT", "/v2/images/"+id+"/file", "application/octet-stream", data, http.StatusNoContent)
	return id
}

func (d *dataServer) file(id string) string { return filepath.Join(d.dir, "images", id) }

func sortedLines(s string) []string {
	var ls []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" {
			ls = append(ls, l)
		}
	}
	slices.Sort(ls)
	return ls
}

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	d := startDataServer(t, dir, false)
	intact := d.upload([]byte("intact image data"))
	flipped := d.upload([]byte("data that gets one byte flipped"))
	gone := d.upload([]byte("data that disappears"))
	queued := d.create()
	d.stop()

	// All intact first.
	code, out, errOut := opsRun("verify", "--data-dir", dir, "--all")
	wantAll := []string{"ok " + flipped, "ok " + gone, "ok " + intact}
	slices.Sort(wantAll)
	if code != 0 || !slices.Equal(sortedLines(out), wantAll) {
		t.Fatalf("verify --all on intact data: got exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, wantAll)
	}

	b, err := os.ReadFile(d.file(flipped))
	if err != nil {
		t.Fatal(err)
	}
	b[3] ^= 0x20
	if err := os.WriteFile(d.file(flipped), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(d.file(gone)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // line prefixes, sorted
	}{
		{"all", []string{"--all"}, 1, []string{
			"MISMATCH " + flipped + " file://" + d.file(flipped) + " checksum ",
			"MISSING " + gone + " file://" + d.file(gone),
			"ok " + intact,
		}},
		{"intact only", []string{intact}, 0, []string{"ok " + intact}},
		{"missing named", []string{gone, intact}, 1, []string{
			"MISSING " + gone + " file://" + d.file(gone),
			"ok " + intact,
		}},
		{"queued and unknown", []string{queued, "11111111-2222-3333-4444-555555555555"}, 1, []string{
			"NOTFOUND 11111111-2222-3333-4444-555555555555",
			"skip " + queued + " status queued",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := opsRun(append([]string{"verify", "--data-dir", dir}, tc.args...)...)
			if code != tc.wantCode {
				t.Errorf("exit code: got %d, want %d (stdout %q, stderr %q)", code, tc.wantCode, out, errOut)
			}
			got := sortedLines(out)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if len(got) != len(want) {
				t.Fatalf("stdout: got %q, want lines starting %q", got, want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], want[i]) {
					t.Errorf("stdout line %d: got %q, want it to start with %q", i, got[i], want[i])
				}
			}
		})
	}
}

func TestVerifyCommandUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"nothing to verify", []string{"verify", "--data-dir", dir}},
		{"all and IDs", []string{"verify", "--data-dir", dir, "--all", "11111111-2222-3333-4444-555555555555"}},
		{"unknown flag", []string{"verify", "--bogus"}},
		{"missing config file", []string{"verify", "--config", filepath.Join(dir, "missing.conf"), "--all"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := opsRun(tc.args...)
			if code != 2 {
				t.Errorf("exit code: got %d, want 2 (stdout %q, stderr %q)", code, out, errOut)
			}
			if errOut == "" {
				t.Errorf("stderr: got nothing, want an explanation")
			}
		})
	}
}

func TestVerifyCommandEmptyCatalog(t *testing.T) {
	code, out, errOut := opsRun("verify", "--data-dir", t.TempDir(), "--all")
	if code != 1 || !strings.Contains(errOut, "glimpse db sync") {
		t.Errorf("verify on an empty data dir: got exit %d, stdout %q, stderr %q; want 1 and advice to run glimpse db sync", code, out, errOut)
	}
}
