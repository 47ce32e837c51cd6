package versions

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCurrent(t *testing.T) {
	tests := []struct {
		name string
		have map[Feature]bool
		want int
	}{
		{"nothing", nil, -1},
		{"metadata only", map[Feature]bool{ImagesMetadata: true}, -1},
		{"v2.0", map[Feature]bool{ImagesMetadata: true, ImageData: true}, 0},
		{"gap stops", map[Feature]bool{ImagesMetadata: true, ImageData: true, Members: true, Deactivation: true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Current(tt.have); got != tt.want {
				t.Errorf("Current() = %d, want %d", got, tt.want)
			}
		})
	}
}

type doc struct {
	Versions []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Links  []struct {
			Rel  string `json:"rel"`
			Href string `json:"href"`
		} `json:"links"`
	} `json:"versions"`
}

func TestNegotiate(t *testing.T) {
	h := New(3, "")
	tests := []struct {
		path       string
		wantStatus int // 0: passed on to the API
		wantPath   string
	}{
		{"/", 300, ""},
		{"/versions", 200, ""},
		{"/v1/images", 300, ""},
		{"/v3/", 300, ""},
		{"/foo", 300, ""},
		{"/V2/images", 300, ""},
		{"/v2.4/images", 300, ""},
		{"/v2", 302, ""},
		{"/healthcheck", 200, ""},
		{"/v2/images", 0, "/v2/images"},
		{"/v2.3/images", 0, "/v2/images"},
		{"/v2.0/images/x", 0, "/v2/images/x"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://example.test"+tt.path, nil)
			w := httptest.NewRecorder()
			passed := h.Negotiate(w, r)
			if tt.wantStatus == 0 {
				if !passed || r.URL.Path != tt.wantPath {
					t.Fatalf("Negotiate(%s) = %v, path %q; want passed on as %q", tt.path, passed, r.URL.Path, tt.wantPath)
				}
				return
			}
			if passed || w.Code != tt.wantStatus {
				t.Fatalf("Negotiate(%s) = %v, status %d; want answered %d", tt.path, passed, w.Code, tt.wantStatus)
			}
			if tt.wantStatus != 300 && tt.path != "/versions" {
				return
			}
			var d doc
			if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
				t.Fatalf("body %q: %v", w.Body.String(), err)
			}
			if len(d.Versions) != 4 || d.Versions[0].ID != "v2.3" || d.Versions[0].Status != "CURRENT" || d.Versions[3].ID != "v2.0" || d.Versions[3].Status != "SUPPORTED" {
				t.Fatalf("versions = %+v, want v2.3 CURRENT … v2.0 SUPPORTED", d.Versions)
			}
			for _, v := range d.Versions {
				if len(v.Links) != 1 || v.Links[0].Href != "http://example.test/v2/" || v.Links[0].Rel != "self" {
					t.Errorf("%s links = %+v, want self http://example.test/v2/", v.ID, v.Links)
				}
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}

func TestPublicEndpoint(t *testing.T) {
	h := New(0, "https://images.example.com/")
	r := httptest.NewRequest("GET", "http://127.0.0.1/versions", nil)
	w := httptest.NewRecorder()
	h.Negotiate(w, r)
	want := `{"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": "https://images.example.com/v2/"}]}]}`
	if got := w.Body.String(); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	if w.Code != http.StatusOK {
		t.Errorf("status = %d, want 200", w.Code)
	}
}

// With the v1 API on, v1.1 and v1.0 are listed as DEPRECATED after the v2
// versions, and /v1 requests reach the API.
func TestNegotiateV1(t *testing.T) {
	h := New(3, "")
	h.EnableV1()
	for _, tt := range []struct {
		path       string
		wantStatus int
		wantPath   string
	}{
		{"/v1/images", 0, "/v1/images"},
		{"/v1.1/images/x", 0, "/v1/images/x"},
		{"/v1.0/images", 0, "/v1/images"},
		{"/v1.2/images", 300, ""},
		{"/v2/images", 0, "/v2/images"},
	} {
		r := httptest.NewRequest("GET", "http://example.test"+tt.path, nil)
		w := httptest.NewRecorder()
		passed := h.Negotiate(w, r)
		if tt.wantStatus == 0 && (!passed || r.URL.Path != tt.wantPath) {
			t.Errorf("Negotiate(%s) = %v, path %q; want passed on as %q", tt.path, passed, r.URL.Path, tt.wantPath)
		}
		if tt.wantStatus != 0 && (passed || w.Code != tt.wantStatus) {
			t.Errorf("Negotiate(%s) = %v, status %d; want %d", tt.path, passed, w.Code, tt.wantStatus)
		}
	}
	w := httptest.NewRecorder()
	h.ServeVersions(w, httptest.NewRequest("GET", "http://example.test/versions", nil), 200)
	var d doc
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if n := len(d.Versions); n != 6 || d.Versions[4].ID != "v1.1" || d.Versions[5].ID != "v1.0" ||
		d.Versions[4].Status != "DEPRECATED" || d.Versions[5].Links[0].Href != "http://example.test/v1/" {
		t.Fatalf("versions = %+v, want v2.3 … v2.0 then v1.1 and v1.0 DEPRECATED linking /v1/", d.Versions)
	}
}
