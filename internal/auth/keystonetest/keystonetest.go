// Package keystonetest gives tests access to the real Keystone that
// scripts/keystone/start.sh runs: its address, the fixture's ids and
// passwords, tokens for the fixture users, and the [keystone_authtoken]
// options for glimpse's service user. It starts nothing.
//
// It reads GLIMPSE_KEYSTONE_URL and GLIMPSE_KEYSTONE_FIXTURE (the
// fixture.json that start.sh writes), as exported by
//
//	eval "$(scripts/keystone/start.sh)"
//
// When they are absent, Load skips the test, or fails it when
// GLIMPSE_REQUIRE_BACKENDS=1.
package keystonetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// Fixture is the content of start.sh's fixture.json.
type Fixture struct {
	URL      string            `json:"url"` // Keystone's root, without /v3
	Region   string            `json:"region"`
	Domain   string            `json:"domain"`   // id of the fixture's domain
	Projects map[string]string `json:"projects"` // name -> id
	Roles    map[string]string `json:"roles"`    // name -> id
	Users    map[string]User   `json:"users"`    // name -> user
}

// User is a fixture user.
type User struct {
	ID       string   `json:"id"`
	Password string   `json:"password"`
	Project  string   `json:"project"` // name of the project it holds roles on
	Roles    []string `json:"roles"`   // roles granted there (before implied ones)
}

// Load returns the running fixture, or skips t when the environment does
// not name one (fails it with GLIMPSE_REQUIRE_BACKENDS=1).
func Load(t testing.TB) *Fixture {
	t.Helper()
	url, file := os.Getenv("GLIMPSE_KEYSTONE_URL"), os.Getenv("GLIMPSE_KEYSTONE_FIXTURE")
	if url == "" || file == "" {
		msg := "no Keystone: GLIMPSE_KEYSTONE_URL and GLIMPSE_KEYSTONE_FIXTURE unset; run eval \"$(scripts/keystone/start.sh)\" first"
		if os.Getenv("GLIMPSE_REQUIRE_BACKENDS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("keystonetest: %v", err)
	}
	var f Fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("keystonetest: %s: %v", file, err)
	}
	f.URL = strings.TrimRight(url, "/")
	return &f
}

// AuthTokenOptions are [keystone_authtoken] options that make glimpse log
// in as the fixture's service user glance, as a glance-api.conf would.
func (f *Fixture) AuthTokenOptions() map[string]string {
	return map[string]string{
		"www_authenticate_uri": f.URL,
		"auth_url":             f.URL,
		"auth_type":            "password",
		"username":             "glance",
		"password":             f.Users["glance"].Password,
		"project_name":         "service",
		"user_domain_name":     "Default",
		"project_domain_name":  "Default",
		"region_name":          f.Region,
	}
}

// Token returns a token of user scoped to the user's fixture project.
func (f *Fixture) Token(t testing.TB, user string) string {
	t.Helper()
	return f.ProjectToken(t, user, f.user(t, user).Project)
}

// ProjectToken returns a token of user scoped to the named project.
func (f *Fixture) ProjectToken(t testing.TB, user, project string) string {
	t.Helper()
	return f.issue(t, user, map[string]any{"project": map[string]any{"name": project, "domain": map[string]string{"id": f.Domain}}})
}

// SystemToken returns a token of user scoped to the whole system (the
// fixture's admin has a role there).
func (f *Fixture) SystemToken(t testing.TB, user string) string {
	t.Helper()
	return f.issue(t, user, map[string]any{"system": map[string]bool{"all": true}})
}

// DomainToken returns a token of user scoped to the fixture's domain (the
// fixture's admin has a role there).
func (f *Fixture) DomainToken(t testing.TB, user string) string {
	t.Helper()
	return f.issue(t, user, map[string]any{"domain": map[string]string{"id": f.Domain}})
}

// Revoke revokes token (as the fixture's admin); Keystone then calls it
// invalid.
func (f *Fixture) Revoke(t testing.TB, token string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, f.URL+"/v3/auth/tokens", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", f.Token(t, "admin"))
	req.Header.Set("X-Subject-Token", token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("keystonetest: revoke: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("keystonetest: revoke: HTTP %d: %s", resp.StatusCode, b)
	}
}

func (f *Fixture) user(t testing.TB, name string) User {
	t.Helper()
	u, ok := f.Users[name]
	if !ok {
		t.Fatalf("keystonetest: %q is not a fixture user", name)
	}
	return u
}

var client = &http.Client{Timeout: 30 * time.Second}

func (f *Fixture) issue(t testing.TB, user string, scope map[string]any) string {
	t.Helper()
	u := f.user(t, user)
	body, err := json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"id": u.ID, "password": u.Password}}},
		"scope": scope,
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post(f.URL+"/v3/auth/tokens?nocatalog", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("keystonetest: token for %s: %v", user, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	tok := resp.Header.Get("X-Subject-Token")
	if resp.StatusCode != http.StatusCreated || tok == "" {
		t.Fatalf("keystonetest: token for %s (%s): HTTP %d: %s", user, fmt.Sprint(scope), resp.StatusCode, b)
	}
	return tok
}
