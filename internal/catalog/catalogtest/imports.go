package catalogtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// The properties an import keeps its lock and progress in.
const (
	propImportTask = "os_glance_import_task"
	propImporting  = "os_glance_importing_to_stores"
	propFailed     = "os_glance_failed_import"
)

func formats(disk, container string) mod {
	return func(i *image.Image) { i.DiskFormat, i.ContainerFormat = str(disk), str(container) }
}

func nullProp(name string) mod { return func(i *image.Image) { i.Properties[name] = nil } }

// diffImageData compares images but their locations and update times,
// which the data writes set themselves.
func diffImageData(want, got *image.Image) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(image.Image{}, "UpdatedAt", "Locations"))
}

func (e *env) wantImageData(what string, want *image.Image) *image.Image {
	e.Helper()
	got := e.get(want.ID)
	if d := diffImageData(want, got); d != "" {
		e.Errorf("%s: GetImage(%s) mismatch (-want +got):\n%s", what, want.ID, d)
	}
	return got
}

// locView is a location as callers use it.
type locView struct {
	URL      string
	Status   string
	Metadata map[string]any
}

func viewLocs(locs []image.Location) []locView {
	out := []locView{}
	for _, l := range locs {
		out = append(out, locView{URL: l.URL, Status: l.Status, Metadata: l.Metadata})
	}
	return out
}

// wantLocations checks an image's live locations: the URLs, metadata and
// status given, in that order, each with its own ID. A want location
// without a status is active.
func (e *env) wantLocations(what string, got []image.Location, want []image.Location) {
	e.Helper()
	w := viewLocs(want)
	for i := range w {
		if w[i].Status == "" {
			w[i].Status = "active"
		}
	}
	if d := cmp.Diff(w, viewLocs(got), cmpopts.EquateEmpty()); d != "" {
		e.Errorf("%s: locations (-want +got):\n%s", what, d)
	}
	seen := map[int64]bool{}
	for _, l := range got {
		if l.ID == 0 || seen[l.ID] {
			e.Errorf("%s: location %s has ID %d, want a non-zero ID of its own", what, l.URL, l.ID)
		}
		seen[l.ID] = true
	}
}

func urlsOf(locs []image.Location) []string {
	out := []string{}
	for _, l := range locs {
		out = append(out, l.URL)
	}
	return out
}

func (e *env) props(id string) map[string]*string {
	e.Helper()
	return e.get(id).Properties
}

func (e *env) wantProps(what, id string, want map[string]*string) {
	e.Helper()
	if d := cmp.Diff(want, e.props(id), cmpopts.EquateEmpty()); d != "" {
		e.Errorf("%s: properties (-want +got):\n%s", what, d)
	}
}

// oneWinner checks that exactly one of errs is nil and every other one is
// lose; it returns the winner's index.
func (e *env) oneWinner(what string, errs []error, lose error) int {
	e.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			e.Errorf("%s: calls %d and %d both succeeded, want exactly one", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, lose):
			e.Errorf("%s: call %d: got error %v, want nil or %v", what, i, err, lose)
		}
	}
	if winner < 0 {
		e.Fatalf("%s: no call succeeded, want exactly one", what)
	}
	return winner
}

