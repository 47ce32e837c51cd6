package imageops_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/catalog/sqlcat/sqlcattest"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

var unlimited = imageops.Limits{Properties: -1, Tags: -1, Members: -1}

// openCatalog opens a fresh catalog with Glance's schema in a temp dir.
func openCatalog(t *testing.T) *sqlcat.DB { return sqlcattest.Open(t) }

func member(project string) *auth.Context {
	return &auth.Context{ProjectID: project, Roles: []string{"member"}}
}

var adminCtx = &auth.Context{ProjectID: "ADM", Roles: []string{"admin"}, IsAdmin: true}

// wantErr checks an error's kind and client-facing message.
func wantErr(t *testing.T, what string, err error, kind image.Kind, msg string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %v %q", what, kind, msg)
		return
	}
	if got := image.KindOf(err); got != kind {
		t.Errorf("%s: got kind %v (%v), want %v", what, got, err, kind)
	}
	if got := image.Message(err); got != msg {
		t.Errorf("%s: got message %q, want %q", what, got, msg)
	}
}

// mustCreate creates an image as c from in and fails the test on error.
func mustCreate(t *testing.T, svc *imageops.Service, c *auth.Context, in *image.Image) *image.Image {
	t.Helper()
	img, err := svc.Create(context.Background(), c, in, len(in.Tags))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return img
}

// stored is the image as the catalog holds it.
func stored(t *testing.T, db *sqlcat.DB, id string) *image.Image {
	t.Helper()
	img, err := db.GetImage(context.Background(), id)
	if err != nil {
		t.Fatalf("GetImage %s: %v", id, err)
	}
	return img
}

func setName(name string) imageops.Change {
	return func(img *image.Image) error {
		img.Name = image.Str(name)
		return nil
	}
}

func TestCreateDefaults(t *testing.T) {
	ctx := context.Background()
	db := openCatalog(t)
	svc := imageops.New(db, unlimited)

	before := time.Now().UTC().Truncate(time.Microsecond)
	img := mustCreate(t, svc, member("P"), &image.Image{Name: image.Str("defaults")})
	after := time.Now().UTC()

	if !image.ValidID(img.ID) {
		t.Errorf("ID: got %q, want a UUID", img.ID)
	}
	got := stored(t, db, img.ID)
	if got.Status != image.Queued {
		t.Errorf("status: got %q, want queued", got.Status)
	}
	if got.Visibility != image.Shared {
		t.Errorf("visibility: got %q, want shared", got.Visibility)
	}
	if got.OwnerID() != "P" {
		t.Errorf("owner: got %v, want P", got.Owner)
	}
	if got.Protected || got.OSHidden || got.MinDisk != 0 || got.MinRAM != 0 {
		t.Errorf("protected/os_hidden/min_disk/min_ram: got %v/%v/%d/%d, want false/false/0/0", got.Protected, got.OSHidden, got.MinDisk, got.MinRAM)
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(after) {
		t.Errorf("created_at: got %v, want between %v and %v", got.CreatedAt, before, after)
	}
	if !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("updated_at: got %v, want created_at %v", got.UpdatedAt, got.CreatedAt)
	}
	if len(got.Properties) != 0 || len(got.Tags) != 0 {
		t.Errorf("properties/tags: got %v/%v, want none", got.Properties, got.Tags)
	}
	// What Create returns is what was stored.
	if diff := cmp.Diff(got, img, cmp.Comparer(func(a, b time.Time) bool { return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond)) })); diff != "" {
		t.Errorf("returned image differs from the stored one (-stored +returned):\n%s", diff)
	}

	t.Run("caller without a project", func(t *testing.T) {
		img := mustCreate(t, svc, &auth.Context{}, &image.Image{})
		if got := stored(t, db, img.ID); got.Owner != nil {
			t.Errorf("owner: got %q, want none", *got.Owner)
		}
	})
	t.Run("explicit owner", func(t *testing.T) {
		_, err := svc.Create(ctx, member("P"), &image.Image{Owner: image.Str("Q")}, 0)
		wantErr(t, "member creating for another project", err, image.Forbidden, "You are not permitted to create images owned by 'Q'.")
		img := mustCreate(t, svc, adminCtx, &image.Image{Owner: image.Str("Q")})
		if got := stored(t, db, img.ID); got.OwnerID() != "Q" {
			t.Errorf("admin creating for Q: owner %v, want Q", got.Owner)
		}
	})
	t.Run("publicize needs the admin role", func(t *testing.T) {
		for _, c := range []*auth.Context{member("P"), {IsAdmin: true}} {
			_, err := svc.Create(ctx, c, &image.Image{Visibility: image.Public}, 0)
			wantErr(t, fmt.Sprintf("public image by %+v", *c), err, image.Forbidden, "You are not authorized to complete publicize_image action.")
		}
		img := mustCreate(t, svc, adminCtx, &image.Image{Visibility: image.Public})
		if got := stored(t, db, img.ID); got.Visibility != image.Public {
			t.Errorf("admin role: visibility %q, want public", got.Visibility)
		}
	})
	t.Run("IDs are never issued twice", func(t *testing.T) {
		const id = "11111111-2222-3333-4444-555555555555"
		mustCreate(t, svc, member("P"), &image.Image{ID: id})
		_, err := svc.Create(ctx, member("P"), &image.Image{ID: id}, 0)
		wantErr(t, "same ID again", err, image.Conflict, "Image ID "+id+" already exists!")
		if err := svc.Delete(ctx, member("P"), id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		_, err = svc.Create(ctx, member("P"), &image.Image{ID: id}, 0)
		wantErr(t, "ID of a deleted image", err, image.Conflict, "Image ID "+id+" already exists!")
	})
}

