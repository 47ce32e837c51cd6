//go:build linux

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// logAddr finds the address a started glimpse logged under key.
func logAddr(t *testing.T, p *glimpseProcess, key string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(p.logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil {
				if v, ok := rec[key].(string); ok && v != "" {
					return "http://" + v
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("glimpse never logged %s:\n%s", key, p.logs.String())
	return ""
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// One image created through v2 is seen through the registry API and the
// compute proxy, each on the listener its flag opened.
func TestRegistryAndComputeListeners(t *testing.T) {
	bin := os.Getenv("GLIMPSE_BIN")
	if bin == "" {
		t.Skip("GLIMPSE_BIN is not set: scripts/test.sh builds glimpse and runs these tests with it")
	}
	p := startGlimpse(t, bin, t.TempDir(), "--registry-listen", "127.0.0.1:0", "--compute-listen", "127.0.0.1:0")
	registryURL, computeURL := logAddr(t, p, "registry_listen"), logAddr(t, p, "compute_listen")
	resp, err := http.Post(p.url+"/v2/images", "application/json",
		strings.NewReader(`{"name":"seen-everywhere","disk_format":"raw","container_format":"bare","min_ram":64}`))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || created.ID == "" {
		t.Fatalf("create: %d", resp.StatusCode)
	}

	var reg struct {
		Image struct {
			ID       string
			Name     string
			IsPublic bool `json:"is_public"`
			MinRAM   int  `json:"min_ram"`
		}
	}
	getJSON(t, registryURL+"/images/"+created.ID, &reg)
	if reg.Image.ID != created.ID || reg.Image.Name != "seen-everywhere" || reg.Image.IsPublic || reg.Image.MinRAM != 64 {
		t.Errorf("registry view: %+v", reg.Image)
	}
	var nova struct {
		Image struct {
			ID     string
			Name   string
			Status string
			MinRAM int `json:"minRam"`
		}
	}
	getJSON(t, computeURL+"/v2.1/images/"+created.ID, &nova)
	if nova.Image.ID != created.ID || nova.Image.Status != "SAVING" || nova.Image.MinRAM != 64 {
		t.Errorf("compute proxy view: %+v", nova.Image)
	}
}