// race runs n calls of f at once and returns their errors.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testActivateImage(e *env) {
	meta := map[string]any{"store": "fast", "n": float64(2), "ok": true,
		"nested": map[string]any{"k": "v"}, "list": []any{"a", float64(1)}}
	full := e.create(status(image.Saving), named("up"), owned("p1"), formats("qcow2", "bare"),
		withProps("a", "1"), nullProp("kernel_id"), tagged("t1", "t2"))
	d := &catalog.DataInfo{Size: 1<<33 + 5, VirtualSize: i64(1<<34 + 1), Checksum: "d41d8cd98f00b204e9800998ecf8427e",
		HashAlgo: "sha512", HashValue: strings.Repeat("ab", 64),
		Location: image.Location{URL: "file:///var/lib/glance/images/" + full.ID, Metadata: meta}}
	if err := e.cat.ActivateImage(e.ctx, full.ID, image.Saving, d); err != nil {
		e.Fatalf("ActivateImage: got error %v, want nil", err)
	}
	want := full.Clone()
	want.Status = image.Active
	want.Size, want.VirtualSize = i64(d.Size), i64(*d.VirtualSize)
	want.Checksum, want.OSHashAlgo, want.OSHashValue = str(d.Checksum), str(d.HashAlgo), str(d.HashValue)
	got := e.wantImageData("after ActivateImage", want)
	e.wantLocations("after ActivateImage", got.Locations, []image.Location{d.Location})
	if got.UpdatedAt.Before(full.UpdatedAt) {
		e.Errorf("updated_at after ActivateImage: got %v, want no earlier than %v", got.UpdatedAt, full.UpdatedAt)
	}

	// No virtual size, no multihash, empty data, no location metadata.
	bare := e.create(status(image.Saving))
	d = &catalog.DataInfo{Size: 0, Checksum: "d41d8cd98f00b204e9800998ecf8427e",
		Location: image.Location{URL: "file:///var/lib/glance/images/" + bare.ID}}
	if err := e.cat.ActivateImage(e.ctx, bare.ID, image.Saving, d); err != nil {
		e.Fatalf("ActivateImage without hashes: got error %v, want nil", err)
	}
	want = bare.Clone()
	want.Status, want.Size, want.Checksum = image.Active, i64(0), str(d.Checksum)
	got = e.wantImageData("after ActivateImage without hashes", want)
	e.wantLocations("after ActivateImage without hashes", got.Locations, []image.Location{{URL: d.Location.URL}})

	// The compare-and-set: from a status the image is not in, nothing
	// is written.
	queued := e.create(named("q"), withProps("a", "1"))
	d = &catalog.DataInfo{Size: 9, Checksum: "x", HashAlgo: "sha512", HashValue: "y",
		Location: image.Location{URL: "file:///var/lib/glance/images/" + queued.ID}}
	e.wantErr("ActivateImage from a status the image is not in",
		e.cat.ActivateImage(e.ctx, queued.ID, image.Saving, d), catalog.ErrConflict)
	e.wantImage("after the refused ActivateImage", queued)
	e.wantErr("ActivateImage of an active image",
		e.cat.ActivateImage(e.ctx, full.ID, image.Saving, d), catalog.ErrConflict)
	if got := e.get(full.ID); got.Size == nil || *got.Size != 1<<33+5 || len(got.Locations) != 1 {
		e.Errorf("after a second ActivateImage: got size %v and %d locations, want %d and 1", got.Size, len(got.Locations), int64(1<<33+5))
	}

	e.wantErr("ActivateImage of an unknown image",
		e.cat.ActivateImage(e.ctx, imageID(9999), image.Saving, d), catalog.ErrNotFound)
	gone := e.create(status(image.Saving))
	e.deleteImage(gone.ID, image.Saving)
	e.wantErr("ActivateImage of a deleted image",
		e.cat.ActivateImage(e.ctx, gone.ID, image.Saving, d), catalog.ErrNotFound)
	e.wantErr("ActivateImage of a deleted image from deleted",
		e.cat.ActivateImage(e.ctx, gone.ID, image.Deleted, d), catalog.ErrNotFound)
}

// Several uploads finish at once on the same saving image: one wins, and
// the image carries its data and only its location.
func testActivateImageConcurrent(e *env) {
	img := e.create(status(image.Saving))
	const n = 8
	infos := make([]*catalog.DataInfo, n)
	for i := range n {
		infos[i] = &catalog.DataInfo{Size: int64(100 + i), Checksum: fmt.Sprintf("sum-%d", i),
			HashAlgo: "sha512", HashValue: fmt.Sprintf("hash-%d", i),
			Location: image.Location{URL: fmt.Sprintf("file:///var/lib/glance/images/%s-%d", img.ID, i)}}
	}
	errs := race(n, func(i int) error { return e.cat.ActivateImage(e.ctx, img.ID, image.Saving, infos[i]) })
	w := e.oneWinner("concurrent ActivateImage", errs, catalog.ErrConflict)
	want := img.Clone()
	want.Status, want.Size = image.Active, i64(infos[w].Size)
	want.Checksum, want.OSHashAlgo, want.OSHashValue = str(infos[w].Checksum), str("sha512"), str(infos[w].HashValue)
	got := e.wantImageData("after concurrent ActivateImage", want)
	e.wantLocations("after concurrent ActivateImage", got.Locations, []image.Location{{URL: infos[w].Location.URL}})
}

