package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// locs returns the catalog's location editor.
func (e *env) locs() catalog.Locations {
	e.Helper()
	l, ok := e.cat.(catalog.Locations)
	if !ok {
		e.Fatalf("%T does not implement catalog.Locations", e.cat)
	}
	return l
}

// removedLocations is the capability a delete uses to learn every location
// it removed.
type removedLocations interface {
	RemovedLocations(ctx context.Context, imageID string) ([]image.Location, error)
}

// storageUsage is the capability user_storage_quota is enforced with.
type storageUsage interface {
	StorageUsage(ctx context.Context, owner, except string) (int64, error)
}

func (e *env) removed() removedLocations {
	e.Helper()
	r, ok := e.cat.(removedLocations)
	if !ok {
		e.Fatalf("%T has no RemovedLocations", e.cat)
	}
	return r
}

func (e *env) usage() storageUsage {
	e.Helper()
	u, ok := e.cat.(storageUsage)
	if !ok {
		e.Fatalf("%T has no StorageUsage", e.cat)
	}
	return u
}

// activeImage makes an active image of size bytes stored at urls (in that
// order), from a queued one edited as a client adding its locations does,
// and returns it as stored.
func (e *env) activeImage(size int64, urls []string, mods ...mod) *image.Image {
	e.Helper()
	img := e.create(append([]mod{formats("raw", "bare")}, mods...)...)
	old := e.get(img.ID)
	upd := old.Clone()
	upd.Status, upd.Size = image.Active, i64(size)
	for _, u := range urls {
		upd.Locations = append(upd.Locations, image.Location{URL: u, Metadata: map[string]any{"store": "s"}})
	}
	if err := e.locs().UpdateImageLocations(e.ctx, old, upd); err != nil {
		e.Fatalf("UpdateImageLocations(%s) adding %q: got error %v, want nil", img.ID, urls, err)
	}
	got := e.get(img.ID)
	if !slices.Equal(urlsOf(got.Locations), urls) {
		e.Fatalf("image %s stored at %q, want %q", img.ID, urlsOf(got.Locations), urls)
	}
	return got
}

func urlsFor(id string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "file:///var/lib/glance/images/" + id + "/" + n
	}
	return out
}

func testRemoveLocation(e *env) {
	img := e.activeImage(10, urlsFor("img", "u1", "u2", "u3"), named("three"), withProps("a", "1"), tagged("t"))
	other := e.activeImage(20, urlsFor("other", "o1", "o2"))
	loc := img.Locations
	locs := e.locs()

	if err := locs.RemoveLocation(e.ctx, img.ID, loc[1].ID); err != nil {
		e.Fatalf("RemoveLocation: got error %v, want nil", err)
	}
	got := e.wantImageData("after RemoveLocation", img)
	e.wantLocations("after RemoveLocation", got.Locations, []image.Location{loc[0], loc[2]})
	if !slices.Equal([]int64{got.Locations[0].ID, got.Locations[1].ID}, []int64{loc[0].ID, loc[2].ID}) {
		e.Errorf("location IDs after RemoveLocation: got %d and %d, want %d and %d",
			got.Locations[0].ID, got.Locations[1].ID, loc[0].ID, loc[2].ID)
	}

	e.wantErr("RemoveLocation twice", locs.RemoveLocation(e.ctx, img.ID, loc[1].ID), catalog.ErrNotFound)
	e.wantErr("RemoveLocation of an unknown location",
		locs.RemoveLocation(e.ctx, img.ID, other.Locations[1].ID+1000), catalog.ErrNotFound)
	e.wantErr("RemoveLocation of another image's location",
		locs.RemoveLocation(e.ctx, img.ID, other.Locations[0].ID), catalog.ErrNotFound)
	e.wantLocations("the other image", e.get(other.ID).Locations, other.Locations)

	if err := locs.RemoveLocation(e.ctx, img.ID, loc[0].ID); err != nil {
		e.Fatalf("RemoveLocation of the second of three: got error %v, want nil", err)
	}
	e.wantErr("RemoveLocation of the last location", locs.RemoveLocation(e.ctx, img.ID, loc[2].ID), catalog.ErrLastLocation)
	got = e.wantImageData("after refusing to remove the last location", img)
	e.wantLocations("after refusing to remove the last location", got.Locations, []image.Location{loc[2]})

	// Not active: refused whichever location.
	e.setStatus(other.ID, image.Active, image.Deactivated)
	e.wantErr("RemoveLocation on a deactivated image",
		locs.RemoveLocation(e.ctx, other.ID, other.Locations[0].ID), catalog.ErrConflict)
	e.wantLocations("the deactivated image", e.get(other.ID).Locations, other.Locations)

	e.wantErr("RemoveLocation on an unknown image",
		locs.RemoveLocation(e.ctx, imageID(9999), loc[2].ID), catalog.ErrNotFound)
	gone := e.activeImage(5, urlsFor("gone", "g1", "g2"))
	e.deleteImage(gone.ID, image.Active)
	e.wantErr("RemoveLocation on a deleted image",
		locs.RemoveLocation(e.ctx, gone.ID, gone.Locations[0].ID), catalog.ErrNotFound)
}

