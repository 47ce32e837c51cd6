//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glimpse/internal/auth/keystonetest"
)

// keystoneCLI runs the OpenStack client as one Keystone user, finding
// glimpse through the catalog as a cloud's users do.
type keystoneCLI struct {
	t                         *testing.T
	authURL, user, password   string
	project, userDomain, pdom string
}

func (c *keystoneCLI) run(args ...string) cliResult {
	c.t.Helper()
	base := []string{"openstack",
		"--os-auth-url", c.authURL + "/v3", "--os-identity-api-version", "3",
		"--os-username", c.user, "--os-password", c.password,
		"--os-project-name", c.project,
		"--os-user-domain-id", c.userDomain, "--os-project-domain-id", c.pdom,
		"--os-region-name", "RegionOne", "--os-interface", "public",
		"--os-image-api-version", "2"}
	return runTool(c.t, append(base, args...)...)
}

func (c *keystoneCLI) ok(args ...string) cliResult {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("%s: want exit 0, got:\n%s", c.user, r)
	}
	return r
}

func (c *keystoneCLI) fails(want string, args ...string) {
	c.t.Helper()
	r := c.run(args...)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, want) {
		c.t.Fatalf("%s: want a failure mentioning %q, got:\n%s", c.user, want, r)
	}
}

func (c *keystoneCLI) props(args ...string) map[string]any {
	c.t.Helper()
	var v map[string]any
	r := c.ok(append(args, "-f", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		c.t.Fatalf("decode %v: %v\n%s", args, err, r)
	}
	return v
}

func (c *keystoneCLI) listIDs(args ...string) []string {
	c.t.Helper()
	var rows []map[string]any
	r := c.ok(append(append([]string{"image", "list"}, args...), "-f", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		c.t.Fatalf("decode image list: %v\n%s", err, r)
	}
	var ids []string
	for _, row := range rows {
		ids = append(ids, fmt.Sprint(row["ID"]))
	}
	return ids
}

// TestKeystoneCLI runs the OpenStack client through a real Keystone, with
// glimpse registered in its catalog as the image service, as two projects'
// users and the admin.
func TestKeystoneCLI(t *testing.T) {
	bin := os.Getenv("GLIMPSE_BIN")
	if bin == "" {
		t.Skip("GLIMPSE_BIN is not set: scripts/test.sh builds glimpse and runs these tests with it")
	}
	needTool(t, "openstack", "python3-openstackclient")
	fx := keystonetest.Load(t)

	conf := "[paste_deploy]\nflavor = keystone\n\n[keystone_authtoken]\n"
	opts := fx.AuthTokenOptions()
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		conf += k + " = " + opts[k] + "\n"
	}
	dir := t.TempDir()
	confPath := filepath.Join(dir, "glance-api.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startGlimpse(t, bin, filepath.Join(dir, "data"), "--config", confPath)
	register := func(url string) {
		out, err := exec.Command("bash", "../scripts/keystone/register-endpoint.sh", url).CombinedOutput()
		if err != nil {
			t.Fatalf("register-endpoint.sh %s: %v\n%s", url, err, out)
		}
	}
	register(p.url)
	t.Cleanup(func() { register("-") })

	as := func(user string) *keystoneCLI {
		u := fx.Users[user]
		return &keystoneCLI{t: t, authURL: fx.URL, user: user, password: u.Password,
			project: u.Project, userDomain: fx.Domain, pdom: fx.Domain}
	}
	alice, bob, carol, admin := as("alice"), as("bob"), as("carol"), as("admin")

	data := bytes.Repeat([]byte("glimpse keystone e2e\n"), 50_000)
	src := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	img := alice.props("image", "create", "--file", src, "--disk-format", "raw", "--container-format", "bare", "--private", "e2e-keystone-"+uniq(t))
	id := fmt.Sprint(img["id"])
	if got, want := img["owner"], fx.Projects["alpha"]; got != want {
		t.Fatalf("owner of alice's image: got %v, want project alpha %s", got, want)
	}
	// The client prints the image as created, before its upload.
	if got, want := alice.props("image", "show", id)["status"], "active"; got != want {
		t.Fatalf("status: got %v, want %v", got, want)
	}

	// The same project's reader sees it; the other project does not.
	if ids := bob.listIDs(); !slices.Contains(ids, id) {
		t.Fatalf("bob (reader of alpha) image list: %s missing from %v", id, ids)
	}
	if ids := carol.listIDs(); slices.Contains(ids, id) {
		t.Fatalf("carol (beta) sees alpha's private image %s", id)
	}
	carol.fails("No Image found", "image", "show", id)

	alice.ok("image", "set", "--property", "e2e_color=blue", id)
	if got := alice.props("image", "show", id)["properties"]; !strings.Contains(fmt.Sprint(got), "e2e_color:blue") {
		t.Fatalf("properties after image set: got %v, want e2e_color=blue among them", got)
	}
	saved := filepath.Join(dir, "saved.raw")
	alice.ok("image", "save", "--file", saved, id)
	dataWantFile(t, "alice's saved image", saved, data)

	// Sharing with project beta, accepted by carol.
	alice.ok("image", "set", "--shared", id)
	alice.ok("image", "add", "project", id, fx.Projects["beta"])
	carol.ok("image", "set", "--accept", id)
	if ids := carol.listIDs(); !slices.Contains(ids, id) {
		t.Fatalf("carol's image list after accepting: %s missing from %v", id, ids)
	}
	saved2 := filepath.Join(dir, "saved-by-carol.raw")
	carol.ok("image", "save", "--file", saved2, id)
	dataWantFile(t, "carol's saved image", saved2, data)
	carol.fails("403", "image", "delete", id)
	carol.fails("403", "image", "set", "--property", "e2e_color=red", id)

	// The admin sees every project's images and may delete them.
	if ids := admin.listIDs(); !slices.Contains(ids, id) {
		t.Fatalf("admin image list: %s missing", id)
	}
	admin.ok("image", "delete", id)
	alice.fails("No Image found", "image", "show", id)
}
