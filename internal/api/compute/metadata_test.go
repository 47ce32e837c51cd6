package compute_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/api/compute"
	"glimpse/internal/image"
)

// propsOf reads the image's stored properties through imageops.
func propsOf(t *testing.T, h *harness, c caller, id string) map[string]string {
	t.Helper()
	img, err := h.ops.Get(context.Background(), c.ctx(), id)
	if err != nil {
		t.Fatalf("imageops.Get: %v", err)
	}
	out := map[string]string{}
	for k, v := range img.Properties {
		if v == nil {
			out[k] = "<nil>"
		} else {
			out[k] = *v
		}
	}
	return out
}

func TestMetadataEndpoints(t *testing.T) {
	base := "/v2.1/images/" + imgID + "/metadata"
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		status     int
		want       string // response body; "" for none
		wantStored map[string]string
	}{
		{"list", "GET", base, "", 200, `{"metadata": {"a": "1", "b": "2"}}`, map[string]string{"a": "1", "b": "2"}},
		{"show key", "GET", base + "/b", "", 200, `{"meta": {"b": "2"}}`, map[string]string{"a": "1", "b": "2"}},
		{"show missing key", "GET", base + "/zz", "", 404, faultBody("itemNotFound", 404, "The resource could not be found."), nil},
		{"create merges", "POST", base, `{"metadata": {"b": "20", "c": "3"}}`, 200,
			`{"metadata": {"a": "1", "b": "20", "c": "3"}}`, map[string]string{"a": "1", "b": "20", "c": "3"}},
		{"create with nothing", "POST", base, `{"metadata": {}}`, 200,
			`{"metadata": {"a": "1", "b": "2"}}`, map[string]string{"a": "1", "b": "2"}},
		{"replace all", "PUT", base, `{"metadata": {"z": "26", "b": "2"}}`, 200,
			`{"metadata": {"z": "26", "b": "2"}}`, map[string]string{"b": "2", "z": "26"}},
		{"replace with nothing", "PUT", base, `{"metadata": {}}`, 200, `{"metadata": {}}`, map[string]string{}},
		{"put new key", "PUT", base + "/c", `{"meta": {"c": "3"}}`, 200, `{"meta": {"c": "3"}}`,
			map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"put existing key", "PUT", base + "/a", `{"meta": {"a": "one"}}`, 200, `{"meta": {"a": "one"}}`,
			map[string]string{"a": "one", "b": "2"}},
		{"put key mismatch", "PUT", base + "/a", `{"meta": {"b": "x"}}`, 400,
			faultBody("badRequest", 400, "Request body and URI mismatch"), map[string]string{"a": "1", "b": "2"}},
		{"delete key", "DELETE", base + "/a", "", 204, "", map[string]string{"b": "2"}},
		{"delete missing key", "DELETE", base + "/zz", "", 404, faultBody("itemNotFound", 404, "Invalid metadata key"),
			map[string]string{"a": "1", "b": "2"}},
		{"keys with allowed punctuation", "POST", base, `{"metadata": {"hw:cpu_policy": "dedicated", "a-b.c d": "x"}}`, 200,
			`{"metadata": {"a": "1", "a-b.c d": "x", "b": "2", "hw:cpu_policy": "dedicated"}}`,
			map[string]string{"a": "1", "a-b.c d": "x", "b": "2", "hw:cpu_policy": "dedicated"}},
		{"list of missing image", "GET", "/v2.1/images/" + srvID + "/metadata", "", 404, faultBody("itemNotFound", 404, "Image not found."), nil},
		{"create on missing image", "POST", "/v2.1/images/" + srvID + "/metadata", `{"metadata": {"a": "1"}}`, 404,
			faultBody("itemNotFound", 404, "Image not found."), nil},
		{"put key on missing image", "PUT", "/v2.1/images/" + srvID + "/metadata/a", `{"meta": {"a": "1"}}`, 404,
			faultBody("itemNotFound", 404, "Image not found."), nil},
		{"delete key on missing image", "DELETE", "/v2.1/images/" + srvID + "/metadata/a", "", 404,
			faultBody("itemNotFound", 404, "Image not found."), nil},
		{"project in URL", "GET", "/v2.1/a1a1/images/" + imgID + "/metadata", "", 200, `{"metadata": {"a": "1", "b": "2"}}`, nil},
		{"legacy v2", "POST", "/v2/a1a1/images/" + imgID + "/metadata", `{"metadata": {"c": "3"}}`, 200,
			`{"metadata": {"a": "1", "b": "2", "c": "3"}}`, map[string]string{"a": "1", "b": "2", "c": "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, compute.Config{})
			h.create(t, alice, &image.Image{ID: imgID, Properties: props("a", "1", "b", "2")})
			r := h.do(t, alice, tt.method, tt.path, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", r.Status, tt.status, r.Body)
			}
			if tt.want == "" {
				if len(r.Body) != 0 {
					t.Errorf("body = %q, want none", r.Body)
				}
			} else if !sameJSON(t, r.Body, tt.want) {
				t.Errorf("body = %s, want %s", r.Body, tt.want)
			}
			if tt.wantStored != nil {
				if diff := cmp.Diff(tt.wantStored, propsOf(t, h, alice, imgID)); diff != "" {
					t.Errorf("stored properties (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestMetadataResponseKeepsBodyOrder(t *testing.T) {
	h := newHarness(t, compute.Config{})
	h.create(t, alice, &image.Image{ID: imgID})
	r := h.do(t, alice, "PUT", "/v2.1/images/"+imgID+"/metadata", `{"metadata": {"z": "1", "a": "2"}}`)
	if got, want := string(r.Body), `{"metadata": {"z": "1", "a": "2"}}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestMetadataValidation(t *testing.T) {
	long := strings.Repeat("k", 256)
	longV := strings.Repeat("v", 256)
	tests := []struct {
		name, method, path, body string
		msg                      string
	}{
		{"value too long", "POST", "", `{"metadata": {"k": "` + longV + `"}}`,
			"Invalid input for field/attribute k. Value: " + longV + ". '" + longV + "' is too long"},
		{"value not a string", "POST", "", `{"metadata": {"k": 1}}`,
			"Invalid input for field/attribute k. Value: 1. 1 is not of type 'string'"},
		{"value null", "PUT", "", `{"metadata": {"k": null}}`,
			"Invalid input for field/attribute k. Value: None. None is not of type 'string'"},
		{"key too long", "POST", "", `{"metadata": {"` + long + `": "v"}}`,
			"Invalid input for field/attribute metadata. Value: {'" + long + "': 'v'}. '" + long + "' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'"},
		{"empty key", "POST", "", `{"metadata": {"": "v"}}`,
			"Invalid input for field/attribute metadata. Value: {'': 'v'}. '' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'"},
		{"two bad keys", "PUT", "", `{"metadata": {"b/x": "v", "a!": "w", "ok": "1"}}`,
			"Invalid input for field/attribute metadata. Value: {'b/x': 'v', 'a!': 'w', 'ok': '1'}. 'a!', 'b/x' do not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'"},
		{"value error before key error", "POST", "", `{"metadata": {"b/x": "v", "ok": 2}}`,
			"Invalid input for field/attribute ok. Value: 2. 2 is not of type 'string'"},
		{"metadata not an object", "POST", "", `{"metadata": "abc"}`,
			"Invalid input for field/attribute metadata. Value: abc. 'abc' is not of type 'object'"},
		{"metadata missing", "PUT", "", `{"meta": {}}`, "'metadata' is a required property"},
		{"extra top-level key", "POST", "", `{"metadata": {}, "x": 1}`, "Additional properties are not allowed ('x' was unexpected)"},
		{"body not an object", "POST", "", `[1, true, null]`, "[1, True, None] is not of type 'object'"},
		{"no body", "PUT", "", "", "None is not of type 'object'"},
		{"meta empty", "PUT", "/a", `{"meta": {}}`, "Invalid input for field/attribute meta. Value: {}. {} should be non-empty"},
		{"meta two keys", "PUT", "/a", `{"meta": {"a": "1", "b": "2"}}`,
			"Invalid input for field/attribute meta. Value: {'a': '1', 'b': '2'}. {'a': '1', 'b': '2'} has too many properties"},
		{"meta value too long", "PUT", "/k", `{"meta": {"k": "` + longV + `"}}`,
			"Invalid input for field/attribute k. Value: " + longV + ". '" + longV + "' is too long"},
		{"meta missing", "PUT", "/a", `{"metadata": {"a": "1"}}`, "'meta' is a required property"},
		{"malformed JSON", "POST", "", `{"metadata": `, "Malformed request body"},
		{"quotes in repr", "POST", "", `{"metadata": {"it's": "v"}}`,
			`Invalid input for field/attribute metadata. Value: {"it's": 'v'}. "it's" does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'`},
	}
	h := newHarness(t, compute.Config{})
	h.create(t, alice, &image.Image{ID: imgID, Properties: props("a", "1")})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(t, alice, tt.method, "/v2.1/images/"+imgID+"/metadata"+tt.path, tt.body)
			want := faultBody("badRequest", 400, tt.msg)
			if r.Status != 400 || !sameJSON(t, r.Body, want) {
				t.Errorf("got %d %s\nwant 400 %s", r.Status, r.Body, want)
			}
			if diff := cmp.Diff(map[string]string{"a": "1"}, propsOf(t, h, alice, imgID)); diff != "" {
				t.Errorf("a refused request changed the properties (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetadataLegacyV2Relaxed(t *testing.T) {
	h := newHarness(t, compute.Config{})
	h.create(t, alice, &image.Image{ID: imgID})
	// The /v2 endpoint drops unknown top-level keys.
	r := h.do(t, alice, "POST", "/v2/images/"+imgID+"/metadata", `{"metadata": {"a": "1"}, "x": 1}`)
	if r.Status != 200 || !sameJSON(t, r.Body, `{"metadata": {"a": "1"}}`) {
		t.Errorf("got %d %s, want 200 with a=1", r.Status, r.Body)
	}
	// A mix of good and bad keys is refused with the relaxed wording.
	r = h.do(t, alice, "POST", "/v2/images/"+imgID+"/metadata", `{"metadata": {"a": "1", "b/c": "2"}}`)
	want := faultBody("badRequest", 400, "Invalid input for field/attribute metadata. Value: {'a': '1', 'b/c': '2'}. Additional properties are not allowed ('b/c' was unexpected)")
	if r.Status != 400 || !sameJSON(t, r.Body, want) {
		t.Errorf("got %d %s, want 400 %s", r.Status, r.Body, want)
	}
}

func TestMetadataQuota(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"create at the limit", "POST", "", `{"metadata": {"c": "3"}}`, 200},
		{"create over the limit", "POST", "", `{"metadata": {"c": "3", "d": "4"}}`, 403},
		{"create replacing keeps the count", "POST", "", `{"metadata": {"a": "x", "b": "y"}}`, 200},
		{"put key at the limit", "PUT", "/c", `{"meta": {"c": "3"}}`, 200},
		{"replace all at the limit", "PUT", "", `{"metadata": {"x": "1", "y": "2", "z": "3"}}`, 200},
		{"replace all over the limit", "PUT", "", `{"metadata": {"w": "0", "x": "1", "y": "2", "z": "3"}}`, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, compute.Config{MetadataQuota: 3})
			h.create(t, alice, &image.Image{ID: imgID, Properties: props("a", "1", "b", "2")})
			r := h.do(t, alice, tt.method, "/v2.1/images/"+imgID+"/metadata"+tt.path, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d; %s", r.Status, tt.status, r.Body)
			}
			if tt.status == 403 {
				want := faultBody("forbidden", 403, "Image metadata limit exceeded")
				if !sameJSON(t, r.Body, want) {
					t.Errorf("body = %s, want %s", r.Body, want)
				}
				if diff := cmp.Diff(map[string]string{"a": "1", "b": "2"}, propsOf(t, h, alice, imgID)); diff != "" {
					t.Errorf("refused request changed properties (-want +got):\n%s", diff)
				}
			}
		})
	}
	t.Run("default is 128", func(t *testing.T) {
		h := newHarness(t, compute.Config{})
		h.create(t, alice, &image.Image{ID: imgID})
		var items []string
		for i := range 129 {
			items = append(items, fmt.Sprintf(`"k%d": "v"`, i))
		}
		r := h.do(t, alice, "PUT", "/v2.1/images/"+imgID+"/metadata", `{"metadata": {`+strings.Join(items, ", ")+`}}`)
		if r.Status != 403 {
			t.Errorf("129 items: status = %d, want 403", r.Status)
		}
		r = h.do(t, alice, "PUT", "/v2.1/images/"+imgID+"/metadata", `{"metadata": {`+strings.Join(items[:128], ", ")+`}}`)
		if r.Status != 200 {
			t.Errorf("128 items: status = %d, want 200; %s", r.Status, r.Body)
		}
	})
	t.Run("negative is unlimited", func(t *testing.T) {
		h := newHarness(t, compute.Config{MetadataQuota: -1})
		h.create(t, alice, &image.Image{ID: imgID})
		var items []string
		for i := range 200 {
			items = append(items, fmt.Sprintf(`"k%d": "v"`, i))
		}
		if r := h.do(t, alice, "PUT", "/v2.1/images/"+imgID+"/metadata", `{"metadata": {`+strings.Join(items, ", ")+`}}`); r.Status != 200 {
			t.Errorf("status = %d, want 200; %s", r.Status, r.Body)
		}
	})
}

func TestMetadataForbidden(t *testing.T) {
	h := newHarness(t, compute.Config{})
	h.create(t, admin, &image.Image{ID: imgID, Visibility: image.Public, Owner: image.Str(alice.project), Properties: props("a", "1")})
	notAuthorized := faultBody("forbidden", 403, "Not authorized for image "+imgID+".")
	tests := []struct {
		name, method, path, body string
		who                      caller
	}{
		{"other project merges", "POST", "", `{"metadata": {"b": "2"}}`, bob},
		{"other project replaces", "PUT", "", `{"metadata": {}}`, bob},
		{"other project puts a key", "PUT", "/b", `{"meta": {"b": "2"}}`, bob},
		{"other project deletes a key", "DELETE", "/a", "", bob},
		{"reserved key", "POST", "", `{"metadata": {"os_glance_x": "1"}}`, alice},
		{"base attribute as key", "PUT", "/name", `{"meta": {"name": "x"}}`, alice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(t, tt.who, tt.method, "/v2.1/images/"+imgID+"/metadata"+tt.path, tt.body)
			if r.Status != 403 || !sameJSON(t, r.Body, notAuthorized) {
				t.Errorf("got %d %s, want 403 %s", r.Status, r.Body, notAuthorized)
			}
		})
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, propsOf(t, h, alice, imgID)); diff != "" {
		t.Errorf("refused requests changed properties (-want +got):\n%s", diff)
	}
	// Reading is allowed to anyone who sees the image.
	if r := h.do(t, bob, "GET", "/v2.1/images/"+imgID+"/metadata/a", ""); r.Status != 200 || !sameJSON(t, r.Body, `{"meta": {"a": "1"}}`) {
		t.Errorf("bob reads: got %d %s, want 200 {\"meta\": {\"a\": \"1\"}}", r.Status, r.Body)
	}
}

func TestMetadataGlanceQuotaIsUnexpected(t *testing.T) {
	h := newHarness(t, compute.Config{}, imageopsLimits(1))
	h.create(t, alice, &image.Image{ID: imgID, Properties: props("a", "1")})
	r := h.do(t, alice, "POST", "/v2.1/images/"+imgID+"/metadata", `{"metadata": {"b": "2"}}`)
	want := faultBody("computeFault", 500, "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'nova.exception.ImageQuotaExceeded'>")
	if r.Status != 500 || !sameJSON(t, r.Body, want) {
		t.Errorf("got %d %s, want 500 %s", r.Status, r.Body, want)
	}
}

func TestJSONValuedPropertiesShownDecoded(t *testing.T) {
	h := newHarness(t, compute.Config{})
	h.create(t, alice, &image.Image{ID: imgID, Properties: props("block_device_mapping", `[{"boot_index": 0}]`, "mappings", "not json", "x", `[1]`)})
	r := h.do(t, alice, "GET", "/v2.1/images/"+imgID+"/metadata", "")
	want := `{"metadata": {"block_device_mapping": [{"boot_index": 0}], "mappings": "not json", "x": "[1]"}}`
	if !sameJSON(t, r.Body, want) {
		t.Errorf("body = %s, want %s", r.Body, want)
	}
}
