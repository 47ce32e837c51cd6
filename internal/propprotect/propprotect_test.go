package propprotect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glimpse/internal/policy"
)

var (
	admin   = &policy.Creds{ProjectID: "p1", Roles: []string{"admin"}}
	member  = &policy.Creds{ProjectID: "p1", Roles: []string{"member", "reader"}}
	oldMem  = &policy.Creds{ProjectID: "p1", Roles: []string{"_member_"}}
	reader  = &policy.Creds{ProjectID: "p1", Roles: []string{"reader"}}
	nobody  = &policy.Creds{ProjectID: "p1"}
	svc     = &policy.Creds{ProjectID: "p1", Roles: []string{"reader"}, ServiceRoles: []string{"admin"}}
	auditor = &policy.Creds{ProjectID: "p1", Roles: []string{"auditor"}}
	secure  = &policy.Creds{ProjectID: "p1", Roles: []string{"security"}}
)

type check struct {
	prop string
	op   Op
	c    *policy.Creds
	cn   string
	want bool
}

func runChecks(t *testing.T, r *Rules, checks []check) {
	t.Helper()
	for _, tt := range checks {
		t.Run(tt.prop+"/"+string(tt.op)+"/"+tt.cn, func(t *testing.T) {
			if got := r.Allowed(tt.prop, tt.op, tt.c); got != tt.want {
				t.Errorf("Allowed(%q, %s, %s) = %v, want %v", tt.prop, tt.op, tt.cn, got, tt.want)
			}
		})
	}
}

func TestRolesFormat(t *testing.T) {
	for _, format := range []string{"roles", "", "ROLES"} {
		r, err := Load("testdata/roles.conf", format, nil)
		if err != nil {
			t.Fatalf("Load(roles.conf, %q): %v", format, err)
		}
		t.Run("format="+format, func(t *testing.T) {
			runChecks(t, r, []check{
				{"x_owner", Create, member, "member", true},
				{"x_owner", Update, oldMem, "_member_", true},
				{"x_owner", Delete, admin, "admin", true},
				{"x_owner", Read, reader, "reader", false},
				{"x_owner", Read, nobody, "nobody", false},
				{"x_owner", Read, svc, "service token admin", true},
				{"billing_code", Read, nobody, "nobody", true},
				{"billing_code", Update, member, "member", false},
				{"billing_code", Update, admin, "admin", true},
				{"billing_code", Delete, admin, "admin", false},
				{"empty_thing", Create, admin, "admin", false},
				{"empty_thing", Read, reader, "reader", true},
				{"os_glance_import_task", Update, nobody, "nobody", true},
				{"os_glance_failed_import", Delete, member, "member", true},
				{"os_distro", Read, member, "member", false},
				{"os_distro", Read, admin, "admin", true},
				// Section names are searched anywhere in the name.
				{"my_x_owner", Read, member, "member", false},
				{"x_owner", Op("list"), admin, "admin", false},
				{"x_owner", Read, nil, "nil creds", false},
			})
		})
	}
}

func TestPoliciesFormat(t *testing.T) {
	e, err := policy.New(policy.Options{ConfigDir: "testdata", PolicyFile: "policy.yaml", EnforceNewDefaults: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load("testdata/policies.conf", "policies", e)
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, r, []check{
		{"x_owner", Create, member, "member", true},
		{"x_owner", Read, reader, "reader", false},
		{"secret_key", Read, auditor, "auditor", true},
		{"secret_key", Read, secure, "security", true},
		{"secret_key", Update, auditor, "auditor", false},
		{"secret_key", Update, secure, "security", true},
		{"secret_key", Delete, secure, "security", false},
		{"os_version", Read, admin, "admin", true},
		{"os_version", Read, member, "member", false},
		{"os_version", Read, svc, "service token admin", true},
		{"os_glance_importing_to_stores", Read, nobody, "nobody", true},
	})
	info, ok := e.Info("^secret_:read")
	if !ok || info.Check != "rule:secret_reader" {
		t.Errorf("Info(^secret_:read) = %+v, %v, want check rule:secret_reader", info, ok)
	}
	if svc.Roles[len(svc.Roles)-1] != "reader" || len(svc.Roles) != 1 {
		t.Errorf("Allowed changed the caller's roles to %v", svc.Roles)
	}
}

func TestNilRulesAllowEverything(t *testing.T) {
	var r *Rules
	if !r.Allowed("anything", Delete, nobody) {
		t.Errorf("(*Rules)(nil).Allowed = false, want true")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		content string
		want    string
	}{
		{"missing op", "roles", "[a]\ncreate = @\nread = @\nupdate = @\n", `lacks "delete"`},
		{"@ and !", "roles", "[a]\ncreate = @,!\nread = @\nupdate = @\ndelete = @\n", "mutually exclusive"},
		{"comma in policies", "policies", "[a]\ncreate = x,y\nread = x\nupdate = x\ndelete = x\n", "one policy per operation"},
		{"bad regex", "roles", "[a(]\ncreate = @\nread = @\nupdate = @\ndelete = @\n", "not a valid regular expression"},
		{"unknown format", "acl", "[a]\ncreate = @\nread = @\nupdate = @\ndelete = @\n", "invalid property_protection_rule_format"},
		{"no section", "roles", "create = @\n", "before any section header"},
		{"duplicate section", "roles", "[a]\ncreate=@\nread=@\nupdate=@\ndelete=@\n[a]\n", "already exists"},
		{"duplicate option", "roles", "[a]\ncreate=@\nCREATE=!\n", "already exists"},
		{"not an option", "roles", "[a]\ncreate\n", "not an option"},
		{"bad percent", "roles", "[a]\ncreate = 100%\nread=@\nupdate=@\ndelete=@\n", "'%' must be followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "prop.conf")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			e, err := policy.New(policy.Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(p, tt.format, e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.conf"), "roles", nil)
		if err == nil || !strings.Contains(err.Error(), "cannot read") {
			t.Errorf("Load(missing) error = %v, want 'cannot read'", err)
		}
	})
	t.Run("policies without enforcer", func(t *testing.T) {
		_, err := Load("testdata/policies.conf", "policies", nil)
		if err == nil {
			t.Errorf("Load(policies, nil enforcer) error = nil, want one")
		}
	})
}

func TestINIDetails(t *testing.T) {
	p := filepath.Join(t.TempDir(), "prop.conf")
	content := `[DEFAULT]
delete = !
base = admin

[^a]   ; trailing text after the header is ignored
create: %(base)s,
  member
read = @
update = %(base)s
# delete comes from DEFAULT

[.*]
create = admin
read = admin
update = admin
`
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Load(p, "roles", nil)
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, r, []check{
		{"abc", Create, member, "member (continuation line)", true},
		{"abc", Create, admin, "admin (interpolated)", true},
		{"abc", Update, member, "member", false},
		{"abc", Delete, admin, "admin (DEFAULT !)", false},
		{"zzz", Delete, admin, "admin (DEFAULT !)", false},
		{"zzz", Read, admin, "admin", true},
	})
}

func TestEmptyFileDeniesAllButOSGlance(t *testing.T) {
	p := filepath.Join(t.TempDir(), "prop.conf")
	if err := os.WriteFile(p, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Load(p, "roles", nil)
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, r, []check{
		{"os_glance_stage_host", Create, nobody, "nobody", true},
		{"x_anything", Read, admin, "admin", false},
	})
}
