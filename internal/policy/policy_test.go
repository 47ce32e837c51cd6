package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustNew(t *testing.T, o Options) *Enforcer {
	t.Helper()
	e, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return e
}

func TestParsePrecedence(t *testing.T) {
	// Each check string, rendered as oslo.policy prints the parsed tree.
	tests := []struct{ in, want string }{
		{"role:a or role:b and role:c", "(role:a or (role:b and role:c))"},
		{"role:a and role:b or role:c", "((role:a and role:b) or role:c)"},
		{"role:a and role:b and role:c", "(role:a and role:b and role:c)"},
		{"role:a or role:b or role:c", "(role:a or role:b or role:c)"},
		{"not role:a and role:b", "(not role:a and role:b)"},
		{"not (role:a or role:b)", "not (role:a or role:b)"},
		{"role:a or role:b and role:c and role:d", "(role:a or (role:b and role:c and role:d))"},
		{"((role:a))", "role:a"},
		{"role:a AND NOT role:b", "(role:a and not role:b)"},
		{"@", "@"},
		{"!", "!"},
		{"", "@"},
	}
	e := mustNew(t, Options{})
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := e.parser().parseText(tt.in)
			if err != nil {
				t.Fatalf("parseText(%q): %v", tt.in, err)
			}
			if got := n.String(); got != tt.want {
				t.Errorf("parseText(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"role:a and", "cannot parse"},
		{"role:a role:b", "cannot parse"},
		{"(role:a", "cannot parse"},
		{"role:a)", "cannot parse"},
		{"'quoted'", "cannot parse"},
		{"admin", "has no colon"},
		{"   ", "cannot parse"},
		{"http://example.com/check", "http: checks are not supported"},
		{"role:a or https:%(x)s", "http: checks are not supported"},
		{"project_id:%(x)d", "only %(key)s substitutions"},
		{"project_id:100%", "only %(key)s substitutions"},
	}
	e := mustNew(t, Options{})
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := e.parser().parseText(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseText(%q) error = %v, want one containing %q", tt.in, err, tt.want)
			}
		})
	}
	if _, err := e.parser().parseText("http:x"); !errors.Is(err, errHTTPCheck) {
		t.Errorf("parseText(http:x) error = %v, want errHTTPCheck", err)
	}
}