// Two clients each remove another of an image's two locations at once:
// one wins, the other finds the remaining location the last, and the
// image keeps one. Several requests removing the same location: one
// removes it.
func testRemoveLocationConcurrent(e *env) {
	const images = 8
	imgs := make([]*image.Image, images)
	for i := range imgs {
		imgs[i] = e.activeImage(10, urlsFor(fmt.Sprint("img", i), "a", "b"))
	}
	errs := race(2*images, func(i int) error {
		img := imgs[i/2]
		return e.locs().RemoveLocation(e.ctx, img.ID, img.Locations[i%2].ID)
	})
	for i, img := range imgs {
		w := e.oneWinner(fmt.Sprintf("image %d: concurrent RemoveLocation of both locations", i), errs[2*i:2*i+2], catalog.ErrLastLocation)
		got := e.get(img.ID)
		e.wantLocations(fmt.Sprintf("image %d after concurrent RemoveLocation", i), got.Locations, img.Locations[1-w:2-w])
	}

	img := e.activeImage(10, urlsFor("same", "a", "b", "c"))
	errs = race(6, func(int) error { return e.locs().RemoveLocation(e.ctx, img.ID, img.Locations[1].ID) })
	e.oneWinner("concurrent RemoveLocation of one location", errs, catalog.ErrNotFound)
	e.wantLocations("after concurrent RemoveLocation of one location", e.get(img.ID).Locations,
		[]image.Location{img.Locations[0], img.Locations[2]})
}

