package catalogtest

import (
	"errors"
	"maps"
	"slices"

	"glimpse/internal/catalog"
)

// testNamesThatCollate: property names and tags that differ only in case,
// accents or a trailing blank. Databases whose Glance tables compare such
// text as equal (MySQL's utf8mb3_general_ci) may refuse a property whose
// name collides with a live one — ErrInvalid, nothing stored — but no
// catalog may let one overwrite or remove the other. Tags have no unique
// key in Glance's schema, so every catalog keeps both spellings.
func testNamesThatCollate(e *env) {
	pairs := [][2]string{{"Foo", "foo"}, {"u", "ü"}, {"k", "k "}}
	for _, p := range pairs {
		// Both at once, in one create.
		img := e.newImage(withProps(p[0], "first", p[1], "second"))
		err := e.cat.CreateImage(e.ctx, img.Clone())
		switch {
		case errors.Is(err, catalog.ErrInvalid):
			if _, gerr := e.cat.GetImage(e.ctx, img.ID); !errors.Is(gerr, catalog.ErrNotFound) {
				e.Errorf("create with %q and %q refused, but the image is there (%v)", p[0], p[1], gerr)
			}
		case err != nil:
			e.Errorf("create with %q and %q: got %v, want nil or ErrInvalid", p[0], p[1], err)
		default:
			got := e.get(img.ID).Properties
			if len(got) != 2 || got[p[0]] == nil || *got[p[0]] != "first" || got[p[1]] == nil || *got[p[1]] != "second" {
				e.Errorf("create with %q and %q: got properties %v, want both as given", p[0], p[1], keysVals(got))
			}
		}

		// The second spelling added later, then removed.
		old := e.create(withProps(p[0], "kept"))
		upd := old.Clone()
		upd.Properties[p[1]] = str("added")
		err = e.cat.UpdateImage(e.ctx, old, upd)
		if err != nil && !errors.Is(err, catalog.ErrInvalid) {
			e.Errorf("add %q beside %q: got %v, want nil or ErrInvalid", p[1], p[0], err)
			continue
		}
		got := e.get(old.ID).Properties
		if got[p[0]] == nil || *got[p[0]] != "kept" {
			e.Errorf("add %q beside %q (err %v): got properties %v, want %q kept", p[1], p[0], err, keysVals(got), p[0])
		}
		if err == nil {
			if got[p[1]] == nil || *got[p[1]] != "added" {
				e.Errorf("add %q beside %q: got properties %v, want it added", p[1], p[0], keysVals(got))
			}
			cur := e.get(old.ID)
			rm := cur.Clone()
			delete(rm.Properties, p[1])
			e.update(cur, rm)
			if got := e.get(old.ID).Properties; len(got) != 1 || got[p[0]] == nil || *got[p[0]] != "kept" {
				e.Errorf("remove %q beside %q: got properties %v, want only %q", p[1], p[0], keysVals(got), p[0])
			}
		}
	}

	// Tags: both spellings kept, removing one leaves the other.
	old := e.create(tagged("Beta"))
	upd := old.Clone()
	upd.Tags = []string{"Beta", "beta", "Beta "}
	e.update(old, upd)
	got := e.get(old.ID).Tags
	slices.Sort(got)
	if want := []string{"Beta", "Beta ", "beta"}; !slices.Equal(got, want) {
		e.Errorf("tags: got %q, want %q", got, want)
	}
	cur := e.get(old.ID)
	rm := cur.Clone()
	rm.Tags = []string{"Beta"}
	e.update(cur, rm)
	if got := e.get(old.ID).Tags; !slices.Equal(got, []string{"Beta"}) {
		e.Errorf("tags after removing beta and \"Beta \": got %q, want [Beta]", got)
	}
}

func keysVals(m map[string]*string) map[string]string {
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] == nil {
			out[k] = "<nil>"
		} else {
			out[k] = *m[k]
		}
	}
	return out
}