func TestQuotas(t *testing.T) {
	ctx := context.Background()
	db := openCatalog(t)
	limits := imageops.Limits{Properties: 2, Tags: 2, Members: 1}
	svc := imageops.New(db, limits)
	owner := member("A")

	props := func(keys ...string) map[string]*string {
		m := map[string]*string{}
		for _, k := range keys {
			m[k] = image.Str("v")
		}
		return m
	}

	t.Run("create", func(t *testing.T) {
		const id = "22222222-2222-3333-4444-555555555555"
		_, err := svc.Create(ctx, owner, &image.Image{ID: id, Properties: props("a", "b", "c")}, 0)
		wantErr(t, "3 properties", err, image.TooLarge, "The limit has been exceeded on the number of allowed image properties. Attempted: 3, Maximum: 2")
		// Duplicates count against the tag quota, as the client sent them.
		_, err = svc.Create(ctx, owner, &image.Image{ID: id, Tags: []string{"x", "y"}}, 3)
		wantErr(t, "3 tags sent", err, image.TooLarge, "The limit has been exceeded on the number of allowed image tags. Attempted: 3, Maximum: 2")
		if _, err := db.GetImage(ctx, id); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("refused creates stored something: GetImage got %v, want ErrNotFound", err)
		}
		mustCreate(t, svc, owner, &image.Image{ID: id, Properties: props("a", "b"), Tags: []string{"x", "y"}})
	})

	t.Run("update and tags", func(t *testing.T) {
		img := mustCreate(t, svc, owner, &image.Image{Properties: props("a", "b"), Tags: []string{"x", "y"}})
		before := stored(t, db, img.ID)

		_, err := svc.Update(ctx, owner, img.ID, func(img *image.Image) error {
			img.Properties["c"] = image.Str("v")
			return nil
		}, -1)
		wantErr(t, "third property", err, image.TooLarge, "The limit has been exceeded on the number of allowed image properties. Attempted: 3, Maximum: 2")
		_, err = svc.Update(ctx, owner, img.ID, func(img *image.Image) error {
			img.Tags = []string{"x", "z"}
			return nil
		}, 3)
		wantErr(t, "3 tags sent", err, image.TooLarge, "The limit has been exceeded on the number of allowed image tags. Attempted: 3, Maximum: 2")
		err = svc.AddTag(ctx, owner, img.ID, "z")
		wantErr(t, "third tag", err, image.TooLarge, "Image tag limit exceeded for image "+img.ID+": The limit has been exceeded on the number of allowed image tags. Attempted: 3, Maximum: 2:")
		if diff := cmp.Diff(before, stored(t, db, img.ID)); diff != "" {
			t.Errorf("refused edits changed the image (-before +after):\n%s", diff)
		}

		// At the limit, edits that add nothing pass.
		if err := svc.AddTag(ctx, owner, img.ID, "x"); err != nil {
			t.Errorf("adding a tag the image has: %v", err)
		}
		if _, err := svc.Update(ctx, owner, img.ID, func(img *image.Image) error {
			img.Properties["a"] = image.Str("changed")
			return nil
		}, -1); err != nil {
			t.Errorf("changing a property value at the limit: %v", err)
		}
		if got := stored(t, db, img.ID).Properties["a"]; got == nil || *got != "changed" {
			t.Errorf("property a: got %v, want changed", got)
		}
	})

	t.Run("lowered quota", func(t *testing.T) {
		img := mustCreate(t, svc, owner, &image.Image{Properties: props("a", "b"), Tags: []string{"x", "y"}})
		// The same catalog served with smaller quotas, as after a restart.
		lower := imageops.New(db, imageops.Limits{Properties: 1, Tags: 1, Members: 1})
		if _, err := lower.Update(ctx, owner, img.ID, setName("renamed"), -1); err != nil {
			t.Errorf("renaming an image over the lowered quota: %v", err)
		}
		if err := lower.DeleteTag(ctx, owner, img.ID, "x"); err != nil {
			t.Errorf("removing a tag: %v", err)
		}
		_, err := lower.Update(ctx, owner, img.ID, func(img *image.Image) error {
			img.Properties["c"] = image.Str("v")
			return nil
		}, -1)
		wantErr(t, "adding a property over the lowered quota", err, image.TooLarge, "The limit has been exceeded on the number of allowed image properties. Attempted: 3, Maximum: 1")
		got := stored(t, db, img.ID)
		if got.Name == nil || *got.Name != "renamed" || !slices.Equal(got.Tags, []string{"y"}) || len(got.Properties) != 2 {
			t.Errorf("stored name/tags/properties: got %v/%v/%d, want renamed/[y]/2", got.Name, got.Tags, len(got.Properties))
		}
	})

	t.Run("members", func(t *testing.T) {
		img := mustCreate(t, svc, owner, &image.Image{})
		if _, err := svc.AddMember(ctx, owner, img.ID, "B"); err != nil {
			t.Fatalf("first member: %v", err)
		}
		_, err := svc.AddMember(ctx, owner, img.ID, "C")
		wantErr(t, "second member", err, image.TooLarge, "Image member limit exceeded for image "+img.ID+": The limit has been exceeded on the number of allowed image members for this image. Attempted: 2, Maximum: 1:")
		ms, err := db.ListMembers(ctx, img.ID)
		if err != nil || len(ms) != 1 || ms[0].MemberID != "B" {
			t.Errorf("stored members: got %v, %v, want only B", ms, err)
		}
		// Only live memberships count.
		if err := svc.DeleteMember(ctx, owner, img.ID, "B"); err != nil {
			t.Fatalf("DeleteMember: %v", err)
		}
		if _, err := svc.AddMember(ctx, owner, img.ID, "C"); err != nil {
			t.Errorf("member after a removal: %v", err)
		}
	})

	t.Run("zero and unlimited", func(t *testing.T) {
		zero := imageops.New(db, imageops.Limits{})
		img := mustCreate(t, svc, owner, &image.Image{})
		err := zero.AddTag(ctx, owner, img.ID, "x")
		wantErr(t, "tag with quota 0", err, image.TooLarge, "Image tag limit exceeded for image "+img.ID+": The limit has been exceeded on the number of allowed image tags. Attempted: 1, Maximum: 0:")
		_, err = zero.AddMember(ctx, owner, img.ID, "B")
		wantErr(t, "member with quota 0", err, image.TooLarge, "Image member limit exceeded for image "+img.ID+": The limit has been exceeded on the number of allowed image members for this image. Attempted: 1, Maximum: 0:")

		free := imageops.New(db, unlimited)
		many := map[string]*string{}
		var tags []string
		for i := range 200 {
			many[fmt.Sprintf("p%03d", i)] = image.Str("v")
			tags = append(tags, fmt.Sprintf("t%03d", i))
		}
		img = mustCreate(t, free, owner, &image.Image{Properties: many, Tags: tags})
		if got := stored(t, db, img.ID); len(got.Properties) != 200 || len(got.Tags) != 200 {
			t.Errorf("unlimited: stored %d properties and %d tags, want 200 and 200", len(got.Properties), len(got.Tags))
		}
	})
}

func TestUpdateAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db := openCatalog(t)
	svc := imageops.New(db, imageops.Limits{Properties: 3, Tags: 3, Members: -1})
	owner := member("A")
	img := mustCreate(t, svc, owner, &image.Image{
		Name:       image.Str("orig"),
		Properties: map[string]*string{"a": image.Str("1")},
		Tags:       []string{"t1"},
	})
	before := stored(t, db, img.ID)

	// everything edits every part of the image before its outcome is known.
	everything := func(img *image.Image) {
		img.Name = image.Str("new")
		img.MinRAM = 512
		img.Protected = true
		delete(img.Properties, "a")
		img.Properties["b"] = image.Str("2")
		img.Tags = append(img.Tags[:0], "t2")
	}
	refusal := image.E("test", image.Invalid, "refused")

	cases := []struct {
		name   string
		caller *auth.Context
		change imageops.Change
		kind   image.Kind
		msg    string
	}{
		{name: "change refuses", caller: owner, change: func(img *image.Image) error {
			everything(img)
			return refusal
		}, kind: image.Invalid, msg: "refused"},
		{name: "property quota after the change", caller: owner, change: func(img *image.Image) error {
			everything(img)
			for _, k := range []string{"c", "d", "e"} {
				img.Properties[k] = image.Str("v")
			}
			return nil
		}, kind: image.TooLarge, msg: "The limit has been exceeded on the number of allowed image properties. Attempted: 4, Maximum: 3"},
		{name: "owner change by a member", caller: owner, change: func(img *image.Image) error {
			everything(img)
			img.Owner = image.Str("B")
			return nil
		}, kind: image.Forbidden, msg: ""},
		{name: "publicize by a member", caller: owner, change: func(img *image.Image) error {
			everything(img)
			img.Visibility = image.Public
			return nil
		}, kind: image.Forbidden, msg: "You are not authorized to complete publicize_image action."},
		{name: "not the owner", caller: member("B"), change: func(img *image.Image) error {
			everything(img)
			return nil
		}, kind: image.NotFound, msg: "No image found with ID " + img.ID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Update(ctx, tc.caller, img.ID, tc.change, -1)
			wantErr(t, tc.name, err, tc.kind, tc.msg)
			if tc.kind == image.Invalid && !errors.Is(err, refusal) {
				t.Errorf("got %v, want the change's own error", err)
			}
			if diff := cmp.Diff(before, stored(t, db, img.ID)); diff != "" {
				t.Errorf("refused update stored something (-before +after):\n%s", diff)
			}
		})
	}

	t.Run("owner change detail", func(t *testing.T) {
		_, err := svc.Update(ctx, owner, img.ID, func(img *image.Image) error {
			img.Owner = image.Str("B")
			return nil
		}, -1)
		var e *image.Error
		if !errors.As(err, &e) || e.Detail != "Owner can't be updated by non admin." {
			t.Errorf("got %v, want the detail %q", err, "Owner can't be updated by non admin.")
		}
	})

	t.Run("success stores every part", func(t *testing.T) {
		got, err := svc.Update(ctx, owner, img.ID, func(img *image.Image) error {
			everything(img)
			return nil
		}, -1)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		after := stored(t, db, img.ID)
		if *after.Name != "new" || after.MinRAM != 512 || !after.Protected ||
			!cmp.Equal(after.Properties, map[string]*string{"b": image.Str("2")}) || !slices.Equal(after.Tags, []string{"t2"}) {
			t.Errorf("stored name/min_ram/protected/properties/tags: got %q/%d/%v/%v/%v, want new/512/true/map[b:2]/[t2]",
				*after.Name, after.MinRAM, after.Protected, after.Properties, after.Tags)
		}
		if !after.UpdatedAt.Equal(got.UpdatedAt.Truncate(time.Microsecond)) || after.UpdatedAt.Before(before.UpdatedAt) {
			t.Errorf("updated_at: got %v, want the update's time %v (not before %v)", after.UpdatedAt, got.UpdatedAt, before.UpdatedAt)
		}
		if !after.CreatedAt.Equal(before.CreatedAt) {
			t.Errorf("created_at moved: got %v, want %v", after.CreatedAt, before.CreatedAt)
		}
	})
}

