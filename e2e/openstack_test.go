//go:build linux

package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// image is the part of `openstack image show -f json` the tests check.
type image struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Status          string         `json:"status"`
	Visibility      string         `json:"visibility"`
	Protected       bool           `json:"protected"`
	MinDisk         int            `json:"min_disk"`
	MinRAM          int            `json:"min_ram"`
	DiskFormat      string         `json:"disk_format"`
	ContainerFormat string         `json:"container_format"`
	Tags            []string       `json:"tags"`
	Properties      map[string]any `json:"properties"`
	File            string         `json:"file"`
	Schema          string         `json:"schema"`
}

// listRow is one row of `openstack image list [--long] -f json`.
type listRow struct {
	ID              string   `json:"ID"`
	Name            string   `json:"Name"`
	Status          string   `json:"Status"`
	DiskFormat      *string  `json:"Disk Format"`
	ContainerFormat *string  `json:"Container Format"`
	Size            *int64   `json:"Size"`
	Checksum        *string  `json:"Checksum"`
	Visibility      string   `json:"Visibility"`
	Protected       bool     `json:"Protected"`
	Tags            []string `json:"Tags"`
}

// memberRow is one row of `openstack image member list -f json`.
type memberRow struct {
	ImageID  string `json:"Image ID"`
	MemberID string `json:"Member ID"`
	Status   string `json:"Status"`
}

func names(rows []listRow) []string {
	var n []string
	for _, r := range rows {
		n = append(n, r.Name)
	}
	return n
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// create runs `openstack image create -f json` and deletes the image when
// the test ends.
func (c *cli) create(args ...string) image {
	c.t.Helper()
	var img image
	c.json(&img, append([]string{"image", "create"}, args...)...)
	if img.ID == "" {
		c.t.Fatalf("image create %v: no id in output", args)
	}
	forget(c.t, c.url, img.ID)
	return img
}

func (c *cli) show(ref string) image {
	c.t.Helper()
	var img image
	c.json(&img, "image", "show", ref)
	return img
}

func (c *cli) list(args ...string) []listRow {
	c.t.Helper()
	var rows []listRow
	c.json(&rows, append([]string{"image", "list"}, args...)...)
	return rows
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: got %q, want it to contain %q", what, got, w)
		}
	}
}

func TestOpenStackClient(t *testing.T) {
	tg := newTarget(t)
	c := newCLI(t, tg.url)
	u := uniq(t)

	// An image that must survive a restart of the server.
	kept := c.create("e2e-kept-"+u, "--disk-format", "vmdk", "--container-format", "ova",
		"--property", "e2e_kept=yes", "--tag", "kept-"+u, "--min-ram", "64")

	t.Run("clients", func(t *testing.T) {
		t.Run("create show set unset delete", func(t *testing.T) {
			t.Parallel()
			testLifecycle(t, tg)
		})
		t.Run("create --protected", func(t *testing.T) {
			t.Parallel()
			testCreateProtectedFlag(t, tg)
		})
		t.Run("protected image is not deleted", func(t *testing.T) {
			t.Parallel()
			testProtectedDelete(t, tg)
		})
		t.Run("deactivate and activate a queued image", func(t *testing.T) {
			t.Parallel()
			testDeactivateQueued(t, tg)
		})
		t.Run("visibility", func(t *testing.T) {
			t.Parallel()
			testVisibility(t, tg)
		})
		t.Run("list filters sort and pages", func(t *testing.T) {
			t.Parallel()
			testList(t, tg)
		})
		t.Run("members", func(t *testing.T) {
			t.Parallel()
			testMembers(t, tg)
		})
		t.Run("glance client", func(t *testing.T) {
			t.Parallel()
			testGlanceClient(t, tg)
		})
		t.Run("unknown image", func(t *testing.T) {
			t.Parallel()
			testUnknownImage(t, tg)
		})
	})

	if !tg.local() {
		return
	}
	t.Run("restart keeps the catalog", func(t *testing.T) {
		var before map[string]any
		c := newCLI(t, tg.url)
		c.json(&before, "image", "show", kept.ID)

		tg.srv.stop(t)
		if t.Failed() {
			return
		}
		tg.srv = startGlimpse(t, mustEnv(t, "GLIMPSE_BIN"), tg.dataDir)
		tg.url = tg.srv.url
		c = newCLI(t, tg.url)

		var after map[string]any
		c.json(&after, "image", "show", kept.ID)
		if d := cmp.Diff(before, after); d != "" {
			t.Errorf("image after restart differs (-before +after):\n%s", d)
		}
		rows := c.list("--tag", "kept-"+u)
		if len(rows) != 1 || rows[0].ID != kept.ID {
			t.Errorf("list --tag kept-%s after restart: got %+v, want only %s", u, rows, kept.ID)
		}

		// The file is Glance's schema, readable by the sqlite3 shell.
		if got := sqlite3(t, tg.dataDir, "SELECT version_num FROM alembic_version"); got != "2024_1_contract01" {
			t.Errorf("alembic_version: got %q, want 2024_1_contract01", got)
		}
		q := fmt.Sprintf("SELECT name || '=' || value FROM image_properties WHERE image_id = '%s' AND deleted = 0 AND name = 'e2e_kept'", kept.ID)
		if got := sqlite3(t, tg.dataDir, q); got != "e2e_kept=yes" {
			t.Errorf("image_properties row: got %q, want e2e_kept=yes", got)
		}
		q = fmt.Sprintf("SELECT name || '|' || disk_format || '|' || container_format || '|' || min_ram || '|' || status FROM images WHERE id = '%s'", kept.ID)
		if got, want := sqlite3(t, tg.dataDir, q), "e2e-kept-"+u+"|vmdk|ova|64|queued"; got != want {
			t.Errorf("images row: got %q, want %q", got, want)
		}
	})
}

func mustEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set", name)
	}
	return v
}

func testLifecycle(t *testing.T, tg *target) {
	c := newCLI(t, tg.url)
	u := uniq(t)
	name := "e2e-life-" + u
	img := c.create(name, "--disk-format", "qcow2", "--container-format", "bare",
		"--min-disk", "5", "--min-ram", "512",
		"--property", "os_distro=debian", "--property", "e2e_k=v1",
		"--tag", "alpha-"+u, "--tag", "beta-"+u, "--private")

	want := image{
		ID: img.ID, Name: name, Status: "queued", Visibility: "private",
		MinDisk: 5, MinRAM: 512, DiskFormat: "qcow2", ContainerFormat: "bare",
		Tags:   []string{"alpha-" + u, "beta-" + u},
		File:   "/v2/images/" + img.ID + "/file",
		Schema: "/v2/schemas/image",
	}
	check := func(step string, got image, wantProps map[string]any) {
		t.Helper()
		got.Tags = sorted(got.Tags)
		props := got.Properties
		got.Properties = nil
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", step, d)
		}
		for k, v := range wantProps {
			if v == nil {
				if _, ok := props[k]; ok {
					t.Errorf("%s: property %s: got %v, want it absent", step, k, props[k])
				}
			} else if props[k] != v {
				t.Errorf("%s: property %s: got %v, want %v", step, k, props[k], v)
			}
		}
	}
	check("image create", img, map[string]any{"os_distro": "debian", "e2e_k": "v1", "os_hidden": false})
	check("image show by name", c.show(name), map[string]any{"os_distro": "debian", "e2e_k": "v1"})

	name2 := name + "-renamed"
	c.ok("image", "set", "--name", name2, "--property", "e2e_k=v2", "--property", "e2e_new=x",
		"--tag", "gamma-"+u, "--min-disk", "6", "--min-ram", "1024", "--disk-format", "raw",
		"--protected", img.ID)
	want.Name, want.MinDisk, want.MinRAM, want.DiskFormat, want.Protected = name2, 6, 1024, "raw", true
	want.Tags = []string{"alpha-" + u, "beta-" + u, "gamma-" + u}
	check("image show after set", c.show(img.ID), map[string]any{"e2e_k": "v2", "e2e_new": "x", "os_distro": "debian"})

	c.ok("image", "unset", "--property", "e2e_new", "--tag", "beta-"+u, img.ID)
	want.Tags = []string{"alpha-" + u, "gamma-" + u}
	check("image show after unset", c.show(name2), map[string]any{"e2e_k": "v2", "e2e_new": nil, "os_distro": "debian"})

	c.ok("image", "set", "--unprotected", img.ID)
	want.Protected = false
	check("image show after --unprotected", c.show(img.ID), nil)

	c.ok("image", "delete", img.ID)
	r := c.fails("image", "show", img.ID)
	wantContains(t, "image show after delete", r.stderr, "No Image found for "+img.ID)

	if tg.local() {
		// Glance deletes softly: the row stays, marked deleted.
		q := fmt.Sprintf("SELECT status || '|' || deleted FROM images WHERE id = '%s'", img.ID)
		if got := sqlite3(t, tg.dataDir, q); got != "deleted|1" {
			t.Errorf("images row after delete: got %q, want deleted|1", got)
		}
	}
}

