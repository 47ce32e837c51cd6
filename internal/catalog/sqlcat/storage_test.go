package sqlcat

import (
	"database/sql"
	"regexp"
	"slices"
	"testing"
	"time"

	"glimpse/internal/image"
)

// sqlalchemyTime is how SQLAlchemy writes DATETIME on SQLite, the only form
// glance-api parses back.
var sqlalchemyTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$`)

// rawTimes returns "table.column" => the stored text and SQLite type of
// every non-NULL DATETIME value in the catalog tables.
func rawTimes(t *testing.T, path string) map[string][][2]string {
	t.Helper()
	db := rawDB(t, path)
	out := map[string][][2]string{}
	for _, tc := range []struct {
		table string
		cols  []string
	}{
		{"images", []string{"created_at", "updated_at", "deleted_at"}},
		{"image_properties", []string{"created_at", "updated_at", "deleted_at"}},
		{"image_tags", []string{"created_at", "updated_at", "deleted_at"}},
		{"image_members", []string{"created_at", "updated_at", "deleted_at"}},
	} {
		for _, col := range tc.cols {
			queryEach(t, t.Context(), db, `SELECT typeof(`+col+`), CAST(`+col+` AS TEXT) FROM `+tc.table+` WHERE `+col+` IS NOT NULL`, nil, func(r *sql.Rows) error {
				var typ, v string
				err := r.Scan(&typ, &v)
				out[tc.table+"."+col] = append(out[tc.table+"."+col], [2]string{typ, v})
				return err
			})
		}
	}
	return out
}

func TestTimesStoredInSQLAlchemyLayout(t *testing.T) {
	db, path := openSynced(t)
	ctx := t.Context()
	zone := time.FixedZone("UTC+2", 2*3600)
	img := testImage(1)
	img.CreatedAt = time.Date(2024, 3, 1, 10, 0, 0, 123456789, zone)
	img.UpdatedAt = time.Date(2024, 3, 1, 10, 0, 5, 0, zone)
	if err := db.CreateImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	times := rawTimes(t, path)
	for col, want := range map[string]string{
		"images.created_at":           "2024-03-01 08:00:00.123456",
		"images.updated_at":           "2024-03-01 08:00:05.000000",
		"image_properties.created_at": "2024-03-01 08:00:00.123456",
		"image_tags.created_at":       "2024-03-01 08:00:00.123456",
	} {
		if got := times[col]; len(got) == 0 || got[0] != [2]string{"text", want} {
			t.Errorf("%s: got %q, want text %q", col, got, want)
		}
	}
	got, err := db.GetImage(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCreated := img.CreatedAt.Truncate(time.Microsecond)
	if !got.CreatedAt.Equal(wantCreated) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt read back: got %v, want %v in UTC", got.CreatedAt, wantCreated)
	}

	// Every other write stamps its times the same way.
	if err := db.AddMember(ctx, &image.Member{ImageID: img.ID, MemberID: "p2", Status: image.MemberPending,
		CreatedAt: img.CreatedAt, UpdatedAt: img.CreatedAt}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateMemberStatus(ctx, img.ID, "p2", image.MemberAccepted); err != nil {
		t.Fatal(err)
	}
	old := got
	upd := old.Clone()
	delete(upd.Properties, "n")
	upd.Properties["m"] = image.Str("1")
	upd.Tags = []string{"t"}
	upd.UpdatedAt = time.Now()
	if err := db.UpdateImage(ctx, old, upd); err != nil {
		t.Fatal(err)
	}
	if err := db.SetStatus(ctx, img.ID, image.Queued, image.Active); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteMember(ctx, img.ID, "p2"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteImage(ctx, img.ID, image.Active); err != nil {
		t.Fatal(err)
	}
	times = rawTimes(t, path)
	for _, col := range []string{
		"images.created_at", "images.updated_at", "images.deleted_at",
		"image_properties.created_at", "image_properties.updated_at", "image_properties.deleted_at",
		"image_tags.created_at", "image_tags.updated_at", "image_tags.deleted_at",
		"image_members.created_at", "image_members.updated_at", "image_members.deleted_at",
	} {
		if len(times[col]) == 0 {
			t.Errorf("%s: no value stored, want one", col)
		}
		for _, v := range times[col] {
			if v[0] != "text" || !sqlalchemyTime.MatchString(v[1]) {
				t.Errorf("%s: got %s %q, want text like 2006-01-02 15:04:05.000000", col, v[0], v[1])
			}
		}
	}
}

// Booleans are stored as 0 and 1, as SQLAlchemy does and as Glance's CHECK
// constraints demand.
func TestBooleansStoredAsIntegers(t *testing.T) {
	db, path := openSynced(t)
	ctx := t.Context()
	yes := testImage(1)
	yes.Protected, yes.OSHidden = true, true
	no := testImage(2)
	for _, img := range []*image.Image{yes, no} {
		if err := db.CreateImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddMember(ctx, &image.Member{ImageID: yes.ID, MemberID: "p2", CanShare: true, Status: image.MemberPending}); err != nil {
		t.Fatal(err)
	}
	var got []string
	queryEach(t, ctx, rawDB(t, path), `SELECT typeof(protected) || ':' || protected || ' ' || typeof(os_hidden) || ':' || os_hidden
 || ' ' || typeof(deleted) || ':' || deleted FROM images ORDER BY id`, nil, func(r *sql.Rows) error {
		var s string
		err := r.Scan(&s)
		got = append(got, s)
		return err
	})
	want := []string{"integer:1 integer:1 integer:0", "integer:0 integer:0 integer:0"}
	if !slices.Equal(got, want) {
		t.Errorf("images booleans: got %q, want %q", got, want)
	}
	var member string
	if err := rawDB(t, path).QueryRowContext(ctx, `SELECT typeof(can_share) || ':' || can_share FROM image_members`).Scan(&member); err != nil || member != "integer:1" {
		t.Errorf("image_members.can_share: got %q (%v), want integer:1", member, err)
	}
}

// DeleteImage keeps every row, marked deleted as Glance marks them, so the
// ID is never issued again and glance-manage db purge can clean up.
func TestDeleteKeepsRowsMarkedDeleted(t *testing.T) {
	db, path := openSynced(t)
	ctx := t.Context()
	img := testImage(1)
	img.Status = image.Active
	if err := db.CreateImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMember(ctx, &image.Member{ImageID: img.ID, MemberID: "p2", Status: image.MemberAccepted}); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, path)
	if _, err := raw.ExecContext(ctx, `INSERT INTO image_locations (image_id, value, created_at, deleted, meta_data, status)
 VALUES (?, 'file:///var/lib/glance/images/x', '2024-03-01 10:00:00.000000', 0, '{}', 'active')`, img.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteImage(ctx, img.ID, image.Active); err != nil {
		t.Fatal(err)
	}
	var got []string
	queryEach(t, ctx, raw, `
