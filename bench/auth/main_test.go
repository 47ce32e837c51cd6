package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The ratio must be the median of per-run ratios: here it differs from the
// ratio of the medians (1000/2000 = 0.5).
func TestMedianTakesPerRunRatioAndSumsErrors(t *testing.T) {
	runs := []figures{
		{NoauthPerS: 1000, KeystonePerS: 900, Errors: 1, ErrorsByPhase: map[string]int{"cold": 1}, FirstErrorText: "cold: boom"},
		{NoauthPerS: 2000, KeystonePerS: 1000},
		{NoauthPerS: 3000, KeystonePerS: 2900, Errors: 2, ErrorsByPhase: map[string]int{"keystone": 2}},
	}
	for i := range runs {
		runs[i].Ratio = ratio(runs[i].KeystonePerS, runs[i].NoauthPerS)
	}
	m := median(runs)
	if m.NoauthPerS != 2000 || m.KeystonePerS != 1000 {
		t.Errorf("median rates = %v, %v; want 2000, 1000", m.NoauthPerS, m.KeystonePerS)
	}
	if m.Ratio != 0.9 {
		t.Errorf("median ratio = %v, want 0.9 (run 1's)", m.Ratio)
	}
	if m.Errors != 3 || m.ErrorsByPhase["cold"] != 1 || m.ErrorsByPhase["keystone"] != 2 || m.FirstErrorText != "cold: boom" {
		t.Errorf("errors = %d %v %q; want the sum 3 by phase and the first text", m.Errors, m.ErrorsByPhase, m.FirstErrorText)
	}
	if got := ratio(5, 0); got != 0 {
		t.Errorf("ratio(5, 0) = %v, want 0", got)
	}
}

func TestConfigFileNoauth(t *testing.T) {
	got, err := configFile("noauth", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[paste_deploy]\nflavor = noauth\n"; got != want {
		t.Errorf("configFile(noauth) = %q, want %q", got, want)
	}
}

func TestConfigFileKeystone(t *testing.T) {
	f := &fixture{URL: "http://127.0.0.1:5000", Region: "RegionOne", Domain: "default",
		Users: map[string]fixtureUser{"glance": {ID: "g", Password: "glance-secret", Project: "service"}}}
	got, err := configFile("keystone", authTokenOptions(f))
	if err != nil {
		t.Fatal(err)
	}
	want := "[paste_deploy]\nflavor = keystone\n" +
		"\n[keystone_authtoken]\n" +
		"auth_type = password\n" +
		"auth_url = http://127.0.0.1:5000\n" +
		"password = glance-secret\n" +
		"project_domain_name = Default\n" +
		"project_name = service\n" +
		"region_name = RegionOne\n" +
		"user_domain_name = Default\n" +
		"username = glance\n" +
		"www_authenticate_uri = http://127.0.0.1:5000\n"
	if got != want {
		t.Errorf("configFile(keystone) =\n%s\nwant\n%s", got, want)
	}
}

func TestConfigFileRefusesMultiLineValues(t *testing.T) {
	if _, err := configFile("keystone", map[string]string{"password": "a\nflavor = noauth"}); err == nil {
		t.Error("a value with a newline was accepted; it could inject options")
	}
	if _, err := configFile("noauth\n[x]", nil); err == nil {
		t.Error("a flavor with a newline was accepted")
	}
}

func TestParseFixture(t *testing.T) {
	data := []byte(`{"url": "http://127.0.0.1:1", "region": "RegionOne", "domain": "default",
		"projects": {"alpha": "p1"},
		"users": {"alice": {"id": "u1", "password": "alice-secret", "project": "alpha", "roles": ["member"]}}}`)
	f, err := parseFixture(data, "http://127.0.0.1:15000/")
	if err != nil {
		t.Fatal(err)
	}
	if f.URL != "http://127.0.0.1:15000" {
		t.Errorf("URL = %q; want the given Keystone URL without the trailing slash", f.URL)
	}
	if f.Users["alice"].ID != "u1" || f.Projects["alpha"] != "p1" || f.Region != "RegionOne" {
		t.Errorf("fixture read wrong: %+v", f)
	}
	if _, err := parseFixture([]byte(`{"users": {}}`), "http://127.0.0.1:1"); err == nil {
		t.Error("a fixture without domain and users was accepted")
	}
	if _, err := parseFixture([]byte(`not json`), "http://127.0.0.1:1"); err == nil {
		t.Error("invalid JSON was accepted")
	}
}

func TestTokenRequest(t *testing.T) {
	f := &fixture{Domain: "default", Users: map[string]fixtureUser{"alice": {ID: "u1", Password: "pw", Project: "alpha"}}}
	body, err := tokenRequest(f, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password struct {
					User struct{ ID, Password string } `json:"user"`
				} `json:"password"`
			} `json:"identity"`
			Scope struct {
				Project struct {
					Name   string            `json:"name"`
					Domain map[string]string `json:"domain"`
				} `json:"project"`
			} `json:"scope"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	a := req.Auth
	if strings.Join(a.Identity.Methods, ",") != "password" || a.Identity.Password.User.ID != "u1" ||
		a.Identity.Password.User.Password != "pw" || a.Scope.Project.Name != "alpha" || a.Scope.Project.Domain["id"] != "default" {
		t.Errorf("token request = %s", body)
	}
	if _, err := tokenRequest(f, "mallory"); err == nil {
		t.Error("an unknown user was accepted")
	}
}
