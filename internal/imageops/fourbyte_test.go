package imageops_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// A character outside the Basic Multilingual Plane (four bytes in UTF-8).
const emoji = "\U0001F600"

// wantFourByte checks a refusal of a four-byte character.
func wantFourByte(t *testing.T, what string, err error, msg string) {
	t.Helper()
	wantErr(t, what, err, image.Invalid, msg)
	if err != nil && !errors.Is(err, imageops.ErrFourByteUnicode) {
		t.Errorf("%s: got %v, want it to wrap ErrFourByteUnicode", what, err)
	}
}

// liveImages lists every image the catalog shows an admin.
func liveImages(t *testing.T, svc *imageops.Service) []*image.Image {
	t.Helper()
	imgs, _, err := svc.List(context.Background(), adminCtx, &catalog.ListQuery{Visibility: "all", MemberStatus: "all", Limit: -1,
		Sort: []catalog.SortKey{{Key: "created_at"}, {Key: "id"}}})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return imgs
}

func TestFourByteCreate(t *testing.T) {
	svc := imageops.New(openCatalog(t), imageops.Limits{Properties: 2, Tags: -1, Members: -1})
	mustCreate(t, svc, adminCtx, &image.Image{Name: image.Str("before")})
	props := func(kv ...string) map[string]*string {
		m := map[string]*string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = image.Str(kv[i+1])
		}
		return m
	}
	for _, tc := range []struct {
		name string
		in   *image.Image
		kind image.Kind
		msg  string
	}{
		{"name", &image.Image{Name: image.Str(emoji)}, image.Invalid, "Name can't contain 4 byte unicode characters."},
		{"checksum", &image.Image{Checksum: image.Str(emoji)}, image.Invalid, "Checksum can't contain 4 byte unicode characters."},
		{"owner", &image.Image{Owner: image.Str(emoji)}, image.Invalid, "Owner can't contain 4 byte unicode characters."},
		{"property name", &image.Image{Properties: props("k"+emoji, "v")}, image.Invalid, "Property names can't contain 4 byte unicode."},
		{"tag", &image.Image{Tags: []string{"a", emoji}}, image.Invalid, "Param values can't contain 4 byte unicode."},
		{"name before owner", &image.Image{Name: image.Str(emoji), Owner: image.Str(emoji)}, image.Invalid, "Name can't contain 4 byte unicode characters."},
		{"owner before properties", &image.Image{Owner: image.Str(emoji), Properties: props("a", emoji)}, image.Invalid, "Owner can't contain 4 byte unicode characters."},
		{"properties before tags", &image.Image{Properties: props("a", emoji), Tags: []string{emoji}}, image.Invalid, "A can't contain 4 byte unicode characters."},
		{"a property's name before its value", &image.Image{Properties: props("k"+emoji, emoji)}, image.Invalid, "Property names can't contain 4 byte unicode."},
		// The quota is checked first, as in Glance.
		{"over the property quota", &image.Image{Properties: props("a", emoji, "b", "1", "c", "2")}, image.TooLarge,
			"The limit has been exceeded on the number of allowed image properties. Attempted: 3, Maximum: 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := liveImages(t, svc)
			_, err := svc.Create(context.Background(), adminCtx, tc.in, len(tc.in.Tags))
			if tc.kind == image.Invalid {
				wantFourByte(t, "create", err, tc.msg)
			} else {
				wantErr(t, "create", err, tc.kind, tc.msg)
			}
			if diff := cmp.Diff(before, liveImages(t, svc)); diff != "" {
				t.Errorf("images changed by a refused create (-before +after):\n%s", diff)
			}
		})
	}
}

// The property's name shows title-cased, as Python's str.title makes it.
func TestFourBytePropertyNameTitleCased(t *testing.T) {
	svc := imageops.New(openCatalog(t), unlimited)
	for key, want := range map[string]string{
		"os_distro":     "Os_Distro",
		"hw-disk_bus2x": "Hw-Disk_Bus2X",
		"ABC":           "Abc",
		"é中x":           "É中X",
		"a1b":           "A1B",
		"x_Y z":         "X_Y Z",
		"ǆa":            "ǅa",
		"DéJà vu":       "Déjà Vu",
		"k8s:node":      "K8S:Node",
	} {
		_, err := svc.Create(context.Background(), adminCtx, &image.Image{Properties: map[string]*string{key: image.Str(emoji)}}, 0)
		wantFourByte(t, key, err, want+" can't contain 4 byte unicode characters.")
	}
}

