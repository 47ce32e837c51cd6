package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// With filesystem_store_datadirs, uploads go to the directory of highest
// priority, and downloads and deletes find them there.
func TestFileStoreDatadirs(t *testing.T) {
	low, high := t.TempDir(), t.TempDir()
	h := policyServer(t, "[glance_store]\nfilesystem_store_datadirs = "+low+":1,\n "+high+":5\n", nil)
	id := ownerMember.imageWithData(t, h, `{"name":"x","disk_format":"raw","container_format":"bare"}`, "some bytes")
	if _, err := os.Stat(filepath.Join(high, id)); err != nil {
		t.Fatalf("image data not in the priority-5 directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(low, id)); err == nil {
		t.Fatalf("image data also in the priority-1 directory")
	}
	if w := ownerMember.do(h, "GET", "/v2/images/"+id+"/file", noBody, ""); w.Code != http.StatusOK || w.Body.String() != "some bytes" {
		t.Fatalf("download: got %d %q", w.Code, w.Body)
	}
	ownerMember.must(t, h, http.StatusNoContent, "DELETE", "/v2/images/"+id, noBody, "")
	if _, err := os.Stat(filepath.Join(high, id)); !os.IsNotExist(err) {
		t.Fatalf("data left after delete: %v", err)
	}
}
