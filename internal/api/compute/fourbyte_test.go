package compute_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/api/compute"
	"glimpse/internal/image"
)

// Glance refuses a value with a four-byte character (an emoji) with a
// 400, which Nova's image metadata API does not expect: a 500.
func TestMetadataFourByteValueIsUnexpected(t *testing.T) {
	const emoji = "\U0001F600"
	base := "/v2.1/images/" + imgID + "/metadata"
	want := faultBody("computeFault", 500, "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'nova.exception.ImageBadRequest'>")
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"create", "POST", base, `{"metadata": {"b": "` + emoji + `"}}`},
		{"replace all", "PUT", base, `{"metadata": {"a": "1", "b": "x` + emoji + `"}}`},
		{"put key", "PUT", base + "/a", `{"meta": {"a": "` + emoji + `"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, compute.Config{})
			h.create(t, alice, &image.Image{ID: imgID, Properties: props("a", "1")})
			r := h.do(t, alice, tc.method, tc.path, tc.body)
			if r.Status != 500 || !sameJSON(t, r.Body, want) {
				t.Errorf("got %d %s, want 500 %s", r.Status, r.Body, want)
			}
			if diff := cmp.Diff(map[string]string{"a": "1"}, propsOf(t, h, alice, imgID)); diff != "" {
				t.Errorf("a refused request changed properties (-want +got):\n%s", diff)
			}
		})
	}
}