func testSetPropertyIfAbsent(e *env) {
	img := e.create(withProps("other", "o", "blank", ""), nullProp("kernel_id"), tagged("t"),
		withProps("was", "1", "unset", "2"))
	tasks := e.tasks()
	want := map[string]*string{"other": str("o"), "blank": str(""), "kernel_id": nil, "was": str("1"), "unset": str("2")}

	// Absent: set.
	if err := tasks.SetPropertyIfAbsent(e.ctx, img.ID, propImportTask, "task-1"); err != nil {
		e.Fatalf("SetPropertyIfAbsent of an absent property: got error %v, want nil", err)
	}
	want[propImportTask] = str("task-1")
	e.wantProps("after setting an absent property", img.ID, want)

	// Live, whatever its value: refused, unchanged.
	for _, tc := range []struct{ name, value string }{
		{propImportTask, "task-2"},
		{propImportTask, "task-1"},
		{"other", "x"},
		{"blank", ""},
		{"kernel_id", "k"},
	} {
		e.wantErr(fmt.Sprintf("SetPropertyIfAbsent(%s=%q) of a live property", tc.name, tc.value),
			tasks.SetPropertyIfAbsent(e.ctx, img.ID, tc.name, tc.value), catalog.ErrDuplicate)
	}
	e.wantProps("after the refused calls", img.ID, want)

	// Soft-deleted, by an image update or by SetProperties: revived with
	// the new value.
	old := e.get(img.ID)
	upd := old.Clone()
	delete(upd.Properties, "was")
	upd.UpdatedAt = old.UpdatedAt.Add(time.Minute)
	e.update(old, upd)
	if err := tasks.SetProperties(e.ctx, img.ID, map[string]*string{"unset": nil}); err != nil {
		e.Fatalf("SetProperties: got error %v, want nil", err)
	}
	delete(want, "was")
	delete(want, "unset")
	e.wantProps("after removing two properties", img.ID, want)
	for _, name := range []string{"was", "unset"} {
		if err := tasks.SetPropertyIfAbsent(e.ctx, img.ID, name, "back "+name); err != nil {
			e.Errorf("SetPropertyIfAbsent(%s) of a removed property: got error %v, want nil", name, err)
		}
		want[name] = str("back " + name)
	}
	// An empty value is a value.
	if err := tasks.SetPropertyIfAbsent(e.ctx, img.ID, "empty", ""); err != nil {
		e.Errorf("SetPropertyIfAbsent with an empty value: got error %v, want nil", err)
	}
	want["empty"] = str("")
	e.wantProps("after reviving", img.ID, want)
	if got := e.get(img.ID); !slices.Equal(got.Tags, []string{"t"}) || got.Status != image.Queued {
		e.Errorf("tags and status after SetPropertyIfAbsent: got %q, %s; want [t], queued", got.Tags, got.Status)
	}

	// Another image's property of the same name is another property, and
	// no status guards it.
	other := e.create(status(image.Active), withProps("x", "y"))
	if err := tasks.SetPropertyIfAbsent(e.ctx, other.ID, propImportTask, "task-9"); err != nil {
		e.Errorf("SetPropertyIfAbsent on another (active) image: got error %v, want nil", err)
	}
	e.wantProps("the other image", other.ID, map[string]*string{"x": str("y"), propImportTask: str("task-9")})
	e.wantProps("the first image after the other's lock", img.ID, want)

	// No live image: not found, and nothing revived.
	e.wantErr("SetPropertyIfAbsent on an unknown image",
		tasks.SetPropertyIfAbsent(e.ctx, imageID(9999), propImportTask, "t"), catalog.ErrNotFound)
	gone := e.create(withProps("a", "1"))
	e.deleteImage(gone.ID, image.Queued)
	e.wantErr("SetPropertyIfAbsent on a deleted image",
		tasks.SetPropertyIfAbsent(e.ctx, gone.ID, "a", "2"), catalog.ErrNotFound)
	pending := e.create(status(image.Active), withProps("a", "1"))
	if err := e.cat.DeleteImageDelayed(e.ctx, pending.ID, image.Active); err != nil {
		e.Fatalf("DeleteImageDelayed: got error %v, want nil", err)
	}
	e.wantErr("SetPropertyIfAbsent on a pending_delete image",
		tasks.SetPropertyIfAbsent(e.ctx, pending.ID, "a", "2"), catalog.ErrNotFound)
	e.wantErr("SetPropertyIfAbsent of a new property on a pending_delete image",
		tasks.SetPropertyIfAbsent(e.ctx, pending.ID, "new", "2"), catalog.ErrNotFound)
	ps, err := e.cat.PendingDeletes(e.ctx, time.Now().Add(time.Hour))
	if err != nil || len(ps) != 1 {
		e.Fatalf("PendingDeletes: got %d images, error %v; want 1", len(ps), err)
	}
	if len(ps[0].Properties) != 0 {
		e.Errorf("pending_delete image's properties after SetPropertyIfAbsent: got %v, want none", ps[0].Properties)
	}
}

