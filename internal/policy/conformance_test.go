package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The conformance test runs the same decisions through the real
// oslo.policy (Debian package python3-oslo.policy) and compares. It skips
// when no Python with oslo.policy is found, unless GLIMPSE_REQUIRE_BACKENDS=1.

const pyScript = `
import json, sys, warnings
warnings.simplefilter("ignore")
from oslo_config import cfg
from oslo_policy import opts, policy

data = json.load(sys.stdin)
conf = cfg.ConfigOpts()
opts.set_defaults(conf)
conf([], project="glimpse-conformance", default_config_files=[], default_config_dirs=[])
conf.set_override("enforce_new_defaults", data["new_defaults"], group="oslo_policy")
conf.set_override("enforce_scope", data["enforce_scope"], group="oslo_policy")
conf.set_override("policy_file", data["policy_file"], group="oslo_policy")
conf.set_override("policy_dirs", [], group="oslo_policy")
e = policy.Enforcer(conf)
defaults = []
for d in data["defaults"]:
    dep = None
    if d["Deprecated"]:
        dep = policy.DeprecatedRule(d["Name"], d["Deprecated"],
                                    deprecated_reason="r", deprecated_since="s")
    defaults.append(policy.RuleDefault(d["Name"], d["Check"], deprecated_rule=dep,
                                       scope_types=d["ScopeTypes"]))
e.register_defaults(defaults)
out = []
for c in data["cases"]:
    try:
        out.append(bool(e.enforce(c["rule"], c["target"], c["creds"])))
    except Exception as ex:
        out.append("error: %s" % ex)
json.dump(out, sys.stdout)
`

// findOslo returns a Python interpreter that can import oslo_policy.
func findOslo(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import oslo_policy").Run() == nil {
			return path
		}
	}
	if os.Getenv("GLIMPSE_REQUIRE_BACKENDS") == "1" {
		t.Fatal("no python3 with oslo_policy (Debian package python3-oslo.policy) and GLIMPSE_REQUIRE_BACKENDS=1")
	}
	t.Skip("no python3 with oslo_policy; install python3-oslo.policy to compare with oslo.policy")
	return ""
}

// policyValues is Creds as oslo.context's to_policy_values lays it out.
func policyValues(c Creds) map[string]any {
	none := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	roles := c.Roles
	if roles == nil {
		roles = []string{}
	}
	sroles := c.ServiceRoles
	if sroles == nil {
		sroles = []string{}
	}
	return map[string]any{
		"user_id":                   none(c.UserID),
		"user_domain_id":            none(c.UserDomainID),
		"system_scope":              none(c.SystemScope),
		"domain_id":                 none(c.DomainID),
		"project_id":                none(c.ProjectID),
		"project_domain_id":         none(c.ProjectDomainID),
		"roles":                     roles,
		"is_admin_project":          true,
		"service_user_id":           nil,
		"service_user_domain_id":    nil,
		"service_project_id":        nil,
		"service_project_domain_id": nil,
		"service_roles":             sroles,
	}
}

type confCase struct {
	name   string
	rule   string
	creds  Creds
	target Target
}

// runOslo evaluates cases in oslo.policy with Glance's defaults, the
// given policy file content (may be empty) and options.
func runOslo(t *testing.T, py string, o Options, fileContent string, cases []confCase) []any {
	t.Helper()
	pf := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pf, []byte(fileContent), 0o600); err != nil {
		t.Fatal(err)
	}
	type wireCase struct {
		Rule   string         `json:"rule"`
		Creds  map[string]any `json:"creds"`
		Target Target         `json:"target"`
	}
	in := map[string]any{
		"new_defaults":  o.EnforceNewDefaults,
		"enforce_scope": o.EnforceScope,
		"policy_file":   pf,
		"defaults":      Defaults(),
	}
	var wc []wireCase
	for _, c := range cases {
		tg := c.target
		if tg == nil {
			tg = Target{}
		}
		wc = append(wc, wireCase{c.rule, policyValues(c.creds), tg})
	}
	in["cases"] = wc
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", pyScript)
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oslo.policy script: %v\n%s", err, stderr.String())
	}
	var res []any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("oslo.policy output %q: %v", out, err)
	}
	if len(res) != len(cases) {
		t.Fatalf("oslo.policy returned %d results, want %d", len(res), len(cases))
	}
	return res
}