func testUpdateImageLocations(e *env) {
	locs := e.locs()
	orig := e.create(named("img"), formats("raw", "bare"), withProps("keep", "1"))
	old := e.get(orig.ID)
	meta := map[string]any{"store": "a", "n": float64(3), "nested": map[string]any{"k": []any{"v", true}}}

	// Queued → active on a first location, with a property, a tag and a
	// size set in the same edit.
	img := old.Clone()
	img.Status, img.Size, img.Name = image.Active, i64(42), str("renamed")
	img.Properties["p"] = str("x")
	img.Tags = append(img.Tags, "t")
	img.UpdatedAt = old.UpdatedAt.Add(time.Minute)
	img.Locations = []image.Location{{URL: "http://127.0.0.1:1/a", Metadata: meta}}
	if err := locs.UpdateImageLocations(e.ctx, old, img); err != nil {
		e.Fatalf("first location: got error %v, want nil", err)
	}
	got := e.get(orig.ID)
	if d := cmp.Diff(img, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(image.Image{}, "Locations")); d != "" {
		e.Errorf("after the first location (-want +got):\n%s", d)
	}
	e.wantLocations("after the first location", got.Locations, img.Locations)

	// Two more, added in the order given.
	old = got
	img = old.Clone()
	img.UpdatedAt = old.UpdatedAt.Add(time.Minute)
	img.Locations = append(img.Locations, image.Location{URL: "http://127.0.0.1:1/b"},
		image.Location{URL: "http://127.0.0.1:1/c", Metadata: map[string]any{"store": "c"}})
	if err := locs.UpdateImageLocations(e.ctx, old, img); err != nil {
		e.Fatalf("more locations: got error %v, want nil", err)
	}
	three := e.get(orig.ID)
	e.wantLocations("after adding two", three.Locations, img.Locations)
	if three.Locations[0].ID != old.Locations[0].ID {
		e.Errorf("the first location's ID: got %d, want it kept (%d)", three.Locations[0].ID, old.Locations[0].ID)
	}

	// An edit made before the last one: the locations moved meanwhile,
	// so it is refused and none of it is written.
	stale := old.Clone()
	stale.Name = str("stale")
	stale.Properties["q"] = str("y")
	stale.Locations = append(stale.Locations, image.Location{URL: "http://127.0.0.1:1/d"})
	e.wantErr("an edit from before the locations changed", locs.UpdateImageLocations(e.ctx, old, stale), catalog.ErrConflict)
	e.wantImage("after the stale edit", three)

	// Removing the middle one and replacing the first.
	img = three.Clone()
	img.UpdatedAt = three.UpdatedAt.Add(time.Minute)
	img.Locations = []image.Location{three.Locations[2], {URL: "http://127.0.0.1:1/e"}}
	if err := locs.UpdateImageLocations(e.ctx, three, img); err != nil {
		e.Fatalf("remove and replace: got error %v, want nil", err)
	}
	two := e.get(orig.ID)
	e.wantLocations("after remove and replace", two.Locations, img.Locations)
	if two.Locations[0].ID != three.Locations[2].ID {
		e.Errorf("the kept location's ID: got %d, want %d", two.Locations[0].ID, three.Locations[2].ID)
	}

	// The last location of an active image stays, and nothing else of
	// the edit is written.
	img = two.Clone()
	img.Name = str("nameless")
	img.Properties["r"] = str("z")
	img.UpdatedAt = two.UpdatedAt.Add(time.Minute)
	img.Locations = nil
	e.wantErr("removing every location of an active image", locs.UpdateImageLocations(e.ctx, two, img), catalog.ErrLastLocation)
	e.wantImage("after refusing to remove every location", two)

	// The status guard: an edit made while the image was queued.
	queuedView := two.Clone()
	queuedView.Status = image.Queued
	img = two.Clone()
	img.Locations = append(img.Locations, image.Location{URL: "http://127.0.0.1:1/f"})
	e.wantErr("an edit from another status", locs.UpdateImageLocations(e.ctx, queuedView, img), catalog.ErrConflict)
	e.wantImage("after the edit from another status", two)

	// Another client removed a location meanwhile.
	if err := locs.RemoveLocation(e.ctx, orig.ID, two.Locations[1].ID); err != nil {
		e.Fatalf("RemoveLocation: got error %v, want nil", err)
	}
	afterRemove := e.get(orig.ID)
	img = two.Clone()
	img.Locations = append(img.Locations, image.Location{URL: "http://127.0.0.1:1/g"})
	e.wantErr("an edit from before a RemoveLocation", locs.UpdateImageLocations(e.ctx, two, img), catalog.ErrConflict)
	e.wantImage("after the edit from before a RemoveLocation", afterRemove)

	// No live image.
	missing := e.newImage()
	img = missing.Clone()
	img.Locations = []image.Location{{URL: "http://127.0.0.1:1/h"}}
	e.wantErr("an edit of an unknown image", locs.UpdateImageLocations(e.ctx, missing, img), catalog.ErrNotFound)
	gone := e.activeImage(1, urlsFor("gone", "g"))
	e.deleteImage(gone.ID, image.Active)
	img = gone.Clone()
	img.Locations = append(img.Locations, image.Location{URL: "http://127.0.0.1:1/i"})
	e.wantErr("an edit of a deleted image", locs.UpdateImageLocations(e.ctx, gone, img), catalog.ErrNotFound)
}