func testDeletePropertyIfValue(e *env) {
	img := e.create(withProps(propImportTask, "task-1", "other", "o", "blank", ""), nullProp("kernel_id"), tagged("t"))
	tasks := e.tasks()
	want := map[string]*string{propImportTask: str("task-1"), "other": str("o"), "blank": str(""), "kernel_id": nil}

	for _, tc := range []struct{ what, name, value string }{
		{"another value", propImportTask, "task-2"},
		{"a prefix of the value", propImportTask, "task-"},
		{"an absent property", "absent", "x"},
		{"a NULL property with an empty value", "kernel_id", ""},
	} {
		e.wantErr("DeletePropertyIfValue of "+tc.what,
			tasks.DeletePropertyIfValue(e.ctx, img.ID, tc.name, tc.value), catalog.ErrNotFound)
	}
	e.wantProps("after the refused deletes", img.ID, want)

	if err := tasks.DeletePropertyIfValue(e.ctx, img.ID, propImportTask, "task-1"); err != nil {
		e.Fatalf("DeletePropertyIfValue with the value: got error %v, want nil", err)
	}
	delete(want, propImportTask)
	if err := tasks.DeletePropertyIfValue(e.ctx, img.ID, "blank", ""); err != nil {
		e.Errorf("DeletePropertyIfValue of an empty value: got error %v, want nil", err)
	}
	delete(want, "blank")
	e.wantProps("after the deletes", img.ID, want)
	e.wantErr("DeletePropertyIfValue twice",
		tasks.DeletePropertyIfValue(e.ctx, img.ID, propImportTask, "task-1"), catalog.ErrNotFound)
	if got := e.get(img.ID); !slices.Equal(got.Tags, []string{"t"}) {
		e.Errorf("tags after DeletePropertyIfValue: got %q, want [t]", got.Tags)
	}

	e.wantErr("DeletePropertyIfValue on an unknown image",
		tasks.DeletePropertyIfValue(e.ctx, imageID(9999), "other", "o"), catalog.ErrNotFound)
	gone := e.create(withProps("a", "1"))
	e.deleteImage(gone.ID, image.Queued)
	e.wantErr("DeletePropertyIfValue on a deleted image",
		tasks.DeletePropertyIfValue(e.ctx, gone.ID, "a", "1"), catalog.ErrNotFound)
}

// The import lock taken, released and taken again, as imports do it.
func testImportLockCycle(e *env) {
	img := e.create(withProps("a", "1"))
	tasks := e.tasks()
	for round := range 3 {
		holder := fmt.Sprintf("task-%d", round)
		if err := tasks.SetPropertyIfAbsent(e.ctx, img.ID, propImportTask, holder); err != nil {
			e.Fatalf("round %d: taking the lock: got error %v, want nil", round, err)
		}
		e.wantErr(fmt.Sprintf("round %d: taking a held lock", round),
			tasks.SetPropertyIfAbsent(e.ctx, img.ID, propImportTask, "intruder"), catalog.ErrDuplicate)
		e.wantErr(fmt.Sprintf("round %d: releasing another holder's lock", round),
			tasks.DeletePropertyIfValue(e.ctx, img.ID, propImportTask, "intruder"), catalog.ErrNotFound)
		e.wantProps(fmt.Sprintf("round %d: while held", round), img.ID,
			map[string]*string{"a": str("1"), propImportTask: str(holder)})
		if err := tasks.DeletePropertyIfValue(e.ctx, img.ID, propImportTask, holder); err != nil {
			e.Fatalf("round %d: releasing the lock: got error %v, want nil", round, err)
		}
		e.wantProps(fmt.Sprintf("round %d: after release", round), img.ID, map[string]*string{"a": str("1")})
	}
}

