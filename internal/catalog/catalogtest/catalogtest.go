// Package catalogtest is the conformance suite for catalog.Catalog
// implementations. Each implementation's tests call Run with a constructor
// that returns a fresh, empty, migrated catalog:
//
//	func TestCatalog(t *testing.T) {
//		catalogtest.Run(t, func(t *testing.T) catalog.Catalog { return openEmpty(t) })
//	}
//
// The cases use the Catalog interface and the interfaces a full catalog
// also implements (catalog.Tasks, catalog.Locations, storage usage); a
// catalog that lacks one fails those cases. They hold for every database
// glimpse runs on. Where databases legitimately differ (whether NULL sorts
// before or after every value), both answers are accepted as long as one of
// them is applied consistently; times are compared to the second, which is
// all MariaDB keeps.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// Run runs every case as a subtest of t, each on its own catalog from
// newCatalog.
func Run(t *testing.T, newCatalog func(t *testing.T) catalog.Catalog) {
	t.Helper()
	cases := []struct {
		name string
		run  func(e *env)
	}{
		{"CreateGetRoundTrip", testCreateGetRoundTrip},
		{"CreatePropertiesAndTags", testCreatePropertiesAndTags},
		{"CreateDuplicateID", testCreateDuplicateID},
		{"CreateDuplicateOfDeletedID", testCreateDuplicateOfDeletedID},
		{"GetMissingAndDeleted", testGetMissingAndDeleted},
		{"UpdateBaseColumns", testUpdateBaseColumns},
		{"UpdateWritesOnlyDifferences", testUpdateWritesOnlyDifferences},
		{"UpdatePropertiesAndTags", testUpdatePropertiesAndTags},
		{"NamesThatCollate", testNamesThatCollate},
		{"UpdateStaleStatus", testUpdateStaleStatus},
		{"UpdateMissingOrDeleted", testUpdateMissingOrDeleted},
		{"UpdateConcurrentStatusChange", testUpdateConcurrentStatusChange},
		{"SetStatus", testSetStatus},
		{"SetStatusConcurrent", testSetStatusConcurrent},
		{"DeleteImage", testDeleteImage},
		{"DeleteImageWrongStatus", testDeleteImageWrongStatus},
		{"Members", testMembers},
		{"MembersErrors", testMembersErrors},
		{"MemberReAddAfterDelete", testMemberReAddAfterDelete},
		{"MemberChurn", testMemberChurn},
		{"ListFilters", testListFilters},
		{"ListReturnsFullImages", testListReturnsFullImages},
		{"ListScope", testListScope},
		{"ListSortKeys", testListSortKeys},
		{"ListPagination", testListPagination},
		{"ListPaginationScoped", testListPaginationScoped},
		{"ListLimit", testListLimit},
		{"ListMarkerErrors", testListMarkerErrors},
		{"ListMarkerDeletedImage", testListMarkerDeletedImage},
		{"ListMarkerVisibleButNotListed", testListMarkerVisibleButNotListed},
		{"ListNeverShowsKilled", testListNeverShowsKilled},
		{"CancelledContext", testCancelledContext},
		{"DelayedDelete", testDelayedDelete}, {"DelayedDeleteImmediateIsNotPending", testDelayedDeleteImmediateIsNotPending},
		{"TaskRoundTrip", testTaskRoundTrip},
		{"TaskCreateDuplicate", testTaskCreateDuplicate},
		{"TaskUpdate", testTaskUpdate},
		{"TaskConcurrentUpdates", testTaskConcurrentUpdates},
		{"TaskListFilters", testTaskListFilters},
		{"TaskListSortAndPages", testTaskListSortAndPages},
		{"TaskListMarker", testTaskListMarker},
		{"ImageTasks", testImageTasks},
		{"UnfinishedTasks", testUnfinishedTasks},
		{"ActivateImage", testActivateImage},
		{"ActivateImageConcurrent", testActivateImageConcurrent},
		{"SetPropertyIfAbsent", testSetPropertyIfAbsent},
		{"SetPropertyIfAbsentConcurrent", testSetPropertyIfAbsentConcurrent},
		{"DeletePropertyIfValue", testDeletePropertyIfValue},
		{"ImportLockCycle", testImportLockCycle},
		{"SetProperties", testSetProperties},
		{"FinishImport", testFinishImport},
		{"FinishImportWithoutData", testFinishImportWithoutData},
		{"FinishImportAllOrNothing", testFinishImportAllOrNothing},
		{"FinishImportConcurrent", testFinishImportConcurrent},
		{"FinishImportVisibleTogether", testFinishImportVisibleTogether},
		{"RemoveLocation", testRemoveLocation},
		{"RemoveLocationConcurrent", testRemoveLocationConcurrent},
		{"UpdateImageLocations", testUpdateImageLocations},
		{"UpdateImageLocationsConcurrent", testUpdateImageLocationsConcurrent},
		{"RemovedLocations", testRemovedLocations},
		{"StorageUsage", testStorageUsage},
		{"ListWithLocations", testListWithLocations},
		{"DeleteRacesLocationAdd", testDeleteRacesLocationAdd},
		{"ListDeleted", testListDeleted},
		{"CancelledContextImports", testCancelledContextImports},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(&env{T: t, cat: newCatalog(t), ctx: t.Context()})
		})
	}
}

// env is one case's catalog and the helpers that drive it.
type env struct {
	*testing.T
	cat catalog.Catalog
	ctx context.Context
	n   int // images made so far
}

// t0 is the creation time of the first image a case makes. Times are whole
// seconds so that every SQL dialect stores them exactly.
var t0 = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

// imageID is the n-th test ID: a valid UUID whose sort order differs from n's.
func imageID(n int) string {
	h := uint32(n) * 2654435761
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", h, n&0xffff, n&0xfff, (n>>12)&0xfff, n)
}

func str(s string) *string { return &s }

func i64(n int64) *int64 { return &n }

// mod changes a new image before it is stored.
type mod func(*image.Image)

func named(s string) mod             { return func(i *image.Image) { i.Name = str(s) } }
func owned(p string) mod             { return func(i *image.Image) { i.Owner = str(p) } }
func visible(v image.Visibility) mod { return func(i *image.Image) { i.Visibility = v } }
func status(s image.Status) mod      { return func(i *image.Image) { i.Status = s } }
func tagged(tags ...string) mod      { return func(i *image.Image) { i.Tags = tags } }
func createdAt(t time.Time) mod      { return func(i *image.Image) { i.CreatedAt, i.UpdatedAt = t, t } }
func withProps(kv ...string) mod {
	return func(i *image.Image) {
		for j := 0; j+1 < len(kv); j += 2 {
			i.Properties[kv[j]] = str(kv[j+1])
		}
	}
}

// newImage returns an unsaved queued shared image with no owner, a new ID
// and a creation time one second after the previous image's.
func (e *env) newImage(mods ...mod) *image.Image {
	e.n++
	img := &image.Image{
		ID:         imageID(e.n),
		Status:     image.Queued,
		Visibility: image.Shared,
		CreatedAt:  t0.Add(time.Duration(e.n) * time.Second),
		Properties: map[string]*string{},
		Tags:       []string{},
	}
	img.UpdatedAt = img.CreatedAt
	for _, m := range mods {
		m(img)
	}
	return img
}

// create stores a new image and returns it as stored (a copy).
func (e *env) create(mods ...mod) *image.Image {
	e.Helper()
	img := e.newImage(mods...)
	if err := e.cat.CreateImage(e.ctx, img.Clone()); err != nil {
		e.Fatalf("CreateImage(%s): got error %v, want nil", img.ID, err)
	}
	return img
}

func (e *env) get(id string) *image.Image {
	e.Helper()
	img, err := e.cat.GetImage(e.ctx, id)
	if err != nil {
		e.Fatalf("GetImage(%s): got error %v, want nil", id, err)
	}
	return img
}

func (e *env) update(old, img *image.Image) {
	e.Helper()
	if err := e.cat.UpdateImage(e.ctx, old, img); err != nil {
		e.Fatalf("UpdateImage(%s): got error %v, want nil", img.ID, err)
	}
}

func (e *env) setStatus(id string, from, to image.Status) {
	e.Helper()
	if err := e.cat.SetStatus(e.ctx, id, from, to); err != nil {
		e.Fatalf("SetStatus(%s, %s, %s): got error %v, want nil", id, from, to, err)
	}
}

func (e *env) deleteImage(id string, from image.Status) {
	e.Helper()
	if err := e.cat.DeleteImage(e.ctx, id, from); err != nil {
		e.Fatalf("DeleteImage(%s): got error %v, want nil", id, err)
	}
}

func (e *env) addMember(imageID, member, st string) *image.Member {
	e.Helper()
	e.n++
	at := t0.Add(time.Duration(e.n) * time.Second)
	m := &image.Member{ImageID: imageID, MemberID: member, Status: st, CreatedAt: at, UpdatedAt: at}
	if err := e.cat.AddMember(e.ctx, m); err != nil {
		e.Fatalf("AddMember(%s, %s): got error %v, want nil", imageID, member, err)
	}
	return m
}

func (e *env) list(q catalog.ListQuery) []*image.Image {
	e.Helper()
	imgs, err := e.cat.ListImages(e.ctx, &q)
	if err != nil {
		e.Fatalf("ListImages(%+v): got error %v, want nil", q, err)
	}
	return imgs
}

