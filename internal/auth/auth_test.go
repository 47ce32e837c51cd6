package auth

import (
	"net/http/httptest"
	"slices"
	"testing"

	"glimpse/internal/image"
)

func TestNoAuth(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    *Context // nil: 401
	}{
		{"no status", map[string]string{"X-Project-Id": "p"}, nil},
		{"lower-case status", map[string]string{"X-Identity-Status": "confirmed"}, nil},
		{"invalid", map[string]string{"X-Identity-Status": "Invalid"}, nil},
		{"member", map[string]string{"X-Identity-Status": "Confirmed", "X-Project-Id": "p", "X-User-Id": "u", "X-Roles": "member, Reader"},
			&Context{UserID: "u", ProjectID: "p", Roles: []string{"member", "reader"}}},
		{"tenant header", map[string]string{"X-Identity-Status": "Confirmed", "X-Tenant-Id": "t"}, &Context{ProjectID: "t"}},
		{"admin any case", map[string]string{"X-Identity-Status": "Confirmed", "X-Roles": "Admin,admin"}, &Context{Roles: []string{"admin"}, IsAdmin: true}},
		{"request id kept", map[string]string{"X-Identity-Status": "Confirmed", "X-Openstack-Request-Id": "abc"}, &Context{RequestID: "abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v2/images", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			got, err := NoAuth{}.Authenticate(r)
			if tt.want == nil {
				if !image.Is(image.Unauthorized, err) {
					t.Fatalf("Authenticate = %+v, %v; want Unauthorized", got, err)
				}
				return
			}
			if err != nil || got.UserID != tt.want.UserID || got.ProjectID != tt.want.ProjectID ||
				!slices.Equal(got.Roles, tt.want.Roles) || got.IsAdmin != tt.want.IsAdmin || got.RequestID != tt.want.RequestID {
				t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestUnauthenticatedIsRolelessAdmin(t *testing.T) {
	c, err := Unauthenticated{}.Authenticate(httptest.NewRequest("GET", "/", nil))
	if err != nil || !c.IsAdmin || c.ProjectID != "" || len(c.Roles) != 0 || c.RequestID != "" {
		t.Fatalf("Authenticate = %+v, %v; want admin without project, roles or client request id", c, err)
	}
}

func TestFromContextDefaultsToAnonymous(t *testing.T) {
	c := FromContext(t.Context())
	if c == nil || c.IsAdmin {
		t.Fatalf("FromContext(empty) = %+v, want a non-admin caller", c)
	}
}