// Imports race for the lock: exactly one takes it, on a property never
// set (an insert race) and on a released one (a revival race).
func testSetPropertyIfAbsentConcurrent(e *env) {
	img := e.create(withProps("a", "1"))
	tasks := e.tasks()
	const n = 8
	for round := range 4 {
		errs := race(n, func(i int) error {
			return tasks.SetPropertyIfAbsent(e.ctx, img.ID, propImportTask, fmt.Sprintf("task-%d-%d", round, i))
		})
		w := e.oneWinner(fmt.Sprintf("round %d: concurrent SetPropertyIfAbsent", round), errs, catalog.ErrDuplicate)
		holder := fmt.Sprintf("task-%d-%d", round, w)
		e.wantProps(fmt.Sprintf("round %d", round), img.ID, map[string]*string{"a": str("1"), propImportTask: str(holder)})
		errs = race(n, func(int) error { return tasks.DeletePropertyIfValue(e.ctx, img.ID, propImportTask, holder) })
		e.oneWinner(fmt.Sprintf("round %d: concurrent DeletePropertyIfValue", round), errs, catalog.ErrNotFound)
		e.wantProps(fmt.Sprintf("round %d: after release", round), img.ID, map[string]*string{"a": str("1")})
	}

	// Different names on one image do not exclude each other.
	errs := race(n, func(i int) error {
		return tasks.SetPropertyIfAbsent(e.ctx, img.ID, fmt.Sprintf("p%d", i), fmt.Sprint(i))
	})
	want := map[string]*string{"a": str("1")}
	for i, err := range errs {
		if err != nil {
			e.Errorf("SetPropertyIfAbsent(p%d) beside others: got error %v, want nil", i, err)
		}
		want[fmt.Sprintf("p%d", i)] = str(fmt.Sprint(i))
	}
	e.wantProps("after setting different names at once", img.ID, want)
}

func testSetProperties(e *env) {
	img := e.create(status(image.Importing), named("n"), withProps("a", "1", "b", "2", "was", "w"), nullProp("n"), tagged("t"))
	old := e.get(img.ID)
	upd := old.Clone()
	delete(upd.Properties, "was")
	upd.UpdatedAt = old.UpdatedAt.Add(time.Minute)
	e.update(old, upd)

	tasks := e.tasks()
	change := map[string]*string{
		"a":      str("10"), // changed
		"b":      nil,       // removed
		"c":      str("3"),  // added
		"was":    str("again"),
		"absent": nil, // removing what is not there
		"e":      str(""),
	}
	if err := tasks.SetProperties(e.ctx, img.ID, change); err != nil {
		e.Fatalf("SetProperties: got error %v, want nil", err)
	}
	want := upd.Clone()
	want.Properties = map[string]*string{"a": str("10"), "c": str("3"), "was": str("again"), "e": str(""), "n": nil}
	e.wantImageData("after SetProperties", want)

	for _, p := range []map[string]*string{{}, nil} {
		if err := tasks.SetProperties(e.ctx, img.ID, p); err != nil {
			e.Errorf("SetProperties(%v): got error %v, want nil", p, err)
		}
	}
	e.wantImageData("after empty SetProperties", want)

	// No status guard: any live image.
	for _, st := range []image.Status{image.Queued, image.Active, image.Deactivated, image.Saving, image.Uploading} {
		other := e.create(status(st), withProps("x", "1"))
		if err := tasks.SetProperties(e.ctx, other.ID, map[string]*string{"x": nil, "y": str("2")}); err != nil {
			e.Errorf("SetProperties on a %s image: got error %v, want nil", st, err)
		}
		e.wantProps("a "+string(st)+" image", other.ID, map[string]*string{"y": str("2")})
	}

	e.wantErr("SetProperties on an unknown image",
		tasks.SetProperties(e.ctx, imageID(9999), map[string]*string{"x": str("1")}), catalog.ErrNotFound)
	gone := e.create(withProps("a", "1"))
	e.deleteImage(gone.ID, image.Queued)
	e.wantErr("SetProperties on a deleted image",
		tasks.SetProperties(e.ctx, gone.ID, map[string]*string{"a": str("2"), propImporting: nil}), catalog.ErrNotFound)

	// Progress reports of several stores at once: each one's property
	// is written.
	const n = 8
	errs := race(n, func(i int) error {
		return tasks.SetProperties(e.ctx, img.ID, map[string]*string{fmt.Sprintf("store-%d", i): str("done")})
	})
	for i, err := range errs {
		if err != nil {
			e.Errorf("concurrent SetProperties %d: got error %v, want nil", i, err)
		}
		want.Properties[fmt.Sprintf("store-%d", i)] = str("done")
	}
	e.wantImageData("after concurrent SetProperties", want)
}

