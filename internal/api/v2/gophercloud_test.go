package v2_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/members"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"glimpse/internal/config"
	"glimpse/internal/image"
)

func ptr[T any](v T) *T { return &v }

// wantCode checks that a gophercloud call failed with status and, when
// message is set, with that error text.
func wantCode(t *testing.T, what string, err error, status int, message string) {
	t.Helper()
	var e gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &e) {
		t.Errorf("%s: got error %v, want an HTTP %d", what, err, status)
		return
	}
	if e.Actual != status {
		t.Errorf("%s: got status %d, want %d; body %s", what, e.Actual, status, e.Body)
		return
	}
	if message == "" {
		return
	}
	var body struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(e.Body, &body); err != nil {
		t.Errorf("%s: error body %q: %v", what, e.Body, err)
		return
	}
	if got, _, _ := strings.Cut(body.Message, "<br /><br />"); got != message {
		t.Errorf("%s: got message %q, want %q", what, got, message)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestGophercloudCreateGetDelete(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, true, nil)
	sc := h.as("A", "member").gophercloud()

	const id = "0b7a3c1e-2f4d-4e6a-8b9c-0d1e2f3a4b5c"
	opts := images.CreateOpts{
		Name:            "everything",
		ID:              id,
		Visibility:      ptr(images.ImageVisibilityCommunity),
		Hidden:          ptr(true),
		Tags:            []string{"x", "y", "x"},
		ContainerFormat: "bare",
		DiskFormat:      "qcow2",
		MinDisk:         3,
		MinRAM:          512,
		Protected:       ptr(true),
		Properties: map[string]string{
			"owner":        "A",
			"architecture": "x86_64",
			"hw_disk_bus":  "scsi",
			"empty":        "",
		},
	}
	created, err := images.Create(ctx, sc, opts).Extract()
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	check := func(what string, img *images.Image) {
		t.Helper()
		got := map[string]any{
			"id": img.ID, "name": img.Name, "status": img.Status, "visibility": img.Visibility,
			"hidden": img.Hidden, "tags": sorted(img.Tags), "container_format": img.ContainerFormat,
			"disk_format": img.DiskFormat, "min_disk": img.MinDiskGigabytes, "min_ram": img.MinRAMMegabytes,
			"protected": img.Protected, "owner": img.Owner, "size": img.SizeBytes,
			"architecture": img.Properties["architecture"], "hw_disk_bus": img.Properties["hw_disk_bus"],
			"empty": img.Properties["empty"], "file": img.File, "schema": img.Schema,
		}
		want := map[string]any{
			"id": id, "name": "everything", "status": images.ImageStatusQueued,
			"visibility": images.ImageVisibilityCommunity, "hidden": true, "tags": []string{"x", "y"},
			"container_format": "bare", "disk_format": "qcow2", "min_disk": 3, "min_ram": 512,
			"protected": true, "owner": "A", "size": int64(0),
			"architecture": "x86_64", "hw_disk_bus": "scsi", "empty": "",
			"file": "/v2/images/" + id + "/file", "schema": "/v2/schemas/image",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: image differs (-want +got):\n%s", what, diff)
		}
		if img.CreatedAt.IsZero() || !img.UpdatedAt.Equal(img.CreatedAt) {
			t.Errorf("%s: got created_at %v, updated_at %v, want equal non-zero times", what, img.CreatedAt, img.UpdatedAt)
		}
	}
	check("Create", created)
	got, err := images.Get(ctx, sc, id).Extract()
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	check("Get", got)

	// The id is taken now, also for another project.
	_, err = images.Create(ctx, h.as("B", "member").gophercloud(), images.CreateOpts{Name: "again", ID: id}).Extract()
	wantCode(t, "Create with a used id", err, http.StatusConflict, "Image ID "+id+" already exists!")
	_, err = images.Create(ctx, sc, images.CreateOpts{Name: "bad id", ID: "not-a-uuid"}).Extract()
	wantCode(t, "Create with a non-UUID id", err, http.StatusBadRequest, "")
	_, err = images.Create(ctx, sc, images.CreateOpts{Name: "public", Visibility: ptr(images.ImageVisibilityPublic)}).Extract()
	wantCode(t, "Create public as member", err, http.StatusForbidden, "You are not authorized to complete publicize_image action.")

	err = images.Delete(ctx, sc, id).ExtractErr()
	wantCode(t, "Delete protected", err, http.StatusForbidden, "Image "+id+" is protected and cannot be deleted.")
	if _, err := images.Get(ctx, sc, id).Extract(); err != nil {
		t.Fatalf("Get after refused delete: %v", err)
	}
	err = images.Delete(ctx, h.as("B", "member").gophercloud(), id).ExtractErr()
	wantCode(t, "Delete by another project", err, http.StatusForbidden, "You do not own this image")

	if _, err := images.Update(ctx, sc, id, images.UpdateOpts{images.ReplaceImageProtected{NewProtected: false}}).Extract(); err != nil {
		t.Fatalf("unprotect: %v", err)
	}
	if err := images.Delete(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = images.Get(ctx, sc, id).Extract()
	wantCode(t, "Get deleted", err, http.StatusNotFound, "No image found with ID "+id)
	err = images.Delete(ctx, sc, id).ExtractErr()
	wantCode(t, "Delete twice", err, http.StatusNotFound, "Failed to find image "+id+" to delete")
	// Deleted ids are never issued again.
	_, err = images.Create(ctx, sc, images.CreateOpts{Name: "reuse", ID: id}).Extract()
	wantCode(t, "Create with a deleted id", err, http.StatusConflict, "Image ID "+id+" already exists!")
}

// defaultOrder sorts ids as Glance's default list does: created_at
// descending, then id descending. SQLite and PostgreSQL store created_at
// with microseconds (the API shows seconds), so images created one after
// the other list in reverse creation order; seq is that order. MariaDB
// keeps whole seconds, so there the stored second and then the id decide.
func (h *harness) defaultOrder(t *testing.T, seq map[string]int, ids []string) []string {
	t.Helper()
	out := slices.Clone(ids)
	if !wholeSeconds() {
		slices.SortFunc(out, func(a, b string) int { return seq[b] - seq[a] })
		return out
	}
	created := map[string]time.Time{}
	for _, id := range ids {
		img, err := h.catalog(t).GetImage(context.Background(), id)
		if err != nil {
			t.Fatalf("GetImage %s: %v", id, err)
		}
		created[id] = img.CreatedAt
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := created[b].Compare(created[a]); c != 0 {
			return c
		}
		return strings.Compare(b, a)
	})
	return out
}