// testCreateProtectedFlag covers a quirk operators meet: openstackclient
// 6.0 sends --protected on create as the property is_protected, which the
// image schema rejects because extra properties must be strings.
func testCreateProtectedFlag(t *testing.T, tg *target) {
	c := newCLI(t, tg.url)
	name := "e2e-prot-" + uniq(t)
	r := c.fails("image", "create", name, "--protected")
	wantContains(t, "image create --protected", r.stderr,
		"400", "Provided object does not match schema", "is not of type", "is_protected")
	if rows := c.list("--name", name); len(rows) != 0 {
		for _, row := range rows {
			forget(t, tg.url, row.ID)
		}
		t.Errorf("image list --name %s after the refused create: got %d images, want none", name, len(rows))
	}
}

func testProtectedDelete(t *testing.T, tg *target) {
	c := newCLI(t, tg.url)
	img := c.create("e2e-guard-"+uniq(t), "--shared")
	c.ok("image", "set", "--protected", img.ID)

	r := c.fails("image", "delete", img.ID)
	wantContains(t, "image delete of a protected image", r.stderr,
		"403", "Image "+img.ID+" is protected and cannot be deleted.", "Failed to delete 1 of 1 images.")
	if got := c.show(img.ID); !got.Protected || got.Status != "queued" {
		t.Errorf("after refused delete: got protected=%v status=%s, want protected=true status=queued", got.Protected, got.Status)
	}

	c.ok("image", "set", "--unprotected", img.ID)
	c.ok("image", "delete", img.ID)
	c.fails("image", "show", img.ID)
}

// testDeactivateQueued: Glance refuses both actions on an image without
// data (403). openstackclient 6.0 does not check the status of these calls
// and exits 0, so the refusal is read from its --debug log, and the image
// must still be queued.
func testDeactivateQueued(t *testing.T, tg *target) {
	c := newCLI(t, tg.url)
	img := c.create("e2e-deact-" + uniq(t))
	for _, action := range []string{"deactivate", "activate"} {
		r := c.openstack("--debug", "image", "set", "--"+action, img.ID)
		path := "reactivate"
		if action == "deactivate" {
			path = "deactivate"
		}
		wantContains(t, "image set --"+action+" --debug", r.stderr,
			fmt.Sprintf(`"POST /v2/images/%s/actions/%s HTTP/1.1" 403`, img.ID, path))
		if got := c.show(img.ID).Status; got != "queued" {
			t.Errorf("status after image set --%s: got %s, want queued", action, got)
		}
	}
}