func TestChecks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", `
owner_match: "project_id:%(owner)s"
dotted: "user_id:%(target.image.owner)s"
percent: "project_id:100%%"
literal: "'public':%(visibility)s"
true_literal: "True:%(flag)s"
is_admin: "is_admin:True"
roles_generic: "roles:admin"
role_sub: "role:%(role)s"
service_role: "service_roles:service"
system: "system:all"
none_project: "project_id:None"
cycle_a: "rule:cycle_b"
cycle_b: "rule:cycle_a"
`)
	e := mustNew(t, Options{ConfigDir: dir, PolicyFile: "policy.yaml"})
	member := &Creds{UserID: "u1", ProjectID: "p1", Roles: []string{"member"}, ServiceRoles: []string{"service"}}
	admin := &Creds{ProjectID: "p1", Roles: []string{"admin"}, IsAdmin: true}
	noProject := &Creds{Roles: []string{"admin"}}
	system := &Creds{SystemScope: "all"}
	tests := []struct {
		name string
		rule string
		c    *Creds
		t    Target
		want bool
	}{
		{"substitution matches", "owner_match", member, Target{"owner": "p1"}, true},
		{"substitution differs", "owner_match", member, Target{"owner": "p2"}, false},
		{"missing target key fails", "owner_match", member, Target{}, false},
		{"dotted target key", "dotted", member, Target{"target.image.owner": "u1"}, true},
		{"%% is a percent sign", "percent", &Creds{ProjectID: "100%"}, nil, true},
		{"quoted literal", "literal", member, Target{"visibility": "public"}, true},
		{"quoted literal differs", "literal", member, Target{"visibility": "private"}, false},
		{"True literal", "true_literal", member, Target{"flag": "True"}, true},
		{"is_admin is not a policy value", "is_admin", admin, nil, false},
		{"generic check on a role list", "roles_generic", admin, nil, true},
		{"role with substitution", "role_sub", member, Target{"role": "MEMBER"}, true},
		{"service roles", "service_role", member, nil, true},
		{"system scope", "system", system, nil, true},
		{"system absent for project tokens", "system", member, nil, false},
		{"no project compares as None", "none_project", noProject, nil, true},
		{"None owner matches a caller without project", "owner_match", noProject, Target{"owner": "None"}, true},
		{"rule cycle denies", "cycle_a", admin, nil, false},
		{"nil creds", "owner_match", nil, Target{"owner": "None"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.Allowed(tt.rule, tt.c, tt.t); got != tt.want {
				t.Errorf("Allowed(%s) = %v, want %v (%s)", tt.rule, got, tt.want, e.Explain(tt.rule, tt.c, tt.t).Reason)
			}
		})
	}
}

func TestPolicyFiles(t *testing.T) {
	member2 := &Creds{ProjectID: "p2", Roles: []string{"member"}}
	p1 := Target{"project_id": "p1", "owner": "p1", "visibility": "private"}

	t.Run("yaml override is used as written", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "policy.yaml", "# comment\nmodify_image: \"role:admin\"\n")
		e := mustNew(t, Options{ConfigDir: dir, PolicyFile: "policy.yaml"})
		// Not OR-ed with the deprecated rule:default even in legacy mode.
		if e.Allowed("modify_image", member2, p1) {
			t.Errorf("Allowed(modify_image) for a member of p2 = true, want false")
		}
		info, _ := e.Info("modify_image")
		if want := (RuleInfo{Name: "modify_image", Check: "role:admin", Source: filepath.Join(dir, "policy.yaml"), ScopeTypes: []string{"project"}}); !equalInfo(info, want) {
			t.Errorf("Info(modify_image) = %+v, want %+v", info, want)
		}
		// Rules not in the file keep default-or-deprecated.
		if !e.Allowed("delete_image", member2, p1) {
			t.Errorf("Allowed(delete_image) = false, want true (legacy default)")
		}
	})

	t.Run("json and policy.d order", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "policy.json", `{"get_image": "role:a", "add_image": "role:a"}`)
		writeFile(t, dir, "policy.d/20-b.yaml", "get_image: role:b\n")
		writeFile(t, dir, "policy.d/10-a.json", `{"get_image": "role:z", "delete_image": "role:z"}`)
		writeFile(t, dir, "policy.d/.hidden.yaml", "get_image: '!'\n")
		writeFile(t, dir, "policy.d/30-c.conf", "delete_image: role:c\n")
		e := mustNew(t, Options{ConfigDir: dir, PolicyFile: "policy.json", PolicyDirs: []string{"policy.d", "missing.d"}})
		want := map[string]string{"get_image": "role:b", "add_image": "role:a", "delete_image": "role:c"}
		for rule, check := range want {
			if info, _ := e.Info(rule); info.Check != check {
				t.Errorf("Info(%s).Check = %q, want %q", rule, info.Check, check)
			}
		}
		wantSources := []string{
			filepath.Join(dir, "policy.json"),
			filepath.Join(dir, "policy.d", "10-a.json"),
			filepath.Join(dir, "policy.d", "20-b.yaml"),
			filepath.Join(dir, "policy.d", "30-c.conf"),
		}
		if got := e.Sources(); !slices.Equal(got, wantSources) {
			t.Errorf("Sources() = %v, want %v", got, wantSources)
		}
	})

	t.Run("missing policy file is not an error", func(t *testing.T) {
		for _, name := range []string{"policy.yaml", "custom-policy.yaml", "/nonexistent/policy.yaml"} {
			e, err := New(Options{ConfigDir: t.TempDir(), PolicyFile: name, PolicyDirs: []string{"policy.d"}})
			if err != nil {
				t.Errorf("New(PolicyFile=%s) error = %v, want nil (oslo.policy only logs it)", name, err)
				continue
			}
			if len(e.Sources()) != 0 {
				t.Errorf("Sources() = %v, want none", e.Sources())
			}
		}
	})

	t.Run("empty and comment-only files", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "policy.yaml", "")
		writeFile(t, dir, "policy.d/a.yaml", "# nothing here\n")
		writeFile(t, dir, "policy.d/b.json", "{}")
		e := mustNew(t, Options{ConfigDir: dir, PolicyFile: "policy.yaml", PolicyDirs: []string{"policy.d"}})
		if got := len(e.Sources()); got != 3 {
			t.Errorf("len(Sources()) = %d, want 3", got)
		}
	})

	t.Run("duplicate key takes the last value", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "policy.yaml", "get_image: role:a\nget_image: role:b\n")
		e := mustNew(t, Options{ConfigDir: dir, PolicyFile: "policy.yaml"})
		if info, _ := e.Info("get_image"); info.Check != "role:b" {
			t.Errorf("Info(get_image).Check = %q, want role:b", info.Check)
		}
	})
}

func equalInfo(a, b RuleInfo) bool {
	return a.Name == b.Name && a.Check == b.Check && a.Source == b.Source && slices.Equal(a.ScopeTypes, b.ScopeTypes)
}

func TestPolicyFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		want    []string // substrings of the error
	}{
		{"bad check", "policy.yaml", "get_image: role:a\nadd_image: \"role:a and\"\n", []string{"policy.yaml:2", `rule "add_image"`, "cannot parse"}},
		{"http check", "policy.yaml", "x: \"http://example.com\"\n", []string{`rule "x"`, "http: checks are not supported"}},
		{"yaml syntax", "policy.yaml", "a: [\n", []string{"policy.yaml", "yaml"}},
		{"not a mapping", "policy.yaml", "- a\n- b\n", []string{"policy.yaml:1", "mapping"}},
		{"bool value", "policy.yaml", "x: true\n", []string{`rule "x"`, "must be a string"}},
		{"json bad check", "policy.json", "{\n  \"a\": \"role:a\",\n  \"b\": \"nocolon\"\n}\n", []string{"policy.json:3", `rule "b"`, "no colon"}},
		{"list with a number", "policy.yaml", "x: [[1]]\n", []string{`rule "x"`, "not a string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tt.file, tt.content)
			_, err := New(Options{ConfigDir: dir, PolicyFile: tt.file})
			if err == nil {
				t.Fatalf("New() error = nil, want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}

	t.Run("policy dir is a file", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "policy.d", "x: role:a\n")
		_, err := New(Options{ConfigDir: dir, PolicyDirs: []string{"policy.d"}})
		if err == nil || !strings.Contains(err.Error(), "is not a directory") {
			t.Errorf("New() error = %v, want 'is not a directory'", err)
		}
	})
	t.Run("bad file in policy dir", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "policy.d/ok.yaml", "x: role:a\n")
		writeFile(t, dir, "policy.d/zz.yaml", "y: \"(role:a\"\n")
		_, err := New(Options{ConfigDir: dir, PolicyDirs: []string{"policy.d"}})
		if err == nil || !strings.Contains(err.Error(), "zz.yaml:1") {
			t.Errorf("New() error = %v, want it to name zz.yaml:1", err)
		}
	})
}

func TestListSyntax(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.json", `{
  "either": [["role:a", "role:b"], ["role:c"]],
  "bare": ["role:a", "role:c"],
  "empty": [],
  "empty_inner": [[]]
}`)
	e := mustNew(t, Options{ConfigDir: dir, PolicyFile: "policy.json"})
	tests := []struct {
		rule  string
		roles []string
		want  bool
	}{
		{"either", []string{"a", "b"}, true},
		{"either", []string{"a"}, false},
		{"either", []string{"c"}, true},
		{"bare", []string{"c"}, true},
		{"bare", []string{"b"}, false},
		{"empty", nil, true},
		{"empty_inner", []string{"a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+strings.Join(tt.roles, ","), func(t *testing.T) {
			if got := e.Allowed(tt.rule, &Creds{Roles: tt.roles}, nil); got != tt.want {
				t.Errorf("Allowed(%s, roles %v) = %v, want %v", tt.rule, tt.roles, got, tt.want)
			}
		})
	}
	if info, _ := e.Info("either"); info.Check != "((role:a and role:b) or role:c)" {
		t.Errorf("Info(either).Check = %q, want ((role:a and role:b) or role:c)", info.Check)
	}
}

func TestUnknownRulesUseDefault(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", "default: role:admin\nref: rule:nowhere\n")
	e := mustNew(t, Options{ConfigDir: dir, PolicyFile: "policy.yaml"})
	admin := &Creds{Roles: []string{"admin"}}
	user := &Creds{Roles: []string{"member"}}
	for _, rule := range []string{"not_a_rule", "ref"} {
		if !e.Allowed(rule, admin, nil) || e.Allowed(rule, user, nil) {
			t.Errorf("Allowed(%s) admin/member = %v/%v, want true/false", rule, e.Allowed(rule, admin, nil), e.Allowed(rule, user, nil))
		}
	}
	d := e.Explain("not_a_rule", user, nil)
	if d.Allowed || d.Rule != "default" || d.CheckString != "role:admin" || !strings.Contains(d.Reason, "not defined") {
		t.Errorf("Explain(not_a_rule) = %+v, want denied by default role:admin", d)
	}
}

func TestLegacyCombination(t *testing.T) {
	e := mustNew(t, Options{})
	info, _ := e.Info("get_images")
	if want := "(rule:context_is_admin or (role:reader and project_id:%(project_id)s)) or (rule:default)"; info.Check != want || info.Source != "default or deprecated" {
		t.Errorf("Info(get_images) = %+v, want check %q from default or deprecated", info, want)
	}
	info, _ = e.Info("default")
	if want := `"" or (rule:context_is_admin)`; info.Check != want {
		t.Errorf("Info(default).Check = %q, want %q", info.Check, want)
	}
	strict := mustNew(t, Options{EnforceNewDefaults: true})
	info, _ = strict.Info("get_images")
	if want := "rule:context_is_admin or (role:reader and project_id:%(project_id)s)"; info.Check != want || info.Source != "default" {
		t.Errorf("Info(get_images) = %+v, want check %q from default", info, want)
	}
}

func TestScope(t *testing.T) {
	e := mustNew(t, Options{EnforceNewDefaults: true, EnforceScope: true})
	system := &Creds{SystemScope: "all", Roles: []string{"admin"}}
	domain := &Creds{DomainID: "d1", Roles: []string{"admin"}}
	project := &Creds{ProjectID: "p1", Roles: []string{"admin"}}
	tg := Target{"project_id": "p1", "visibility": "public"}
	for _, c := range []*Creds{system, domain} {
		if e.Allowed("get_image", c, tg) {
			t.Errorf("Allowed(get_image, %+v) = true, want false (scope)", *c)
		}
		if err := e.Enforce("get_image", c, tg); !errors.Is(err, ErrInvalidScope) {
			t.Errorf("Enforce(get_image, %+v) = %v, want ErrInvalidScope", *c, err)
		}
		// Base rules have no scope types.
		if !e.Allowed("context_is_admin", c, nil) {
			t.Errorf("Allowed(context_is_admin, %+v) = false, want true", *c)
		}
	}
	if err := e.Enforce("get_image", project, tg); err != nil {
		t.Errorf("Enforce(get_image, project admin) = %v, want nil", err)
	}
	if err := e.Enforce("publicize_image", &Creds{ProjectID: "p1", Roles: []string{"member"}}, tg); !errors.Is(err, ErrDenied) {
		t.Errorf("Enforce(publicize_image, member) = %v, want ErrDenied", err)
	}
	if d := e.Explain("get_image", system, tg); d.Allowed || !strings.Contains(d.Reason, "scope") {
		t.Errorf("Explain(get_image, system) = %+v, want a scope denial", d)
	}
	off := mustNew(t, Options{EnforceNewDefaults: true})
	if !off.Allowed("get_image", system, tg) {
		t.Errorf("Allowed(get_image, system admin) with EnforceScope off = false, want true")
	}
}

func TestIsAdmin(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", "context_is_admin: \"role:admin or role:cloud_admin\"\n")
	e := mustNew(t, Options{ConfigDir: dir, PolicyFile: "policy.yaml"})
	tests := []struct {
		c    *Creds
		want bool
	}{
		{&Creds{Roles: []string{"admin"}}, true},
		{&Creds{Roles: []string{"cloud_admin"}}, true},
		{&Creds{Roles: []string{"member"}}, false},
		{&Creds{Roles: []string{"member"}, IsAdmin: true}, true},
		{nil, false},
	}
	for _, tt := range tests {
		if got := e.IsAdmin(tt.c); got != tt.want {
			t.Errorf("IsAdmin(%+v) = %v, want %v", tt.c, got, tt.want)
		}
	}
}

func TestRegister(t *testing.T) {
	e := mustNew(t, Options{EnforceNewDefaults: true})
	if err := e.Register("^x_.*:read", "rule:context_is_admin"); err != nil {
		t.Fatal(err)
	}
	if err := e.Register("bad", "role:a and"); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("Register(bad) error = %v, want one naming the rule", err)
	}
	if !e.Allowed("^x_.*:read", &Creds{Roles: []string{"admin"}}, Target{}) {
		t.Errorf("Allowed(registered, admin) = false, want true")
	}
	if e.Allowed("^x_.*:read", &Creds{Roles: []string{"member"}}, Target{}) {
		t.Errorf("Allowed(registered, member) = true, want false")
	}
	if !slices.Contains(e.Rules(), "^x_.*:read") {
		t.Errorf("Rules() lacks the registered rule")
	}
	if slices.Contains(e.Rules(), "bad") {
		t.Errorf("Rules() lists a rule whose registration failed")
	}
}

func TestExplain(t *testing.T) {
	e := mustNew(t, Options{EnforceNewDefaults: true})
	member := &Creds{ProjectID: "p1", Roles: []string{"member", "reader"}}
	d := e.Explain("download_image", member, Target{"project_id": "p1", "visibility": "private"})
	if !d.Allowed || d.Rule != "download_image" || !strings.Contains(d.Reason, "project_id:%(project_id)s matched") {
		t.Errorf("Explain(download_image, owner member) = %+v", d)
	}
	d = e.Explain("modify_member", &Creds{ProjectID: "p2", Roles: []string{"member"}}, Target{"project_id": "p1"})
	if d.Allowed || !strings.Contains(d.Reason, "project_id:%(member_id)s did not match (the target has no member_id)") {
		t.Errorf("Explain(modify_member, no member_id) = %+v, want the missing key named", d)
	}
	d = e.Explain("publicize_image", member, nil)
	if d.Allowed || d.Reason != "rule:context_is_admin -> role:admin did not match" {
		t.Errorf("Explain(publicize_image, member) = %+v, want reason %q", d, "rule:context_is_admin -> role:admin did not match")
	}
}

func BenchmarkAllowedGetImage(b *testing.B) {
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	c := &Creds{UserID: "u1", ProjectID: "p2", Roles: []string{"member", "reader"}}
	tg := Target{"project_id": "p1", "owner": "p1", "visibility": "shared", "member_id": "p2"}
	strict, err := New(Options{EnforceNewDefaults: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("legacy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !e.Allowed("get_image", c, tg) {
				b.Fatal("denied")
			}
		}
	})
	b.Run("new-defaults", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !strict.Allowed("get_image", c, tg) {
				b.Fatal("denied")
			}
		}
	})
}

func TestConcurrentEvaluation(t *testing.T) {
	e := mustNew(t, Options{EnforceNewDefaults: true})
	tg := Target{"project_id": "p1", "visibility": "shared", "member_id": "p2"}
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 200 {
				c := &Creds{ProjectID: "p2", Roles: []string{"reader"}}
				ok = ok && e.Allowed("get_image", c, tg) && !e.Allowed("modify_image", c, tg) &&
					e.Explain("get_image", c, tg).Allowed && !e.IsAdmin(c)
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Errorf("concurrent evaluations disagreed with the sequential result")
		}
	}
}

func FuzzParseText(f *testing.F) {
	for _, d := range Defaults() {
		f.Add(d.Check)
	}
	for _, s := range []string{"not (role:a or", "((role:a)) and not not @", "'x':%(a)s%%", "a:%(b(c))s", "True:10"} {
		f.Add(s)
	}
	e, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := e.parser().parseText(s)
		if err != nil {
			return
		}
		// Whatever parsed must evaluate without panicking, and its
		// rendering must parse again to the same tree.
		ev := evaluator{e: e, c: &Creds{Roles: []string{"a"}}, t: Target{"a": "x"}}
		ev.eval(n, 0)
		ev.explain(n, 0)
		again, err := e.parser().parseText(n.String())
		if err != nil {
			t.Fatalf("parseText(%q) rendered as %q, which does not parse: %v", s, n.String(), err)
		}
		if again.String() != n.String() {
			t.Fatalf("parseText(%q) = %s, reparsed as %s", s, n.String(), again.String())
		}
	})
}

func TestAlwaysAllows(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", "get_image: \"role:admin\"\nshow_all: \"@ or role:x\"\nboth: \"rule:show_all and @\"\n")
	legacy := mustNew(t, Options{})
	overridden := mustNew(t, Options{PolicyFile: "policy.yaml", ConfigDir: dir})
	rbac := mustNew(t, Options{EnforceNewDefaults: true})
	scoped := mustNew(t, Options{EnforceScope: true})
	for _, tc := range []struct {
		name string
		e    *Enforcer
		rule string
		want bool
	}{
		{"legacy get_image", legacy, "get_image", true},
		{"legacy modify_image", legacy, "modify_image", true},
		{"legacy publicize_image", legacy, "publicize_image", false},
		{"legacy unknown rule", legacy, "no_such_rule", true},
		{"new defaults get_image", rbac, "get_image", false},
		{"file overrides get_image", overridden, "get_image", false},
		{"file rule with @ in an or", overridden, "show_all", true},
		{"and of always-true checks", overridden, "both", true},
		{"scope enforced", scoped, "get_image", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.AlwaysAllows(tc.rule); got != tc.want {
				t.Fatalf("AlwaysAllows(%q): got %v, want %v", tc.rule, got, tc.want)
			}
		})
	}
}
