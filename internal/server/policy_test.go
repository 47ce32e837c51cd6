package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glimpse/internal/config"
	"glimpse/internal/server"
)

// caller is an identity as a front proxy asserts it in noauth mode.
type caller struct{ project, roles string }

var (
	ownerMember  = caller{"p-owner", "member,reader"}
	ownerReader  = caller{"p-owner", "reader"}
	otherMember  = caller{"p-other", "member,reader"}
	cloudAdmin   = caller{"p-admin", "admin,member,reader"}
	jsonPatch    = "application/openstack-images-v2.1-json-patch"
	octetStream  = "application/octet-stream"
	jsonBody     = "application/json"
	noBody       = ""
	publicImage  = `{"name":"pub","disk_format":"raw","container_format":"bare","visibility":"public"}`
	privateImage = `{"name":"priv","disk_format":"raw","container_format":"bare","visibility":"private"}`
)

// policyServer runs glimpse in noauth mode with a configuration file
// written from conf (plus any files in extra, beside it).
func policyServer(t *testing.T, conf string, extra map[string]string) http.Handler {
	t.Helper()
	dir := t.TempDir()
	for name, body := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "glance-api.conf")
	if err := os.WriteFile(path, []byte("[paste_deploy]\nflavor = noauth\n"+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Glimpse.DataDir = filepath.Join(dir, "data")
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Handler()
}

func (c caller) do(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("Accept", "application/json")
	r.Header.Set("X-Identity-Status", "Confirmed")
	r.Header.Set("X-Project-Id", c.project)
	r.Header.Set("X-User-Id", "u-"+c.project)
	r.Header.Set("X-Roles", c.roles)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// must runs a request and fails the test unless it answers want.
func (c caller) must(t *testing.T, h http.Handler, want int, method, target, contentType, body string) map[string]any {
	t.Helper()
	w := c.do(h, method, target, contentType, body)
	if w.Code != want {
		t.Fatalf("%s %s as %v: got %d %s, want %d", method, target, c, w.Code, w.Body, want)
	}
	var v map[string]any
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && w.Body.Len() > 0 {
		_ = json.Unmarshal(w.Body.Bytes(), &v)
	}
	return v
}

// imageWithData creates an image as c and uploads data to it.
func (c caller) imageWithData(t *testing.T, h http.Handler, body, data string) string {
	t.Helper()
	id := c.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, body)["id"].(string)
	c.must(t, h, http.StatusNoContent, "PUT", "/v2/images/"+id+"/file", octetStream, data)
	return id
}

func wantMessage(t *testing.T, w *httptest.ResponseRecorder, code int, msg string) {
	t.Helper()
	if w.Code != code || !strings.Contains(w.Body.String(), msg) {
		t.Fatalf("got %d %s, want %d with %q", w.Code, w.Body, code, msg)
	}
}

// A cloud's policy file is obeyed: here downloads are for admins only,
// and nobody but admins may list members.
func TestPolicyFileIsObeyed(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		files      map[string]string
	}{
		{"policy.yaml", "[oslo_policy]\npolicy_file = policy.yaml\n", map[string]string{
			"policy.yaml": "download_image: \"role:admin\"\nget_members: \"rule:context_is_admin\"\n"}},
		{"policy.json", "[oslo_policy]\npolicy_file = custom.json\n", map[string]string{
			"custom.json": `{"download_image": "role:admin", "get_members": "role:admin"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := policyServer(t, tc.conf, tc.files)
			id := ownerMember.imageWithData(t, h, `{"name":"x","disk_format":"raw","container_format":"bare","visibility":"shared"}`, "bytes")

			w := ownerMember.do(h, "GET", "/v2/images/"+id+"/file", noBody, "")
			wantMessage(t, w, http.StatusForbidden, "You are not authorized to complete download_image action.")
			if w := cloudAdmin.do(h, "GET", "/v2/images/"+id+"/file", noBody, ""); w.Code != http.StatusOK || w.Body.String() != "bytes" {
				t.Fatalf("admin download: got %d %q, want 200 \"bytes\"", w.Code, w.Body)
			}
			// Rules the file leaves alone keep their defaults.
			ownerMember.must(t, h, http.StatusOK, "GET", "/v2/images/"+id, noBody, "")
			w = ownerMember.do(h, "GET", "/v2/images/"+id+"/members", noBody, "")
			wantMessage(t, w, http.StatusForbidden, "You are not authorized to complete get_members action.")
			cloudAdmin.must(t, h, http.StatusOK, "GET", "/v2/images/"+id+"/members", noBody, "")
		})
	}
}

// Files in policy_dirs override the policy file, in name order.
func TestPolicyDirs(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "policy.d"), 0o700); err != nil {
		t.Fatal(err)
	}
	h := policyServer(t, "[oslo_policy]\npolicy_file = policy.yaml\npolicy_dirs = "+filepath.Join(dir, "policy.d")+"\n", map[string]string{
		"policy.yaml": "add_image: \"!\"\n"})
	otherMember.must(t, h, http.StatusForbidden, "POST", "/v2/images", jsonBody, privateImage)
	if err := os.WriteFile(filepath.Join(dir, "policy.d", "10-create.yaml"), []byte("add_image: \"role:member\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h = policyServer(t, "[oslo_policy]\npolicy_file = policy.yaml\npolicy_dirs = "+filepath.Join(dir, "policy.d")+"\n", map[string]string{
		"policy.yaml": "add_image: \"!\"\n"})
	otherMember.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, privateImage)
	ownerReader.must(t, h, http.StatusForbidden, "POST", "/v2/images", jsonBody, privateImage)
}

// A policy that hides images makes them 404, in show and in lists, as
// Glance's get_image does.
func TestPolicyGetImageHides(t *testing.T) {
	h := policyServer(t, "[oslo_policy]\npolicy_file = policy.yaml\n", map[string]string{
		"policy.yaml": "get_image: \"role:admin or 'private':%(visibility)s\"\ndeactivate: \"role:admin\"\n"})
	pub := cloudAdmin.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, publicImage)["id"].(string)
	priv := otherMember.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, privateImage)["id"].(string)
	otherMember.must(t, h, http.StatusNotFound, "GET", "/v2/images/"+pub, noBody, "")
	otherMember.must(t, h, http.StatusOK, "GET", "/v2/images/"+priv, noBody, "")
	// Other routes do not ask get_image: the delete is refused by the
	// ownership check, as in Glance, not hidden.
	wantMessage(t, otherMember.do(h, "DELETE", "/v2/images/"+pub, noBody, ""), http.StatusForbidden, "You do not own this image")
	// A rule that refuses the caller on an image it may not get hides it.
	otherMember.must(t, h, http.StatusNotFound, "POST", "/v2/images/"+pub+"/actions/deactivate", noBody, "")
	list := otherMember.must(t, h, http.StatusOK, "GET", "/v2/images", noBody, "")
	imgs := list["images"].([]any)
	if len(imgs) != 1 || imgs[0].(map[string]any)["id"] != priv {
		t.Fatalf("list: got %v, want only %s", imgs, priv)
	}
	if got := len(cloudAdmin.must(t, h, http.StatusOK, "GET", "/v2/images", noBody, "")["images"].([]any)); got != 2 {
		t.Fatalf("admin list: got %d images, want 2", got)
	}
	// A page the policy thinned still links to the next one when the
	// catalog filled it, as Glance's does, so nothing becomes unreachable.
	cloudAdmin.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, publicImage)
	page := otherMember.must(t, h, http.StatusOK, "GET", "/v2/images?limit=2", noBody, "")
	if imgs := page["images"].([]any); len(imgs) != 1 || imgs[0].(map[string]any)["id"] != priv {
		t.Fatalf("first page: got %v, want only %s", imgs, priv)
	}
	if next, _ := page["next"].(string); !strings.Contains(next, "marker="+priv) {
		t.Fatalf("first page's next link: got %q, want one after %s", next, priv)
	}
}

// With enforce_new_defaults the secure-RBAC personas decide: a project
// reader may read but not change, a member may change its project's
// images, and the legacy ownership checks are gone.
func TestSecureRBACDefaults(t *testing.T) {
	legacy := policyServer(t, "", nil)
	rbac := policyServer(t, "[oslo_policy]\nenforce_new_defaults = true\n", nil)
	for _, tc := range []struct {
		name         string
		who          caller
		legacy, rbac int
		method, path string
		ctype, body  string
	}{
		{"reader creates", ownerReader, 201, 403, "POST", "/v2/images", jsonBody, privateImage},
		{"member creates", ownerMember, 201, 201, "POST", "/v2/images", jsonBody, privateImage},
		{"reader renames", ownerReader, 200, 403, "PATCH", "/v2/images/{id}", jsonPatch, `[{"op":"replace","path":"/name","value":"r"}]`},
		{"member renames", ownerMember, 200, 200, "PATCH", "/v2/images/{id}", jsonPatch, `[{"op":"replace","path":"/name","value":"m"}]`},
		{"reader downloads", ownerReader, 200, 403, "GET", "/v2/images/{id}/file", noBody, ""},
		{"member downloads", ownerMember, 200, 200, "GET", "/v2/images/{id}/file", noBody, ""},
		{"reader lists", ownerReader, 200, 200, "GET", "/v2/images", noBody, ""},
		{"reader shows", ownerReader, 200, 200, "GET", "/v2/images/{id}", noBody, ""},
		{"other project shows", otherMember, 404, 404, "GET", "/v2/images/{id}", noBody, ""},
		{"reader tags", ownerReader, 204, 403, "PUT", "/v2/images/{id}/tags/t", noBody, ""},
		{"reader deactivates", ownerReader, 204, 403, "POST", "/v2/images/{id}/actions/deactivate", noBody, ""},
		{"member deactivates", ownerMember, 204, 204, "POST", "/v2/images/{id}/actions/deactivate", noBody, ""},
		{"member reactivates", ownerMember, 204, 204, "POST", "/v2/images/{id}/actions/reactivate", noBody, ""},
		{"member publishes", ownerMember, 403, 403, "PATCH", "/v2/images/{id}", jsonPatch, `[{"op":"replace","path":"/visibility","value":"public"}]`},
		{"admin publishes", cloudAdmin, 200, 200, "PATCH", "/v2/images/{id}", jsonPatch, `[{"op":"replace","path":"/visibility","value":"public"}]`},
		{"reader deletes", ownerReader, 204, 403, "DELETE", "/v2/images/{id}", noBody, ""},
	} {
		for _, mode := range []struct {
			name string
			h    http.Handler
			want int
		}{{"legacy", legacy, tc.legacy}, {"new defaults", rbac, tc.rbac}} {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				id := ownerMember.imageWithData(t, mode.h, `{"name":"x","disk_format":"raw","container_format":"bare","visibility":"private"}`, "data")
				path := strings.ReplaceAll(tc.path, "{id}", id)
				w := tc.who.do(mode.h, tc.method, path, tc.ctype, tc.body)
				if w.Code != mode.want {
					t.Fatalf("%s %s: got %d %s, want %d", tc.method, path, w.Code, w.Body, mode.want)
				}
				if w.Code == http.StatusForbidden && mode.name == "new defaults" && tc.method != "POST" &&
					!strings.Contains(w.Body.String(), "You are not authorized to complete") {
					t.Fatalf("refusal should name the rule, got %s", w.Body)
				}
				// A refused change changed nothing.
				if w.Code == http.StatusForbidden {
					img := ownerMember.must(t, mode.h, http.StatusOK, "GET", "/v2/images/"+id, noBody, "")
					if img["name"] != "x" || img["status"] != "active" || img["visibility"] != "private" || len(img["tags"].([]any)) != 0 {
						t.Fatalf("image after a refused %s: %v", tc.name, img)
					}
				}
			})
		}
	}
}

// Property protections in the roles format: who may create, read,
// update and delete which properties.
func TestPropertyProtectionsRoles(t *testing.T) {
	rules := `[^x_billing_]
create = admin
read = @
update = admin
delete = !

[^x_]
create = admin,member
read = admin,member
update = admin,member
delete = admin,member

[^secret_]
create = admin
read = admin
update = admin
delete = admin

[.*]
create = @
read = @
update = @
delete = @
`
	h := policyServer(t, "[DEFAULT]\nproperty_protection_file = protections.conf\n", map[string]string{"protections.conf": rules})
	propertyProtectionCases(t, h)
}

// The same protections in the policies format, where each operation names
// a policy rule.
func TestPropertyProtectionsPolicies(t *testing.T) {
	rules := `[^x_billing_]
create = context_is_admin
read = everyone
update = context_is_admin
delete = !

[^x_]
create = project_member
read = project_member
update = project_member
delete = project_member

[^secret_]
create = context_is_admin
read = context_is_admin
update = context_is_admin
delete = context_is_admin

[.*]
create = everyone
read = everyone
update = everyone
delete = everyone
`
	h := policyServer(t, "[DEFAULT]\nproperty_protection_file = protections.conf\nproperty_protection_rule_format = policies\n[oslo_policy]\npolicy_file = policy.yaml\n",
		map[string]string{"protections.conf": rules, "policy.yaml": "everyone: \"@\"\nproject_member: \"role:member or role:admin\"\n"})
	propertyProtectionCases(t, h)
}

func propertyProtectionCases(t *testing.T, h http.Handler) {
	t.Helper()
	reader := caller{"p-owner", "reader"}
	// Members may not set billing codes or secrets.
	w := ownerMember.do(h, "POST", "/v2/images", jsonBody, `{"name":"n","x_billing_code":"42"}`)
	wantMessage(t, w, http.StatusForbidden, "Attribute 'x_billing_code' is reserved.")
	w = ownerMember.do(h, "POST", "/v2/images", jsonBody, `{"name":"n","secret_key":"k"}`)
	wantMessage(t, w, http.StatusForbidden, "Attribute 'secret_key' is reserved.")

	id := cloudAdmin.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody,
		`{"name":"n","visibility":"public","x_billing_code":"42","secret_key":"k","x_team":"blue","free":"yes"}`)["id"].(string)
	shown := func(c caller) map[string]any {
		t.Helper()
		return c.must(t, h, http.StatusOK, "GET", "/v2/images/"+id, noBody, "")
	}
	// Reading: secrets only to admins, x_ properties to members.
	if img := shown(reader); img["x_billing_code"] != "42" || img["free"] != "yes" || img["secret_key"] != nil || img["x_team"] != nil {
		t.Fatalf("reader's view: %v", img)
	}
	if img := shown(ownerMember); img["x_team"] != "blue" || img["secret_key"] != nil {
		t.Fatalf("member's view: %v", img)
	}
	if img := shown(cloudAdmin); img["secret_key"] != "k" {
		t.Fatalf("admin's view: %v", img)
	}
	list := reader.must(t, h, http.StatusOK, "GET", "/v2/images", noBody, "")["images"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["secret_key"] != nil {
		t.Fatalf("reader's list shows a protected property: %v", list)
	}

	// The image is the admin's; edits go through the admin's project with
	// a member's roles to test the protections, not ownership.
	adminMember := caller{cloudAdmin.project, "member"}
	patch := func(c caller, ops string) *httptest.ResponseRecorder {
		return c.do(h, "PATCH", "/v2/images/"+id, jsonPatch, ops)
	}
	wantMessage(t, patch(adminMember, `[{"op":"replace","path":"/x_billing_code","value":"7"}]`), http.StatusForbidden, "Attribute 'x_billing_code' is reserved.")
	wantMessage(t, patch(cloudAdmin, `[{"op":"remove","path":"/x_billing_code"}]`), http.StatusForbidden, "Attribute 'x_billing_code' is reserved.")
	if w := patch(adminMember, `[{"op":"replace","path":"/x_team","value":"red"}]`); w.Code != http.StatusOK {
		t.Fatalf("member updates x_team: got %d %s", w.Code, w.Body)
	}
	// A property the caller cannot read is neither changed nor dropped by
	// its edits, and it cannot be removed as if it were not there.
	if w := patch(adminMember, `[{"op":"replace","path":"/name","value":"renamed"}]`); w.Code != http.StatusOK {
		t.Fatalf("member renames: got %d %s", w.Code, w.Body)
	}
	if w := patch(adminMember, `[{"op":"remove","path":"/secret_key"}]`); w.Code != http.StatusConflict {
		t.Fatalf("member removes an unreadable property: got %d %s, want 409", w.Code, w.Body)
	}
	if img := shown(cloudAdmin); img["secret_key"] != "k" || img["x_team"] != "red" || img["x_billing_code"] != "42" || img["name"] != "renamed" {
		t.Fatalf("after the edits: %v", img)
	}
}

// A cloud that renames its administrator role is obeyed: the admin role
// alone no longer sees other projects' private images.
func TestContextIsAdminFromPolicy(t *testing.T) {
	h := policyServer(t, "[oslo_policy]\npolicy_file = policy.yaml\n", map[string]string{
		"policy.yaml": "context_is_admin: \"role:cloud_admin\"\n"})
	id := ownerMember.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, privateImage)["id"].(string)
	caller{"p-admin", "admin"}.must(t, h, http.StatusNotFound, "GET", "/v2/images/"+id, noBody, "")
	caller{"p-admin", "cloud_admin"}.must(t, h, http.StatusOK, "GET", "/v2/images/"+id, noBody, "")
}

// Policy files written for Glance compare image attributes as Python
// spells them.
func TestPolicyTargetAttributes(t *testing.T) {
	h := policyServer(t, "[oslo_policy]\npolicy_file = policy.yaml\n", map[string]string{
		"policy.yaml": "delete_image: \"'False':%(protected)s\"\nupload_image: \"'qcow2':%(disk_format)s\"\n"})
	id := ownerMember.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, privateImage)["id"].(string)
	wantMessage(t, ownerMember.do(h, "PUT", "/v2/images/"+id+"/file", octetStream, "raw bytes"), http.StatusForbidden, "You are not authorized to complete upload_image action.")
	ownerMember.must(t, h, http.StatusNoContent, "DELETE", "/v2/images/"+id, noBody, "")
}

// Glance checks every change before applying it, also when the value does
// not change: re-setting a protected property, re-publishing a public
// image, and the visibility rule comes before the ownership check.
func TestChecksPerChange(t *testing.T) {
	h := policyServer(t, "[DEFAULT]\nproperty_protection_file = protections.conf\n", map[string]string{"protections.conf": `[^frozen_]
create = admin
read = @
update = admin
delete = admin

[.*]
create = @
read = @
update = @
delete = @
`})
	id := cloudAdmin.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody,
		`{"name":"n","visibility":"public","frozen_code":"7"}`)["id"].(string)
	adminMember := caller{cloudAdmin.project, "member"}
	patch := func(who caller, ops string) *httptest.ResponseRecorder {
		return who.do(h, "PATCH", "/v2/images/"+id, jsonPatch, ops)
	}
	wantMessage(t, patch(adminMember, `[{"op":"replace","path":"/frozen_code","value":"7"}]`), http.StatusForbidden, "Attribute 'frozen_code' is reserved.")
	wantMessage(t, patch(adminMember, `[{"op":"replace","path":"/visibility","value":"public"}]`), http.StatusForbidden, "You are not authorized to complete publicize_image action.")
	wantMessage(t, patch(otherMember, `[{"op":"replace","path":"/visibility","value":"public"}]`), http.StatusForbidden, "You are not authorized to complete publicize_image action.")
	wantMessage(t, patch(otherMember, `[{"op":"replace","path":"/name","value":"x"}]`), http.StatusForbidden, "You do not own this image")
	if w := patch(cloudAdmin, `[{"op":"replace","path":"/frozen_code","value":"7"},{"op":"replace","path":"/visibility","value":"public"}]`); w.Code != http.StatusOK {
		t.Fatalf("admin re-setting both: got %d %s", w.Code, w.Body)
	}
}

// The v1 API shows image metadata in headers, also beside the data: a
// property the caller may not read is in neither.
func TestV1HidesProtectedProperties(t *testing.T) {
	h := policyServer(t, "[DEFAULT]\nproperty_protection_file = protections.conf\n", map[string]string{"protections.conf": `[^secret_]
create = admin
read = admin
update = admin
delete = admin

[.*]
create = @
read = @
update = @
delete = @
`})
	id := cloudAdmin.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody,
		`{"name":"n","visibility":"public","disk_format":"raw","container_format":"bare","secret_key":"k","color":"blue"}`)["id"].(string)
	cloudAdmin.must(t, h, http.StatusNoContent, "PUT", "/v2/images/"+id+"/file", octetStream, "bytes")
	for _, method := range []string{"HEAD", "GET"} {
		w := otherMember.do(h, method, "/v1/images/"+id, noBody, "")
		if w.Code != http.StatusOK {
			t.Fatalf("%s /v1/images/%s: got %d %s", method, id, w.Code, w.Body)
		}
		if got := w.Header().Get("X-Image-Meta-Property-Secret_key"); got != "" {
			t.Errorf("%s: the unreadable property is in the headers: %q", method, got)
		}
		if got := w.Header().Get("X-Image-Meta-Property-Color"); got != "blue" {
			t.Errorf("%s: x-image-meta-property-color: got %q, want blue", method, got)
		}
	}
}