// importingImage makes an image an import is running on: importing,
// locked by a processing task of its own, with progress properties.
func (e *env) importingImage(mods ...mod) (*image.Image, *catalog.Task) {
	e.Helper()
	img := e.newImage(append([]mod{status(image.Importing), owned("p1"), named("imp"), formats("raw", "bare"),
		withProps("keep", "1", "stale", "x", propImporting, "a,b", propFailed, ""), tagged("t1", "t2")}, mods...)...)
	t := e.createTask(func(t *catalog.Task) {
		t.Status, t.ImageID = "processing", img.ID
		t.Input = json.RawMessage(`{"image_id": "` + img.ID + `", "import_req": {"method": {"name": "web-download"}}}`)
	})
	img.Properties[propImportTask] = str(t.ID)
	if err := e.cat.CreateImage(e.ctx, img.Clone()); err != nil {
		e.Fatalf("CreateImage(%s): got error %v, want nil", img.ID, err)
	}
	return img, t
}

// ended returns t as an import that succeeded writes it.
func ended(t *catalog.Task, st, msg string) *catalog.Task {
	c := *t
	exp := t.UpdatedAt.Add(49 * time.Hour)
	c.Status, c.Message, c.ExpiresAt = st, msg, &exp
	c.Result = json.RawMessage(`{"image_id": "` + t.ImageID + `"}`)
	c.UpdatedAt = t.UpdatedAt.Add(time.Hour)
	return &c
}

func testFinishImport(e *env) {
	img, t1 := e.importingImage()
	t2 := e.createTask(func(t *catalog.Task) { t.Type, t.Status, t.ImageID = "import", "processing", img.ID })
	bystander := e.createTask(func(t *catalog.Task) { t.Status, t.ImageID = "processing", img.ID })

	d := &catalog.DataInfo{Size: 1<<33 + 7, VirtualSize: i64(1 << 35), Checksum: "0123456789abcdef0123456789abcdef",
		HashAlgo: "sha512", HashValue: strings.Repeat("cd", 64), DiskFormat: "qcow2", ContainerFormat: "ovf"}
	locs := []image.Location{
		{URL: "file:///var/lib/glance/images/" + img.ID, Metadata: map[string]any{"store": "a"}},
		{URL: "rbd://fsid/images/" + img.ID + "/snap", Metadata: map[string]any{"store": "b", "n": float64(1)}},
	}
	props := map[string]*string{propImportTask: nil, propImporting: str(""), propFailed: str(""),
		"new": str("v"), "stale": nil, "never": nil}
	done1, done2 := ended(t1, "success", "Copied 12 MiB"), ended(t2, "failure", "ünï failed")
	if err := e.tasks().FinishImport(e.ctx, img.ID, image.Importing, image.Active, d, locs, props, done1, done2); err != nil {
		e.Fatalf("FinishImport: got error %v, want nil", err)
	}
	want := img.Clone()
	want.Status = image.Active
	want.Size, want.VirtualSize = i64(d.Size), d.VirtualSize
	want.Checksum, want.OSHashAlgo, want.OSHashValue = str(d.Checksum), str(d.HashAlgo), str(d.HashValue)
	want.DiskFormat, want.ContainerFormat = str("qcow2"), str("ovf")
	want.Properties = map[string]*string{"keep": str("1"), propImporting: str(""), propFailed: str(""), "new": str("v")}
	got := e.wantImageData("after FinishImport", want)
	e.wantLocations("after FinishImport", got.Locations, locs)
	e.wantTask("the first done task", done1)
	e.wantTask("the second done task", done2)
	e.wantTask("a task not in done", bystander)
}