func testVisibility(t *testing.T, tg *target) {
	c := newCLI(t, tg.url)
	u := uniq(t)
	tag := "vis-" + u
	kinds := []string{"community", "shared", "private"}
	ids := map[string]string{}
	for _, vis := range kinds {
		img := c.create("e2e-"+vis+"-"+u, "--"+vis, "--tag", tag)
		if img.Visibility != vis {
			t.Errorf("image create --%s: got visibility %s, want %s", vis, img.Visibility, vis)
		}
		ids[vis] = img.ID
	}
	for _, vis := range kinds {
		rows := c.list("--"+vis, "--tag", tag)
		if got, want := names(rows), []string{"e2e-" + vis + "-" + u}; !slices.Equal(got, want) {
			t.Errorf("image list --%s --tag %s: got %q, want %q", vis, tag, got, want)
		}
	}
	// Community images are listed only on request, even to an admin.
	all := names(c.list("--tag", tag))
	if want := []string{"e2e-private-" + u, "e2e-shared-" + u}; !slices.Equal(all, want) {
		t.Errorf("image list --tag %s: got %q, want %q", tag, all, want)
	}

	// Publishing needs the admin role; the unauthenticated mode gives
	// every request administrator rights but no roles, as Glance does.
	const notAllowed = "You are not authorized to complete publicize_image action."
	r := c.fails("image", "create", "e2e-public-"+u, "--public", "--tag", tag)
	wantContains(t, "image create --public", r.stderr, "403", notAllowed)
	r = c.fails("image", "set", "--public", ids["shared"])
	wantContains(t, "image set --public", r.stderr, "403", "Forbidden")
	if got := c.show(ids["shared"]).Visibility; got != "shared" {
		t.Errorf("visibility after refused image set --public: got %s, want shared", got)
	}
	if rows := c.list("--public", "--tag", tag); len(rows) != 0 {
		for _, row := range rows {
			forget(t, tg.url, row.ID)
		}
		t.Errorf("image list --public --tag %s: got %q, want none", tag, names(rows))
	}

	c.ok("image", "set", "--community", ids["private"])
	rows := c.list("--community", "--tag", tag)
	if got, want := names(rows), []string{"e2e-community-" + u, "e2e-private-" + u}; !slices.Equal(got, want) {
		t.Errorf("image list --community after set --community: got %q, want %q", got, want)
	}
	if rows := c.list("--private", "--tag", tag); len(rows) != 0 {
		t.Errorf("image list --private after set --community: got %q, want none", names(rows))
	}
}

func testList(t *testing.T, tg *target) {
	c := newCLI(t, tg.url)
	u := uniq(t)
	tag := "pg-" + u
	var imgs []image
	for i := 1; i <= 4; i++ {
		// Images created in distinct seconds have a definite order
		// (newest first) in Glance's default sort.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
		parity := "odd"
		if i%2 == 0 {
			parity = "even"
		}
		args := []string{fmt.Sprintf("e2e-pg-%s-%d", u, i), "--tag", tag,
			"--property", "e2e_parity=" + parity, "--disk-format", "iso", "--container-format", "bare"}
		if i == 4 {
			args = append(args, "--tag", tag+"-last")
		}
		imgs = append(imgs, c.create(args...))
	}
	name := func(i int) string { return imgs[i-1].Name }

	t.Run("pages", func(t *testing.T) {
		steps := []struct {
			marker string
			want   []string // sorted by name by the client
		}{
			{"", []string{name(3), name(4)}},
			{imgs[2].ID, []string{name(1), name(2)}},
			{imgs[0].ID, nil},
		}
		for _, s := range steps {
			args := []string{"--tag", tag, "--limit", "2"}
			if s.marker != "" {
				args = append(args, "--marker", s.marker)
			}
			if got := names(c.list(args...)); !slices.Equal(got, s.want) {
				t.Errorf("image list %s: got %q, want %q", strings.Join(args, " "), got, s.want)
			}
		}
	})
	t.Run("sort", func(t *testing.T) {
		asc := []string{name(1), name(2), name(3), name(4)}
		if got := names(c.list("--tag", tag, "--sort", "name:asc")); !slices.Equal(got, asc) {
			t.Errorf("--sort name:asc: got %q, want %q", got, asc)
		}
		desc := slices.Clone(asc)
		slices.Reverse(desc)
		if got := names(c.list("--tag", tag, "--sort", "name:desc")); !slices.Equal(got, desc) {
			t.Errorf("--sort name:desc: got %q, want %q", got, desc)
		}
	})
	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			args []string
			want []string
		}{
			{[]string{"--tag", tag, "--property", "e2e_parity=odd"}, []string{name(1), name(3)}},
			{[]string{"--tag", tag, "--property", "e2e_parity=even"}, []string{name(2), name(4)}},
			{[]string{"--tag", tag, "--tag", tag + "-last"}, []string{name(4)}},
			{[]string{"--name", name(2)}, []string{name(2)}},
			{[]string{"--tag", tag, "--status", "queued"}, []string{name(1), name(2), name(3), name(4)}},
			{[]string{"--tag", tag, "--status", "active"}, nil},
			{[]string{"--tag", "no-such-tag-" + u}, nil},
		}
		for _, tc := range tests {
			if got := names(c.list(tc.args...)); !slices.Equal(got, tc.want) {
				t.Errorf("image list %s: got %q, want %q", strings.Join(tc.args, " "), got, tc.want)
			}
		}
	})
	t.Run("long", func(t *testing.T) {
		rows := c.list("--long", "--tag", tag+"-last")
		iso, bare := "iso", "bare"
		want := []listRow{{
			ID: imgs[3].ID, Name: name(4), Status: "queued", DiskFormat: &iso, ContainerFormat: &bare,
			Visibility: "shared", Tags: []string{tag, tag + "-last"},
		}}
		for i := range rows {
			rows[i].Tags = sorted(rows[i].Tags)
		}
		if d := cmp.Diff(want, rows); d != "" {
			t.Errorf("image list --long (-want +got):\n%s", d)
		}
	})
}

