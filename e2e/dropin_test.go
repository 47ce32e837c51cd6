//go:build linux

package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestDropIn puts glimpse beside a running Glance 25.1 on the same
// PostgreSQL, MariaDB or SQLite database and file store: the images
// glance-api wrote must look the same through glimpse, with the database
// left at Glance's revision, and what glimpse writes must look the same
// through glance-api. Then `glimpse db sync` moves the database to
// glimpse's head revision and both still agree.
//
// It needs GLIMPSE_BIN, Debian's glance-api and, for the servers, the
// URLs scripts/db/start.sh prints (GLIMPSE_PG_URL, GLIMPSE_MYSQL_URL).
func TestDropIn(t *testing.T) {
	bin := os.Getenv("GLIMPSE_BIN")
	if bin == "" {
		t.Skip("GLIMPSE_BIN is not set: scripts/test.sh builds glimpse and runs these tests with it")
	}
	for _, b := range diBackends {
		t.Run(b.name, func(t *testing.T) { testDropIn(t, bin, b) })
	}
}

// Glance 25.1's last revision, and glimpse's head.
const (
	diGlanceRevision  = "wallaby_contract01"
	diGlimpseRevision = "2024_1_contract01"
)

func testDropIn(t *testing.T, bin string, b diBackend) {
	needTool(t, "glance-api", "glance-api")
	needTool(t, "glance-manage", "glance-common")
	db := diFreshDatabase(t, b)
	port := diFreePort(t)
	site := newDiSite(t, db, port)

	// 1-3: Glance's schema, and glance-api serving it.
	site.glanceManage(t, "db_sync")
	if got := db.revision(t); got != diGlanceRevision {
		t.Fatalf("alembic_version after glance-manage db_sync: got %q, want %q", got, diGlanceRevision)
	}
	glance := startGlanceAPI(t, site, port)
	gA := diClient{server: "glance-api", base: glance.url, who: diA}
	gB, gC := gA.as(diB), gA.as(diC)

	// 4: images written by glance-api.
	var ids []string
	props := gA.create(t, map[string]any{
		"name": "dropin-props", "disk_format": "raw", "container_format": "bare",
		"visibility": "shared", "min_disk": 1, "min_ram": 64,
		"tags":        []string{"alpha", "Beta", "gamma"},
		"description": "ünïcødé ✓ text", "empty_prop": "", "os_distro": "debian",
	})
	gA.upload(t, props, []byte("drop-in image one\n"))
	gA.addMember(t, props, diB.project)
	gA.addMember(t, props, diC.project)
	gB.setMemberStatus(t, props, "accepted")
	ids = append(ids, props)

	private := gA.create(t, map[string]any{
		"name": "dropin-private", "disk_format": "raw", "container_format": "bare",
		"visibility": "private", "protected": true, "tags": []string{"private-tag"},
	})
	gA.upload(t, private, dataRandom(t, 4096))
	ids = append(ids, private)

	community := gA.create(t, map[string]any{
		"name": "dropin-community", "disk_format": "qcow2", "container_format": "bare",
		"visibility": "community", "x_num": "42",
	})
	ids = append(ids, community)

	public := gA.create(t, map[string]any{
		"name": "dropin-public", "disk_format": "raw", "container_format": "bare",
		"visibility": "public", "os_hidden": true, "tags": []string{"alpha"},
	})
	gA.upload(t, public, dataRandom(t, 70000))
	ids = append(ids, public)

	unnamed := gA.create(t, map[string]any{})
	ids = append(ids, unnamed)

	deactivated := gA.create(t, map[string]any{
		"name": "dropin-deactivated", "disk_format": "raw", "container_format": "bare", "visibility": "public",
	})
	gA.upload(t, deactivated, []byte("deactivated data"))
	gA.must(t, http.StatusNoContent, http.MethodPost, "/v2/images/"+deactivated+"/actions/deactivate", "", nil)
	ids = append(ids, deactivated)

	rejected := gA.create(t, map[string]any{
		"name": "dropin-shared-2", "disk_format": "raw", "container_format": "bare", "visibility": "shared",
		"min_ram": 2048,
	})
	gA.addMember(t, rejected, diB.project)
	gA.addMember(t, rejected, diC.project)
	gB.setMemberStatus(t, rejected, "rejected")
	gC.setMemberStatus(t, rejected, "accepted")
	ids = append(ids, rejected)

	deleted := gA.create(t, map[string]any{
		"name": "dropin-deleted", "disk_format": "raw", "container_format": "bare", "tags": []string{"gone"},
		"some_prop": "v",
	})
	gA.upload(t, deleted, []byte("soon gone"))
	gA.must(t, http.StatusNoContent, http.MethodDelete, "/v2/images/"+deleted, "", nil)
	ids = append(ids, deleted, uuid.NewString())

	// 5: glimpse on the same database, as it is.
	dataDir := filepath.Join(site.dir, "glimpse-data")
	srv := startGlimpse(t, bin, dataDir, "--config", site.glimpse)
	pair := diPair{glance: gA, glimpse: diClient{server: "glimpse", base: srv.url, who: diA}}
	t.Run("glimpse reads glance-api's images", func(t *testing.T) { diCompareAll(t, pair, ids) })
	if got := db.revision(t); got != diGlanceRevision {
		t.Errorf("alembic_version after glimpse served the database: got %q, want %q", got, diGlanceRevision)
	}

	// 6: glimpse writes, glance-api reads.
	mA := pair.glimpse
	mB, mC := mA.as(diB), mA.as(diC)
	made := mA.create(t, map[string]any{
		"name": "glimpse-made", "disk_format": "raw", "container_format": "bare",
		"visibility": "shared", "min_disk": 3, "min_ram": 256,
		"tags":        []string{"one", "two", "Three"},
		"description": "grüße ✓ från glimpse", "empty_prop": "", "to_remove": "x",
	})
	mA.upload(t, made, dataRandom(t, 10000))
	mA.patch(t, made,
		map[string]any{"op": "replace", "path": "/name", "value": "glimpse-made-renamed"},
		map[string]any{"op": "add", "path": "/added", "value": "ja"},
		map[string]any{"op": "remove", "path": "/to_remove"},
		map[string]any{"op": "replace", "path": "/min_ram", "value": 512},
	)
	mA.must(t, http.StatusNoContent, http.MethodPut, "/v2/images/"+made+"/tags/four", "", nil)
	mA.must(t, http.StatusNoContent, http.MethodDelete, "/v2/images/"+made+"/tags/two", "", nil)
	mA.addMember(t, made, diB.project)
	mA.addMember(t, made, diC.project)
	mB.setMemberStatus(t, made, "accepted")
	ids = append(ids, made)

	madeCommunity := mA.create(t, map[string]any{
		"name": "glimpse-community", "disk_format": "qcow2", "container_format": "bare",
		"visibility": "community", "protected": true,
	})
	ids = append(ids, madeCommunity)

	madeDeleted := mA.create(t, map[string]any{
		"name": "glimpse-deleted", "disk_format": "raw", "container_format": "bare",
		"tags": []string{"gone"}, "some_prop": "v",
	})
	mA.upload(t, madeDeleted, []byte("glimpse data, soon gone"))
	mA.addMember(t, madeDeleted, diB.project)
	mA.must(t, http.StatusNoContent, http.MethodDelete, "/v2/images/"+madeDeleted, "", nil)
	ids = append(ids, madeDeleted)

	// glimpse changes images glance-api made.
	mA.patch(t, props,
		map[string]any{"op": "add", "path": "/from_glimpse", "value": "ä"},
		map[string]any{"op": "remove", "path": "/os_distro"},
	)
	mC.setMemberStatus(t, props, "accepted")
	mA.must(t, http.StatusNoContent, http.MethodDelete, "/v2/images/"+rejected+"/members/"+diC.project, "", nil)
	mA.must(t, http.StatusNoContent, http.MethodDelete, "/v2/images/"+community, "", nil)
	mA.must(t, http.StatusNoContent, http.MethodPost, "/v2/images/"+public+"/actions/deactivate", "", nil)
	mA.must(t, http.StatusNoContent, http.MethodPost, "/v2/images/"+deactivated+"/actions/reactivate", "", nil)

	t.Run("glance-api reads glimpse's writes", func(t *testing.T) { diCompareAll(t, pair, ids) })

	// glance-api changes an image glimpse made; glimpse sees it.
	gA.patch(t, made,
		map[string]any{"op": "add", "path": "/from_glance", "value": "ü ✓"},
		map[string]any{"op": "replace", "path": "/min_disk", "value": 5},
		map[string]any{"op": "remove", "path": "/added"},
	)
	gA.must(t, http.StatusNoContent, http.MethodPut, "/v2/images/"+made+"/tags/from-glance", "", nil)
	t.Run("glimpse reads glance-api's update", func(t *testing.T) {
		for _, who := range []diIdentity{diA, diB} {
			p := pair.as(who)
			p.same(t, "/v2/images/"+made)
			p.sameList(t, "/v2/images")
		}
		r := pair.glimpse.must(t, http.StatusOK, http.MethodGet, "/v2/images/"+made, "", nil)
		if !strings.Contains(string(r.body), `"from_glance"`) {
			t.Errorf("glimpse GET /v2/images/%s after glance-api's PATCH: got %s, want the property from_glance", made, r.body)
		}
	})
	if got := db.revision(t); got != diGlanceRevision {
		t.Errorf("alembic_version after glimpse wrote to the database: got %q, want %q", got, diGlanceRevision)
	}

	// 7: glimpse's own migration, with glimpse and glance-api running.
	out := site.glimpseDB(t, bin, "sync")
	if want := "upgraded schema from " + diGlanceRevision + " to " + diGlimpseRevision; !strings.Contains(out, want) {
		t.Errorf("glimpse db sync: got %q, want a line %q", out, want)
	}
	if got := db.revision(t); got != diGlimpseRevision {
		t.Errorf("alembic_version after glimpse db sync: got %q, want %q", got, diGlimpseRevision)
	}
	if got := site.glimpseDB(t, bin, "version"); got != diGlimpseRevision {
		t.Errorf("glimpse db version after glimpse db sync: got %q, want %q", got, diGlimpseRevision)
	}
	t.Run("after db sync", func(t *testing.T) { diCompareAll(t, pair, ids) })

	srv.stop(t)
	srv = startGlimpse(t, bin, dataDir, "--config", site.glimpse)
	pair.glimpse.base = srv.url
	t.Run("after db sync, restarted", func(t *testing.T) { diCompareAll(t, pair, ids) })
}