func TestGophercloudListPaging(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, true, nil)
	sc := h.as("A", "member").gophercloud()
	seq := map[string]int{}
	var ids []string
	for i := range 30 {
		img, err := images.Create(ctx, sc, images.CreateOpts{Name: fmt.Sprintf("img-%02d", i)}).Extract()
		if err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
		seq[img.ID] = i
		ids = append(ids, img.ID)
	}
	want := h.defaultOrder(t, seq, ids)

	for _, tc := range []struct {
		limit, pages int
	}{
		{limit: 7, pages: 5},   // 7+7+7+7+2
		{limit: 10, pages: 3},  // the last full page links to an empty one
		{limit: 25, pages: 2},  // the default page size
		{limit: 100, pages: 1}, // everything at once
	} {
		t.Run(fmt.Sprintf("limit=%d", tc.limit), func(t *testing.T) {
			var got []string
			pages := 0
			err := images.List(sc, images.ListOpts{Limit: tc.limit}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
				imgs, err := images.ExtractImages(p)
				if err != nil {
					return false, err
				}
				if len(imgs) > tc.limit {
					t.Errorf("page %d: got %d images, want at most %d", pages, len(imgs), tc.limit)
				}
				pages++
				for _, img := range imgs {
					got = append(got, img.ID)
				}
				return true, nil
			})
			if err != nil {
				t.Fatalf("EachPage: %v", err)
			}
			if pages != tc.pages {
				t.Errorf("got %d pages, want %d", pages, tc.pages)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids differ from created_at desc, id desc order (-want +got):\n%s", diff)
			}
		})
	}

	all, err := images.List(sc, images.ListOpts{Limit: 4}).AllPages(ctx)
	if err != nil {
		t.Fatalf("AllPages: %v", err)
	}
	imgs, err := images.ExtractImages(all)
	if err != nil {
		t.Fatalf("ExtractImages: %v", err)
	}
	seen := map[string]int{}
	for _, img := range imgs {
		seen[img.ID]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("AllPages: image %s listed %d times, want once", id, seen[id])
		}
	}
	if len(imgs) != len(ids) {
		t.Errorf("AllPages: got %d images, want %d", len(imgs), len(ids))
	}
}

// rawQuery lists with a query gophercloud's ListOpts cannot spell.
type rawQuery string

func (q rawQuery) ToImageListQuery() (string, error) { return "?" + string(q), nil }

// filterFixture is a catalog for list filters and sorting, as the
// unauthenticated admin sees it.
type filterFixture struct {
	h   *harness
	sc  *gophercloud.ServiceClient
	ids map[string]string // name -> id
	seq map[string]int    // id -> creation order
	// t1, t2 are the created_at seconds of the first and second batch,
	// t3 the second beta was last updated in (zero unless timed).
	t1, t2, t3 time.Time
}

// newFilterFixture creates the images; timed puts the batches in
// different seconds, for created_at/updated_at filters.
func newFilterFixture(t *testing.T, timed bool) *filterFixture {
	t.Helper()
	ctx := context.Background()
	h := newHarness(t, false, nil)
	f := &filterFixture{h: h, sc: h.admin().gophercloud(), ids: map[string]string{}, seq: map[string]int{}}
	// nextSecond waits until just after the next second begins.
	nextSecond := func() {
		if timed {
			now := time.Now()
			time.Sleep(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now))
		}
	}
	create := func(opts images.CreateOpts) *images.Image {
		t.Helper()
		img, err := images.Create(ctx, f.sc, opts).Extract()
		if err != nil {
			t.Fatalf("Create %s: %v", opts.Name, err)
		}
		f.ids[opts.Name] = img.ID
		f.seq[img.ID] = len(f.seq)
		return img
	}
	nextSecond()
	first := create(images.CreateOpts{Name: "alpha", Visibility: ptr(images.ImageVisibilityPrivate), Tags: []string{"a", "b"},
		DiskFormat: "qcow2", ContainerFormat: "bare", MinRAM: 512, Protected: ptr(true),
		Properties: map[string]string{"owner": "A", "foo": "bar"}})
	create(images.CreateOpts{Name: "beta", Tags: []string{"a"}, DiskFormat: "raw", ContainerFormat: "ovf",
		Properties: map[string]string{"owner": "B", "foo": "baz"}})
	create(images.CreateOpts{Name: "gamma", Visibility: ptr(images.ImageVisibilityCommunity), Tags: []string{"b"},
		Properties: map[string]string{"owner": "C"}})
	create(images.CreateOpts{Name: "hidden", Hidden: ptr(true)})
	f.t1 = first.CreatedAt
	nextSecond()
	second := create(images.CreateOpts{Name: "act", DiskFormat: "raw", ContainerFormat: "bare"})
	create(images.CreateOpts{Name: "big", DiskFormat: "raw", ContainerFormat: "bare"})
	f.t2 = second.CreatedAt
	if timed && !f.t2.After(f.t1) {
		t.Fatalf("second batch created at %v, not after %v", f.t2, f.t1)
	}
	for name, size := range map[string]int64{"act": 100, "big": 5000} {
		h.setImage(t, f.ids[name], func(img *image.Image) {
			img.Status = image.Active
			img.Size = ptr(size)
			img.Checksum = ptr(strings.Repeat(name[:1], 32))
		})
	}
	// beta changes in a later second still.
	nextSecond()
	beta, err := images.Update(ctx, f.sc, f.ids["beta"], images.UpdateOpts{
		images.UpdateImageProperty{Op: images.AddOp, Name: "touched", Value: "yes"},
	}).Extract()
	if err != nil {
		t.Fatalf("touch beta: %v", err)
	}
	f.t3 = beta.UpdatedAt
	if timed && !f.t3.After(f.t2) {
		t.Fatalf("beta updated at %v, not after %v", f.t3, f.t2)
	}
	return f
}