// wantErr fails unless err matches target.
func (e *env) wantErr(what string, err, target error) {
	e.Helper()
	if !errors.Is(err, target) {
		e.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// diffImage compares images field by field; nil and empty property maps
// and tag lists are the same thing.
func diffImage(want, got *image.Image) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}

func (e *env) wantImage(what string, want *image.Image) {
	e.Helper()
	got := e.get(want.ID)
	if d := diffImage(want, got); d != "" {
		e.Errorf("%s: GetImage(%s) mismatch (-want +got):\n%s", what, want.ID, d)
	}
}

// label names an image in failure messages: its name, else its ID.
func label(img *image.Image) string {
	if img.Name != nil {
		return *img.Name
	}
	return img.ID
}

func labels(imgs []*image.Image) []string {
	out := make([]string, len(imgs))
	for i, img := range imgs {
		out[i] = label(img)
	}
	return out
}

func ids(imgs []*image.Image) []string {
	out := make([]string, len(imgs))
	for i, img := range imgs {
		out[i] = img.ID
	}
	return out
}

var (
	byCreated     = []catalog.SortKey{{Key: "created_at"}, {Key: "id"}}
	byCreatedDesc = []catalog.SortKey{{Key: "created_at", Desc: true}, {Key: "id", Desc: true}}
	admin         = catalog.Scope{Admin: true}
)

func testCreateGetRoundTrip(e *env) {
	full := e.newImage()
	full.Name = str("ünïcode name 名前")
	full.Status = image.Active
	full.Visibility = image.Public
	full.Protected = true
	full.OSHidden = true
	full.Checksum = str("d41d8cd98f00b204e9800998ecf8427e")
	full.OSHashAlgo = str("sha512")
	full.OSHashValue = str(strings.Repeat("ab", 64))
	full.Owner = str("0123456789abcdef0123456789abcdef")
	full.Size = i64(1<<40 + 3)
	full.VirtualSize = i64(5<<40 + 7)
	full.DiskFormat = str("qcow2")
	full.ContainerFormat = str("bare")
	full.MinDisk = 20
	full.MinRAM = 2048
	full.UpdatedAt = full.CreatedAt.Add(90 * time.Second)
	full.Properties = map[string]*string{"os_distro": str("ubuntu"), "kernel_id": nil, "empty": str("")}
	full.Tags = []string{"b", "a", "c"}

	// Every nullable column NULL, every other one at its zero value.
	bare := e.newImage()
	bare.Visibility = image.Private

	// Zero-but-not-NULL values must not come back as NULL.
	zero := e.newImage()
	zero.Name = str("")
	zero.Size = i64(0)
	zero.VirtualSize = i64(0)
	zero.Owner = str("")
	zero.Visibility = image.Community

	for _, img := range []*image.Image{full, bare, zero} {
		if err := e.cat.CreateImage(e.ctx, img.Clone()); err != nil {
			e.Fatalf("CreateImage(%s): got error %v, want nil", img.ID, err)
		}
	}
	for _, img := range []*image.Image{full, bare, zero} {
		e.wantImage("after create", img)
	}
}

func testCreatePropertiesAndTags(e *env) {
	img := e.newImage()
	img.Properties = map[string]*string{
		"hw_disk_bus": str("virtio"),
		"ramdisk_id":  nil,
		"blank":       str(""),
		"long":        str(strings.Repeat("x", 5000)),
		"ключ":        str("значение"),
	}
	img.Tags = []string{"zeta", "alpha", "zeta", "mid", "alpha", "ünï"}
	if err := e.cat.CreateImage(e.ctx, img.Clone()); err != nil {
		e.Fatalf("CreateImage: got error %v, want nil", err)
	}
	got := e.get(img.ID)
	if d := cmp.Diff(img.Properties, got.Properties); d != "" {
		e.Errorf("properties mismatch (-want +got):\n%s", d)
	}
	if v, ok := got.Properties["ramdisk_id"]; !ok || v != nil {
		e.Errorf("property ramdisk_id: got %v (present %v), want a present NULL", v, ok)
	}
	wantTags := []string{"zeta", "alpha", "mid", "ünï"}
	if !slices.Equal(got.Tags, wantTags) {
		e.Errorf("tags: got %q, want %q", got.Tags, wantTags)
	}
}

func testCreateDuplicateID(e *env) {
	first := e.create(named("first"), withProps("a", "1"), tagged("t1"))
	dup := e.newImage(named("second"), withProps("a", "2", "b", "3"), tagged("t2"))
	dup.ID = first.ID
	e.wantErr("CreateImage with an existing ID", e.cat.CreateImage(e.ctx, dup), catalog.ErrDuplicate)
	e.wantImage("the first image after a duplicate create", first)
}

func testCreateDuplicateOfDeletedID(e *env) {
	gone := e.create(named("gone"), withProps("a", "1"))
	e.deleteImage(gone.ID, image.Queued)
	again := e.newImage(named("again"))
	again.ID = gone.ID
	e.wantErr("CreateImage with a deleted image's ID", e.cat.CreateImage(e.ctx, again), catalog.ErrDuplicate)
	_, err := e.cat.GetImage(e.ctx, gone.ID)
	e.wantErr("GetImage after the refused create", err, catalog.ErrNotFound)
}

func testGetMissingAndDeleted(e *env) {
	_, err := e.cat.GetImage(e.ctx, imageID(9999))
	e.wantErr("GetImage of an unknown ID", err, catalog.ErrNotFound)
	img := e.create(status(image.Active))
	e.deleteImage(img.ID, image.Active)
	_, err = e.cat.GetImage(e.ctx, img.ID)
	e.wantErr("GetImage of a deleted image", err, catalog.ErrNotFound)
}

func testUpdateBaseColumns(e *env) {
	neighbour := e.create(named("neighbour"), withProps("k", "v"), tagged("n"))
	orig := e.create(named("before"), owned("p1"), withProps("keep", "1"), tagged("x"))
	old := e.get(orig.ID)

	// Every column changes, nullable ones from NULL to a value.
	img := old.Clone()
	img.Name = str("after")
	img.Status = image.Active
	img.Visibility = image.Public
	img.Protected = true
	img.OSHidden = true
	img.Checksum = str("0123456789abcdef0123456789abcdef")
	img.OSHashAlgo = str("sha512")
	img.OSHashValue = str("ff")
	img.Owner = str("p2")
	img.Size = i64(42)
	img.VirtualSize = i64(4242)
	img.DiskFormat = str("raw")
	img.ContainerFormat = str("ovf")
	img.MinDisk = 3
	img.MinRAM = 512
	img.UpdatedAt = old.UpdatedAt.Add(time.Hour)
	e.update(old, img)
	e.wantImage("after setting every column", img)

	// And back to NULL.
	old = e.get(orig.ID)
	img = old.Clone()
	img.Name, img.Checksum, img.OSHashAlgo, img.OSHashValue = nil, nil, nil, nil
	img.Owner, img.Size, img.VirtualSize, img.DiskFormat, img.ContainerFormat = nil, nil, nil, nil, nil
	img.Protected, img.OSHidden = false, false
	img.MinDisk, img.MinRAM = 0, 0
	img.Visibility = image.Private
	img.UpdatedAt = old.UpdatedAt.Add(time.Hour)
	e.update(old, img)
	e.wantImage("after clearing every nullable column", img)
	e.wantImage("another image", neighbour)
}

// Two clients load the same image and each changes different properties
// and tags: each UpdateImage writes only its own changes, so neither
// reverts the other's.
func testUpdateWritesOnlyDifferences(e *env) {
	orig := e.create(withProps("a", "1", "b", "2", "c", "3"), tagged("t1", "t2"))
	first := e.get(orig.ID)
	second := e.get(orig.ID)

	img := first.Clone()
	img.Properties["a"] = str("10")
	delete(img.Properties, "c")
	img.Tags = []string{"t2", "t3"} // t1 removed, t3 added
	e.update(first, img)

	img = second.Clone()
	img.Properties["b"] = str("20")
	img.Properties["d"] = str("4")
	img.Tags = append(img.Tags, "t4")
	e.update(second, img)

	got := e.get(orig.ID)
	wantProps := map[string]*string{"a": str("10"), "b": str("20"), "d": str("4")}
	if d := cmp.Diff(wantProps, got.Properties); d != "" {
		e.Errorf("properties after two disjoint updates (-want +got):\n%s", d)
	}
	wantTags := []string{"t2", "t3", "t4"}
	if !slices.Equal(got.Tags, wantTags) {
		e.Errorf("tags after two disjoint updates: got %q, want %q", got.Tags, wantTags)
	}
}

func testUpdatePropertiesAndTags(e *env) {
	orig := e.create(withProps("a", "1", "b", "2", "n", "x"), tagged("t1", "t2", "t3"))

	steps := []struct {
		name      string
		change    func(img *image.Image)
		wantProps map[string]*string
		wantTags  []string
	}{
		{
			name: "remove a property and a tag",
			change: func(img *image.Image) {
				delete(img.Properties, "a")
				img.Tags = []string{"t1", "t3"}
			},
			wantProps: map[string]*string{"b": str("2"), "n": str("x")},
			wantTags:  []string{"t1", "t3"},
		},
		{
			name: "re-add the removed property and tag",
			change: func(img *image.Image) {
				img.Properties["a"] = str("again")
				img.Tags = append(img.Tags, "t2")
			},
			wantProps: map[string]*string{"a": str("again"), "b": str("2"), "n": str("x")},
			wantTags:  []string{"t1", "t3", "t2"},
		},
		{
			name: "set a value to NULL and change another",
			change: func(img *image.Image) {
				img.Properties["n"] = nil
				img.Properties["b"] = str("")
			},
			wantProps: map[string]*string{"a": str("again"), "b": str(""), "n": nil},
			wantTags:  []string{"t1", "t3", "t2"},
		},
		{
			name: "NULL back to a value, remove every tag",
			change: func(img *image.Image) {
				img.Properties["n"] = str("y")
				img.Tags = nil
			},
			wantProps: map[string]*string{"a": str("again"), "b": str(""), "n": str("y")},
			wantTags:  nil,
		},
		{
			name: "remove every property, add tags with a duplicate",
			change: func(img *image.Image) {
				img.Properties = map[string]*string{}
				img.Tags = []string{"new", "t1", "new"}
			},
			wantProps: nil,
			wantTags:  []string{"new", "t1"},
		},
		{
			name: "remove and re-add the same property twice over",
			change: func(img *image.Image) {
				img.Properties["a"] = str("third life")
				img.Properties["b"] = str("second life")
			},
			wantProps: map[string]*string{"a": str("third life"), "b": str("second life")},
			wantTags:  []string{"new", "t1"},
		},
	}
	for _, s := range steps {
		old := e.get(orig.ID)
		img := old.Clone()
		s.change(img)
		img.UpdatedAt = old.UpdatedAt.Add(time.Minute)
		e.update(old, img)
		got := e.get(orig.ID)
		if d := cmp.Diff(s.wantProps, got.Properties, cmpopts.EquateEmpty()); d != "" {
			e.Errorf("%s: properties (-want +got):\n%s", s.name, d)
		}
		if !slices.Equal(got.Tags, s.wantTags) {
			e.Errorf("%s: tags: got %q, want %q", s.name, got.Tags, s.wantTags)
		}
	}
}

func testUpdateStaleStatus(e *env) {
	orig := e.create(named("n1"), withProps("a", "1"), tagged("t1"))
	old := e.get(orig.ID)
	e.setStatus(orig.ID, image.Queued, image.Saving)
	want := e.get(orig.ID)

	img := old.Clone()
	img.Name = str("n2")
	img.MinRAM = 99
	img.Properties["a"] = str("2")
	img.Properties["b"] = str("3")
	img.Tags = []string{"t2"}
	img.UpdatedAt = old.UpdatedAt.Add(time.Hour)
	e.wantErr("UpdateImage with a stale status", e.cat.UpdateImage(e.ctx, old, img), catalog.ErrConflict)
	e.wantImage("after the refused update", want)
}

func testUpdateMissingOrDeleted(e *env) {
	missing := e.newImage()
	img := missing.Clone()
	img.Name = str("x")
	e.wantErr("UpdateImage of an unknown image", e.cat.UpdateImage(e.ctx, missing, img), catalog.ErrNotFound)

	gone := e.create()
	old := e.get(gone.ID)
	e.deleteImage(gone.ID, image.Queued)
	img = old.Clone()
	img.Name = str("x")
	img.Properties["p"] = str("v")
	e.wantErr("UpdateImage of a deleted image", e.cat.UpdateImage(e.ctx, old, img), catalog.ErrNotFound)
	_, err := e.cat.GetImage(e.ctx, gone.ID)
	e.wantErr("GetImage after updating a deleted image", err, catalog.ErrNotFound)
}

// Several clients move the same image out of queued at once, each with its
// own name: exactly one wins and its whole update is what is stored.
func testUpdateConcurrentStatusChange(e *env) {
	orig := e.create(withProps("p", "0"))
	old := e.get(orig.ID)
	const n = 8
	errs := make([]error, n)
	imgs := make([]*image.Image, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		img := old.Clone()
		img.Name = str(fmt.Sprintf("writer-%d", i))
		img.Status = image.Saving
		img.Properties["p"] = str(fmt.Sprint(i))
		img.UpdatedAt = old.UpdatedAt.Add(time.Minute)
		imgs[i] = img
		wg.Go(func() {
			<-start
			errs[i] = e.cat.UpdateImage(e.ctx, old, img)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			e.Errorf("writers %d and %d both succeeded, want exactly one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, catalog.ErrConflict):
			e.Errorf("writer %d: got error %v, want nil or %v", i, err, catalog.ErrConflict)
		}
	}
	if winner < 0 {
		e.Fatalf("no writer succeeded, want exactly one")
	}
	e.wantImage("after concurrent updates", imgs[winner])
}

func testSetStatus(e *env) {
	img := e.create()
	e.setStatus(img.ID, image.Queued, image.Saving)
	if got := e.get(img.ID).Status; got != image.Saving {
		e.Errorf("status after SetStatus: got %s, want %s", got, image.Saving)
	}
	e.wantErr("SetStatus from a status the image is not in",
		e.cat.SetStatus(e.ctx, img.ID, image.Queued, image.Active), catalog.ErrConflict)
	if got := e.get(img.ID).Status; got != image.Saving {
		e.Errorf("status after a refused SetStatus: got %s, want %s", got, image.Saving)
	}
	e.setStatus(img.ID, image.Saving, image.Active)
	got := e.get(img.ID)
	if got.Status != image.Active {
		e.Errorf("status after the second SetStatus: got %s, want %s", got.Status, image.Active)
	}
	if got.UpdatedAt.Before(img.UpdatedAt) {
		e.Errorf("updated_at after SetStatus: got %v, want no earlier than %v", got.UpdatedAt, img.UpdatedAt)
	}
	e.wantErr("SetStatus of an unknown image",
		e.cat.SetStatus(e.ctx, imageID(9999), image.Queued, image.Active), catalog.ErrNotFound)
	gone := e.create()
	e.deleteImage(gone.ID, image.Queued)
	e.wantErr("SetStatus of a deleted image",
		e.cat.SetStatus(e.ctx, gone.ID, image.Queued, image.Active), catalog.ErrNotFound)
	e.wantErr("SetStatus of a deleted image from deleted",
		e.cat.SetStatus(e.ctx, gone.ID, image.Deleted, image.Active), catalog.ErrNotFound)
}

// 16 clients try to move the same image out of queued at once, to
// different statuses: one wins, the others see ErrConflict, and the
// winner's status is stored.
func testSetStatusConcurrent(e *env) {
	img := e.create()
	targets := []image.Status{image.Saving, image.Uploading, image.Importing, image.Active}
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = e.cat.SetStatus(e.ctx, img.ID, image.Queued, targets[i%len(targets)])
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			e.Errorf("SetStatus calls %d and %d both succeeded, want exactly one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, catalog.ErrConflict):
			e.Errorf("SetStatus call %d: got error %v, want nil or %v", i, err, catalog.ErrConflict)
		}
	}
	if winner < 0 {
		e.Fatalf("no SetStatus call succeeded, want exactly one")
	}
	if got, want := e.get(img.ID).Status, targets[winner%len(targets)]; got != want {
		e.Errorf("status: got %s, want the winner's %s", got, want)
	}
}

func testDeleteImage(e *env) {
	img := e.create(status(image.Active), visible(image.Shared), owned("p1"),
		withProps("a", "1"), tagged("doomed"))
	other := e.create(status(image.Active), visible(image.Shared), owned("p1"),
		withProps("a", "1"), tagged("doomed"))
	e.addMember(img.ID, "p2", image.MemberAccepted)
	e.addMember(other.ID, "p2", image.MemberAccepted)

	e.deleteImage(img.ID, image.Active)

	_, err := e.cat.GetImage(e.ctx, img.ID)
	e.wantErr("GetImage after delete", err, catalog.ErrNotFound)
	e.wantErr("DeleteImage twice", e.cat.DeleteImage(e.ctx, img.ID, image.Active), catalog.ErrNotFound)
	e.wantErr("DeleteImage twice from deleted", e.cat.DeleteImage(e.ctx, img.ID, image.Deleted), catalog.ErrNotFound)
	e.wantErr("DeleteImage of an unknown image", e.cat.DeleteImage(e.ctx, imageID(9999), image.Active), catalog.ErrNotFound)

	_, err = e.cat.GetMember(e.ctx, img.ID, "p2")
	e.wantErr("GetMember of a deleted image", err, catalog.ErrNotFound)
	ms, err := e.cat.ListMembers(e.ctx, img.ID)
	if err != nil || len(ms) != 0 {
		e.Errorf("ListMembers of a deleted image: got %d members, error %v; want none", len(ms), err)
	}
	if n, err := e.cat.CountMembers(e.ctx, img.ID); err != nil || n != 0 {
		e.Errorf("CountMembers of a deleted image: got %d, %v; want 0, nil", n, err)
	}

	// Neither a tag, a property nor a membership finds it any more; the
	// other image keeps all of them.
	queries := []catalog.ListQuery{
		{Scope: admin, Visibility: "all", Tags: []string{"doomed"}},
		{Scope: admin, Visibility: "all", Properties: map[string]string{"a": "1"}},
		{Scope: catalog.Scope{Project: "p2"}, Visibility: "all"},
	}
	for _, q := range queries {
		q.Sort, q.Limit = byCreated, 100
		if got := ids(e.list(q)); !slices.Equal(got, []string{other.ID}) {
			e.Errorf("ListImages(%+v): got %q, want only the live image %q", q, got, other.ID)
		}
	}
	if n, err := e.cat.CountMembers(e.ctx, other.ID); err != nil || n != 1 {
		e.Errorf("CountMembers of the other image: got %d, %v; want 1, nil", n, err)
	}
	e.wantImage("the other image", other)
}

func testDeleteImageWrongStatus(e *env) {
	img := e.create(withProps("a", "1"), tagged("t"))
	e.addMember(img.ID, "p2", image.MemberPending)
	e.wantErr("DeleteImage from a status the image is not in",
		e.cat.DeleteImage(e.ctx, img.ID, image.Active), catalog.ErrConflict)
	e.wantImage("after the refused delete", img)
	if n, err := e.cat.CountMembers(e.ctx, img.ID); err != nil || n != 1 {
		e.Errorf("CountMembers after the refused delete: got %d, %v; want 1, nil", n, err)
	}
}

func sortMembers(ms []*image.Member) []*image.Member {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b *image.Member) int { return strings.Compare(a.MemberID, b.MemberID) })
	return ms
}