// allowedRace reports whether err is one a request may meet when others
// change the same image meanwhile.
func allowedRace(err error) bool {
	return err == nil || image.Is(image.Conflict, err) || image.Is(image.NotFound, err)
}

func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	db := openCatalog(t)
	svc := imageops.New(db, unlimited)
	owner := member("A")
	img := mustCreate(t, svc, owner, &image.Image{Name: image.Str("orig")})

	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				_, errs[i] = svc.Update(ctx, owner, img.ID, func(img *image.Image) error {
					img.Name = image.Str(fmt.Sprintf("n%d", i))
					img.Properties[fmt.Sprintf("p%d", i)] = image.Str("v")
					return nil
				}, -1)
			} else {
				errs[i] = svc.AddTag(ctx, owner, img.ID, fmt.Sprintf("t%d", i))
			}
		})
	}
	wg.Wait()

	got := stored(t, db, img.ID)
	names := []string{"orig"}
	for i, err := range errs {
		if err != nil && !image.Is(image.Conflict, err) {
			t.Errorf("request %d: got %v, want success or a conflict", i, err)
		}
		if i%2 == 0 {
			key := fmt.Sprintf("p%d", i)
			if _, ok := got.Properties[key]; ok != (err == nil) {
				t.Errorf("request %d: property %s stored=%v, want stored=%v (error %v)", i, key, ok, err == nil, err)
			}
			if err == nil {
				names = append(names, fmt.Sprintf("n%d", i))
			}
		} else {
			tag := fmt.Sprintf("t%d", i)
			if ok := slices.Contains(got.Tags, tag); ok != (err == nil) {
				t.Errorf("request %d: tag %s stored=%v, want stored=%v (error %v)", i, tag, ok, err == nil, err)
			}
		}
	}
	if !slices.Contains(names, *got.Name) {
		t.Errorf("name: got %q, want one of %q", *got.Name, names)
	}
	if got.Status != image.Queued {
		t.Errorf("status: got %q, want queued", got.Status)
	}
}