func testMembers(t *testing.T, tg *target) {
	c := newCLI(t, tg.url)
	u := uniq(t)
	img := c.create("e2e-members-"+u, "--shared")
	p1 := "0e2e0000-0000-4000-8000-" + u + "0001"
	p2 := "0e2e0000-0000-4000-8000-" + u + "0002"

	for _, p := range []string{p1, p2} {
		var m struct {
			ImageID  string `json:"image_id"`
			MemberID string `json:"member_id"`
			Status   string `json:"status"`
			Schema   string `json:"schema"`
		}
		c.json(&m, "image", "add", "project", img.ID, p)
		if m.ImageID != img.ID || m.MemberID != p || m.Status != "pending" || m.Schema != "/v2/schemas/member" {
			t.Errorf("image add project %s: got %+v, want image %s, member %s, status pending, schema /v2/schemas/member", p, m, img.ID, p)
		}
	}
	members := func() []memberRow {
		var rows []memberRow
		c.json(&rows, "image", "member", "list", img.ID)
		slices.SortFunc(rows, func(a, b memberRow) int { return strings.Compare(a.MemberID, b.MemberID) })
		return rows
	}
	want := []memberRow{{img.ID, p1, "pending"}, {img.ID, p2, "pending"}}
	if d := cmp.Diff(want, members()); d != "" {
		t.Errorf("image member list (-want +got):\n%s", d)
	}

	r := c.fails("image", "add", "project", img.ID, p1)
	wantContains(t, "image add project of an existing member", r.stderr, "409", "Member "+p1+" is duplicated for image "+img.ID)

	// `openstack image set --accept` needs Keystone to name the project;
	// glanceclient takes the member ID as given.
	r = c.glance("--os-image-api-version", "2", "member-update", img.ID, p1, "accepted")
	if r.code != 0 {
		t.Fatalf("glance member-update: %s", r)
	}
	want[0].Status = "accepted"
	if d := cmp.Diff(want, members()); d != "" {
		t.Errorf("image member list after accept (-want +got):\n%s", d)
	}

	r = c.glance("--os-image-api-version", "2", "member-delete", img.ID, p2)
	if r.code != 0 {
		t.Fatalf("glance member-delete: %s", r)
	}
	r = c.glance("--os-image-api-version", "2", "member-list", "--image-id", img.ID)
	if r.code != 0 {
		t.Fatalf("glance member-list: %s", r)
	}
	wantTable := [][]string{{"Image ID", "Member ID", "Status"}, {img.ID, p1, "accepted"}}
	if d := cmp.Diff(wantTable, table(r.stdout)); d != "" {
		t.Errorf("glance member-list after member-delete (-want +got):\n%s", d)
	}

	priv := c.create("e2e-nomembers-"+u, "--private")
	r = c.fails("image", "add", "project", priv.ID, p1)
	wantContains(t, "image add project on a private image", r.stderr, "403", "Not allowed to create members for image "+priv.ID+".")
}