func testMembers(e *env) {
	img := e.create(owned("owner"))
	other := e.create(owned("owner"))
	if n, err := e.cat.CountMembers(e.ctx, img.ID); err != nil || n != 0 {
		e.Errorf("CountMembers with no members: got %d, %v; want 0, nil", n, err)
	}
	if ms, err := e.cat.ListMembers(e.ctx, img.ID); err != nil || len(ms) != 0 {
		e.Errorf("ListMembers with no members: got %d members, error %v; want none", len(ms), err)
	}

	m1 := e.addMember(img.ID, "p1", image.MemberPending)
	m2 := &image.Member{ImageID: img.ID, MemberID: "p2", CanShare: true, Status: image.MemberAccepted,
		CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour)}
	if err := e.cat.AddMember(e.ctx, m2); err != nil {
		e.Fatalf("AddMember(p2): got error %v, want nil", err)
	}
	m3 := e.addMember(other.ID, "p1", image.MemberRejected)

	for _, want := range []*image.Member{m1, m2, m3} {
		got, err := e.cat.GetMember(e.ctx, want.ImageID, want.MemberID)
		if err != nil {
			e.Fatalf("GetMember(%s, %s): got error %v, want nil", want.ImageID, want.MemberID, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			e.Errorf("GetMember(%s, %s) (-want +got):\n%s", want.ImageID, want.MemberID, d)
		}
	}
	got, err := e.cat.ListMembers(e.ctx, img.ID)
	if err != nil {
		e.Fatalf("ListMembers: got error %v, want nil", err)
	}
	if d := cmp.Diff([]*image.Member{m1, m2}, sortMembers(got)); d != "" {
		e.Errorf("ListMembers (-want +got):\n%s", d)
	}
	if n, err := e.cat.CountMembers(e.ctx, img.ID); err != nil || n != 2 {
		e.Errorf("CountMembers: got %d, %v; want 2, nil", n, err)
	}

	upd, err := e.cat.UpdateMemberStatus(e.ctx, img.ID, "p1", image.MemberAccepted)
	if err != nil {
		e.Fatalf("UpdateMemberStatus: got error %v, want nil", err)
	}
	want := *m1
	want.Status = image.MemberAccepted
	if d := cmp.Diff(&want, upd, cmpopts.IgnoreFields(image.Member{}, "UpdatedAt")); d != "" {
		e.Errorf("UpdateMemberStatus result (-want +got):\n%s", d)
	}
	if !upd.UpdatedAt.After(m1.UpdatedAt) {
		e.Errorf("UpdateMemberStatus updated_at: got %v, want later than %v", upd.UpdatedAt, m1.UpdatedAt)
	}
	stored, err := e.cat.GetMember(e.ctx, img.ID, "p1")
	if err != nil {
		e.Fatalf("GetMember after update: got error %v, want nil", err)
	}
	if d := cmp.Diff(upd, stored); d != "" {
		e.Errorf("GetMember after update (-returned +stored):\n%s", d)
	}
	if got, _ := e.cat.GetMember(e.ctx, other.ID, "p1"); got == nil || got.Status != image.MemberRejected {
		e.Errorf("the same member of another image: got %+v, want status %s", got, image.MemberRejected)
	}

	if err := e.cat.DeleteMember(e.ctx, img.ID, "p2"); err != nil {
		e.Fatalf("DeleteMember: got error %v, want nil", err)
	}
	_, err = e.cat.GetMember(e.ctx, img.ID, "p2")
	e.wantErr("GetMember after delete", err, catalog.ErrNotFound)
	got, err = e.cat.ListMembers(e.ctx, img.ID)
	if err != nil {
		e.Fatalf("ListMembers after delete: got error %v, want nil", err)
	}
	if d := cmp.Diff([]*image.Member{stored}, got); d != "" {
		e.Errorf("ListMembers after delete (-want +got):\n%s", d)
	}
	if n, err := e.cat.CountMembers(e.ctx, img.ID); err != nil || n != 1 {
		e.Errorf("CountMembers after delete: got %d, %v; want 1, nil", n, err)
	}
	if n, err := e.cat.CountMembers(e.ctx, other.ID); err != nil || n != 1 {
		e.Errorf("CountMembers of the other image: got %d, %v; want 1, nil", n, err)
	}
}