// list runs one listing and returns the names in the order returned.
func (f *filterFixture) list(t *testing.T, opts images.ListOptsBuilder) []string {
	t.Helper()
	names := map[string]string{}
	for n, id := range f.ids {
		names[id] = n
	}
	all, err := images.List(f.sc, opts).AllPages(context.Background())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	imgs, err := images.ExtractImages(all)
	if err != nil {
		t.Fatalf("ExtractImages: %v", err)
	}
	got := []string{}
	for _, img := range imgs {
		got = append(got, names[img.ID])
	}
	return got
}

// byDefault orders names as the default sort does.
func (f *filterFixture) byDefault(t *testing.T, names ...string) []string {
	ids := []string{}
	for _, n := range names {
		ids = append(ids, f.ids[n])
	}
	out := []string{}
	for _, id := range f.h.defaultOrder(t, f.seq, ids) {
		for n, v := range f.ids {
			if v == id {
				out = append(out, n)
			}
		}
	}
	return out
}

func TestGophercloudListFilters(t *testing.T) {
	f := newFilterFixture(t, true)
	d := func(names ...string) []string { return f.byDefault(t, names...) }
	// sec picks the expectation for MariaDB's whole-second, case-blind
	// columns.
	sec := func(exact, mariadb []string) []string {
		if wholeSeconds() {
			return mariadb
		}
		return exact
	}
	date := func(at time.Time, op images.ImageDateFilter) *images.ImageDateQuery {
		return &images.ImageDateQuery{Date: at, Filter: op}
	}
	for _, tc := range []struct {
		name string
		opts images.ListOptsBuilder
		want []string
	}{
		// The admin without a project sees all but community and hidden
		// images by default.
		{"default", images.ListOpts{}, d("alpha", "beta", "act", "big")},
		{"name", images.ListOpts{Name: "alpha"}, d("alpha")},
		{"name in", images.ListOpts{Name: "in:alpha,beta,nope"}, d("alpha", "beta")},
		{"name eq with colon", images.ListOpts{Name: "eq:al:pha"}, []string{}},
		// MariaDB's utf8mb3_general_ci columns compare without case, in
		// Glance's database too.
		{"name is exact", images.ListOpts{Name: "ALPHA"}, sec([]string{}, d("alpha"))},
		{"id", images.ListOpts{ID: f.ids["beta"]}, d("beta")},
		{"owner", images.ListOpts{Owner: "A"}, d("alpha")},
		{"owner of a community image", images.ListOpts{Owner: "C"}, []string{}},
		{"owner of a community image, visibility all", images.ListOpts{Owner: "C", Visibility: "all"}, d("gamma")},
		{"status", images.ListOpts{Status: images.ImageStatusActive}, d("act", "big")},
		{"status in", images.ListOpts{Status: "in:active,queued"}, d("alpha", "beta", "act", "big")},
		{"status unknown", images.ListOpts{Status: "bogus"}, []string{}},
		{"visibility private", images.ListOpts{Visibility: images.ImageVisibilityPrivate}, d("alpha")},
		{"visibility shared", images.ListOpts{Visibility: images.ImageVisibilityShared}, d("beta", "act", "big")},
		{"visibility community", images.ListOpts{Visibility: images.ImageVisibilityCommunity}, d("gamma")},
		{"visibility public", images.ListOpts{Visibility: images.ImageVisibilityPublic}, []string{}},
		{"visibility all", images.ListOpts{Visibility: "all"}, d("alpha", "beta", "gamma", "act", "big")},
		{"hidden", images.ListOpts{Hidden: true}, d("hidden")},
		{"tag", images.ListOpts{Tags: []string{"a"}}, d("alpha", "beta")},
		{"tags are ANDed", images.ListOpts{Tags: []string{"a", "b"}}, d("alpha")},
		{"tag in: is literal", images.ListOpts{Tags: []string{"in:a,b"}}, []string{}},
		// gophercloud drops its int64 SizeMin/SizeMax fields from the
		// query, so these go raw.
		{"size_min", rawQuery("size_min=1000"), d("big")},
		{"size_max", rawQuery("size_max=1000"), d("act")},
		{"size range", rawQuery("size_min=100&size_max=5000"), d("act", "big")},
		{"size_min negative", rawQuery("size_min=-1"), d("act", "big")},
		{"size", rawQuery("size=100"), d("act")},
		{"container_format", images.ListOpts{ContainerFormat: "ovf"}, d("beta")},
		{"disk_format", images.ListOpts{DiskFormat: "qcow2"}, d("alpha")},
		{"disk_format in", images.ListOpts{DiskFormat: "in:qcow2,raw"}, d("alpha", "beta", "act", "big")},
		// Times are stored with microseconds: the second an image was
		// created in is before it, and equality with it never holds. On
		// MariaDB, which keeps whole seconds, that second is the time.
		{"created_at gt", images.ListOpts{CreatedAtQuery: date(f.t2, images.FilterGT)}, sec(d("act", "big"), []string{})},
		{"created_at gte", images.ListOpts{CreatedAtQuery: date(f.t2, images.FilterGTE)}, d("act", "big")},
		{"created_at gt first second", images.ListOpts{CreatedAtQuery: date(f.t1, images.FilterGT)}, sec(d("alpha", "beta", "act", "big"), d("act", "big"))},
		{"created_at lt", images.ListOpts{CreatedAtQuery: date(f.t2, images.FilterLT)}, d("alpha", "beta")},
		{"created_at lte", images.ListOpts{CreatedAtQuery: date(f.t2, images.FilterLTE)}, sec(d("alpha", "beta"), d("alpha", "beta", "act", "big"))},
		{"created_at eq", images.ListOpts{CreatedAtQuery: date(f.t2, images.FilterEQ)}, sec([]string{}, d("act", "big"))},
		{"created_at neq", images.ListOpts{CreatedAtQuery: date(f.t2, images.FilterNEQ)}, sec(d("alpha", "beta", "act", "big"), d("alpha", "beta"))},
		{"created_at without operator", images.ListOpts{CreatedAtQuery: date(f.t2, "")}, sec([]string{}, d("act", "big"))},
		{"updated_at gt", images.ListOpts{UpdatedAtQuery: date(f.t3, images.FilterGT)}, sec(d("beta"), []string{})},
		{"updated_at lt", images.ListOpts{UpdatedAtQuery: date(f.t3, images.FilterLT)}, d("alpha", "act", "big")},
		{"created_at and updated_at", images.ListOpts{CreatedAtQuery: date(f.t2, images.FilterLT), UpdatedAtQuery: date(f.t2, images.FilterGT)}, d("beta")},
		{"created_at short date", rawQuery("created_at=lte:2099-01-01"), d("alpha", "beta", "act", "big")},
		{"protected true", rawQuery("protected=true"), d("alpha")},
		{"protected false", rawQuery("protected=false"), d("beta", "act", "big")},
		{"os_hidden is case-insensitive", rawQuery("os_hidden=True"), d("hidden")},
		{"custom property", rawQuery("foo=bar"), d("alpha")},
		{"custom property added by PATCH", rawQuery("touched=yes"), d("beta")},
		{"custom property other value", rawQuery("foo=nope"), []string{}},
		{"custom property in: is literal", rawQuery("foo=in:bar,baz"), []string{}},
		{"unknown key filters as a property", rawQuery("zzz=1"), []string{}},
		{"min_ram", rawQuery("min_ram=512"), d("alpha")},
		{"min_ram_min", rawQuery("min_ram_min=1"), d("alpha")},
		// Bounds past 32 bits, though the columns are 32-bit integers.
		{"min_disk_max past 32 bits", rawQuery("min_disk_max=99999999999"), d("alpha", "beta", "act", "big")},
		{"min_ram_min below 32 bits", rawQuery("min_ram_min=-99999999999"), d("alpha", "beta", "act", "big")},
		{"min_ram past 32 bits", rawQuery("min_ram=99999999999"), []string{}},
		{"checksum", rawQuery("checksum=" + strings.Repeat("b", 32)), d("big")},
		{"member_status is ignored for admins", rawQuery("member_status=pending"), d("alpha", "beta", "act", "big")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, f.list(t, tc.opts)); diff != "" {
				t.Errorf("listed names differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGophercloudListSort(t *testing.T) {
	f := newFilterFixture(t, false)
	d := func(names ...string) []string { return f.byDefault(t, names...) }
	asc := []string{"act", "alpha", "beta", "big"}
	desc := []string{"big", "beta", "alpha", "act"}
	nullsLarge := func(small, large []string) []string {
		if os.Getenv("GLIMPSE_TEST_CATALOG") == "postgresql" {
			return large
		}
		return small
	}
	for _, tc := range []struct {
		name string
		opts images.ListOptsBuilder
		want []string
	}{
		{"sort name:asc", images.ListOpts{Sort: "name:asc"}, asc},
		{"sort name (desc by default)", images.ListOpts{Sort: "name"}, desc},
		{"sort_key name sort_dir asc", images.ListOpts{SortKey: "name", SortDir: "asc"}, asc},
		{"sort_key name (desc by default)", images.ListOpts{SortKey: "name"}, desc},
		{"sort_key created_at asc", images.ListOpts{SortKey: "created_at", SortDir: "asc"}, reversed(d("alpha", "beta", "act", "big"))},
		// NULL sizes sort first ascending (last on PostgreSQL, as Glance
		// there has them); ties on size go by name desc.
		{"sort size:asc,name", images.ListOpts{Sort: "size:asc,name"}, nullsLarge([]string{"beta", "alpha", "act", "big"}, []string{"act", "big", "beta", "alpha"})},
		{"sort size:desc", images.ListOpts{Sort: "size:desc"}, nullsLarge(append([]string{"big", "act"}, d("alpha", "beta")...), append(d("alpha", "beta"), "big", "act"))},
		{"sort status:asc,name:asc", images.ListOpts{Sort: "status:asc,name:asc"}, []string{"act", "big", "alpha", "beta"}},
		{"sort_key status sort_key name, one dir for both", rawQuery("sort_key=status&sort_key=name&sort_dir=asc"), []string{"act", "big", "alpha", "beta"}},
		{"sort_key status sort_key name, a dir each", rawQuery("sort_key=status&sort_key=name&sort_dir=asc&sort_dir=desc"), []string{"big", "act", "beta", "alpha"}},
		{"sort with a small page", rawQuery("sort=name:asc&limit=1"), asc},
		{"sort_key with a small page", rawQuery("sort_key=name&sort_dir=desc&limit=3"), desc},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, f.list(t, tc.opts)); diff != "" {
				t.Errorf("listed names differ (-want +got):\n%s", diff)
			}
		})
	}
}