// Edits racing on the same image as loaded: exactly one is written, so two
// clients each removing "the other" location cannot leave it without one.
func testUpdateImageLocationsConcurrent(e *env) {
	const images = 8
	imgs := make([]*image.Image, images)
	for i := range imgs {
		imgs[i] = e.activeImage(10, urlsFor(fmt.Sprint("img", i), "a", "b"))
	}
	edit := func(old *image.Image, keep int) *image.Image {
		img := old.Clone()
		img.Locations = []image.Location{old.Locations[keep]}
		img.UpdatedAt = old.UpdatedAt.Add(time.Minute)
		return img
	}
	errs := race(2*images, func(i int) error {
		old := imgs[i/2]
		return e.locs().UpdateImageLocations(e.ctx, old, edit(old, i%2))
	})
	for i, img := range imgs {
		w := e.oneWinner(fmt.Sprintf("image %d: two edits each removing another location", i), errs[2*i:2*i+2], catalog.ErrConflict)
		e.wantLocations(fmt.Sprintf("image %d after the racing edits", i), e.get(img.ID).Locations, img.Locations[w:w+1])
	}

	img := e.activeImage(10, urlsFor("add", "a"))
	const n = 8
	errs = race(n, func(i int) error {
		upd := img.Clone()
		upd.Name = str(fmt.Sprint("writer ", i))
		upd.Locations = append(upd.Locations, image.Location{URL: fmt.Sprintf("http://127.0.0.1:1/%d", i)})
		return e.locs().UpdateImageLocations(e.ctx, img, upd)
	})
	w := e.oneWinner("edits each adding a location", errs, catalog.ErrConflict)
	got := e.get(img.ID)
	if got.Name == nil || *got.Name != fmt.Sprint("writer ", w) {
		e.Errorf("name after the racing edits: got %v, want the winner's %q", got.Name, fmt.Sprint("writer ", w))
	}
	e.wantLocations("after the racing edits", got.Locations,
		append(slices.Clone(img.Locations), image.Location{URL: fmt.Sprintf("http://127.0.0.1:1/%d", w)}))
}

func (e *env) wantRemoved(what, id string, want []string) {
	e.Helper()
	got, err := e.removed().RemovedLocations(e.ctx, id)
	if err != nil {
		e.Fatalf("%s: RemovedLocations: got error %v, want nil", what, err)
	}
	urls := urlsOf(got)
	slices.Sort(urls)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(urls, want) && (len(urls) != 0 || len(want) != 0) {
		e.Errorf("%s: RemovedLocations: got %q, want %q", what, urls, want)
	}
}

func testRemovedLocations(e *env) {
	u := urlsFor("img", "a", "b", "c", "d")
	img := e.activeImage(10, u)
	other := e.activeImage(10, urlsFor("other", "x", "y"))
	e.wantRemoved("before any removal", img.ID, nil)

	if err := e.locs().RemoveLocation(e.ctx, img.ID, img.Locations[1].ID); err != nil {
		e.Fatalf("RemoveLocation: got error %v, want nil", err)
	}
	e.wantRemoved("after RemoveLocation", img.ID, u[1:2])
	old := e.get(img.ID)
	upd := old.Clone()
	upd.Locations = old.Locations[1:]
	upd.UpdatedAt = old.UpdatedAt.Add(time.Minute)
	if err := e.locs().UpdateImageLocations(e.ctx, old, upd); err != nil {
		e.Fatalf("UpdateImageLocations: got error %v, want nil", err)
	}
	e.wantRemoved("after an edit removing one", img.ID, u[:2])
	e.deleteImage(img.ID, image.Active)
	e.wantRemoved("after DeleteImage", img.ID, u)
	e.wantRemoved("another image", other.ID, nil)
	e.wantRemoved("an unknown image", imageID(9999), nil)

	// Data left for the scrubber is not removed yet.
	pend := e.activeImage(10, urlsFor("pend", "p1", "p2"))
	if err := e.cat.DeleteImageDelayed(e.ctx, pend.ID, image.Active); err != nil {
		e.Fatalf("DeleteImageDelayed: got error %v, want nil", err)
	}
	e.wantRemoved("a pending_delete image", pend.ID, nil)
}