func TestFourByteUpdate(t *testing.T) {
	db := openCatalog(t)
	svc := imageops.New(db, unlimited)
	img := mustCreate(t, svc, adminCtx, &image.Image{Name: image.Str("keep"), Tags: []string{"t"},
		Properties: map[string]*string{"p": image.Str("1")}})
	before := stored(t, db, img.ID)
	for _, tc := range []struct {
		name   string
		change imageops.Change
		msg    string
	}{
		{"name", setName("x" + emoji), "Name can't contain 4 byte unicode characters."},
		{"property", func(i *image.Image) error { i.Properties["p"] = image.Str(emoji); return nil }, "P can't contain 4 byte unicode characters."},
		{"tag with a name", func(i *image.Image) error {
			i.Name = image.Str("changed")
			i.Tags = append(i.Tags, emoji)
			return nil
		}, "Param values can't contain 4 byte unicode."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Update(context.Background(), adminCtx, img.ID, tc.change, -1)
			wantFourByte(t, "update", err, tc.msg)
			if diff := cmp.Diff(before, stored(t, db, img.ID)); diff != "" {
				t.Errorf("image changed by a refused update (-before +after):\n%s", diff)
			}
		})
	}
	err := svc.AddTag(context.Background(), adminCtx, img.ID, "t"+emoji)
	wantFourByte(t, "add tag", err, "Param values can't contain 4 byte unicode.")
	if diff := cmp.Diff(before, stored(t, db, img.ID)); diff != "" {
		t.Errorf("image changed by a refused tag (-before +after):\n%s", diff)
	}
}

func TestFourByteMembers(t *testing.T) {
	db := openCatalog(t)
	svc := imageops.New(db, unlimited)
	owner := member("owner")
	img := mustCreate(t, svc, owner, &image.Image{Visibility: image.Shared})
	ctx := context.Background()
	if _, err := svc.AddMember(ctx, owner, img.ID, "p2"); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	memberIDs := func() []string {
		ms, err := db.ListMembers(ctx, img.ID)
		if err != nil {
			t.Fatalf("ListMembers: %v", err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.MemberID)
		}
		return out
	}
	want := []string{"p2"}
	const msg = "Member can't contain 4 byte unicode characters."

	_, err := svc.AddMember(ctx, owner, img.ID, "m"+emoji)
	wantFourByte(t, "AddMember", err, msg)
	err = svc.SetV1Member(ctx, owner, img.ID, "m"+emoji, nil)
	wantFourByte(t, "SetV1Member", err, msg)
	// The replacement would remove p2: refused, it keeps it.
	err = svc.ReplaceV1Members(ctx, owner, img.ID, []imageops.V1Membership{{MemberID: "p3"}, {MemberID: "m" + emoji}})
	wantFourByte(t, "ReplaceV1Members", err, msg)
	if diff := cmp.Diff(want, memberIDs()); diff != "" {
		t.Errorf("members changed by refusals (-want +got):\n%s", diff)
	}
}

// Only code points above U+FFFF are refused.
func TestFourByteBMPStored(t *testing.T) {
	db := openCatalog(t)
	svc := imageops.New(db, unlimited)
	s := "é中\uffff"
	img := mustCreate(t, svc, adminCtx, &image.Image{Name: image.Str(s), Tags: []string{s}, Properties: map[string]*string{s: image.Str(s)}})
	got := stored(t, db, img.ID)
	if *got.Name != s || len(got.Tags) != 1 || got.Tags[0] != s || got.Properties[s] == nil || *got.Properties[s] != s {
		t.Errorf("got name %q, tags %q, properties %v; want %q everywhere", *got.Name, got.Tags, got.Properties, s)
	}
	if _, err := svc.AddMember(context.Background(), &auth.Context{IsAdmin: true}, img.ID, s); err != nil {
		t.Errorf("AddMember %q: %v", s, err)
	}
}
