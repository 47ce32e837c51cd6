package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runPolicyCmd(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := runPolicy(args, &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// policyConfig writes a configuration whose [oslo_policy] names a policy
// file and a policy.d directory beside it, and returns its path.
func policyConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"glance-api.conf": "[DEFAULT]\n[oslo_policy]\npolicy_file = site-policy.yaml\npolicy_dirs = conf.d\n" + extra,
		"site-policy.yaml": "# site rules\n" +
			"publicize_image: \"role:admin or role:publisher\"\n" +
			"download_image: \"role:member and project_id:%(project_id)s\"\n",
		"conf.d/10-extra.yaml": "upload_image: \"!\"\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "glance-api.conf")
}

func TestPolicyCheck(t *testing.T) {
	conf := policyConfig(t, "")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"publisher may publicize (file rule)",
			[]string{"check", "publicize_image", "--config", conf, "--roles", "Member,Publisher", "--project", "p1"},
			0, []string{"allowed: publicize_image\n", "check: role:admin or role:publisher\n", "site-policy.yaml", "decided by: role:publisher matched\n"}},
		{"member may not publicize",
			[]string{"check", "--config", conf, "publicize_image", "--roles", "member", "--project", "p1"},
			1, []string{"denied: publicize_image\n", "decided by: none of: role:admin did not match; role:publisher did not match\n"}},
		{"download by another project's member is denied",
			[]string{"check", "download_image", "--config", conf, "--roles", "member", "--project", "p2", "--target", "project_id=p1", "--target", "visibility=public"},
			1, []string{"denied: download_image\n", "project_id:%(project_id)s did not match"}},
		{"download by the owner's member",
			[]string{"check", "download_image", "--config", conf, "--roles", "member", "--project", "p1", "--target", "project_id=p1"},
			0, []string{"allowed: download_image\n"}},
		{"policy.d overrides",
			[]string{"check", "upload_image", "--config", conf, "--roles", "admin", "--project", "p1"},
			1, []string{"denied: upload_image\n", "check: !\n", "10-extra.yaml"}},
		{"legacy mode: modify_image falls to the empty default",
			[]string{"check", "modify_image", "--config", conf, "--roles", "reader", "--project", "p2", "--target", "project_id=p1"},
			0, []string{"allowed: modify_image\n", "source: default or deprecated\n"}},
		{"--new-defaults drops the deprecated check",
			[]string{"check", "modify_image", "--config", conf, "--new-defaults", "--roles", "reader", "--project", "p2", "--target", "project_id=p1"},
			1, []string{"denied: modify_image\n", "source: default\n"}},
		{"unknown rule uses default",
			[]string{"check", "no_such_rule", "--config", conf},
			0, []string{"allowed: no_such_rule\n", "rule: default (no rule no_such_rule is defined)\n"}},
		{"without a config file the defaults apply",
			[]string{"check", "publicize_image", "--roles", "admin", "--project", "p1"},
			0, []string{"allowed: publicize_image\n", "check: rule:context_is_admin\n", "decided by: rule:context_is_admin -> role:admin matched\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runPolicyCmd(t, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit code: got %d, want %d (stdout %q, stderr %q)", r.code, tt.code, r.stdout, r.stderr)
			}
			for _, c := range tt.contains {
				if !strings.Contains(r.stdout, c) {
					t.Errorf("stdout = %q, want it to contain %q", r.stdout, c)
				}
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want empty", r.stderr)
			}
		})
	}
}

func TestPolicyCheckScope(t *testing.T) {
	conf := policyConfig(t, "enforce_scope = true\nenforce_new_defaults = true\n")
	r := runPolicyCmd(t, "check", "get_image", "--config", conf, "--roles", "admin", "--system-scope", "all")
	if r.code != 1 || !strings.Contains(r.stdout, "token scope system is not among the rule's scope types project") {
		t.Errorf("check get_image as system admin: got code %d stdout %q, want 1 and a scope explanation", r.code, r.stdout)
	}
}

func TestPolicyList(t *testing.T) {
	conf := policyConfig(t, "")
	r := runPolicyCmd(t, "list", "--config", conf)
	if r.code != 0 {
		t.Fatalf("exit code: got %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	dir := filepath.Dir(conf)
	want := []string{
		"# enforce_new_defaults = false, enforce_scope = false",
		"# read " + filepath.Join(dir, "site-policy.yaml"),
		"# read " + filepath.Join(dir, "conf.d", "10-extra.yaml"),
		`"publicize_image": "role:admin or role:publisher"  # ` + filepath.Join(dir, "site-policy.yaml"),
		`"upload_image": "!"  # ` + filepath.Join(dir, "conf.d", "10-extra.yaml"),
		`"context_is_admin": "role:admin"`,
		`"get_images": "(rule:context_is_admin or (role:reader and project_id:%(project_id)s)) or (rule:default)"  # default or deprecated`,
	}
	got := lines(r.stdout)
	for _, w := range want {
		found := false
		for _, l := range got {
			if l == w {
				found = true
			}
		}
		if !found {
			t.Errorf("policy list output lacks line %q; got:\n%s", w, r.stdout)
		}
	}
	// 3 header lines and one line per rule.
	if n := len(got); n != 3+67 {
		t.Errorf("policy list printed %d lines, want %d", n, 3+67)
	}

	r = runPolicyCmd(t, "list", "--new-defaults")
	if r.code != 0 || !strings.Contains(r.stdout, "# no policy file found") ||
		!strings.Contains(r.stdout, "\"get_images\": \"rule:context_is_admin or (role:reader and project_id:%(project_id)s)\"\n") {
		t.Errorf("policy list --new-defaults without config: code %d, stdout %q", r.code, r.stdout)
	}
}

func TestPolicyUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "glance-api.conf")
	if err := os.WriteFile(bad, []byte("[oslo_policy]\npolicy_file = broken.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(bad), "broken.yaml"), []byte("get_image: \"role:a and\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no subcommand", nil, "usage:"},
		{"unknown subcommand", []string{"explain"}, `unknown command "explain"`},
		{"check without rule", []string{"check"}, "want exactly one RULE, got 0"},
		{"check with two rules", []string{"check", "a", "b"}, "want exactly one RULE, got 2"},
		{"bad target", []string{"check", "get_image", "--target", "novalue"}, "want KEY=VALUE"},
		{"unknown flag", []string{"check", "get_image", "--color"}, "flag provided but not defined"},
		{"missing config", []string{"list", "--config", filepath.Join(t.TempDir(), "nope.conf")}, "config error"},
		{"broken policy file", []string{"check", "get_image", "--config", bad}, `broken.yaml:1: rule "get_image"`},
		{"list with argument", []string{"list", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runPolicyCmd(t, tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit code: got %d, want %d", r.code, exitUsage)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.stderr)
			}
			noStackTrace(t, r.stderr)
		})
	}
}