func testMembersErrors(e *env) {
	img := e.create()
	e.addMember(img.ID, "p1", image.MemberPending)
	dup := &image.Member{ImageID: img.ID, MemberID: "p1", Status: image.MemberAccepted, CreatedAt: t0, UpdatedAt: t0}
	e.wantErr("AddMember of a live member", e.cat.AddMember(e.ctx, dup), catalog.ErrDuplicate)
	if m, err := e.cat.GetMember(e.ctx, img.ID, "p1"); err != nil || m.Status != image.MemberPending {
		e.Errorf("member after a duplicate add: got %+v, %v; want status %s", m, err, image.MemberPending)
	}
	if n, err := e.cat.CountMembers(e.ctx, img.ID); err != nil || n != 1 {
		e.Errorf("CountMembers after a duplicate add: got %d, %v; want 1, nil", n, err)
	}
	_, err := e.cat.GetMember(e.ctx, img.ID, "nobody")
	e.wantErr("GetMember of a non-member", err, catalog.ErrNotFound)
	_, err = e.cat.GetMember(e.ctx, imageID(9999), "p1")
	e.wantErr("GetMember of an unknown image", err, catalog.ErrNotFound)
	_, err = e.cat.UpdateMemberStatus(e.ctx, img.ID, "nobody", image.MemberAccepted)
	e.wantErr("UpdateMemberStatus of a non-member", err, catalog.ErrNotFound)
	e.wantErr("DeleteMember of a non-member", e.cat.DeleteMember(e.ctx, img.ID, "nobody"), catalog.ErrNotFound)
	if n, err := e.cat.CountMembers(e.ctx, imageID(9999)); err != nil || n != 0 {
		e.Errorf("CountMembers of an unknown image: got %d, %v; want 0, nil", n, err)
	}
}

func testMemberReAddAfterDelete(e *env) {
	img := e.create()
	e.addMember(img.ID, "p1", image.MemberAccepted)
	if err := e.cat.DeleteMember(e.ctx, img.ID, "p1"); err != nil {
		e.Fatalf("DeleteMember: got error %v, want nil", err)
	}
	e.wantErr("DeleteMember twice", e.cat.DeleteMember(e.ctx, img.ID, "p1"), catalog.ErrNotFound)
	_, err := e.cat.UpdateMemberStatus(e.ctx, img.ID, "p1", image.MemberRejected)
	e.wantErr("UpdateMemberStatus of a deleted member", err, catalog.ErrNotFound)

	again := e.addMember(img.ID, "p1", image.MemberPending)
	got, err := e.cat.GetMember(e.ctx, img.ID, "p1")
	if err != nil {
		e.Fatalf("GetMember after re-adding: got error %v, want nil", err)
	}
	if d := cmp.Diff(again, got); d != "" {
		e.Errorf("GetMember after re-adding (-want +got):\n%s", d)
	}
	if n, err := e.cat.CountMembers(e.ctx, img.ID); err != nil || n != 1 {
		e.Errorf("CountMembers after re-adding: got %d, %v; want 1, nil", n, err)
	}
	if _, err := e.cat.UpdateMemberStatus(e.ctx, img.ID, "p1", image.MemberAccepted); err != nil {
		e.Errorf("UpdateMemberStatus of the re-added member: got error %v, want nil", err)
	}
}

// testMemberChurn: a membership removed and added several times in a row
// (within one second, on a database that keeps whole seconds), then the
// image deleted: every step succeeds.
func testMemberChurn(e *env) {
	img := e.create()
	for range 3 {
		e.addMember(img.ID, "p1", image.MemberPending)
		if err := e.cat.DeleteMember(e.ctx, img.ID, "p1"); err != nil {
			e.Fatalf("DeleteMember: got error %v, want nil", err)
		}
	}
	e.addMember(img.ID, "p1", image.MemberAccepted)
	if n, err := e.cat.CountMembers(e.ctx, img.ID); err != nil || n != 1 {
		e.Errorf("CountMembers: got %d, %v; want 1, nil", n, err)
	}
	e.deleteImage(img.ID, image.Queued)
	if _, err := e.cat.GetImage(e.ctx, img.ID); !errors.Is(err, catalog.ErrNotFound) {
		e.Errorf("GetImage after the delete: got %v, want ErrNotFound", err)
	}
}

