package catalogtest

import (
	"slices"
	"time"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// testDelayedDelete covers the delayed delete and the scrubber's view of
// it: the image disappears at once, waits as pending_delete with its
// locations, and is finished by FinishDelete.
func testDelayedDelete(e *env) {
	img := e.create(status(image.Saving), owned("p1"), withProps("a", "1"), tagged("doomed"))
	loc := image.Location{URL: "file:///images/" + img.ID, Metadata: map[string]any{}}
	if err := e.cat.ActivateImage(e.ctx, img.ID, image.Saving, &catalog.DataInfo{Size: 3, Checksum: "abc", Location: loc}); err != nil {
		e.Fatalf("ActivateImage(%s): got error %v, want nil", img.ID, err)
	}
	other := e.create(status(image.Active), owned("p1"), withProps("a", "1"))
	e.addMember(img.ID, "p2", image.MemberAccepted)

	e.wantErr("DeleteImageDelayed from a stale status", e.cat.DeleteImageDelayed(e.ctx, img.ID, image.Queued), catalog.ErrConflict)
	before := time.Now().Add(-time.Second)
	if err := e.cat.DeleteImageDelayed(e.ctx, img.ID, image.Active); err != nil {
		e.Fatalf("DeleteImageDelayed(%s): got error %v, want nil", img.ID, err)
	}
	after := time.Now().Add(time.Second)

	_, err := e.cat.GetImage(e.ctx, img.ID)
	e.wantErr("GetImage after a delayed delete", err, catalog.ErrNotFound)
	e.wantErr("DeleteImageDelayed twice", e.cat.DeleteImageDelayed(e.ctx, img.ID, image.Active), catalog.ErrNotFound)
	e.wantErr("DeleteImage after a delayed delete", e.cat.DeleteImage(e.ctx, img.ID, image.PendingDelete), catalog.ErrNotFound)
	_, err = e.cat.GetMember(e.ctx, img.ID, "p2")
	e.wantErr("GetMember of a pending_delete image", err, catalog.ErrNotFound)
	for _, q := range []catalog.ListQuery{
		{Scope: admin, Visibility: "all"},
		{Scope: admin, Visibility: "all", In: map[string][]string{"status": {"pending_delete"}}},
		{Scope: admin, Visibility: "all", Properties: map[string]string{"a": "1"}},
		{Scope: catalog.Scope{Project: "p2"}, Visibility: "all"},
	} {
		q.Sort, q.Limit = byCreated, 100
		if got := ids(e.list(q)); slices.Contains(got, img.ID) {
			e.Errorf("ListImages(%+v): got %q, want no pending_delete image %s", q, got, img.ID)
		}
	}

	// Not yet old enough.
	if got, err := e.cat.PendingDeletes(e.ctx, before); err != nil || len(got) != 0 {
		e.Errorf("PendingDeletes(before the delete): got %d images, error %v; want none", len(got), err)
	}
	got, err := e.cat.PendingDeletes(e.ctx, after)
	if err != nil || len(got) != 1 {
		e.Fatalf("PendingDeletes(after the delete): got %d images, error %v; want 1", len(got), err)
	}
	p := got[0]
	if p.ID != img.ID || p.Status != image.PendingDelete || !p.Deleted || p.DeletedAt == nil {
		e.Errorf("pending image: got id %s status %s deleted %v deleted_at %v; want %s pending_delete, deleted, with a time",
			p.ID, p.Status, p.Deleted, p.DeletedAt, img.ID)
	} else if p.DeletedAt.Before(before) || p.DeletedAt.After(after) {
		e.Errorf("pending image deleted_at: got %v, want between %v and %v", p.DeletedAt, before, after)
	}
	if len(p.Locations) != 1 || p.Locations[0].URL != loc.URL || p.Locations[0].Status != "pending_delete" {
		e.Errorf("pending image locations: got %+v, want one pending_delete location %s", p.Locations, loc.URL)
	}

	if err := e.cat.FinishDelete(e.ctx, img.ID); err != nil {
		e.Fatalf("FinishDelete(%s): got error %v, want nil", img.ID, err)
	}
	if got, err := e.cat.PendingDeletes(e.ctx, after); err != nil || len(got) != 0 {
		e.Errorf("PendingDeletes after FinishDelete: got %d images, error %v; want none", len(got), err)
	}
	e.wantErr("FinishDelete twice", e.cat.FinishDelete(e.ctx, img.ID), catalog.ErrNotFound)
	e.wantErr("FinishDelete of a live image", e.cat.FinishDelete(e.ctx, other.ID), catalog.ErrNotFound)
	e.wantErr("FinishDelete of an unknown image", e.cat.FinishDelete(e.ctx, imageID(9999)), catalog.ErrNotFound)
	e.wantErr("CreateImage with the scrubbed ID", e.cat.CreateImage(e.ctx, e.newImage(func(i *image.Image) { i.ID = img.ID })), catalog.ErrDuplicate)
	if g := e.get(other.ID); g.Status != image.Active || g.Properties["a"] == nil {
		e.Errorf("other image: got status %s properties %v, want active with a=1", g.Status, g.Properties)
	}
}

// testDelayedDeleteImmediateIsNotPending checks that an ordinary delete
// leaves nothing for the scrubber.
func testDelayedDeleteImmediateIsNotPending(e *env) {
	img := e.create(status(image.Active))
	e.deleteImage(img.ID, image.Active)
	if got, err := e.cat.PendingDeletes(e.ctx, time.Now().Add(time.Hour)); err != nil || len(got) != 0 {
		e.Errorf("PendingDeletes after an immediate delete: got %d images, error %v; want none", len(got), err)
	}
	e.wantErr("FinishDelete of an immediately deleted image", e.cat.FinishDelete(e.ctx, img.ID), catalog.ErrNotFound)
}