func reversed(s []string) []string {
	s = slices.Clone(s)
	slices.Reverse(s)
	return s
}

func TestGophercloudUpdate(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, true, nil)
	sc := h.as("A", "member").gophercloud()
	img, err := images.Create(ctx, sc, images.CreateOpts{Name: "before", Tags: []string{"old"},
		Properties: map[string]string{"keep": "1", "drop": "2", "change": "3"}}).Extract()
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	updated, err := images.Update(ctx, sc, img.ID, images.UpdateOpts{
		images.ReplaceImageName{NewName: "after"},
		images.ReplaceImageTags{NewTags: []string{"t1", "t2", "t1"}},
		images.ReplaceImageMinDisk{NewMinDisk: 10},
		images.ReplaceImageMinRam{NewMinRam: 2048},
		images.ReplaceImageProtected{NewProtected: true},
		images.ReplaceImageHidden{NewHidden: true},
		images.UpdateVisibility{Visibility: images.ImageVisibilityCommunity},
		images.UpdateImageProperty{Op: images.AddOp, Name: "added", Value: "new"},
		images.UpdateImageProperty{Op: images.ReplaceOp, Name: "change", Value: "33"},
		images.UpdateImageProperty{Op: images.RemoveOp, Name: "drop"},
		images.UpdateImageProperty{Op: images.AddOp, Name: "os_distro", Value: "debian"},
		images.UpdateImageProperty{Op: images.ReplaceOp, Name: "disk_format", Value: "raw"},
	}).Extract()
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	for _, got := range []*images.Image{updated, mustGet(t, sc, img.ID)} {
		gotFields := map[string]any{
			"name": got.Name, "tags": sorted(got.Tags), "min_disk": got.MinDiskGigabytes, "min_ram": got.MinRAMMegabytes,
			"protected": got.Protected, "hidden": got.Hidden, "visibility": got.Visibility, "disk_format": got.DiskFormat,
			"keep": got.Properties["keep"], "added": got.Properties["added"], "change": got.Properties["change"],
			"os_distro": got.Properties["os_distro"],
		}
		want := map[string]any{
			"name": "after", "tags": []string{"t1", "t2"}, "min_disk": 10, "min_ram": 2048,
			"protected": true, "hidden": true, "visibility": images.ImageVisibilityCommunity, "disk_format": "raw",
			"keep": "1", "added": "new", "change": "33", "os_distro": "debian",
		}
		if diff := cmp.Diff(want, gotFields); diff != "" {
			t.Errorf("updated image differs (-want +got):\n%s", diff)
		}
		if _, ok := got.Properties["drop"]; ok {
			t.Errorf("removed property drop is still shown: %v", got.Properties["drop"])
		}
		if !got.UpdatedAt.After(img.CreatedAt) && !got.UpdatedAt.Equal(img.CreatedAt) {
			t.Errorf("got updated_at %v before created_at %v", got.UpdatedAt, img.CreatedAt)
		}
	}

	before := h.getRaw(t, img.ID)
	for _, tc := range []struct {
		name    string
		patch   images.Patch
		status  int
		message string
	}{
		{"checksum is read-only", images.ReplaceImageChecksum{Checksum: "abc"}, http.StatusForbidden, "Attribute 'checksum' is read-only."},
		{"public needs the admin role", images.UpdateVisibility{Visibility: images.ImageVisibilityPublic}, http.StatusForbidden, "You are not authorized to complete publicize_image action."},
		{"replace a missing property", images.UpdateImageProperty{Op: images.ReplaceOp, Name: "nope", Value: "x"}, http.StatusConflict, "There was a conflict when trying to complete your request."},
		{"remove a missing property", images.UpdateImageProperty{Op: images.RemoveOp, Name: "nope"}, http.StatusConflict, "There was a conflict when trying to complete your request."},
		{"owner as non-admin", images.UpdateImageProperty{Op: images.ReplaceOp, Name: "owner", Value: "B"}, http.StatusForbidden, "Access was denied to this resource."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := images.Update(ctx, sc, img.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "not applied"}, tc.patch}).Extract()
			wantCode(t, tc.name, err, tc.status, tc.message)
			if after := h.getRaw(t, img.ID); string(after) != string(before) {
				t.Errorf("image changed by a refused PATCH:\n got %s\nwant %s", after, before)
			}
		})
	}

	// Another project can see the community image but not change it.
	_, err = images.Update(ctx, h.as("B", "member").gophercloud(), img.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "theirs"}}).Extract()
	wantCode(t, "Update by another project", err, http.StatusForbidden, "You do not own this image")
	// An admin may change the owner.
	got, err := images.Update(ctx, h.as("P", "admin").gophercloud(), img.ID, images.UpdateOpts{
		images.UpdateImageProperty{Op: images.ReplaceOp, Name: "owner", Value: "B"},
		images.UpdateVisibility{Visibility: images.ImageVisibilityPublic},
	}).Extract()
	if err != nil {
		t.Fatalf("admin Update: %v", err)
	}
	if got.Owner != "B" || got.Visibility != images.ImageVisibilityPublic {
		t.Errorf("admin Update: got owner %q visibility %q, want B public", got.Owner, got.Visibility)
	}
}