func testFinishImportWithoutData(e *env) {
	// Back to queued after a failed import: only the status, properties
	// and task change.
	img, t := e.importingImage(func(i *image.Image) { i.Size, i.Checksum = i64(42), str("c") })
	done := ended(t, "failure", "no data")
	props := map[string]*string{propImportTask: nil, propImporting: str("b"), propFailed: str("a")}
	if err := e.tasks().FinishImport(e.ctx, img.ID, image.Importing, image.Queued, nil, nil, props, done); err != nil {
		e.Fatalf("FinishImport without data: got error %v, want nil", err)
	}
	want := img.Clone()
	want.Status = image.Queued
	want.Properties = map[string]*string{"keep": str("1"), "stale": str("x"), propImporting: str("b"), propFailed: str("a")}
	got := e.wantImageData("after FinishImport without data", want)
	e.wantLocations("after FinishImport without data", got.Locations, nil)
	e.wantTask("the done task", done)

	// Data without formats keeps the image's; no task.
	img2, _ := e.importingImage()
	d := &catalog.DataInfo{Size: 5, Checksum: "c5", HashAlgo: "sha512", HashValue: "h5"}
	loc := image.Location{URL: "file:///var/lib/glance/images/" + img2.ID, Metadata: map[string]any{}}
	if err := e.tasks().FinishImport(e.ctx, img2.ID, image.Importing, image.Active, d, []image.Location{loc}, nil); err != nil {
		e.Fatalf("FinishImport without formats: got error %v, want nil", err)
	}
	want = img2.Clone()
	want.Status, want.Size, want.Checksum, want.OSHashAlgo, want.OSHashValue = image.Active, i64(5), str("c5"), str("sha512"), str("h5")
	got = e.wantImageData("after FinishImport without formats", want)
	e.wantLocations("after FinishImport without formats", got.Locations, []image.Location{loc})

	// A copy to another store: active stays active, the new location is
	// added after the existing one.
	cp := e.activeImage(7, []string{"file:///first"}, withProps(propImportTask, "copy-task"))
	add := image.Location{URL: "file:///second", Metadata: map[string]any{"store": "b"}}
	if err := e.tasks().FinishImport(e.ctx, cp.ID, image.Active, image.Active, nil, []image.Location{add},
		map[string]*string{propImportTask: nil}); err != nil {
		e.Fatalf("FinishImport of a copy: got error %v, want nil", err)
	}
	want = cp.Clone()
	delete(want.Properties, propImportTask)
	got = e.wantImageData("after FinishImport of a copy", want)
	e.wantLocations("after FinishImport of a copy", got.Locations, append(slices.Clone(cp.Locations), add))
}

// A FinishImport that cannot complete writes nothing: not from a status
// the image left, and not when one of its parts fails late.
func testFinishImportAllOrNothing(e *env) {
	img, t := e.importingImage()
	before := e.get(img.ID)
	d := &catalog.DataInfo{Size: 9, Checksum: "c", HashAlgo: "sha512", HashValue: "h", DiskFormat: "qcow2", ContainerFormat: "ovf"}
	locs := []image.Location{{URL: "file:///var/lib/glance/images/" + img.ID, Metadata: map[string]any{}}}
	props := map[string]*string{propImportTask: nil, "keep": nil, "new": str("v")}
	done := ended(t, "success", "done")

	e.wantErr("FinishImport from a status the image is not in",
		e.tasks().FinishImport(e.ctx, img.ID, image.Queued, image.Active, d, locs, props, done), catalog.ErrConflict)
	e.wantImage("after the refused FinishImport", before)
	e.wantTask("the task after the refused FinishImport", t)

	// The last task to write is unknown: the status, data, locations,
	// properties and the first task written before it are undone.
	ghost := e.newTask(func(g *catalog.Task) { g.Status = "success" })
	if err := e.tasks().FinishImport(e.ctx, img.ID, image.Importing, image.Active, d, locs, props, done, ghost); err == nil {
		e.Errorf("FinishImport with an unknown task in done: got nil error, want one")
	}
	e.wantImage("after the FinishImport that failed late", before)
	e.wantTask("the task after the FinishImport that failed late", t)

	// It still completes afterwards.
	if err := e.tasks().FinishImport(e.ctx, img.ID, image.Importing, image.Active, d, locs, props, done); err != nil {
		e.Fatalf("FinishImport after the failed ones: got error %v, want nil", err)
	}
	e.wantTask("the task after FinishImport", done)
	if got := e.get(img.ID); got.Status != image.Active || len(got.Locations) != 1 {
		e.Errorf("after FinishImport: got status %s and %d locations, want active and 1", got.Status, len(got.Locations))
	}
	e.wantErr("FinishImport twice",
		e.tasks().FinishImport(e.ctx, img.ID, image.Importing, image.Active, d, locs, props, done), catalog.ErrConflict)
	if got := e.get(img.ID); len(got.Locations) != 1 {
		e.Errorf("after FinishImport twice: got %d locations, want 1", len(got.Locations))
	}

	// No live image.
	other := e.createTask(func(o *catalog.Task) { o.Status = "processing" })
	e.wantErr("FinishImport of an unknown image",
		e.tasks().FinishImport(e.ctx, imageID(9999), image.Importing, image.Active, d, locs, nil, ended(other, "success", "x")),
		catalog.ErrNotFound)
	gone, gt := e.importingImage()
	e.deleteImage(gone.ID, image.Importing)
	e.wantErr("FinishImport of a deleted image",
		e.tasks().FinishImport(e.ctx, gone.ID, image.Importing, image.Active, d, locs, nil, ended(gt, "success", "x")),
		catalog.ErrNotFound)
	e.wantErr("FinishImport of a deleted image from deleted",
		e.tasks().FinishImport(e.ctx, gone.ID, image.Deleted, image.Active, d, locs, nil), catalog.ErrNotFound)
	e.wantTask("a task of FinishImport of an unknown image", other)
	e.wantTask("a task of FinishImport of a deleted image", gt)
}