func compareWithOslo(t *testing.T, py string, o Options, fileContent string, cases []confCase) {
	t.Helper()
	dir := t.TempDir()
	if fileContent != "" {
		if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(fileContent), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o.ConfigDir, o.PolicyFile = dir, "policy.yaml"
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	want := runOslo(t, py, o, fileContent, cases)
	for i, c := range cases {
		creds := c.creds
		got := e.Allowed(c.rule, &creds, c.target)
		if w, ok := want[i].(bool); !ok || got != w {
			t.Errorf("%s: Allowed(%s) = %v, oslo.policy says %v", c.name, c.rule, got, want[i])
		}
	}
}

func TestConformanceDefaults(t *testing.T) {
	py := findOslo(t)
	var cases []confCase
	for _, d := range Defaults() {
		for _, c := range callers {
			for _, tg := range targets() {
				cases = append(cases, confCase{fmt.Sprintf("%s/%s/%s", d.Name, c.name, tg.name), d.Name, c.creds, tg.t})
			}
		}
	}
	for _, mode := range []Options{{}, {EnforceNewDefaults: true}} {
		t.Run(fmt.Sprintf("new=%v", mode.EnforceNewDefaults), func(t *testing.T) {
			compareWithOslo(t, py, mode, "", cases)
		})
	}
}

func TestConformanceScope(t *testing.T) {
	py := findOslo(t)
	system := Creds{UserID: "u", SystemScope: "all", Roles: []string{"admin", "reader"}}
	domain := Creds{UserID: "u", DomainID: "d1", Roles: []string{"admin"}}
	var cases []confCase
	for _, rule := range []string{"get_image", "context_is_admin", "default", "unknown_rule", "service_api"} {
		for _, c := range []caller{{"system", system}, {"domain", domain}, callers[0]} {
			cases = append(cases, confCase{rule + "/" + c.name, rule, c.creds, Target{"project_id": "p1", "visibility": "public"}})
		}
	}
	for _, scope := range []bool{false, true} {
		t.Run(fmt.Sprintf("enforce_scope=%v", scope), func(t *testing.T) {
			compareWithOslo(t, py, Options{EnforceNewDefaults: true, EnforceScope: scope}, "", cases)
		})
	}
}

// TestConformanceLanguage compares oslo.policy's parser and checks on
// rules written in a policy file, including its odd corners.
func TestConformanceLanguage(t *testing.T) {
	py := findOslo(t)
	file := `
"prec1": "role:a or role:b and role:c"
"prec2": "role:a and role:b or role:c and role:d"
"prec3": "not role:a and role:b"
"prec4": "not (role:a or role:b)"
"prec5": "role:a or not role:b and role:c or role:d"
"prec6": "(role:a or role:b) and (role:c or role:d)"
"prec7": "role:a or (role:b and role:c) and role:d"
"prec8": "not not role:a"
"case": "ROLE:A"
"role_upper": "role:A"
"andor_case": "role:a AND role:b OR role:c"
"lit_true": "True:%(flag)s"
"lit_quoted": "'x':%(name)s"
"lit_dquoted": "\"x\":%(name)s"
"lit_int": "10:%(n)s"
"is_admin": "is_admin:True"
"is_admin_project": "is_admin_project:True"
"user": "user_id:%(user_id)s"
"dotted": "project_id:%(target.image.owner)s"
"concat": "project_id:p%(suffix)s"
"literal_rhs": "project_id:p1"
"roles_generic": "roles:a"
"system": "system:all"
"system_scope": "system_scope:all"
"domain": "domain_id:%(domain_id)s"
"missing_cred": "nothing:%(project_id)s"
"none_owner": "project_id:%(owner)s"
"unknown_ref": "rule:does_not_exist"
"always": "@"
"never": "!"
"not_never": "not !"
"empty": ""
"null":
"list_rule": [["role:a", "role:b"], ["role:c"]]
"list_empty": []
"list_bare": ["role:a"]
"default": "role:d"
"ref_default": "rule:default"
`
	cs := []Creds{
		{ProjectID: "p1", UserID: "u1", Roles: []string{"a"}},
		{ProjectID: "p1", UserID: "u1", Roles: []string{"b", "c"}},
		{ProjectID: "p1", UserID: "u1", Roles: []string{"c", "d"}},
		{ProjectID: "p2", Roles: []string{"b"}},
		{Roles: []string{"d"}},
		{SystemScope: "all", Roles: []string{"a", "b", "c", "d"}},
		{DomainID: "d1", UserID: "u1"},
	}
	tgs := []Target{
		{},
		{"flag": "True", "name": "x", "n": "10", "user_id": "u1", "target.image.owner": "p1", "suffix": "1", "domain_id": "d1", "owner": "None", "project_id": "p1"},
		{"flag": "False", "name": "y", "n": "010", "user_id": "u2", "target.image.owner": "p2", "suffix": "2", "domain_id": "d2", "owner": "p1", "project_id": "p2"},
	}
	names := []string{"prec1", "prec2", "prec3", "prec4", "prec5", "prec6", "prec7", "prec8", "case", "role_upper",
		"andor_case", "lit_true", "lit_quoted", "lit_dquoted", "lit_int", "is_admin", "is_admin_project", "user", "dotted", "concat",
		"literal_rhs", "roles_generic", "system", "system_scope", "domain", "missing_cred", "none_owner", "unknown_ref", "always",
		"never", "not_never", "empty", "null", "list_rule", "list_empty", "list_bare", "default", "ref_default", "not_defined_at_all"}
	var cases []confCase
	for _, n := range names {
		for i, c := range cs {
			for j, tg := range tgs {
				cases = append(cases, confCase{fmt.Sprintf("%s/creds%d/target%d", n, i, j), n, c, tg})
			}
		}
	}
	compareWithOslo(t, py, Options{}, file, cases)
}
