package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imageRow reads an image's status, deleted flag and location statuses
// from the catalog file of dir, deleted rows included.
func imageRow(t *testing.T, dir, id string) (status string, deleted bool, locs string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "glance.sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT status, deleted FROM images WHERE id = ?`, id).Scan(&status, &deleted); err != nil {
		t.Fatalf("read image %s: %v", id, err)
	}
	var l sql.NullString
	if err := db.QueryRow(`SELECT group_concat(status, ',') FROM (SELECT status FROM image_locations WHERE image_id = ? ORDER BY id)`, id).Scan(&l); err != nil {
		t.Fatalf("read locations of %s: %v", id, err)
	}
	return status, deleted, l.String
}

func scrubConfig(t *testing.T, scrubTime int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "glance-api.conf")
	conf := fmt.Sprintf("[DEFAULT]\ndelayed_delete = True\nscrub_time = %d\n", scrubTime)
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileExists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestScrubCommand(t *testing.T) {
	dir := t.TempDir()
	d := startDataServer(t, dir, true)
	doomed := d.upload([]byte("data to scrub"))
	kept := d.upload([]byte("data to keep"))
	d.do("DELETE", "/v2/images/"+doomed, "", nil, http.StatusNoContent)
	d.do("GET", "/v2/images/"+doomed, "", nil, http.StatusNotFound)
	list := string(d.do("GET", "/v2/images", "", nil, http.StatusOK))
	if strings.Contains(list, doomed) || !strings.Contains(list, kept) {
		t.Errorf("image list after a delayed delete: got %s, want only %s", list, kept)
	}
	d.stop()

	if st, del, locs := imageRow(t, dir, doomed); st != "pending_delete" || !del || locs != "pending_delete" {
		t.Errorf("after DELETE: got status %s deleted %v locations %q, want pending_delete, deleted, pending_delete", st, del, locs)
	}
	if !fileExists(t, d.file(doomed)) {
		t.Fatalf("after DELETE: data of %s gone, want it kept until scrubbed", doomed)
	}

	// scrub_time not reached: nothing done.
	code, out, errOut := opsRun("scrub", "--config", scrubConfig(t, 3600), "--data-dir", dir)
	if code != 0 || out != "scrubbed 0 of 0 pending_delete images older than 3600 s\n" {
		t.Errorf("early scrub: got exit %d, stdout %q, stderr %q; want 0 and nothing scrubbed", code, out, errOut)
	}
	if st, _, _ := imageRow(t, dir, doomed); st != "pending_delete" || !fileExists(t, d.file(doomed)) {
		t.Errorf("after an early scrub: got status %s, data kept %v; want pending_delete with its data", st, fileExists(t, d.file(doomed)))
	}

	code, out, errOut = opsRun("scrub", "--config", scrubConfig(t, 0), "--data-dir", dir)
	want := "removed " + doomed + " file://" + d.file(doomed) + "\n" +
		"deleted " + doomed + "\n" +
		"scrubbed 1 of 1 pending_delete images older than 0 s\n"
	if code != 0 || out != want {
		t.Errorf("scrub: got exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, want)
	}
	if fileExists(t, d.file(doomed)) {
		t.Errorf("after scrub: data of %s still there", doomed)
	}
	if !fileExists(t, d.file(kept)) {
		t.Errorf("after scrub: data of the live image %s gone", kept)
	}
	if st, del, locs := imageRow(t, dir, doomed); st != "deleted" || !del || locs != "deleted" {
		t.Errorf("after scrub: got status %s deleted %v locations %q, want deleted, deleted, deleted", st, del, locs)
	}

	code, out, _ = opsRun("scrub", "--config", scrubConfig(t, 0), "--data-dir", dir)
	if code != 0 || out != "scrubbed 0 of 0 pending_delete images older than 0 s\n" {
		t.Errorf("second scrub: got exit %d, stdout %q; want 0 and nothing scrubbed", code, out)
	}
}

func TestScrubCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unexpected argument", []string{"scrub", "--data-dir", t.TempDir(), "extra"}},
		{"unknown flag", []string{"scrub", "--bogus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := opsRun(tc.args...)
			if code != 2 || errOut == "" {
				t.Errorf("exit code: got %d, stdout %q, stderr %q; want 2 with an explanation", code, out, errOut)
			}
		})
	}
}

func TestScrubCommandCannotDelete(t *testing.T) {
	dir := t.TempDir()
	d := startDataServer(t, dir, true)
	id := d.upload([]byte("data the scrubber cannot remove"))
	d.do("DELETE", "/v2/images/"+id, "", nil, http.StatusNoContent)
	d.stop()
	// A non-empty directory where the data was: removing it fails.
	if err := os.Remove(d.file(id)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(d.file(id), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := opsRun("scrub", "--config", scrubConfig(t, 0), "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "failed "+id+" file://"+d.file(id)) ||
		!strings.Contains(out, "kept "+id+" pending_delete") ||
		!strings.HasSuffix(out, "scrubbed 0 of 1 pending_delete images older than 0 s\n") {
		t.Errorf("scrub: got exit %d, stdout %q, stderr %q; want 1 with %s kept pending", code, out, errOut, id)
	}
	if st, _, locs := imageRow(t, dir, id); st != "pending_delete" || locs != "pending_delete" {
		t.Errorf("after a failed scrub: got status %s locations %q, want pending_delete, pending_delete", st, locs)
	}
}