func testStorageUsage(e *env) {
	e.activeImage(10, urlsFor("a", "1"), owned("p1"))
	b := e.activeImage(20, urlsFor("b", "1", "2"), owned("p1"))      // counted once per location
	e.create(owned("p1"), func(i *image.Image) { i.Size = i64(99) }) // no data stored
	dead := e.activeImage(1000, urlsFor("dead", "1"), owned("p1"))
	e.deleteImage(dead.ID, image.Active)
	pend := e.activeImage(2000, urlsFor("pend", "1"), owned("p1"))
	if err := e.cat.DeleteImageDelayed(e.ctx, pend.ID, image.Active); err != nil {
		e.Fatalf("DeleteImageDelayed: got error %v, want nil", err)
	}
	f := e.activeImage(300, urlsFor("f", "1", "2"), owned("p1")) // one location removed
	if err := e.locs().RemoveLocation(e.ctx, f.ID, f.Locations[0].ID); err != nil {
		e.Fatalf("RemoveLocation: got error %v, want nil", err)
	}
	deact := e.activeImage(4000, urlsFor("deact", "1"), owned("p1"))
	e.setStatus(deact.ID, image.Active, image.Deactivated)
	e.activeImage(7, urlsFor("p2", "1"), owned("p2"))
	e.activeImage(50000, urlsFor("nil", "1"))

	for _, tc := range []struct {
		owner, except string
		want          int64
	}{
		{"p1", "", 10 + 40 + 300 + 4000},
		{"p1", b.ID, 10 + 300 + 4000},
		{"p1", imageID(9999), 10 + 40 + 300 + 4000},
		{"p2", "", 7},
		{"p2", b.ID, 7},
		{"nobody", "", 0},
	} {
		got, err := e.usage().StorageUsage(e.ctx, tc.owner, tc.except)
		if err != nil || got != tc.want {
			e.Errorf("StorageUsage(%q, except %q): got %d, %v; want %d, nil", tc.owner, tc.except, got, err, tc.want)
		}
	}
}

// A list that asks for locations gets each image's live ones, as GetImage
// has them.
func testListWithLocations(e *env) {
	a := e.activeImage(10, urlsFor("a", "1", "2", "3"), visible(image.Public))
	if err := e.locs().RemoveLocation(e.ctx, a.ID, a.Locations[1].ID); err != nil {
		e.Fatalf("RemoveLocation: got error %v, want nil", err)
	}
	e.activeImage(20, urlsFor("b", "1"), visible(image.Public))
	e.create(named("none"), visible(image.Public))
	all := e.list(catalog.ListQuery{Scope: admin, Visibility: "all", Sort: byCreated, Limit: 100, WithLocations: true})
	if len(all) != 3 {
		e.Fatalf("listed %d images, want 3", len(all))
	}
	for _, img := range all {
		want := e.get(img.ID)
		e.wantLocations("listed image "+label(img), img.Locations, want.Locations)
		if !slices.Equal(locIDs(img.Locations), locIDs(want.Locations)) {
			e.Errorf("listed image %s: location IDs %d, want %d", label(img), locIDs(img.Locations), locIDs(want.Locations))
		}
	}
	page := e.list(catalog.ListQuery{Scope: catalog.Scope{Project: "p9"}, Sort: byCreatedDesc, Limit: 1,
		Marker: all[2].ID, WithLocations: true})
	if len(page) != 1 || page[0].ID != all[1].ID || len(page[0].Locations) != 1 {
		e.Errorf("a page after a marker: got %d images (%q), want %s with its location", len(page), ids(page), all[1].ID)
	}
}