func mustGet(t *testing.T, sc *gophercloud.ServiceClient, id string) *images.Image {
	t.Helper()
	img, err := images.Get(context.Background(), sc, id).Extract()
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return img
}

func TestGophercloudTags(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, true, nil)
	a := h.as("A", "member")
	sc := a.gophercloud()
	img, err := images.Create(ctx, sc, images.CreateOpts{Name: "tagged", Tags: []string{"one"}}).Extract()
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	tags := func() []string {
		t.Helper()
		return sorted(mustGet(t, sc, img.ID).Tags)
	}
	if _, err := images.Update(ctx, sc, img.ID, images.UpdateOpts{images.ReplaceImageTags{NewTags: []string{"two", "three"}}}).Extract(); err != nil {
		t.Fatalf("replace tags: %v", err)
	}
	if diff := cmp.Diff([]string{"three", "two"}, tags()); diff != "" {
		t.Errorf("after replace (-want +got):\n%s", diff)
	}
	tagPath := "/v2/images/" + img.ID + "/tags/"
	a.do(t, "PUT", tagPath+"four", "").want(t, "PUT tag", http.StatusNoContent)
	a.do(t, "PUT", tagPath+"four", "").want(t, "PUT the same tag again", http.StatusNoContent)
	a.do(t, "PUT", tagPath+"with%20space,comma", "").want(t, "PUT escaped tag", http.StatusNoContent)
	if diff := cmp.Diff([]string{"four", "three", "two", "with space,comma"}, tags()); diff != "" {
		t.Errorf("after PUT (-want +got):\n%s", diff)
	}
	a.do(t, "DELETE", tagPath+"two", "").want(t, "DELETE tag", http.StatusNoContent)
	a.do(t, "DELETE", tagPath+"two", "").wantError(t, "DELETE missing tag", http.StatusNotFound, "The resource could not be found.", "")
	if diff := cmp.Diff([]string{"four", "three", "with space,comma"}, tags()); diff != "" {
		t.Errorf("after DELETE (-want +got):\n%s", diff)
	}

	const unknown = "6f1b2a7e-3c1d-4b8a-9e2f-0a1b2c3d4e5f"
	a.do(t, "PUT", "/v2/images/"+unknown+"/tags/x", "").wantError(t, "PUT tag on unknown image", http.StatusNotFound, "Image "+unknown+" not found.", "")
	a.do(t, "DELETE", "/v2/images/"+unknown+"/tags/x", "").wantError(t, "DELETE tag on unknown image", http.StatusNotFound, "Image "+unknown+" not found.", "")
	a.do(t, "GET", tagPath+"x", "").want(t, "GET tag", http.StatusMethodNotAllowed)
	// Another project sees nothing of a private image, and may not tag a
	// community one.
	b := h.as("B", "member")
	if _, err := images.Update(ctx, sc, img.ID, images.UpdateOpts{images.UpdateVisibility{Visibility: images.ImageVisibilityPrivate}}).Extract(); err != nil {
		t.Fatalf("make private: %v", err)
	}
	b.do(t, "PUT", tagPath+"x", "").wantError(t, "PUT tag on invisible image", http.StatusNotFound, "Image "+img.ID+" not found.", "")
	if _, err := images.Update(ctx, sc, img.ID, images.UpdateOpts{images.UpdateVisibility{Visibility: images.ImageVisibilityCommunity}}).Extract(); err != nil {
		t.Fatalf("make community: %v", err)
	}
	b.do(t, "PUT", tagPath+"x", "").wantError(t, "PUT tag on another's image", http.StatusForbidden, "Not allowed to update tags for image "+img.ID+".", "")
	if diff := cmp.Diff([]string{"four", "three", "with space,comma"}, tags()); diff != "" {
		t.Errorf("after refused tag calls (-want +got):\n%s", diff)
	}
}