func TestConcurrentDeletes(t *testing.T) {
	ctx := context.Background()
	db := openCatalog(t)
	svc := imageops.New(db, unlimited)
	owner := member("A")
	img := mustCreate(t, svc, owner, &image.Image{})

	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = svc.Delete(ctx, owner, img.ID) })
	}
	wg.Wait()

	deleted := 0
	for i, err := range errs {
		switch {
		case err == nil:
			deleted++
		case image.Is(image.NotFound, err), image.Is(image.Conflict, err):
		default:
			t.Errorf("delete %d: got %v, want success, not found or conflict", i, err)
		}
	}
	if deleted != 1 {
		t.Errorf("successful deletes: got %d, want 1", deleted)
	}
	_, err := svc.Get(ctx, owner, img.ID)
	wantErr(t, "Get after the deletes", err, image.NotFound, "No image found with ID "+img.ID)
}

func TestConcurrentMixed(t *testing.T) {
	ctx := context.Background()
	db := openCatalog(t)
	svc := imageops.New(db, unlimited)
	owner := member("A")
	img := mustCreate(t, svc, owner, &image.Image{})
	if err := db.SetStatus(ctx, img.ID, image.Queued, image.Active); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}

	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			switch i % 5 {
			case 0:
				_, errs[i] = svc.Update(ctx, owner, img.ID, func(img *image.Image) error {
					img.Properties[fmt.Sprintf("p%d", i)] = image.Str("v")
					return nil
				}, -1)
			case 1:
				errs[i] = svc.AddTag(ctx, owner, img.ID, fmt.Sprintf("t%d", i))
			case 2:
				errs[i] = svc.Deactivate(ctx, owner, img.ID)
			case 3:
				errs[i] = svc.Reactivate(ctx, owner, img.ID)
			case 4:
				if i >= n/2 {
					errs[i] = svc.Delete(ctx, owner, img.ID)
				} else {
					_, errs[i] = svc.Get(ctx, owner, img.ID)
				}
			}
		})
	}
	wg.Wait()

	deletes := 0
	for i, err := range errs {
		if !allowedRace(err) {
			t.Errorf("request %d (kind %d): got %v, want success, conflict or not found", i, i%5, err)
		}
		if i%5 == 4 && i >= n/2 && err == nil {
			deletes++
		}
	}
	if deletes > 1 {
		t.Errorf("successful deletes: got %d, want at most 1", deletes)
	}
	got, err := db.GetImage(ctx, img.ID)
	if deletes == 1 {
		if !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("after a successful delete: GetImage got %v, want ErrNotFound", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("no delete succeeded but GetImage: %v", err)
	}
	if got.Status != image.Active && got.Status != image.Deactivated {
		t.Errorf("status: got %q, want active or deactivated", got.Status)
	}
	for i, err := range errs {
		if i%5 == 0 && err == nil {
			if _, ok := got.Properties[fmt.Sprintf("p%d", i)]; !ok {
				t.Errorf("update %d succeeded but its property is not stored", i)
			}
		}
	}
}

