//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// glanceV1 runs python3-glanceclient with the Images v1 API.
func (c *cli) glanceV1(args ...string) cliResult {
	c.t.Helper()
	return c.glance(append([]string{"--os-image-api-version", "1"}, args...)...)
}

func (c *cli) glanceV1OK(args ...string) cliResult {
	c.t.Helper()
	r := c.glanceV1(args...)
	if r.code != 0 {
		c.t.Fatalf("want exit 0, got:\n%s", r)
	}
	return r
}

// TestGlanceClientV1 drives the deprecated Images v1 API with Debian's
// glance client, and reads the result back through v2.
func TestGlanceClientV1(t *testing.T) {
	tg := newTarget(t)
	c := newCLI(t, tg.url)
	dir := t.TempDir()
	data := []byte(strings.Repeat("v1 image data\n", 4096))
	src := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	name := "e2e-v1-" + uniq(t)
	created := propertyTable(t, c.glanceV1OK("image-create", "--name", name, "--disk-format", "raw",
		"--container-format", "bare", "--property", "e2e_color=blue", "--file", src))
	id := created["id"]
	for k, want := range map[string]string{"status": "active", "is_public": "False", "size": "57344", "name": name} {
		if created[k] != want {
			t.Errorf("image-create %s: got %q, want %q", k, created[k], want)
		}
	}
	if out := c.glanceV1OK("image-list", "--all-tenants").stdout; !strings.Contains(out, id) {
		t.Fatalf("image-list does not show %s:\n%s", id, out)
	}
	shown := propertyTable(t, c.glanceV1OK("image-show", id))
	if shown["Property 'e2e_color'"] != "blue" {
		t.Errorf("image-show: property e2e_color: got %q, want blue (%v)", shown["Property 'e2e_color'"], shown)
	}
	saved := filepath.Join(dir, "saved.raw")
	c.glanceV1OK("image-download", "--file", saved, id)
	dataWantFile(t, "v1 download", saved, data)
	c.glanceV1OK("image-update", "--name", name+"-renamed", "--property", "e2e_size=large", id)
	// The same image through v2.
	var v2 map[string]any
	c.json(&v2, "image", "show", id)
	if v2["name"] != name+"-renamed" || v2["visibility"] != "shared" || !strings.Contains(fmt.Sprint(v2["properties"]), "e2e_size") {
		t.Errorf("v2 view after the v1 update: %v", v2)
	}
	c.glanceV1OK("image-delete", id)
	if r := c.glanceV1("image-show", id); r.code == 0 {
		t.Errorf("image-show after image-delete succeeded:\n%s", r)
	}
}