// Several imports finish the same image at once: one wins, the image is
// as that one left it, and every other one wrote nothing, its task
// included.
func testFinishImportConcurrent(e *env) {
	img, _ := e.importingImage()
	const n = 8
	ts := make([]*catalog.Task, n)
	infos := make([]*catalog.DataInfo, n)
	locs := make([][]image.Location, n)
	props := make([]map[string]*string, n)
	for i := range n {
		ts[i] = e.createTask(func(t *catalog.Task) { t.Status, t.ImageID = "processing", img.ID })
		infos[i] = &catalog.DataInfo{Size: int64(1000 + i), Checksum: fmt.Sprint("sum-", i), HashAlgo: "sha512",
			HashValue: fmt.Sprint("hash-", i), DiskFormat: []string{"qcow2", "raw"}[i%2]}
		locs[i] = []image.Location{{URL: fmt.Sprintf("file:///images/%s-%d", img.ID, i), Metadata: map[string]any{"writer": float64(i)}}}
		props[i] = map[string]*string{propImportTask: nil, "writer": str(fmt.Sprint(i)), fmt.Sprint("only-", i): str("x")}
	}
	errs := race(n, func(i int) error {
		return e.tasks().FinishImport(e.ctx, img.ID, image.Importing, image.Active, infos[i], locs[i], props[i],
			ended(ts[i], "success", fmt.Sprint("writer ", i)))
	})
	w := e.oneWinner("concurrent FinishImport", errs, catalog.ErrConflict)
	want := img.Clone()
	want.Status, want.Size, want.Checksum = image.Active, i64(infos[w].Size), str(infos[w].Checksum)
	want.OSHashAlgo, want.OSHashValue, want.DiskFormat = str("sha512"), str(infos[w].HashValue), str(infos[w].DiskFormat)
	delete(want.Properties, propImportTask)
	want.Properties["writer"] = str(fmt.Sprint(w))
	want.Properties[fmt.Sprint("only-", w)] = str("x")
	got := e.wantImageData("after concurrent FinishImport", want)
	e.wantLocations("after concurrent FinishImport", got.Locations, locs[w])
	for i, t := range ts {
		if i == w {
			e.wantTask("the winner's task", ended(t, "success", fmt.Sprint("writer ", i)))
		} else {
			e.wantTask(fmt.Sprint("loser ", i, "'s task"), t)
		}
	}
}

// Whoever sees the image active sees its data, its location, its lock
// released and the task's outcome: FinishImport is one commit.
func testFinishImportVisibleTogether(e *env) {
	for round := range 3 {
		img, t := e.importingImage()
		d := &catalog.DataInfo{Size: 3, Checksum: "c", HashAlgo: "sha512", HashValue: "h"}
		locs := []image.Location{{URL: "file:///images/" + img.ID, Metadata: map[string]any{}}}
		done := ended(t, "success", "done")
		var wg sync.WaitGroup
		seen := make(chan string, 1)
		wg.Go(func() {
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				got, err := e.cat.GetImage(e.ctx, img.ID)
				if err != nil {
					seen <- fmt.Sprintf("GetImage: %v", err)
					return
				}
				if got.Status != image.Active {
					continue
				}
				task, err := e.tasks().GetTask(e.ctx, t.ID)
				switch {
				case err != nil:
					seen <- fmt.Sprintf("GetTask: %v", err)
				case task.Status != "success" || len(got.Locations) != 1 || got.Size == nil ||
					got.Properties[propImportTask] != nil:
					seen <- fmt.Sprintf("image active with %d locations, size %v, lock %v; task %s",
						len(got.Locations), got.Size, got.Properties[propImportTask], task.Status)
				default:
					seen <- ""
				}
				return
			}
			seen <- "the image never became active"
		})
		time.Sleep(time.Millisecond)
		if err := e.tasks().FinishImport(e.ctx, img.ID, image.Importing, image.Active, d, locs,
			map[string]*string{propImportTask: nil}, done); err != nil {
			e.Fatalf("round %d: FinishImport: got error %v, want nil", round, err)
		}
		wg.Wait()
		if msg := <-seen; msg != "" {
			e.Errorf("round %d: a reader saw a partial import: %s; want the whole of it", round, msg)
		}
	}
}