// diCompareAll asks glance-api and glimpse the same questions about the
// images ids, as the owner (an admin), a project the images are shared
// with and another one, and compares the answers.
func diCompareAll(t *testing.T, pair diPair, ids []string) {
	t.Helper()
	pair.tally = &diTally{}
	defer func() {
		if n := pair.tally.spelled - diTallyShown; n > 0 {
			t.Errorf("and %d more answers of glimpse with the same JSON as glance-api's, spelled differently", n)
		}
	}()
	lists := map[diIdentity][]string{
		diA: {
			"/v2/images",
			"/v2/images?limit=2",
			"/v2/images?sort=name:asc,created_at:desc",
			"/v2/images?sort_key=size&sort_dir=asc",
			"/v2/images?visibility=all",
			"/v2/images?visibility=community",
			"/v2/images?visibility=shared",
			"/v2/images?visibility=private",
			"/v2/images?visibility=public",
			"/v2/images?os_hidden=true",
			"/v2/images?tag=alpha",
			"/v2/images?member_status=all",
			"/v2/images?protected=true",
			"/v2/images?status=queued",
			"/v2/images?status=deactivated",
			"/v2/images?name=dropin-props",
			"/v2/images?os_distro=debian",
			"/v2/images?size_min=5000",
			"/v2/images?disk_format=in:raw,qcow2",
			"/v2/images?created_at=gte:2000-01-01T00:00:00Z",
		},
		diB: {
			"/v2/images",
			"/v2/images?limit=1",
			"/v2/images?member_status=all",
			"/v2/images?member_status=pending",
			"/v2/images?member_status=rejected",
			"/v2/images?visibility=shared",
			"/v2/images?visibility=community",
			"/v2/images?visibility=all",
		},
		diC: {
			"/v2/images",
			"/v2/images?member_status=pending",
			"/v2/images?member_status=all",
		},
	}
	for _, who := range []diIdentity{diA, diB, diC} {
		p := pair.as(who)
		for _, path := range lists[who] {
			p.sameList(t, path)
		}
		for _, id := range ids {
			p.same(t, "/v2/images/"+id)
			p.same(t, "/v2/images/"+id+"/members")
			p.same(t, "/v2/images/"+id+"/members/"+diB.project)
			p.same(t, "/v2/images/"+id+"/file")
		}
	}
}