func TestDeleteProtected(t *testing.T) {
	ctx := context.Background()
	db := openCatalog(t)
	svc := imageops.New(db, unlimited)
	owner := member("A")
	img := mustCreate(t, svc, owner, &image.Image{Protected: true, Visibility: image.Community})

	for _, c := range []*auth.Context{owner, adminCtx} {
		err := svc.Delete(ctx, c, img.ID)
		wantErr(t, "delete protected as "+c.ProjectID, err, image.Forbidden, "Image "+img.ID+" is protected and cannot be deleted.")
	}
	err := svc.Delete(ctx, member("B"), img.ID)
	wantErr(t, "delete another project's community image", err, image.Forbidden, "You do not own this image")
	if got := stored(t, db, img.ID); got.Status != image.Queued || !got.Protected {
		t.Errorf("after refused deletes: status %q protected %v, want queued true", got.Status, got.Protected)
	}

	hidden := mustCreate(t, svc, owner, &image.Image{Visibility: image.Private})
	err = svc.Delete(ctx, member("B"), hidden.ID)
	wantErr(t, "delete another project's private image", err, image.NotFound, "No image found with ID "+hidden.ID)

	if _, err := svc.Update(ctx, owner, img.ID, func(img *image.Image) error {
		img.Protected = false
		return nil
	}, -1); err != nil {
		t.Fatalf("unprotect: %v", err)
	}
	if err := svc.Delete(ctx, owner, img.ID); err != nil {
		t.Fatalf("delete unprotected: %v", err)
	}
	_, err = svc.Get(ctx, adminCtx, img.ID)
	wantErr(t, "Get after delete", err, image.NotFound, "No image found with ID "+img.ID)
	err = svc.Delete(ctx, owner, img.ID)
	wantErr(t, "delete twice", err, image.NotFound, "No image found with ID "+img.ID)
}

