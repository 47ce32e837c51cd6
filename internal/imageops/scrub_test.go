package imageops_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// rowStatus reads an image's status and deleted flag and its locations'
// statuses straight from the catalog file, deleted rows included.
func (f *opsFixture) rowStatus(t *testing.T, id string) (status string, deleted bool, locs []string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+f.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT status, deleted FROM images WHERE id = ?`, id).Scan(&status, &deleted); err != nil {
		t.Fatalf("read image %s: %v", id, err)
	}
	rows, err := db.Query(`SELECT status FROM image_locations WHERE image_id = ? ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		locs = append(locs, s)
	}
	return status, deleted, locs
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestDelayedDelete(t *testing.T) {
	ctx := context.Background()
	f := newOpsFixture(t, "sha512", true)
	owner := member("P")
	id := f.upload(t, owner, randomData(2000, 1))
	kept := f.upload(t, owner, randomData(2000, 2))

	if err := f.svc.Delete(ctx, owner, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if st, del, locs := f.rowStatus(t, id); st != "pending_delete" || !del || len(locs) != 1 || locs[0] != "pending_delete" {
		t.Errorf("after delete: got status %s deleted %v locations %q, want pending_delete, deleted, [pending_delete]", st, del, locs)
	}
	if !exists(t, f.path(id)) {
		t.Errorf("after delete: data of %s gone, want it kept for the scrubber", id)
	}
	for _, c := range []*auth.Context{owner, adminCtx} {
		_, err := f.svc.Get(ctx, c, id)
		wantErr(t, "Get of a pending_delete image", err, image.NotFound, "No image found with ID "+id)
		imgs, _, err := f.svc.List(ctx, c, &catalog.ListQuery{Visibility: "all", Limit: 100,
			Sort: []catalog.SortKey{{Key: "created_at"}, {Key: "id"}}})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(imgs) != 1 || imgs[0].ID != kept {
			t.Errorf("List: got %d images, want only %s", len(imgs), kept)
		}
	}
	err := f.svc.Delete(ctx, owner, id)
	wantErr(t, "Delete twice", err, image.NotFound, "No image found with ID "+id)

	// Not old enough yet: nothing happens.
	res, err := imageops.Scrub(ctx, f.db, f.stores, time.Hour, time.Now())
	if err != nil || len(res) != 0 {
		t.Fatalf("Scrub(scrub_time 1h): got %+v, %v; want nothing done", res, err)
	}
	if st, _, _ := f.rowStatus(t, id); st != "pending_delete" || !exists(t, f.path(id)) {
		t.Errorf("after an early scrub: got status %s, data there %v; want pending_delete with data", st, exists(t, f.path(id)))
	}

	res, err = imageops.Scrub(ctx, f.db, f.stores, 0, time.Now())
	if err != nil || len(res) != 1 || res[0].ID != id || res[0].Err != nil ||
		len(res[0].Locations) != 1 || res[0].Locations[0].URL != "file://"+f.path(id) || res[0].Locations[0].Missing {
		t.Fatalf("Scrub(scrub_time 0): got %+v, %v; want %s scrubbed from its one location", res, err, id)
	}
	if exists(t, f.path(id)) {
		t.Errorf("after scrub: data of %s still there", id)
	}
	if st, del, locs := f.rowStatus(t, id); st != "deleted" || !del || len(locs) != 1 || locs[0] != "deleted" {
		t.Errorf("after scrub: got status %s deleted %v locations %q, want deleted, deleted, [deleted]", st, del, locs)
	}
	if !exists(t, f.path(kept)) {
		t.Errorf("after scrub: data of the live image %s gone", kept)
	}
	if res, err := imageops.Scrub(ctx, f.db, f.stores, 0, time.Now()); err != nil || len(res) != 0 {
		t.Errorf("second Scrub: got %+v, %v; want nothing done", res, err)
	}
}

func TestScrubMissingData(t *testing.T) {
	ctx := context.Background()
	f := newOpsFixture(t, "sha512", true)
	owner := member("P")
	id := f.upload(t, owner, randomData(100, 1))
	if err := f.svc.Delete(ctx, owner, id); err != nil {
		t.Fatalf("Delete %s: %v", id, err)
	}
	if err := os.Remove(f.path(id)); err != nil {
		t.Fatal(err)
	}
	res, err := imageops.Scrub(ctx, f.db, f.stores, 0, time.Now())
	if err != nil || len(res) != 1 || res[0].ID != id || res[0].Err != nil ||
		len(res[0].Locations) != 1 || !res[0].Locations[0].Missing {
		t.Fatalf("Scrub: got %+v, %v; want %s finished with its one location already missing", res, err, id)
	}
	if st, _, locs := f.rowStatus(t, id); st != "deleted" || len(locs) != 1 || locs[0] != "deleted" {
		t.Errorf("after scrub: got status %s locations %q, want deleted, [deleted]", st, locs)
	}
}

// TestDelayedDeleteWithoutData checks that, as in Glance, an image with no
// data is deleted at once even with delayed_delete.
func TestDelayedDeleteWithoutData(t *testing.T) {
	ctx := context.Background()
	f := newOpsFixture(t, "sha512", true)
	owner := member("P")
	queued := mustCreate(t, f.svc, owner, &image.Image{}).ID
	if err := f.svc.Delete(ctx, owner, queued); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if st, del, locs := f.rowStatus(t, queued); st != "deleted" || !del || len(locs) != 0 {
		t.Errorf("after delete: got status %s deleted %v locations %q, want deleted, deleted, none", st, del, locs)
	}
	if res, err := imageops.Scrub(ctx, f.db, f.stores, 0, time.Now()); err != nil || len(res) != 0 {
		t.Errorf("Scrub: got %+v, %v; want nothing done", res, err)
	}
}

func TestImmediateDeleteLeavesNothingPending(t *testing.T) {
	ctx := context.Background()
	f := newOpsFixture(t, "sha512", false)
	owner := member("P")
	id := f.upload(t, owner, randomData(100, 1))
	if err := f.svc.Delete(ctx, owner, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if exists(t, f.path(id)) {
		t.Errorf("data of %s still there after an immediate delete", id)
	}
	if st, del, locs := f.rowStatus(t, id); st != "deleted" || !del || len(locs) != 1 || locs[0] != "deleted" {
		t.Errorf("after delete: got status %s deleted %v locations %q, want deleted, deleted, [deleted]", st, del, locs)
	}
	if res, err := imageops.Scrub(ctx, f.db, f.stores, 0, time.Now()); err != nil || len(res) != 0 {
		t.Errorf("Scrub: got %+v, %v; want nothing done", res, err)
	}
}

// TestScrubKeepsWhatItCannotDelete checks that an image whose data no
// configured store can remove stays pending_delete for the next run.
func TestScrubKeepsWhatItCannotDelete(t *testing.T) {
	ctx := context.Background()
	f := newOpsFixture(t, "sha512", true)
	owner := member("P")
	id := mustCreate(t, f.svc, owner, &image.Image{}).ID
	if err := f.db.SetStatus(ctx, id, image.Queued, image.Saving); err != nil {
		t.Fatal(err)
	}
	loc := image.Location{URL: "swift://example/images/" + id, Metadata: map[string]any{}}
	if err := f.db.ActivateImage(ctx, id, image.Saving, &catalog.DataInfo{Size: 1, Checksum: "x", Location: loc}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(ctx, owner, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for run := range 2 {
		res, err := imageops.Scrub(ctx, f.db, f.stores, 0, time.Now())
		if err != nil || len(res) != 1 || res[0].Err == nil || len(res[0].Locations) != 1 || res[0].Locations[0].Err == nil {
			t.Fatalf("Scrub run %d: got %+v, %v; want %s kept with its location failing", run, res, err, id)
		}
		if st, _, locs := f.rowStatus(t, id); st != "pending_delete" || len(locs) != 1 || locs[0] != "pending_delete" {
			t.Errorf("after scrub run %d: got status %s locations %q, want pending_delete, [pending_delete]", run, st, locs)
		}
	}
}