SELECT 'images ' || status || ' ' || deleted || ' ' || (deleted_at IS NOT NULL) FROM images
UNION ALL SELECT 'image_properties ' || name || ' ' || deleted || ' ' || (deleted_at IS NOT NULL) FROM image_properties
UNION ALL SELECT 'image_tags ' || value || ' ' || deleted || ' ' || (deleted_at IS NOT NULL) FROM image_tags
UNION ALL SELECT 'image_members ' || member || ' ' || deleted || ' ' || (deleted_at IS NOT NULL) FROM image_members
UNION ALL SELECT 'image_locations ' || status || ' ' || deleted || ' ' || (deleted_at IS NOT NULL) FROM image_locations`, nil,
		func(r *sql.Rows) error {
			var s string
			err := r.Scan(&s)
			got = append(got, s)
			return err
		})
	slices.Sort(got)
	want := []string{
		"image_locations deleted 1 1",
		"image_members p2 1 1",
		"image_properties n 1 1",
		"image_tags t 1 1",
		"image_tags t1 1 1",
		"images deleted 1 1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows after delete: got %q, want %q", got, want)
	}
}

// Rows glance-api wrote are read as it reads them: soft-deleted children
// stay hidden, a NULL updated_at reads as the creation time, and times
// without a fraction parse.
func TestReadsRowsGlanceWrote(t *testing.T) {
	db, path := openSynced(t)
	ctx := t.Context()
	id := "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	raw := rawDB(t, path)
	for _, s := range []string{
		`INSERT INTO images (id, name, status, created_at, updated_at, deleted, min_disk, min_ram, protected, visibility, os_hidden)
 VALUES ('` + id + `', 'from-glance', 'queued', '2023-11-05 07:08:09', NULL, 0, 0, 0, 0, 'shared', 0)`,
		`INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES ('` + id + `', 'live', 'v', '2023-11-05 07:08:09', 0)`,
		`INSERT INTO image_properties (image_id, name, value, created_at, deleted, deleted_at) VALUES ('` + id + `', 'gone', 'v', '2023-11-05 07:08:09', 1, '2023-11-06 00:00:00.000000')`,
		`INSERT INTO image_tags (image_id, value, created_at, deleted) VALUES ('` + id + `', 'b', '2023-11-05 07:08:09', 0)`,
		`INSERT INTO image_tags (image_id, value, created_at, deleted, deleted_at) VALUES ('` + id + `', 'gone', '2023-11-05 07:08:09', 1, '2023-11-06 00:00:00.000000')`,
		`INSERT INTO image_tags (image_id, value, created_at, deleted) VALUES ('` + id + `', 'a', '2023-11-05 07:08:09', 0)`,
		`INSERT INTO image_members (image_id, member, can_share, created_at, deleted, deleted_at, status) VALUES ('` + id + `', 'p9', 0, '2023-11-05 07:08:09', 1, '2023-11-06 00:00:00.000000', 'accepted')`,
		`INSERT INTO image_members (image_id, member, can_share, created_at, deleted, status) VALUES ('` + id + `', 'p8', 0, '2023-11-05 07:08:09.5', 0, 'pending')`,
	} {
		if _, err := raw.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	img, err := db.GetImage(ctx, id)
	if err != nil {
		t.Fatalf("GetImage: %v", err)
	}
	created := time.Date(2023, 11, 5, 7, 8, 9, 0, time.UTC)
	if !img.CreatedAt.Equal(created) || !img.UpdatedAt.Equal(created) {
		t.Errorf("times: got created %v updated %v, want both %v", img.CreatedAt, img.UpdatedAt, created)
	}
	if len(img.Properties) != 1 || img.Properties["live"] == nil || !slices.Equal(img.Tags, []string{"b", "a"}) {
		t.Errorf("got properties %v, tags %q; want only live and [b a]", img.Properties, img.Tags)
	}
	ms, err := db.ListMembers(ctx, id)
	if err != nil || len(ms) != 1 || ms[0].MemberID != "p8" || !ms[0].CreatedAt.Equal(created.Add(500*time.Millisecond)) {
		t.Errorf("members: got %+v (%v), want only p8 created at %v", ms, err, created.Add(500*time.Millisecond))
	}
	// A member Glance deleted can be added again.
	if err := db.AddMember(ctx, &image.Member{ImageID: id, MemberID: "p9", Status: image.MemberPending}); err != nil {
		t.Errorf("AddMember of a member Glance deleted: got %v, want nil", err)
	}
	// A property Glance deleted can be set again.
	upd := img.Clone()
	upd.Properties["gone"] = image.Str("back")
	if err := db.UpdateImage(ctx, img, upd); err != nil {
		t.Fatalf("UpdateImage: %v", err)
	}
	if got, _ := db.GetImage(ctx, id); got == nil || got.Properties["gone"] == nil || *got.Properties["gone"] != "back" {
		t.Errorf("revived property: got %+v, want gone=back", got)
	}
}