func TestDeactivateReactivate(t *testing.T) {
	h := newHarness(t, true, nil)
	a := h.as("A", "member")
	id := a.createImage(t, map[string]any{"name": "toggle"})["id"].(string)
	action := func(c *client, name string) *response {
		t.Helper()
		return c.do(t, "POST", "/v2/images/"+id+"/actions/"+name, "")
	}
	status := func() string {
		t.Helper()
		return a.do(t, "GET", "/v2/images/"+id, "").want(t, "GET", http.StatusOK).object(t)["status"].(string)
	}
	action(a, "deactivate").wantError(t, "deactivate queued", http.StatusForbidden, "Not allowed to deactivate image in status 'queued'", "")
	action(a, "reactivate").wantError(t, "reactivate queued", http.StatusForbidden, "Not allowed to reactivate image in status 'queued'", "")
	if got := status(); got != "queued" {
		t.Fatalf("after refused actions: got status %q, want queued", got)
	}

	h.setImage(t, id, func(img *image.Image) { img.Status = image.Active })
	action(h.as("B", "member"), "deactivate").wantError(t, "deactivate another's image", http.StatusNotFound, "No image found with ID "+id, "")
	for _, step := range []struct {
		action, status string
	}{
		{"deactivate", "deactivated"},
		{"deactivate", "deactivated"}, // idempotent
		{"reactivate", "active"},
		{"reactivate", "active"},
	} {
		action(a, step.action).want(t, step.action, http.StatusNoContent)
		if got := status(); got != step.status {
			t.Errorf("after %s: got status %q, want %q", step.action, got, step.status)
		}
	}
	const unknown = "6f1b2a7e-3c1d-4b8a-9e2f-0a1b2c3d4e5f"
	a.do(t, "POST", "/v2/images/"+unknown+"/actions/deactivate", "").wantError(t, "deactivate unknown", http.StatusNotFound, "No image found with ID "+unknown, "")
	r := a.do(t, "GET", "/v2/images/"+id+"/actions/deactivate", "").want(t, "GET action", http.StatusMethodNotAllowed)
	if got := r.Header.Get("Allow"); got != "POST" {
		t.Errorf("GET action: got Allow %q, want POST", got)
	}
}

