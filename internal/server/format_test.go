package server_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// diskImage makes a disk image with qemu-img and returns its bytes;
// without qemu-img the test skips, or fails under
// GLIMPSE_REQUIRE_BACKENDS=1.
func diskImage(t *testing.T, fmtName, size string, opts ...string) string {
	t.Helper()
	qemu, err := exec.LookPath("qemu-img")
	if err != nil {
		if os.Getenv("GLIMPSE_REQUIRE_BACKENDS") == "1" {
			t.Fatal("qemu-img not found (Debian package qemu-utils) and GLIMPSE_REQUIRE_BACKENDS=1")
		}
		t.Skip("qemu-img not found: install qemu-utils (scripts/test.sh does) to run this test")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "disk")
	args := append([]string{"create", "-q", "-f", fmtName}, opts...)
	args = append(args, path, size)
	cmd := exec.Command(qemu, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Uploads whose data could make a compute host open its own files, or
// that are not the format they claim, get Glance's 415 with the reason,
// and nothing is kept.
func TestUploadRefusesUnsafeImages(t *testing.T) {
	h := policyServer(t, "", nil)
	for _, tc := range []struct {
		name, disk, data, want string
	}{
		{"qcow2 with a backing file", "qcow2", diskImage(t, "qcow2", "16M", "-u", "-o", "backing_file=/etc/passwd,backing_fmt=raw"), "Image failed safety checks"},
		{"qcow2 with an external data file", "qcow2", diskImage(t, "qcow2", "16M", "-o", "data_file=disk.data"), "Image failed safety checks"},
		{"vmdk whose extent is another file", "vmdk", diskImage(t, "vmdk", "16M", "-o", "subformat=monolithicFlat"), "Image failed safety checks"},
		{"qcow2 declared vmdk", "vmdk", diskImage(t, "qcow2", "16M"), "Image disk_format vmdk does not match stream data qcow2"},
		{"raw declared qcow2", "qcow2", strings.Repeat("not a disk header ", 1000), "Image disk_format qcow2 does not match stream data raw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := ownerMember.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody,
				`{"name":"x","disk_format":"`+tc.disk+`","container_format":"bare"}`)["id"].(string)
			w := ownerMember.do(h, "PUT", "/v2/images/"+id+"/file", octetStream, tc.data)
			wantMessage(t, w, http.StatusUnsupportedMediaType, tc.want)
			img := ownerMember.must(t, h, http.StatusOK, "GET", "/v2/images/"+id, noBody, "")
			if img["status"] != "queued" || img["size"] != nil || img["checksum"] != nil {
				t.Fatalf("image after the refusal: %v", img)
			}
			if w := ownerMember.do(h, "GET", "/v2/images/"+id+"/file", noBody, ""); w.Code != http.StatusNoContent {
				t.Fatalf("download after the refusal: got %d, want 204 (no data)", w.Code)
			}
		})
	}
	// A good image of the declared format is stored with its virtual size.
	id := ownerMember.imageWithData(t, h, `{"name":"ok","disk_format":"qcow2","container_format":"bare"}`, diskImage(t, "qcow2", "16M"))
	if got := ownerMember.must(t, h, http.StatusOK, "GET", "/v2/images/"+id, noBody, "")["virtual_size"]; got != float64(16<<20) {
		t.Fatalf("virtual_size: got %v, want %d", got, 16<<20)
	}
}