func locIDs(locs []image.Location) []int64 {
	out := []int64{}
	for _, l := range locs {
		out = append(out, l.ID)
	}
	return out
}

// Lists for Glance's registry and v1 may include deleted images.
func testListDeleted(e *env) {
	live := e.create(named("live"), status(image.Active))
	killed := e.create(named("killed"), status(image.Killed))
	gone := e.create(named("gone"), status(image.Active), withProps("a", "1"))
	e.deleteImage(gone.ID, image.Active)
	pend := e.activeImage(5, urlsFor("pend", "1"), named("pend"))
	if err := e.cat.DeleteImageDelayed(e.ctx, pend.ID, image.Active); err != nil {
		e.Fatalf("DeleteImageDelayed: got error %v, want nil", err)
	}
	for _, tc := range []struct {
		deleted string
		want    []string
	}{
		{"", []string{"live"}},
		{catalog.DeletedInclude, []string{"live", "killed", "gone", "pend"}},
		{catalog.DeletedOnly, []string{"gone", "pend"}},
	} {
		// With a changes-since filter, as v1 and the registry ask, and
		// without one.
		since := []catalog.TimeFilter{{Column: "updated_at", Op: "gt", Value: t0.Add(-time.Hour)}}
		got := e.list(catalog.ListQuery{Scope: admin, Visibility: "all", Sort: byCreated, Limit: 100, Deleted: tc.deleted, Times: since})
		if !slices.Equal(labels(got), tc.want) {
			e.Errorf("Deleted %q, changed since: got %q, want %q", tc.deleted, labels(got), tc.want)
		}
		bare := catalog.ListQuery{Scope: admin, Visibility: "all", Sort: byCreated, Limit: 100, Deleted: tc.deleted}
		if all, err := e.cat.ListImages(e.ctx, &bare); err != nil || !slices.Equal(labels(all), tc.want) {
			e.Errorf("Deleted %q, no other filter: got %q, error %v; want %q, nil", tc.deleted, labels(all), err, tc.want)
		}
		for _, img := range got {
			switch img.ID {
			case gone.ID, pend.ID:
				wantStatus := map[string]image.Status{gone.ID: image.Deleted, pend.ID: image.PendingDelete}[img.ID]
				if !img.Deleted || img.DeletedAt == nil || img.Status != wantStatus {
					e.Errorf("Deleted %q: listed %s deleted %v at %v status %s; want deleted, with a time, %s",
						tc.deleted, label(img), img.Deleted, img.DeletedAt, img.Status, wantStatus)
				}
			case live.ID, killed.ID:
				if img.Deleted || img.DeletedAt != nil {
					e.Errorf("Deleted %q: listed %s deleted %v at %v; want live", tc.deleted, label(img), img.Deleted, img.DeletedAt)
				}
			}
		}
	}
}

