package v2_test

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
)

// A character outside the Basic Multilingual Plane (four bytes in UTF-8).
const emoji = "\U0001F600"

func TestFourByteCreateRefused(t *testing.T) {
	h := newHarness(t, false, nil)
	admin := h.admin()
	admin.createImage(t, map[string]any{"name": "before"})
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  string
	}{
		{"name", map[string]any{"name": "a" + emoji + "b"}, "Name can't contain 4 byte unicode characters."},
		{"owner", map[string]any{"name": "x", "owner": emoji}, "Owner can't contain 4 byte unicode characters."},
		{"property value", map[string]any{"name": "x", "os_distro": emoji}, "Os_Distro can't contain 4 byte unicode characters."},
		{"property value, key title-cased", map[string]any{"hw-disk_bus2x": "v" + emoji}, "Hw-Disk_Bus2X can't contain 4 byte unicode characters."},
		{"property name", map[string]any{"name": "x", "k" + emoji: "v"}, "Property names can't contain 4 byte unicode."},
		{"tag", map[string]any{"name": "x", "tags": []string{"ok", "t" + emoji}}, "Param values can't contain 4 byte unicode."},
		{"name before properties and tags", map[string]any{"name": emoji, "zz": emoji, "tags": []string{emoji}}, "Name can't contain 4 byte unicode characters."},
		{"owner before properties", map[string]any{"owner": emoji, "b": emoji}, "Owner can't contain 4 byte unicode characters."},
		{"properties before tags", map[string]any{"name": "ok", "zzz": emoji, "tags": []string{emoji}}, "Zzz can't contain 4 byte unicode characters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.catalogState(t)
			admin.json(t, "POST", "/v2/images", tc.attrs).wantError(t, "create", http.StatusBadRequest, tc.want, "")
			if after := h.catalogState(t); !bytes.Equal(after, before) {
				t.Errorf("a refused create changed the catalog:\ngot  %s\nwant %s", after, before)
			}
		})
	}
}

func TestFourByteHTMLBody(t *testing.T) {
	h := newHarness(t, false, nil)
	r := h.admin().json(t, "POST", "/v2/images", map[string]any{"name": emoji}, "Accept", "*/*")
	if r.Status != http.StatusBadRequest {
		t.Fatalf("got status %d, want 400", r.Status)
	}
	if want := "Name can&#x27;t contain 4 byte unicode characters.<br /><br />"; !bytes.Contains(r.Body, []byte(want)) {
		t.Errorf("got body %s, want it to contain %q", r.Body, want)
	}
}

func TestFourByteOthersStored(t *testing.T) {
	h := newHarness(t, false, nil)
	// Every other character, the last of the BMP included, is stored.
	name := "é中\uffff"
	img := h.admin().createImage(t, map[string]any{"name": name, "p": name, "tags": []string{name}})
	if img["name"] != name || img["p"] != name {
		t.Errorf("got name %q, p %q, want %q", img["name"], img["p"], name)
	}
	if tags, _ := img["tags"].([]any); len(tags) != 1 || tags[0] != name {
		t.Errorf("got tags %v, want [%s]", img["tags"], name)
	}
}

func TestFourBytePatchRefused(t *testing.T) {
	h := newHarness(t, false, nil)
	admin := h.admin()
	id := admin.createImage(t, map[string]any{"name": "p", "keep": "1", "tags": []string{"t1"}})["id"].(string)
	for _, tc := range []struct {
		name string
		ops  []map[string]any
		want string
	}{
		{"name", []map[string]any{{"op": "replace", "path": "/name", "value": "n" + emoji}}, "Name can't contain 4 byte unicode characters."},
		{"new property", []map[string]any{{"op": "add", "path": "/foo", "value": "n" + emoji}}, "Foo can't contain 4 byte unicode characters."},
		{"property name", []map[string]any{{"op": "add", "path": "/f" + emoji, "value": "n"}}, "Property names can't contain 4 byte unicode."},
		{"replaced property", []map[string]any{{"op": "replace", "path": "/keep", "value": emoji}}, "Keep can't contain 4 byte unicode characters."},
		// Nothing of the edit is kept, the valid change included.
		{"tags with another change", []map[string]any{
			{"op": "replace", "path": "/name", "value": "changed"},
			{"op": "replace", "path": "/tags", "value": []string{"a", emoji}},
		}, "Param values can't contain 4 byte unicode."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.getRaw(t, id)
			admin.patch(t, id, tc.ops...).wantError(t, "patch", http.StatusBadRequest, tc.want, "")
			if after := h.getRaw(t, id); !bytes.Equal(after, before) {
				t.Errorf("a refused edit changed the image:\ngot  %s\nwant %s", after, before)
			}
		})
	}
}

func TestFourByteTagRefused(t *testing.T) {
	h := newHarness(t, false, nil)
	admin := h.admin()
	id := admin.createImage(t, map[string]any{"name": "t", "tags": []string{"t1"}})["id"].(string)
	before := h.getRaw(t, id)
	admin.do(t, "PUT", "/v2/images/"+id+"/tags/"+url.PathEscape("x"+emoji), "").
		wantError(t, "PUT tag", http.StatusBadRequest, "Could not update image: Param values can't contain 4 byte unicode.", "")
	if after := h.getRaw(t, id); !bytes.Equal(after, before) {
		t.Errorf("a refused tag changed the image:\ngot  %s\nwant %s", after, before)
	}
	// A three-byte character is a tag like any other.
	admin.do(t, "PUT", "/v2/images/"+id+"/tags/"+url.PathEscape("中"), "").want(t, "PUT tag", http.StatusNoContent)
}

func TestFourByteMemberRefused(t *testing.T) {
	h := newHarness(t, true, nil)
	owner := h.as("owner", "member")
	id := owner.createImage(t, map[string]any{"name": "m", "visibility": "shared"})["id"].(string)
	owner.json(t, "POST", "/v2/images/"+id+"/members", map[string]any{"member": "m" + emoji}).
		wantError(t, "add member", http.StatusBadRequest, "Member can't contain 4 byte unicode characters.", "")
	r := owner.do(t, "GET", "/v2/images/"+id+"/members", "").want(t, "list members", http.StatusOK)
	if members, _ := r.object(t)["members"].([]any); len(members) != 0 {
		t.Errorf("got members %v after a refused add, want none", members)
	}
	owner.json(t, "POST", "/v2/images/"+id+"/members", map[string]any{"member": "中"}).want(t, "add member", http.StatusOK)
}

func TestFourByteLocationRefused(t *testing.T) {
	e := newLocEnv(t, false, nil)
	admin := e.admin()
	bad := e.src.put("/x"+emoji, []byte("hello"))
	good := e.src.put("/plain", []byte("hello"))
	id := admin.newRawImage(t)
	for _, tc := range []struct {
		name string
		op   map[string]any
		want string
	}{
		{"url", addLocation("/locations/-", bad, nil), "Url can't contain 4 byte unicode characters."},
		{"metadata value", addLocation("/locations/-", good, map[string]any{"k": emoji}), "K can't contain 4 byte unicode characters."},
		{"metadata key", addLocation("/locations/-", good, map[string]any{"k" + emoji: "v"}), "Property names can't contain 4 byte unicode."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.getRaw(t, id)
			admin.patch(t, id, tc.op).wantError(t, "add location", http.StatusBadRequest, tc.want, "")
			if after := e.getRaw(t, id); !bytes.Equal(after, before) {
				t.Errorf("a refused location changed the image:\ngot  %s\nwant %s", after, before)
			}
		})
	}
}