func TestGophercloudMembers(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, true, nil)
	a, b := h.as("A", "member"), h.as("B", "member")
	scA, scB := a.gophercloud(), b.gophercloud()
	img, err := images.Create(ctx, scA, images.CreateOpts{Name: "shared-by-a", Visibility: ptr(images.ImageVisibilityShared)}).Extract()
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	private, err := images.Create(ctx, scA, images.CreateOpts{Name: "private-of-a", Visibility: ptr(images.ImageVisibilityPrivate)}).Extract()
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	listedFor := func(c *client, query string) bool {
		t.Helper()
		return slices.Contains(c.listIDs(t, query), img.ID)
	}
	if listedFor(b, "") || listedFor(b, "member_status=pending") {
		t.Fatalf("B lists A's shared image before being a member")
	}
	_, err = images.Get(ctx, scB, img.ID).Extract()
	wantCode(t, "B GET before membership", err, http.StatusNotFound, "No image found with ID "+img.ID)

	m, err := members.Create(ctx, scA, img.ID, "B").Extract()
	if err != nil {
		t.Fatalf("members.Create: %v", err)
	}
	if m.MemberID != "B" || m.ImageID != img.ID || m.Status != "pending" || m.Schema != "/v2/schemas/member" || m.CreatedAt.IsZero() {
		t.Errorf("members.Create: got %+v, want B pending on %s", m, img.ID)
	}
	_, err = members.Create(ctx, scA, img.ID, "B").Extract()
	wantCode(t, "duplicate member", err, http.StatusConflict, "Member B is duplicated for image "+img.ID)
	_, err = members.Create(ctx, scA, private.ID, "B").Extract()
	wantCode(t, "member on private image", err, http.StatusForbidden, "Not allowed to create members for image "+private.ID+".")
	_, err = members.Create(ctx, scB, img.ID, "D").Extract()
	wantCode(t, "member added by a member", err, http.StatusForbidden, "Not allowed to create members for image "+img.ID+".")
	if _, err := members.Create(ctx, scA, img.ID, "C").Extract(); err != nil {
		t.Fatalf("members.Create C: %v", err)
	}

	memberIDs := func(sc *gophercloud.ServiceClient) []string {
		t.Helper()
		page, err := members.List(sc, img.ID).AllPages(ctx)
		if err != nil {
			t.Fatalf("members.List: %v", err)
		}
		ms, err := members.ExtractMembers(page)
		if err != nil {
			t.Fatalf("ExtractMembers: %v", err)
		}
		out := []string{}
		for _, m := range ms {
			out = append(out, m.MemberID+"="+m.Status)
		}
		return sorted(out)
	}
	if diff := cmp.Diff([]string{"B=pending", "C=pending"}, memberIDs(scA)); diff != "" {
		t.Errorf("owner's member list (-want +got):\n%s", diff)
	}
	// A member sees only its own row.
	if diff := cmp.Diff([]string{"B=pending"}, memberIDs(scB)); diff != "" {
		t.Errorf("member's member list (-want +got):\n%s", diff)
	}

	// Pending: B may GET the image, and lists it only when asking for
	// pending shares.
	if _, err := images.Get(ctx, scB, img.ID).Extract(); err != nil {
		t.Errorf("B GET as pending member: %v", err)
	}
	if listedFor(b, "") {
		t.Errorf("B lists the image by default while pending")
	}
	if !listedFor(b, "member_status=pending") || !listedFor(b, "member_status=all") {
		t.Errorf("B does not list the pending share with member_status=pending/all")
	}
	if listedFor(b, "visibility=shared") {
		t.Errorf("B lists the pending share with visibility=shared")
	}
	gl, err := images.List(scB, images.ListOpts{MemberStatus: images.ImageMemberStatusPending}).AllPages(ctx)
	if err != nil {
		t.Fatalf("gophercloud list pending: %v", err)
	}
	if imgs, _ := images.ExtractImages(gl); len(imgs) != 1 || imgs[0].ID != img.ID {
		t.Errorf("gophercloud list pending for B: got %v, want just %s", imgs, img.ID)
	}

	_, err = members.Update(ctx, scA, img.ID, "B", members.UpdateOpts{Status: "accepted"}).Extract()
	wantCode(t, "owner accepts for the member", err, http.StatusForbidden, "Not allowed to update members for image "+img.ID+".")
	_, err = members.Update(ctx, scB, img.ID, "C", members.UpdateOpts{Status: "accepted"}).Extract()
	wantCode(t, "member accepts for another", err, http.StatusNotFound, "C not found in the member list of the image "+img.ID+".")
	_, err = members.Get(ctx, scB, img.ID, "C").Extract()
	wantCode(t, "member shows another's row", err, http.StatusNotFound, "C not found in the member list of the image "+img.ID+".")

	m, err = members.Update(ctx, scB, img.ID, "B", members.UpdateOpts{Status: "accepted"}).Extract()
	if err != nil {
		t.Fatalf("B accepts: %v", err)
	}
	if m.Status != "accepted" {
		t.Errorf("B accepts: got status %q, want accepted", m.Status)
	}
	if !listedFor(b, "") || !listedFor(b, "visibility=shared") {
		t.Errorf("B does not list the accepted share by default")
	}
	if listedFor(b, "member_status=pending") {
		t.Errorf("B lists the accepted share with member_status=pending")
	}
	got, err := members.Get(ctx, scA, img.ID, "B").Extract()
	if err != nil {
		t.Fatalf("members.Get: %v", err)
	}
	if got.Status != "accepted" || got.MemberID != "B" {
		t.Errorf("members.Get: got %+v, want B accepted", got)
	}
	_, err = images.Update(ctx, scB, img.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "mine"}}).Extract()
	wantCode(t, "member updates the image", err, http.StatusForbidden, "You do not own this image")
	err = members.Delete(ctx, scB, img.ID, "B").ExtractErr()
	wantCode(t, "member deletes its row", err, http.StatusForbidden, "Not allowed to delete members for image "+img.ID+".")

	if _, err := members.Update(ctx, scB, img.ID, "B", members.UpdateOpts{Status: "rejected"}).Extract(); err != nil {
		t.Fatalf("B rejects: %v", err)
	}
	if listedFor(b, "") || !listedFor(b, "member_status=rejected") {
		t.Errorf("rejected share: default list or member_status=rejected wrong")
	}
	if _, err := images.Get(ctx, scB, img.ID).Extract(); err != nil {
		t.Errorf("B GET as rejected member: %v", err)
	}

	if err := members.Delete(ctx, scA, img.ID, "B").ExtractErr(); err != nil {
		t.Fatalf("members.Delete: %v", err)
	}
	err = members.Delete(ctx, scA, img.ID, "B").ExtractErr()
	wantCode(t, "delete member twice", err, http.StatusNotFound, "B not found in the member list of the image "+img.ID+".")
	_, err = images.Get(ctx, scB, img.ID).Extract()
	wantCode(t, "B GET after removal", err, http.StatusNotFound, "No image found with ID "+img.ID)
	if diff := cmp.Diff([]string{"C=pending"}, memberIDs(scA)); diff != "" {
		t.Errorf("member list after delete (-want +got):\n%s", diff)
	}
	// A removed member may be added again.
	if _, err := members.Create(ctx, scA, img.ID, "B").Extract(); err != nil {
		t.Errorf("re-adding B: %v", err)
	}

	_, err = members.List(scA, private.ID).AllPages(ctx)
	wantCode(t, "members of a private image", err, http.StatusForbidden, "Not allowed to list members for image "+private.ID+": Only shared images have members.")
	_, err = members.List(scB, private.ID).AllPages(ctx)
	wantCode(t, "members of an invisible image", err, http.StatusNotFound, "Image "+private.ID+" not found.")
}