func testGlanceClient(t *testing.T, tg *target) {
	c := newCLI(t, tg.url)
	u := uniq(t)
	name := "e2e-glance-" + u
	tag := "g-" + u
	r := c.glance("--os-image-api-version", "2", "image-create", "--name", name,
		"--disk-format", "raw", "--container-format", "bare", "--visibility", "shared",
		"--min-ram", "128", "--property", "e2e_k=gv", "--tags", tag)
	if r.code != 0 {
		t.Fatalf("glance image-create: %s", r)
	}
	props := propertyTable(t, r)
	id := props["id"]
	if id == "" {
		t.Fatalf("glance image-create printed no id:\n%s", r)
	}
	forget(t, tg.url, id)
	want := map[string]string{
		"name": name, "status": "queued", "visibility": "shared", "disk_format": "raw",
		"container_format": "bare", "min_ram": "128", "min_disk": "0", "protected": "False",
		"e2e_k": "gv", "tags": `["` + tag + `"]`, "size": "None", "checksum": "None",
	}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("glance image-create: %s: got %q, want %q", k, props[k], v)
		}
	}

	// Without --os-image-api-version the client discovers the version
	// from the server's version document.
	r = c.glance("image-list", "--tag", tag)
	if r.code != 0 {
		t.Fatalf("glance image-list: %s", r)
	}
	if got, want := table(r.stdout), [][]string{{"ID", "Name"}, {id, name}}; !cmp.Equal(got, want) {
		t.Errorf("glance image-list --tag %s: got %q, want %q", tag, got, want)
	}

	steps := [][]string{
		{"image-update", id, "--name", name + "-2", "--property", "e2e_k=gv2", "--property", "e2e_more=m", "--min-disk", "7"},
		{"image-update", id, "--remove-property", "e2e_more"},
		{"image-tag-update", id, tag + "-b"},
		{"image-tag-delete", id, tag},
	}
	for _, s := range steps {
		if r := c.glance(append([]string{"--os-image-api-version", "2"}, s...)...); r.code != 0 {
			t.Fatalf("glance %s: %s", s[0], r)
		}
	}
	r = c.glance("--os-image-api-version", "2", "image-show", id)
	if r.code != 0 {
		t.Fatalf("glance image-show: %s", r)
	}
	props = propertyTable(t, r)
	want = map[string]string{"name": name + "-2", "e2e_k": "gv2", "min_disk": "7", "tags": `["` + tag + `-b"]`}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("glance image-show after updates: %s: got %q, want %q", k, props[k], v)
		}
	}
	if v, ok := props["e2e_more"]; ok {
		t.Errorf("glance image-show after --remove-property: e2e_more: got %q, want it absent", v)
	}

	if r := c.glance("--os-image-api-version", "2", "image-delete", id); r.code != 0 {
		t.Fatalf("glance image-delete: %s", r)
	}
	r = c.glance("--os-image-api-version", "2", "image-show", id)
	if r.code == 0 {
		t.Errorf("glance image-show of a deleted image: want a non-zero exit, got:\n%s", r)
	}
	wantContains(t, "glance image-show of a deleted image", r.stderr, "404", "No image found with ID "+id)
}

func testUnknownImage(t *testing.T, tg *target) {
	c := newCLI(t, tg.url)
	id := "0e2e0000-0000-4000-8000-" + uniq(t) + "dead"
	r := c.fails("image", "show", id)
	wantContains(t, "image show of an unknown ID", r.stderr, "No Image found for "+id)
	r = c.fails("image", "delete", id)
	wantContains(t, "image delete of an unknown ID", r.stderr, "Failed to delete 1 of 1 images.")
	r = c.fails("image", "set", "--name", "x", id)
	wantContains(t, "image set of an unknown ID", r.stderr, "No Image found for "+id)
}