// filterSet is the image set the filter cases run on, by name.
func (e *env) filterSet() map[string]*image.Image {
	set := map[string]*image.Image{}
	add := func(name string, f func(img *image.Image)) {
		img := e.newImage(named(name))
		f(img)
		if err := e.cat.CreateImage(e.ctx, img.Clone()); err != nil {
			e.Fatalf("CreateImage(%s): got error %v, want nil", name, err)
		}
		set[name] = img
	}
	add("a", func(i *image.Image) {
		i.Status, i.Visibility, i.Owner = image.Active, image.Public, str("p1")
		i.DiskFormat, i.ContainerFormat = str("qcow2"), str("bare")
		i.Size, i.VirtualSize, i.MinRAM, i.MinDisk = i64(100), i64(1000), 512, 10
		i.Checksum, i.OSHashAlgo, i.OSHashValue = str("c1"), str("sha512"), str("h-a")
		i.Tags = []string{"x", "y"}
		i.Properties = map[string]*string{"os": str("linux"), "arch": str("x86")}
		i.UpdatedAt = t0.Add(10 * time.Minute)
	})
	add("b", func(i *image.Image) {
		i.Status, i.Visibility, i.Owner = image.Queued, image.Private, str("p1")
		i.DiskFormat, i.ContainerFormat = str("raw"), str("bare")
		i.Protected = true
		i.Tags = []string{"x"}
		i.Properties = map[string]*string{"os": str("windows")}
		i.UpdatedAt = t0.Add(20 * time.Minute)
	})
	add("c", func(i *image.Image) {
		i.Status, i.Visibility, i.Owner = image.Active, image.Shared, str("p2")
		i.DiskFormat, i.ContainerFormat = str("qcow2"), str("ovf")
		i.Size, i.VirtualSize, i.MinRAM, i.MinDisk = i64(300), i64(3000), 1024, 20
		i.Checksum, i.OSHashAlgo, i.OSHashValue = str("c3"), str("sha512"), str("h-c")
		i.OSHidden = true
		i.Tags = []string{"y"}
		i.Properties = map[string]*string{"os": str("linux"), "arch": str("arm")}
		i.UpdatedAt = t0.Add(30 * time.Minute)
	})
	add("d", func(i *image.Image) {
		i.Status, i.Visibility, i.Owner = image.Deactivated, image.Community, str("p2")
		i.DiskFormat, i.ContainerFormat = str("iso"), str("bare")
		i.Size, i.MinRAM = i64(400), 2048
		i.Checksum = str("c1")
		i.Protected, i.OSHidden = true, true
		i.Tags = []string{"z", "y", "x"}
		i.UpdatedAt = t0.Add(40 * time.Minute)
	})
	add("e", func(i *image.Image) {
		i.Status, i.Visibility = image.Saving, image.Public
		i.Size, i.MinDisk = i64(50), 5
		i.OSHashAlgo = str("md5")
		i.Properties = map[string]*string{"arch": str("x86"), "empty": str(""), "nothing": nil}
		i.UpdatedAt = t0.Add(50 * time.Minute)
	})
	// Never listed, whatever the filter.
	add("killed", func(i *image.Image) {
		i.Status, i.Visibility, i.Owner = image.Killed, image.Public, str("p1")
		i.DiskFormat, i.ContainerFormat, i.Size = str("qcow2"), str("bare"), i64(100)
		i.Checksum = str("c1")
		i.Tags = []string{"x", "y"}
		i.Properties = map[string]*string{"os": str("linux"), "arch": str("x86")}
	})
	add("deleted", func(i *image.Image) {
		i.Status, i.Visibility, i.Owner = image.Active, image.Public, str("p1")
		i.DiskFormat, i.ContainerFormat, i.Size = str("qcow2"), str("bare"), i64(100)
		i.Checksum = str("c1")
		i.Tags = []string{"x", "y"}
		i.Properties = map[string]*string{"os": str("linux"), "arch": str("x86")}
	})
	e.deleteImage(set["deleted"].ID, image.Active)
	return set
}

func boolPtr(b bool) *bool { return &b }