func TestDeactivateReactivate(t *testing.T) {
	ctx := context.Background()
	db := openCatalog(t)
	svc := imageops.New(db, unlimited)
	owner := member("A")

	status := func(t *testing.T, id string, want image.Status) {
		t.Helper()
		if got := stored(t, db, id).Status; got != want {
			t.Errorf("status: got %q, want %q", got, want)
		}
	}

	t.Run("active and deactivated", func(t *testing.T) {
		img := mustCreate(t, svc, owner, &image.Image{Visibility: image.Community})
		if err := db.SetStatus(ctx, img.ID, image.Queued, image.Active); err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
		steps := []struct {
			name   string
			caller *auth.Context
			do     func(context.Context, *auth.Context, string) error
			kind   image.Kind // Internal: no error
			msg    string
			after  image.Status
		}{
			{"reactivate active", owner, svc.Reactivate, image.Internal, "", image.Active},
			{"deactivate by another project", member("B"), svc.Deactivate, image.Forbidden, "You do not own this image", image.Active},
			{"deactivate", owner, svc.Deactivate, image.Internal, "", image.Deactivated},
			{"deactivate again", owner, svc.Deactivate, image.Internal, "", image.Deactivated},
			{"reactivate by another project", member("B"), svc.Reactivate, image.Forbidden, "You do not own this image", image.Deactivated},
			{"reactivate", owner, svc.Reactivate, image.Internal, "", image.Active},
			{"reactivate again", owner, svc.Reactivate, image.Internal, "", image.Active},
			{"deactivate by admin", adminCtx, svc.Deactivate, image.Internal, "", image.Deactivated},
			{"reactivate by admin", adminCtx, svc.Reactivate, image.Internal, "", image.Active},
		}
		for _, s := range steps {
			err := s.do(ctx, s.caller, img.ID)
			if s.kind == image.Internal {
				if err != nil {
					t.Errorf("%s: got %v, want success", s.name, err)
				}
			} else {
				wantErr(t, s.name, err, s.kind, s.msg)
			}
			if got := stored(t, db, img.ID).Status; got != s.after {
				t.Errorf("%s: status %q, want %q", s.name, got, s.after)
			}
		}
	})

	t.Run("invisible", func(t *testing.T) {
		img := mustCreate(t, svc, owner, &image.Image{Visibility: image.Private})
		if err := db.SetStatus(ctx, img.ID, image.Queued, image.Active); err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
		err := svc.Deactivate(ctx, member("B"), img.ID)
		wantErr(t, "deactivate invisible", err, image.NotFound, "No image found with ID "+img.ID)
		status(t, img.ID, image.Active)
	})

	for _, st := range []image.Status{image.Queued, image.Saving, image.Uploading, image.Importing, image.Killed, image.PendingDelete} {
		t.Run(string(st), func(t *testing.T) {
			img := mustCreate(t, svc, owner, &image.Image{})
			if st != image.Queued {
				if err := db.SetStatus(ctx, img.ID, image.Queued, st); err != nil {
					t.Fatalf("SetStatus: %v", err)
				}
			}
			for _, c := range []*auth.Context{owner, adminCtx} {
				err := svc.Deactivate(ctx, c, img.ID)
				wantErr(t, "deactivate", err, image.Forbidden, fmt.Sprintf("Not allowed to deactivate image in status '%s'", st))
				err = svc.Reactivate(ctx, c, img.ID)
				wantErr(t, "reactivate", err, image.Forbidden, fmt.Sprintf("Not allowed to reactivate image in status '%s'", st))
			}
			status(t, img.ID, st)
		})
	}

	t.Run("deleted", func(t *testing.T) {
		img := mustCreate(t, svc, owner, &image.Image{})
		if err := svc.Delete(ctx, owner, img.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantErr(t, "deactivate deleted", svc.Deactivate(ctx, owner, img.ID), image.NotFound, "No image found with ID "+img.ID)
		wantErr(t, "reactivate deleted", svc.Reactivate(ctx, owner, img.ID), image.NotFound, "No image found with ID "+img.ID)
	})
}