func TestQuotas(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, true, func(cfg *config.Config) { cfg.Default.ImageMemberQuota = 2 })
	a := h.as("A", "member")
	sc := a.gophercloud()

	props := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("p%03d", i)] = "v"
		}
		return m
	}
	tags := func(n int) []string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf("t%03d", i))
		}
		return s
	}
	before := h.catalogState(t)
	_, err := images.Create(ctx, sc, images.CreateOpts{Name: "props", Properties: props(129)}).Extract()
	wantCode(t, "129 properties", err, http.StatusRequestEntityTooLarge, "The limit has been exceeded on the number of allowed image properties. Attempted: 129, Maximum: 128")
	_, err = images.Create(ctx, sc, images.CreateOpts{Name: "tags", Tags: tags(129)}).Extract()
	wantCode(t, "129 tags", err, http.StatusRequestEntityTooLarge, "The limit has been exceeded on the number of allowed image tags. Attempted: 129, Maximum: 128")
	// Duplicates count against the quota.
	_, err = images.Create(ctx, sc, images.CreateOpts{Name: "tags", Tags: append(tags(128), "t000", "t001")}).Extract()
	wantCode(t, "128 tags + 2 duplicates", err, http.StatusRequestEntityTooLarge, "The limit has been exceeded on the number of allowed image tags. Attempted: 130, Maximum: 128")
	if after := h.catalogState(t); string(after) != string(before) {
		t.Errorf("refused creates changed the catalog")
	}

	img, err := images.Create(ctx, sc, images.CreateOpts{Name: "full", Properties: props(128), Tags: tags(128),
		Visibility: ptr(images.ImageVisibilityShared)}).Extract()
	if err != nil {
		t.Fatalf("Create with 128 properties and tags: %v", err)
	}
	if len(img.Tags) != 128 || len(img.Properties) < 128 {
		t.Errorf("got %d tags and %d properties, want 128 of each", len(img.Tags), len(img.Properties))
	}
	_, err = images.Update(ctx, sc, img.ID, images.UpdateOpts{images.UpdateImageProperty{Op: images.AddOp, Name: "one_more", Value: "x"}}).Extract()
	wantCode(t, "PATCH 129th property", err, http.StatusRequestEntityTooLarge, "The limit has been exceeded on the number of allowed image properties. Attempted: 129, Maximum: 128")
	_, err = images.Update(ctx, sc, img.ID, images.UpdateOpts{images.ReplaceImageTags{NewTags: tags(129)}}).Extract()
	wantCode(t, "PATCH 129 tags", err, http.StatusRequestEntityTooLarge, "The limit has been exceeded on the number of allowed image tags. Attempted: 129, Maximum: 128")
	a.do(t, "PUT", "/v2/images/"+img.ID+"/tags/t999", "").wantError(t, "PUT 129th tag", http.StatusRequestEntityTooLarge,
		"Image tag limit exceeded for image "+img.ID+": The limit has been exceeded on the number of allowed image tags. Attempted: 129, Maximum: 128:", "")
	a.do(t, "PUT", "/v2/images/"+img.ID+"/tags/t000", "").want(t, "PUT an existing tag at the limit", http.StatusNoContent)
	if got := mustGet(t, sc, img.ID); len(got.Tags) != 128 || got.Properties["one_more"] != nil {
		t.Errorf("refused changes were stored: %d tags, one_more=%v", len(got.Tags), got.Properties["one_more"])
	}

	for _, m := range []string{"B", "C"} {
		if _, err := members.Create(ctx, sc, img.ID, m).Extract(); err != nil {
			t.Fatalf("members.Create %s: %v", m, err)
		}
	}
	_, err = members.Create(ctx, sc, img.ID, "D").Extract()
	wantCode(t, "third member", err, http.StatusRequestEntityTooLarge,
		"Image member limit exceeded for image "+img.ID+": The limit has been exceeded on the number of allowed image members for this image. Attempted: 3, Maximum: 2:")
	if err := members.Delete(ctx, sc, img.ID, "B").ExtractErr(); err != nil {
		t.Fatalf("members.Delete: %v", err)
	}
	if _, err := members.Create(ctx, sc, img.ID, "D").Extract(); err != nil {
		t.Errorf("member after freeing a slot: %v", err)
	}
}