func testListFilters(e *env) {
	set := e.filterSet()
	c := set["c"]
	other := time.FixedZone("UTC+2", 2*3600)
	cases := []struct {
		name string
		q    catalog.ListQuery
		want []string
	}{
		{"no filter", catalog.ListQuery{}, []string{"a", "b", "c", "d", "e"}},
		{"name in", catalog.ListQuery{In: map[string][]string{"name": {"a", "c", "zzz"}}}, []string{"a", "c"}},
		{"name equal to a value with a comma", catalog.ListQuery{In: map[string][]string{"name": {"a,c"}}}, nil},
		{"status in", catalog.ListQuery{In: map[string][]string{"status": {"active", "deactivated"}}}, []string{"a", "c", "d"}},
		{"status killed", catalog.ListQuery{In: map[string][]string{"status": {"killed"}}}, nil},
		{"status deleted", catalog.ListQuery{In: map[string][]string{"status": {"deleted"}}}, nil},
		{"id in", catalog.ListQuery{In: map[string][]string{"id": {set["b"].ID, set["e"].ID, set["killed"].ID}}}, []string{"b", "e"}},
		{"owner in", catalog.ListQuery{In: map[string][]string{"owner": {"p2"}}}, []string{"c", "d"}},
		{"container_format in", catalog.ListQuery{In: map[string][]string{"container_format": {"ovf"}}}, []string{"c"}},
		{"disk_format in", catalog.ListQuery{In: map[string][]string{"disk_format": {"qcow2", "iso"}}}, []string{"a", "c", "d"}},
		{"two in filters are ANDed", catalog.ListQuery{In: map[string][]string{"name": {"a", "b", "c"}, "status": {"queued"}}}, []string{"b"}},
		{"checksum", catalog.ListQuery{Equal: map[string]string{"checksum": "c1"}}, []string{"a", "d"}},
		{"min_ram", catalog.ListQuery{Equal: map[string]string{"min_ram": "1024"}}, []string{"c"}},
		{"min_disk", catalog.ListQuery{Equal: map[string]string{"min_disk": "0"}}, []string{"b", "d"}},
		{"size", catalog.ListQuery{Equal: map[string]string{"size": "100"}}, []string{"a"}},
		{"virtual_size", catalog.ListQuery{Equal: map[string]string{"virtual_size": "3000"}}, []string{"c"}},
		{"os_hash_algo", catalog.ListQuery{Equal: map[string]string{"os_hash_algo": "sha512"}}, []string{"a", "c"}},
		{"os_hash_value", catalog.ListQuery{Equal: map[string]string{"os_hash_value": "h-c"}}, []string{"c"}},
		{"two equal filters", catalog.ListQuery{Equal: map[string]string{"checksum": "c1", "min_ram": "2048"}}, []string{"d"}},
		{"one tag", catalog.ListQuery{Tags: []string{"x"}}, []string{"a", "b", "d"}},
		{"tags are ANDed", catalog.ListQuery{Tags: []string{"x", "y"}}, []string{"a", "d"}},
		{"three tags", catalog.ListQuery{Tags: []string{"y", "z", "x"}}, []string{"d"}},
		{"unknown tag", catalog.ListQuery{Tags: []string{"nope"}}, nil},
		{"known and unknown tag", catalog.ListQuery{Tags: []string{"y", "nope"}}, nil},
		{"property", catalog.ListQuery{Properties: map[string]string{"os": "linux"}}, []string{"a", "c"}},
		{"two properties", catalog.ListQuery{Properties: map[string]string{"os": "linux", "arch": "x86"}}, []string{"a"}},
		{"property on images with and without owner", catalog.ListQuery{Properties: map[string]string{"arch": "x86"}}, []string{"a", "e"}},
		{"empty property value", catalog.ListQuery{Properties: map[string]string{"empty": ""}}, []string{"e"}},
		{"property value matching none", catalog.ListQuery{Properties: map[string]string{"os": "plan9"}}, nil},
		{"unknown property", catalog.ListQuery{Properties: map[string]string{"zzz": "1"}}, nil},
		{"os_hidden true", catalog.ListQuery{OSHidden: boolPtr(true)}, []string{"c", "d"}},
		{"os_hidden false", catalog.ListQuery{OSHidden: boolPtr(false)}, []string{"a", "b", "e"}},
		{"protected true", catalog.ListQuery{Protected: boolPtr(true)}, []string{"b", "d"}},
		{"protected false", catalog.ListQuery{Protected: boolPtr(false)}, []string{"a", "c", "e"}},
		{"size_min", catalog.ListQuery{Ranges: map[string]int64{"size_min": 100}}, []string{"a", "c", "d"}},
		{"size_max", catalog.ListQuery{Ranges: map[string]int64{"size_max": 100}}, []string{"a", "e"}},
		{"size_min and size_max", catalog.ListQuery{Ranges: map[string]int64{"size_min": 100, "size_max": 300}}, []string{"a", "c"}},
		{"virtual_size_max", catalog.ListQuery{Ranges: map[string]int64{"virtual_size_max": 1000}}, []string{"a"}},
		{"virtual_size_min", catalog.ListQuery{Ranges: map[string]int64{"virtual_size_min": 1001}}, []string{"c"}},
		{"min_ram_min", catalog.ListQuery{Ranges: map[string]int64{"min_ram_min": 1024}}, []string{"c", "d"}},
		{"min_ram_max negative", catalog.ListQuery{Ranges: map[string]int64{"min_ram_max": -1}}, nil},
		{"min_disk_max", catalog.ListQuery{Ranges: map[string]int64{"min_disk_max": 5}}, []string{"b", "d", "e"}},
		{"min_disk_min", catalog.ListQuery{Ranges: map[string]int64{"min_disk_min": 10}}, []string{"a", "c"}},
		{"created_at gt", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "created_at", Op: "gt", Value: c.CreatedAt}}}, []string{"d", "e"}},
		{"created_at gte", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "created_at", Op: "gte", Value: c.CreatedAt}}}, []string{"c", "d", "e"}},
		{"created_at lt", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "created_at", Op: "lt", Value: c.CreatedAt}}}, []string{"a", "b"}},
		{"created_at lte", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "created_at", Op: "lte", Value: c.CreatedAt}}}, []string{"a", "b", "c"}},
		{"created_at eq", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "created_at", Op: "eq", Value: c.CreatedAt}}}, []string{"c"}},
		{"created_at neq", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "created_at", Op: "neq", Value: c.CreatedAt}}}, []string{"a", "b", "d", "e"}},
		{"created_at eq in another time zone", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "created_at", Op: "eq", Value: c.CreatedAt.In(other)}}}, []string{"c"}},
		{"created_at between two images", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "created_at", Op: "eq", Value: c.CreatedAt.Add(time.Second / 2)}}}, nil},
		{"updated_at gt", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "updated_at", Op: "gt", Value: set["b"].UpdatedAt}}}, []string{"c", "d", "e"}},
		{"updated_at lte", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "updated_at", Op: "lte", Value: set["b"].UpdatedAt}}}, []string{"a", "b"}},
		{"updated_at eq", catalog.ListQuery{Times: []catalog.TimeFilter{{Column: "updated_at", Op: "eq", Value: set["d"].UpdatedAt}}}, []string{"d"}},
		{"created_at and updated_at", catalog.ListQuery{Times: []catalog.TimeFilter{
			{Column: "created_at", Op: "gte", Value: set["b"].CreatedAt},
			{Column: "updated_at", Op: "lt", Value: set["d"].UpdatedAt},
		}}, []string{"b", "c"}},
		{"every kind of filter at once", catalog.ListQuery{
			In:        map[string][]string{"owner": {"p1", "p2"}, "status": {"active", "deactivated", "queued"}},
			Equal:     map[string]string{"checksum": "c1"},
			Tags:      []string{"x"},
			OSHidden:  boolPtr(false),
			Protected: boolPtr(false),
			Ranges:    map[string]int64{"size_min": 1},
			Times:     []catalog.TimeFilter{{Column: "created_at", Op: "lt", Value: c.CreatedAt}},
			Properties: map[string]string{
				"os": "linux",
			},
		}, []string{"a"}},
	}
	for _, tc := range cases {
		q := tc.q
		q.Scope, q.Visibility, q.Sort, q.Limit = admin, "all", byCreated, 100
		if got := labels(e.list(q)); !slices.Equal(got, tc.want) {
			e.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Listed images carry every column, their properties and their tags.
func testListReturnsFullImages(e *env) {
	set := e.filterSet()
	got := e.list(catalog.ListQuery{Scope: admin, Visibility: "all", Sort: byCreated, Limit: 100})
	if len(got) != 5 {
		e.Fatalf("listed %q, want a, b, c, d and e", labels(got))
	}
	for _, img := range got {
		want := set[label(img)]
		if d := diffImage(want, img); d != "" {
			e.Errorf("listed image %s (-want +got):\n%s", label(img), d)
		}
	}
}

// scopeSet is the image set the visibility cases run on, by name. Project
// A is the caller in most cases, B owns most shared images, C is another
// member.
func (e *env) scopeSet() map[string]*image.Image {
	set := map[string]*image.Image{}
	add := func(name, owner string, vis image.Visibility, members ...string) *image.Image {
		mods := []mod{named(name), visible(vis), status(image.Active)}
		if owner != "" {
			mods = append(mods, owned(owner))
		}
		img := e.create(mods...)
		for i := 0; i+1 < len(members); i += 2 {
			e.addMember(img.ID, members[i], members[i+1])
		}
		set[name] = img
		return img
	}
	add("pubA", "A", image.Public)
	add("pubB", "B", image.Public)
	add("privA", "A", image.Private)
	add("privB", "B", image.Private)
	add("comA", "A", image.Community)
	add("comB", "B", image.Community)
	add("shA", "A", image.Shared)
	add("shB-acc", "B", image.Shared, "A", image.MemberAccepted, "C", image.MemberPending)
	add("shB-pend", "B", image.Shared, "A", image.MemberPending)
	add("shB-rej", "B", image.Shared, "A", image.MemberRejected)
	add("shB-C", "B", image.Shared, "C", image.MemberAccepted)
	add("shB-none", "B", image.Shared)
	gone := add("shB-gone", "B", image.Shared, "A", image.MemberAccepted)
	if err := e.cat.DeleteMember(e.ctx, gone.ID, "A"); err != nil {
		e.Fatalf("DeleteMember: got error %v, want nil", err)
	}
	add("privNil", "", image.Private)
	add("pubNil", "", image.Public)
	add("comNil", "", image.Community)
	// Never listed.
	dead := add("deadA", "A", image.Public)
	e.deleteImage(dead.ID, image.Active)
	killed := add("killedA", "A", image.Public)
	e.setStatus(killed.ID, image.Active, image.Killed)
	return set
}

func testListScope(e *env) {
	e.scopeSet()
	A := catalog.Scope{Project: "A"}
	adminNoProject := catalog.Scope{Admin: true}
	adminA := catalog.Scope{Admin: true, Project: "A"}
	noProject := catalog.Scope{}
	allButCommunity := []string{"pubA", "pubB", "privA", "privB", "shA", "shB-acc", "shB-pend", "shB-rej", "shB-C", "shB-none", "shB-gone", "privNil", "pubNil"}
	everything := []string{"pubA", "pubB", "privA", "privB", "comA", "comB", "shA", "shB-acc", "shB-pend", "shB-rej", "shB-C", "shB-none", "shB-gone", "privNil", "pubNil", "comNil"}
	cases := []struct {
		name          string
		scope         catalog.Scope
		vis, memberSt string
		want          []string
	}{
		{"admin without project: everything but community", adminNoProject, "", "", allButCommunity},
		{"admin: member_status is ignored", adminNoProject, "", "pending", allButCommunity},
		{"admin with project: plus own community", adminA, "", "", []string{"pubA", "pubB", "privA", "privB", "comA", "shA", "shB-acc", "shB-pend", "shB-rej", "shB-C", "shB-none", "shB-gone", "privNil", "pubNil"}},
		{"admin visibility all", adminA, "all", "", everything},
		{"admin visibility community", adminNoProject, "community", "", []string{"comA", "comB", "comNil"}},
		{"admin visibility private", adminNoProject, "private", "", []string{"privA", "privB", "privNil"}},
		{"admin visibility shared", adminNoProject, "shared", "rejected", []string{"shA", "shB-acc", "shB-pend", "shB-rej", "shB-C", "shB-none", "shB-gone"}},
		{"project default", A, "", "", []string{"pubA", "pubB", "privA", "comA", "shA", "shB-acc", "pubNil"}},
		{"project member_status accepted", A, "", "accepted", []string{"pubA", "pubB", "privA", "comA", "shA", "shB-acc", "pubNil"}},
		{"project member_status pending", A, "", "pending", []string{"pubA", "pubB", "privA", "comA", "shA", "shB-pend", "pubNil"}},
		{"project member_status rejected", A, "", "rejected", []string{"pubA", "pubB", "privA", "comA", "shA", "shB-rej", "pubNil"}},
		{"project member_status all", A, "", "all", []string{"pubA", "pubB", "privA", "comA", "shA", "shB-acc", "shB-pend", "shB-rej", "pubNil"}},
		{"project visibility all", A, "all", "", []string{"pubA", "pubB", "privA", "comA", "comB", "shA", "shB-acc", "pubNil", "comNil"}},
		{"project visibility community", A, "community", "", []string{"comA", "comB", "comNil"}},
		{"project visibility public", A, "public", "", []string{"pubA", "pubB", "pubNil"}},
		{"project visibility private", A, "private", "", []string{"privA"}},
		{"project visibility shared", A, "shared", "", []string{"shA", "shB-acc"}},
		{"project visibility shared, member_status all", A, "shared", "all", []string{"shA", "shB-acc", "shB-pend", "shB-rej"}},
		{"owner of the shared images", catalog.Scope{Project: "B"}, "", "", []string{"pubA", "pubB", "privB", "comB", "shB-acc", "shB-pend", "shB-rej", "shB-C", "shB-none", "shB-gone", "pubNil"}},
		{"another member", catalog.Scope{Project: "C"}, "", "", []string{"pubA", "pubB", "shB-C", "pubNil"}},
		{"another member, pending", catalog.Scope{Project: "C"}, "", "pending", []string{"pubA", "pubB", "shB-acc", "pubNil"}},
		{"stranger", catalog.Scope{Project: "Z"}, "", "all", []string{"pubA", "pubB", "pubNil"}},
		// Glance lists to a caller without a project every shared image
		// that has a live member row, whatever the member.
		{"no project", noProject, "", "", []string{"pubA", "pubB", "shB-acc", "shB-pend", "shB-rej", "shB-C", "pubNil"}},
		{"no project: member_status is ignored", noProject, "", "rejected", []string{"pubA", "pubB", "shB-acc", "shB-pend", "shB-rej", "shB-C", "pubNil"}},
		{"no project, visibility all", noProject, "all", "", []string{"pubA", "pubB", "comA", "comB", "shB-acc", "shB-pend", "shB-rej", "shB-C", "pubNil", "comNil"}},
		{"no project, visibility community", noProject, "community", "", []string{"comA", "comB", "comNil"}},
		{"no project, visibility private", noProject, "private", "", nil},
	}
	for _, tc := range cases {
		q := catalog.ListQuery{Scope: tc.scope, Visibility: tc.vis, MemberStatus: tc.memberSt, Sort: byCreated, Limit: 100}
		if got := labels(e.list(q)); !slices.Equal(got, tc.want) {
			e.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// sortSet makes 20 listable images with repeated and NULL names, sizes and
// formats, creation times shared by threes and repeated update times, plus
// a killed and a deleted image that must never be listed. Every fourth
// image is private to p1, the others public; tags "even" and "third" mark
// every second and third image.
func (e *env) sortSet() []*image.Image {
	names := []*string{nil, str("alpha"), str("beta"), str("alpha"), nil, str(""), str("gamma"), str("beta"),
		str("alpha"), str("delta"), nil, str("beta"), str("zeta"), str("alpha"), str("gamma"), str(""),
		str("beta"), nil, str("delta"), str("alpha")}
	sizes := []*int64{nil, i64(10), i64(20), i64(10), i64(30), nil, i64(20)}
	statuses := []image.Status{image.Queued, image.Active, image.Saving, image.Active, image.Deactivated,
		image.Importing, image.Uploading, image.PendingDelete}
	disks := []*string{nil, str("qcow2"), str("raw"), str("iso"), str("qcow2")}
	containers := []*string{str("bare"), nil, str("ovf"), str("bare")}
	var out []*image.Image
	for i, name := range names {
		img := e.newImage(owned("p1"), visible(image.Public), createdAt(t0.Add(time.Duration(i/3)*time.Second)))
		img.Name = name
		img.Size = sizes[i%len(sizes)]
		img.Status = statuses[i%len(statuses)]
		img.DiskFormat = disks[i%len(disks)]
		img.ContainerFormat = containers[i%len(containers)]
		img.UpdatedAt = t0.Add(time.Duration((i*7)%5) * time.Minute)
		if i%4 == 3 {
			img.Visibility = image.Private
		}
		if i%2 == 0 {
			img.Tags = append(img.Tags, "even")
		}
		if i%3 == 0 {
			img.Tags = append(img.Tags, "third")
		}
		if err := e.cat.CreateImage(e.ctx, img.Clone()); err != nil {
			e.Fatalf("CreateImage(%d): got error %v, want nil", i, err)
		}
		out = append(out, img)
	}
	e.create(named("alpha"), owned("p1"), visible(image.Public), status(image.Killed), tagged("even"))
	gone := e.create(named("alpha"), owned("p1"), visible(image.Public), tagged("even"))
	e.deleteImage(gone.ID, image.Queued)
	return out
}

// compareNullable orders two nullable values; nullLow puts NULL before
// every value.
func compareNullable[T string | int64](a, b *T, nullLow bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil && nullLow, b == nil && !nullLow:
		return -1
	case a == nil, b == nil:
		return 1
	case *a < *b:
		return -1
	case *a > *b:
		return 1
	}
	return 0
}

func compareKey(a, b *image.Image, key string, nullLow bool) int {
	switch key {
	case "name":
		return compareNullable(a.Name, b.Name, nullLow)
	case "status":
		return strings.Compare(string(a.Status), string(b.Status))
	case "container_format":
		return compareNullable(a.ContainerFormat, b.ContainerFormat, nullLow)
	case "disk_format":
		return compareNullable(a.DiskFormat, b.DiskFormat, nullLow)
	case "size":
		return compareNullable(a.Size, b.Size, nullLow)
	case "id":
		return strings.Compare(a.ID, b.ID)
	case "created_at":
		return a.CreatedAt.Compare(b.CreatedAt)
	case "updated_at":
		return a.UpdatedAt.Compare(b.UpdatedAt)
	}
	panic("unknown sort key " + key)
}

// sorted returns the IDs of imgs in the order keys give them.
func sorted(imgs []*image.Image, keys []catalog.SortKey, nullLow bool) []string {
	imgs = slices.Clone(imgs)
	slices.SortStableFunc(imgs, func(a, b *image.Image) int {
		for _, k := range keys {
			c := compareKey(a, b, k.Key, nullLow)
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return ids(imgs)
}

// wantOrder checks got against the order keys give imgs, with NULL either
// below or above every value.
func (e *env) wantOrder(what string, got []string, imgs []*image.Image, keys []catalog.SortKey) {
	e.Helper()
	low, high := sorted(imgs, keys, true), sorted(imgs, keys, false)
	if !slices.Equal(got, low) && !slices.Equal(got, high) {
		e.Errorf("%s: got order %q,\nwant %q (NULL lowest) or %q (NULL highest)",
			what, nameOrder(got, imgs), nameOrder(low, imgs), nameOrder(high, imgs))
	}
}

// nameOrder spells a list of IDs as "name@created+id" for messages.
func nameOrder(order []string, imgs []*image.Image) []string {
	out := make([]string, len(order))
	for i, id := range order {
		out[i] = id
		for _, img := range imgs {
			if img.ID == id {
				n := "<nil>"
				if img.Name != nil {
					n = *img.Name
				}
				out[i] = fmt.Sprintf("%s@%s", n, id[:8])
			}
		}
	}
	return out
}

// sortOrders are the orders the sort and pagination cases run, each made
// total with created_at and id as the API layer does.
func sortOrders() [][]catalog.SortKey {
	var out [][]catalog.SortKey
	for _, key := range catalog.SortKeys {
		for _, desc := range []bool{false, true} {
			keys := []catalog.SortKey{{Key: key, Desc: desc}}
			for _, tie := range []string{"created_at", "id"} {
				if key != tie && (key != "id" || tie != "created_at") {
					keys = append(keys, catalog.SortKey{Key: tie, Desc: desc})
				}
			}
			out = append(out, keys)
		}
	}
	return append(out,
		[]catalog.SortKey{{Key: "size"}, {Key: "name", Desc: true}, {Key: "created_at", Desc: true}, {Key: "id", Desc: true}},
		[]catalog.SortKey{{Key: "status"}, {Key: "disk_format", Desc: true}, {Key: "created_at"}, {Key: "id"}},
		[]catalog.SortKey{{Key: "container_format", Desc: true}, {Key: "size"}, {Key: "created_at", Desc: true}, {Key: "id", Desc: true}},
		[]catalog.SortKey{{Key: "name"}, {Key: "size", Desc: true}, {Key: "created_at"}, {Key: "id"}},
		[]catalog.SortKey{{Key: "name", Desc: true}, {Key: "status"}, {Key: "created_at", Desc: true}, {Key: "id", Desc: true}},
		[]catalog.SortKey{{Key: "updated_at", Desc: true}, {Key: "name"}, {Key: "created_at"}, {Key: "id", Desc: true}},
	)
}

func sortName(keys []catalog.SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.Key + map[bool]string{false: ":asc", true: ":desc"}[k.Desc]
	}
	return strings.Join(parts, ",")
}

func testListSortKeys(e *env) {
	imgs := e.sortSet()
	for _, keys := range sortOrders() {
		got := ids(e.list(catalog.ListQuery{Scope: admin, Visibility: "all", Sort: keys, Limit: 100}))
		e.wantOrder("sort "+sortName(keys), got, imgs, keys)
	}
}

// pages lists q page by page, limit images at a time, following the last
// ID of each page as the next marker.
func (e *env) pages(q catalog.ListQuery, limit int) []string {
	e.Helper()
	var out []string
	q.Limit = limit
	for range 100 {
		page := e.list(q)
		if len(page) > limit {
			e.Fatalf("page of %d images, want at most %d", len(page), limit)
		}
		out = append(out, ids(page)...)
		if len(page) < limit {
			return out
		}
		q.Marker = page[len(page)-1].ID
	}
	e.Fatalf("still paging after 100 pages: %d images so far", len(out))
	return nil
}

func testListPagination(e *env) {
	imgs := e.sortSet()
	for _, keys := range sortOrders() {
		q := catalog.ListQuery{Scope: admin, Visibility: "all", Sort: keys}
		whole := ids(e.list(catalog.ListQuery{Scope: admin, Visibility: "all", Sort: keys, Limit: 1000}))
		if len(whole) != len(imgs) {
			e.Errorf("sort %s: one query listed %d images, want %d", sortName(keys), len(whole), len(imgs))
		}
		e.wantOrder("sort "+sortName(keys)+" in one query", whole, imgs, keys)
		for _, limit := range []int{3, 7} {
			got := e.pages(q, limit)
			if !slices.Equal(got, whole) {
				e.Errorf("sort %s, pages of %d: got %q,\nwant the one-query order %q",
					sortName(keys), limit, nameOrder(got, imgs), nameOrder(whole, imgs))
			}
		}
	}
}

// Paging a filtered list as a project walks exactly the images that
// project sees through that filter.
func testListPaginationScoped(e *env) {
	imgs := e.sortSet()
	var public, publicEven, p1Even []*image.Image
	for _, img := range imgs {
		even := slices.Contains(img.Tags, "even")
		if img.Visibility == image.Public {
			public = append(public, img)
			if even {
				publicEven = append(publicEven, img)
			}
		}
		if even {
			p1Even = append(p1Even, img)
		}
	}
	cases := []struct {
		name string
		q    catalog.ListQuery
		want []*image.Image
	}{
		{"stranger", catalog.ListQuery{Scope: catalog.Scope{Project: "p2"}}, public},
		{"stranger, tag", catalog.ListQuery{Scope: catalog.Scope{Project: "p2"}, Tags: []string{"even"}}, publicEven},
		{"owner, tag", catalog.ListQuery{Scope: catalog.Scope{Project: "p1"}, Tags: []string{"even"}}, p1Even},
	}
	for _, tc := range cases {
		for _, keys := range [][]catalog.SortKey{
			byCreatedDesc,
			{{Key: "name"}, {Key: "created_at"}, {Key: "id"}},
			{{Key: "size", Desc: true}, {Key: "name"}, {Key: "created_at", Desc: true}, {Key: "id", Desc: true}},
		} {
			q := tc.q
			q.Sort = keys
			got := e.pages(q, 3)
			e.wantOrder(tc.name+", sort "+sortName(keys)+", pages of 3", got, tc.want, keys)
		}
	}
}

func testListLimit(e *env) {
	imgs := e.sortSet()
	all := sorted(imgs, byCreatedDesc, true)
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{0, nil},
		{1, all[:1]},
		{5, all[:5]},
		{len(imgs), all},
		{len(imgs) + 5, all},
		{-1, all},
	} {
		got := ids(e.list(catalog.ListQuery{Scope: admin, Visibility: "all", Sort: byCreatedDesc, Limit: tc.limit}))
		if !slices.Equal(got, tc.want) {
			e.Errorf("Limit %d: got %d images %q, want %d %q", tc.limit, len(got), got, len(tc.want), tc.want)
		}
	}
}

func testListMarkerErrors(e *env) {
	set := e.scopeSet()
	cases := []struct {
		name   string
		scope  catalog.Scope
		marker string
		want   error
	}{
		{"unknown ID, admin", admin, imageID(9999), catalog.ErrMarkerNotFound},
		{"unknown ID, project", catalog.Scope{Project: "A"}, imageID(9999), catalog.ErrMarkerNotFound},
		{"not an ID", catalog.Scope{Project: "A"}, "not-a-uuid", catalog.ErrMarkerNotFound},
		{"another project's private image", catalog.Scope{Project: "A"}, set["privB"].ID, catalog.ErrMarkerForbidden},
		{"a shared image the project is no member of", catalog.Scope{Project: "A"}, set["shB-C"].ID, catalog.ErrMarkerForbidden},
		{"a shared image whose membership was deleted", catalog.Scope{Project: "A"}, set["shB-gone"].ID, catalog.ErrMarkerForbidden},
		{"a private image, no project", catalog.Scope{}, set["privA"].ID, catalog.ErrMarkerForbidden},
		{"a deleted image, project", catalog.Scope{Project: "A"}, set["deadA"].ID, catalog.ErrMarkerNotFound},
	}
	for _, tc := range cases {
		q := catalog.ListQuery{Scope: tc.scope, Sort: byCreated, Limit: 10, Marker: tc.marker}
		imgs, err := e.cat.ListImages(e.ctx, &q)
		if !errors.Is(err, tc.want) {
			e.Errorf("%s: got %d images and error %v, want %v", tc.name, len(imgs), err, tc.want)
		}
	}
}

// An admin may page from a deleted image's position, as from any other.
func testListMarkerDeletedImage(e *env) {
	var live []*image.Image
	var gone *image.Image
	for i := range 9 {
		img := e.create(status(image.Active), visible(image.Public), createdAt(t0.Add(time.Duration(i/2)*time.Second)))
		if i == 4 {
			gone = img
			continue
		}
		live = append(live, img)
	}
	e.deleteImage(gone.ID, image.Active)
	for _, keys := range [][]catalog.SortKey{byCreated, byCreatedDesc} {
		want := following(live, gone, keys)
		got := ids(e.list(catalog.ListQuery{Scope: admin, Sort: keys, Limit: 100, Marker: gone.ID}))
		if !slices.Equal(got, want) {
			e.Errorf("sort %s from a deleted marker: got %q, want %q", sortName(keys), got, want)
		}
	}
}

// A project may page from an image it can see but that is not in its list
// (a share it has not accepted).
func testListMarkerVisibleButNotListed(e *env) {
	set := e.scopeSet()
	marker := set["shB-pend"]
	var listed []*image.Image
	for _, name := range []string{"pubA", "pubB", "privA", "comA", "shA", "shB-acc", "pubNil"} {
		listed = append(listed, set[name])
	}
	for _, keys := range [][]catalog.SortKey{byCreated, byCreatedDesc} {
		want := following(listed, marker, keys)
		got := ids(e.list(catalog.ListQuery{Scope: catalog.Scope{Project: "A"}, Sort: keys, Limit: 100, Marker: marker.ID}))
		if !slices.Equal(got, want) || len(want) == 0 {
			e.Errorf("sort %s from a pending share: got %q, want %q", sortName(keys), got, want)
		}
	}
}

// following returns the IDs of the images in imgs that come after marker in
// the order keys give (marker itself need not be in imgs).
func following(imgs []*image.Image, marker *image.Image, keys []catalog.SortKey) []string {
	var out []string
	for _, id := range sorted(append(slices.Clone(imgs), marker), keys, true) {
		if id == marker.ID {
			out = nil
			continue
		}
		out = append(out, id)
	}
	return out
}

func testListNeverShowsKilled(e *env) {
	live := e.create(named("live"), owned("A"), visible(image.Public), status(image.Active), tagged("t"))
	killed := e.create(named("killed"), owned("A"), visible(image.Public), status(image.Killed), tagged("t"))
	queries := []catalog.ListQuery{
		{Scope: admin},
		{Scope: admin, Visibility: "all"},
		{Scope: admin, In: map[string][]string{"status": {"killed", "active"}}},
		{Scope: admin, In: map[string][]string{"id": {killed.ID, live.ID}}},
		{Scope: catalog.Scope{Project: "A"}, Tags: []string{"t"}},
		{Scope: catalog.Scope{}, Visibility: "public"},
	}
	for _, q := range queries {
		q.Sort, q.Limit = byCreated, 100
		if got := labels(e.list(q)); !slices.Equal(got, []string{"live"}) {
			e.Errorf("ListImages(%+v): got %q, want only %q", q, got, "live")
		}
	}
	// It still exists: GetImage finds it and it serves as a marker.
	if got := e.get(killed.ID); got.Status != image.Killed {
		e.Errorf("GetImage of the killed image: got status %s, want %s", got.Status, image.Killed)
	}
	got := labels(e.list(catalog.ListQuery{Scope: admin, Sort: byCreatedDesc, Limit: 100, Marker: killed.ID}))
	if !slices.Equal(got, []string{"live"}) {
		e.Errorf("from the killed image as marker: got %q, want %q", got, []string{"live"})
	}
}

// A call whose context is already cancelled fails and changes nothing.
func testCancelledContext(e *env) {
	img := e.create(named("n"), owned("p1"), withProps("a", "1"), tagged("t"))
	e.addMember(img.ID, "p2", image.MemberPending)
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()

	fresh := e.newImage(named("never"))
	e.wantErr("CreateImage", e.cat.CreateImage(ctx, fresh), context.Canceled)
	_, err := e.cat.GetImage(e.ctx, fresh.ID)
	e.wantErr("GetImage of the image created with a cancelled context", err, catalog.ErrNotFound)

	upd := img.Clone()
	upd.Name = str("changed")
	upd.Properties["b"] = str("2")
	upd.Tags = append(upd.Tags, "t2")
	e.wantErr("UpdateImage", e.cat.UpdateImage(ctx, img, upd), context.Canceled)
	e.wantErr("SetStatus", e.cat.SetStatus(ctx, img.ID, image.Queued, image.Active), context.Canceled)
	e.wantErr("DeleteImage", e.cat.DeleteImage(ctx, img.ID, image.Queued), context.Canceled)
	e.wantErr("AddMember", e.cat.AddMember(ctx, &image.Member{ImageID: img.ID, MemberID: "p3",
		Status: image.MemberPending, CreatedAt: t0, UpdatedAt: t0}), context.Canceled)
	_, err = e.cat.UpdateMemberStatus(ctx, img.ID, "p2", image.MemberAccepted)
	e.wantErr("UpdateMemberStatus", err, context.Canceled)
	e.wantErr("DeleteMember", e.cat.DeleteMember(ctx, img.ID, "p2"), context.Canceled)

	_, err = e.cat.GetImage(ctx, img.ID)
	e.wantErr("GetImage", err, context.Canceled)
	_, err = e.cat.ListImages(ctx, &catalog.ListQuery{Scope: admin, Sort: byCreated, Limit: 10})
	e.wantErr("ListImages", err, context.Canceled)
	_, err = e.cat.GetMember(ctx, img.ID, "p2")
	e.wantErr("GetMember", err, context.Canceled)
	_, err = e.cat.ListMembers(ctx, img.ID)
	e.wantErr("ListMembers", err, context.Canceled)
	_, err = e.cat.CountMembers(ctx, img.ID)
	e.wantErr("CountMembers", err, context.Canceled)

	e.wantImage("after the cancelled calls", img)
	ms, err := e.cat.ListMembers(e.ctx, img.ID)
	if err != nil || len(ms) != 1 || ms[0].MemberID != "p2" || ms[0].Status != image.MemberPending {
		e.Errorf("members after the cancelled calls: got %d members (%v), want p2 pending", len(ms), err)
	}
}