// A location added (by a copy-image import or a client's edit) while the
// image is deleted: either the add loses, or the delete removes the new
// location too and tells of it. No live location is left on a deleted
// image, so no data is left behind unrecorded.
func testDeleteRacesLocationAdd(e *env) {
	const images = 8
	imgs := make([]*image.Image, images)
	for i := range imgs {
		imgs[i] = e.activeImage(10, urlsFor(fmt.Sprint("img", i), "a"))
	}
	added := func(i int) string { return fmt.Sprintf("file:///var/lib/glance/images/img%d/added", i) }
	errs := race(2*images, func(j int) error {
		i, img := j/2, imgs[j/2]
		if j%2 == 0 {
			return e.cat.DeleteImage(e.ctx, img.ID, image.Active)
		}
		loc := image.Location{URL: added(i), Metadata: map[string]any{}}
		if i%2 == 0 {
			return e.tasks().FinishImport(e.ctx, img.ID, image.Active, image.Active, nil, []image.Location{loc}, nil)
		}
		upd := img.Clone()
		upd.Locations = append(upd.Locations, loc)
		return e.locs().UpdateImageLocations(e.ctx, img, upd)
	})
	for i, img := range imgs {
		del, add := errs[2*i], errs[2*i+1]
		if del != nil {
			e.Errorf("image %d: DeleteImage: got error %v, want nil", i, del)
			continue
		}
		want := urlsOf(img.Locations)
		switch {
		case add == nil:
			want = append(want, added(i))
		case !errors.Is(add, catalog.ErrNotFound):
			e.Errorf("image %d: adding a location beside the delete: got error %v, want nil or %v", i, add, catalog.ErrNotFound)
		}
		e.wantRemoved(fmt.Sprintf("image %d (add error %v)", i, add), img.ID, want)
	}
}

// A call whose context is already cancelled fails and changes nothing.
func testCancelledContextImports(e *env) {
	img, t := e.importingImage()
	act := e.activeImage(10, urlsFor("act", "a", "b"), owned("p1"))
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	tasks, locs := e.tasks(), e.locs()

	fresh := e.newTask()
	d := &catalog.DataInfo{Size: 1, Checksum: "c", Location: image.Location{URL: "file:///x"}}
	upd := act.Clone()
	upd.Locations = act.Locations[1:]
	calls := []struct {
		name string
		err  func() error
	}{
		{"CreateTask", func() error { return tasks.CreateTask(ctx, fresh) }},
		{"UpdateTask", func() error { return tasks.UpdateTask(ctx, ended(t, "success", "x")) }},
		{"GetTask", func() error { _, err := tasks.GetTask(ctx, t.ID); return err }},
		{"ListTasks", func() error {
			_, err := tasks.ListTasks(ctx, &catalog.TaskQuery{SortKey: "created_at", Limit: 10})
			return err
		}},
		{"ImageTasks", func() error { _, err := tasks.ImageTasks(ctx, img.ID); return err }},
		{"UnfinishedTasks", func() error { _, err := tasks.UnfinishedTasks(ctx); return err }},
		{"SetPropertyIfAbsent", func() error { return tasks.SetPropertyIfAbsent(ctx, img.ID, "new", "v") }},
		{"DeletePropertyIfValue", func() error { return tasks.DeletePropertyIfValue(ctx, img.ID, propImportTask, t.ID) }},
		{"SetProperties", func() error { return tasks.SetProperties(ctx, img.ID, map[string]*string{"keep": nil}) }},
		{"FinishImport", func() error {
			return tasks.FinishImport(ctx, img.ID, image.Importing, image.Active, d, []image.Location{d.Location}, nil, ended(t, "success", "x"))
		}},
		{"ActivateImage", func() error { return e.cat.ActivateImage(ctx, img.ID, image.Importing, d) }},
		{"RemoveLocation", func() error { return locs.RemoveLocation(ctx, act.ID, act.Locations[0].ID) }},
		{"UpdateImageLocations", func() error { return locs.UpdateImageLocations(ctx, act, upd) }},
		{"StorageUsage", func() error { _, err := e.usage().StorageUsage(ctx, "p1", ""); return err }},
		{"RemovedLocations", func() error { _, err := e.removed().RemovedLocations(ctx, act.ID); return err }},
	}
	for _, c := range calls {
		e.wantErr(c.name, c.err(), context.Canceled)
	}
	_, err := tasks.GetTask(e.ctx, fresh.ID)
	e.wantErr("GetTask of the task created with a cancelled context", err, catalog.ErrNotFound)
	e.wantTask("the task after the cancelled calls", t)
	e.wantImage("the importing image after the cancelled calls", img)
	e.wantImage("the active image after the cancelled calls", act)
}
