package auth

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/auth/keystonetest"
	"glimpse/internal/image"
)

// baseOptions is a complete [keystone_authtoken] section for a Keystone
// at keystoneURL.
func baseOptions(keystoneURL string) map[string]string {
	return map[string]string{
		"www_authenticate_uri": "http://public.example:5000",
		"auth_url":             keystoneURL,
		"auth_type":            "password",
		"username":             "glance",
		"password":             "glance-secret",
		"project_name":         "service",
		"user_domain_name":     "Default",
		"project_domain_name":  "Default",
		"region_name":          "RegionOne",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func TestNewKeystoneOptions(t *testing.T) {
	base := baseOptions("http://127.0.0.1:15000")
	tests := []struct {
		name      string
		opts      map[string]string
		wantErrs  []string // substrings of the error; nil: no error
		wantWarns []string
		challenge string
	}{
		{"complete", base, nil, nil, `Keystone uri="http://public.example:5000"`},
		{"deprecated auth_uri", with(base, "www_authenticate_uri", "<unset>", "auth_uri", "http://old.example:5000"),
			nil, nil, `Keystone uri="http://old.example:5000"`},
		{"no www_authenticate_uri", with(base, "www_authenticate_uri", "<unset>", "auth_url", "http://127.0.0.1:15000/v3/"),
			nil, []string{"[keystone_authtoken] www_authenticate_uri: not set; 401 answers point clients at auth_url http://127.0.0.1:15000"},
			`Keystone uri="http://127.0.0.1:15000"`},
		{"unused options warn one each", with(base, "memcached_servers", "127.0.0.1:11211", "service_type", "image", "cafile", "/x"),
			nil, []string{
				"[keystone_authtoken] cafile: not supported by glimpse; ignored",
				"[keystone_authtoken] memcached_servers: not supported by glimpse; ignored",
				"[keystone_authtoken] service_type: not supported by glimpse; ignored",
			}, `Keystone uri="http://public.example:5000"`},
		{"ids instead of names", with(base, "username", "<unset>", "user_id", "u1", "user_domain_name", "<unset>",
			"project_name", "<unset>", "project_id", "p1", "project_domain_name", "<unset>"), nil, nil, `Keystone uri="http://public.example:5000"`},
		{"default domain", with(base, "user_domain_name", "<unset>", "project_domain_name", "<unset>", "default_domain_id", "default"),
			nil, nil, `Keystone uri="http://public.example:5000"`},
		{"every required option missing", map[string]string{}, []string{
			"[keystone_authtoken] auth_type: missing; glimpse supports auth_type = password",
			"[keystone_authtoken] auth_url: missing",
			"[keystone_authtoken] username: missing (or user_id)",
			"[keystone_authtoken] password: missing",
			"[keystone_authtoken] project_name: missing (or project_id)",
		}, nil, ""},
		{"domains missing", with(base, "user_domain_name", "<unset>", "project_domain_name", "<unset>"), []string{
			"[keystone_authtoken] user_domain_name: missing (or user_domain_id): needed with username",
			"[keystone_authtoken] project_domain_name: missing (or project_domain_id): needed with project_name",
		}, nil, ""},
		{"other auth_type", with(base, "auth_type", "v3token"),
			[]string{`[keystone_authtoken] auth_type: "v3token" is not supported; glimpse supports auth_type = password`}, nil, ""},
		{"v2 auth_url", with(base, "auth_url", "http://127.0.0.1:15000/v2.0"),
			[]string{`[keystone_authtoken] auth_url: "http://127.0.0.1:15000/v2.0" names Identity v2.0; glimpse speaks v3`}, nil, ""},
		{"not a URL", with(base, "auth_url", "keystone:5000"),
			[]string{`[keystone_authtoken] auth_url: "keystone:5000" is not an http or https URL`}, nil, ""},
		{"bad numbers and booleans", with(base, "token_cache_time", "-2", "http_connect_timeout", "0",
			"http_request_max_retries", "x", "delay_auth_decision", "maybe", "include_service_catalog", "2"), []string{
			`[keystone_authtoken] token_cache_time: "-2" is not an integer >= -1`,
			`[keystone_authtoken] http_connect_timeout: "0" is not an integer >= 1`,
			`[keystone_authtoken] http_request_max_retries: "x" is not an integer >= 0`,
			`[keystone_authtoken] delay_auth_decision: "maybe" is not a boolean`,
			`[keystone_authtoken] include_service_catalog: "2" is not a boolean`,
		}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, warns, err := NewKeystone(tt.opts, nil)
			if tt.wantErrs == nil {
				if err != nil {
					t.Fatalf("NewKeystone error = %v, want none", err)
				}
				if got := k.Challenge(); got != tt.challenge {
					t.Errorf("Challenge() = %q, want %q", got, tt.challenge)
				}
			} else {
				if err == nil {
					t.Fatalf("NewKeystone error = nil, want %q", tt.wantErrs)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("NewKeystone error = %q, want it to contain %q", err, w)
					}
				}
				if got, want := strings.Count(err.Error(), "[keystone_authtoken]"), len(tt.wantErrs); got != want {
					t.Errorf("NewKeystone error names %d problems, want %d: %q", got, want, err)
				}
			}
			if diff := cmp.Diff(tt.wantWarns, warns); diff != "" {
				t.Errorf("NewKeystone warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewKeystoneDefaults(t *testing.T) {
	k, _, err := NewKeystone(baseOptions("http://127.0.0.1:15000"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := k.cfg
	got := []any{c.identityURL, c.cacheTime, c.timeout, c.retries, c.withCatalog, c.delayDecision, c.serviceRoles, c.rolesRequired}
	want := []any{"http://127.0.0.1:15000/v3", 300 * time.Second, 10 * time.Second, 3, true, false, []string{"service"}, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	k, _, err = NewKeystone(with(baseOptions("http://127.0.0.1:15000"), "service_token_roles", "Service, nova ,", "service_token_roles_required", "True"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.cfg.serviceRoles, []string{"service", "nova"}; !slices.Equal(got, want) || !k.cfg.rolesRequired {
		t.Errorf("service_token_roles = %q (required %v), want %q (required true)", got, k.cfg.rolesRequired, want)
	}
}

// closedURL is the URL of a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

func request(headers ...string) *http.Request {
	r := httptest.NewRequest("GET", "/v2/images", nil)
	for i := 0; i < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

// spoofed are identity headers a client might send to pose as someone;
// keystone mode must ignore them all.
var spoofed = []string{
	"X-Identity-Status", "Confirmed", "X-Service-Identity-Status", "Confirmed",
	"X-User-Id", "evil", "X-User-Name", "evil", "X-User", "evil", "X-Roles", "admin,service", "X-Role", "admin",
	"X-Project-Id", "victim", "X-Tenant-Id", "victim", "X-Tenant-Name", "victim", "X-Project-Name", "victim",
	"X-Domain-Id", "default", "X-Is-Admin-Project", "True", "X-Service-Roles", "service",
	"X-Service-User-Id", "evil", "X-Service-Project-Id", "victim", "Openstack-System-Scope", "all",
	"X-Service-Catalog", "[]",
}

func wantRejected(t *testing.T, c *Context, err error) {
	t.Helper()
	if !image.Is(image.Unauthorized, err) || !errors.Is(err, ErrTokenRejected) || image.Message(err) != "The request you have made requires authentication." {
		t.Fatalf("Authenticate = %+v, %v; want Unauthorized %q caused by ErrTokenRejected", c, err, "The request you have made requires authentication.")
	}
}

// Without a token keystonemiddleware never asks Keystone: a closed port
// proves it.
func TestKeystoneWithoutTokenNeedsNoKeystone(t *testing.T) {
	base := baseOptions(closedURL(t))
	tests := []struct {
		name      string
		opts      map[string]string
		anonymous bool
		headers   []string
		want      *Context // nil: error
		wantMsg   string
	}{
		{"no token", base, false, nil, nil, rejectionMsg},
		{"blank token", base, false, []string{"X-Auth-Token", "  "}, nil, rejectionMsg},
		{"spoofed identity headers", base, false, spoofed, nil, rejectionMsg},
		{"delay_auth_decision", with(base, "delay_auth_decision", "true"), false, spoofed, nil, notAuthorizedMsg},
		{"delay_auth_decision with anonymous access", with(base, "delay_auth_decision", "true"), true, spoofed,
			&Context{ReadOnly: true, IsAdminProject: true}, ""},
		{"anonymous access needs delay_auth_decision", base, true, nil, nil, rejectionMsg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _, err := NewKeystone(tt.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			k.AllowAnonymous = tt.anonymous
			got, err := k.Authenticate(request(tt.headers...))
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Authenticate error = %v, want none", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("Authenticate (-want +got):\n%s", diff)
				}
				return
			}
			if !image.Is(image.Unauthorized, err) || image.Message(err) != tt.wantMsg {
				t.Fatalf("Authenticate = %+v, %v; want Unauthorized %q", got, err, tt.wantMsg)
			}
			if got, want := errors.Is(err, ErrTokenRejected), tt.wantMsg == rejectionMsg; got != want {
				t.Errorf("errors.Is(err, ErrTokenRejected) = %v, want %v", got, want)
			}
		})
	}
}

func TestTokenRedacted(t *testing.T) {
	c := &Context{UserID: "u", AuthToken: "gAAAAAsecret"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "token", c.AuthToken, "ctx", c)
	for _, s := range []string{buf.String(), fmtAll(c)} {
		if strings.Contains(s, "secret") {
			t.Errorf("printed token: %s", s)
		}
	}
}

func fmtAll(c *Context) string {
	var b strings.Builder
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		b.WriteString(fmt.Sprintf(f, c) + " " + fmt.Sprintf(f, *c) + "\n")
	}
	return b.String()
}

func TestTokenCacheEvictsOldest(t *testing.T) {
	c := newTokenCache(3)
	now := time.Now()
	key := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte{byte(i)}) }
	info := &tokenInfo{ctx: &Context{}, expires: now.Add(time.Hour)}
	for i := range 4 {
		c.put(key(i), &cacheEntry{info: info, until: now.Add(time.Minute)})
	}
	c.put(key(3), &cacheEntry{info: info, until: now.Add(time.Minute)}) // update, no eviction
	for i, want := range []bool{false, true, true, true} {
		if _, hit := c.get(key(i), now, false); hit != want {
			t.Errorf("get(token %d) hit = %v, want %v", i, hit, want)
		}
	}
	if got := c.len(); got != 3 {
		t.Errorf("len = %d, want 3", got)
	}
}

func TestTokenCacheLookup(t *testing.T) {
	now := time.Now()
	valid := &tokenInfo{ctx: &Context{UserID: "u"}, expires: now.Add(time.Hour)}
	expired := &tokenInfo{ctx: &Context{UserID: "u"}, expires: now.Add(-time.Second)}
	tests := []struct {
		name         string
		entry        *cacheEntry
		allowExpired bool
		wantInfo     bool
		wantHit      bool
	}{
		{"valid", &cacheEntry{info: valid, until: now.Add(time.Minute)}, false, true, true},
		{"entry too old", &cacheEntry{info: valid, until: now}, false, false, false},
		{"token expired", &cacheEntry{info: expired, until: now.Add(time.Minute)}, false, false, true},
		{"token expired, allow_expired", &cacheEntry{info: expired, until: now.Add(time.Minute)}, true, true, true},
		{"invalid", &cacheEntry{until: now.Add(time.Second)}, false, false, true},
		{"invalid, asked again with allow_expired", &cacheEntry{until: now.Add(time.Second)}, true, false, false},
		{"invalid even with allow_expired", &cacheEntry{until: now.Add(time.Second), allowExpired: true}, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTokenCache(10)
			k := sha256.Sum256([]byte(tt.name))
			c.put(k, tt.entry)
			info, hit := c.get(k, now, tt.allowExpired)
			if (info != nil) != tt.wantInfo || hit != tt.wantHit {
				t.Errorf("get = %v, %v; want info %v, hit %v", info, hit, tt.wantInfo, tt.wantHit)
			}
		})
	}
}

// BenchmarkKeystoneCachedToken is the hot path: a token already in the
// cache (one SHA-256, one map lookup, one Context copy).
func BenchmarkKeystoneCachedToken(b *testing.B) {
	k, _, err := NewKeystone(baseOptions("http://127.0.0.1:9"), nil)
	if err != nil {
		b.Fatal(err)
	}
	tok := "gAAAAABpIh" + strings.Repeat("x", 173)
	info := &tokenInfo{ctx: &Context{UserID: "u", ProjectID: "p", Roles: []string{"member", "reader"}}, expires: time.Now().Add(time.Hour)}
	k.cache.put(sha256.Sum256([]byte(tok)), &cacheEntry{info: info, until: time.Now().Add(time.Hour)})
	for i := range 5000 { // a realistically filled cache
		k.cache.put(sha256.Sum256([]byte{byte(i), byte(i >> 8)}), &cacheEntry{info: info, until: time.Now().Add(time.Hour)})
	}
	r := request("X-Auth-Token", tok)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c, err := k.Authenticate(r); err != nil || c.UserID != "u" {
				b.Fatalf("Authenticate = %+v, %v", c, err)
			}
		}
	})
}

// --- against the real Keystone of scripts/keystone/start.sh ---------------

// proxy sits between glimpse and the real Keystone: it counts token
// validations and logins, and can stall like a hung Keystone.
type proxy struct {
	*httptest.Server
	validations, logins atomic.Int64
	stalled             atomic.Bool
	release             chan struct{}
	mu                  sync.Mutex
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{release: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.stalled.Load() {
			p.mu.Lock()
			release := p.release
			p.mu.Unlock()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		if r.URL.Path == "/v3/auth/tokens" {
			switch r.Method {
			case http.MethodGet:
				p.validations.Add(1)
			case http.MethodPost:
				p.logins.Add(1)
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { p.stall(false); p.Close() })
	return p
}

func (p *proxy) stall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled.Swap(on) && !on {
		close(p.release)
		p.release = make(chan struct{})
	}
}

// newKeystone is glimpse's authenticator logging in as the fixture's
// glance user through keystoneURL, with extra options.
func newKeystone(t *testing.T, f *keystonetest.Fixture, keystoneURL string, log *slog.Logger, kv ...string) *Keystone {
	t.Helper()
	opts := f.AuthTokenOptions()
	opts["auth_url"] = keystoneURL
	k, warns, err := NewKeystone(with(opts, kv...), log)
	if err != nil || len(warns) > 0 {
		t.Fatalf("NewKeystone: %v, warnings %q", err, warns)
	}
	return k
}

// identity is the part of a Context that comes from the token.
type identity struct {
	UserID, UserName, UserDomainID, ProjectID, ProjectName, ProjectDomainID string
	DomainID, SystemScope                                                   string
	Roles                                                                   []string
	IsAdmin                                                                 bool
}

func identityOf(c *Context) identity {
	roles := slices.Clone(c.Roles)
	slices.Sort(roles)
	return identity{c.UserID, c.UserName, c.UserDomainID, c.ProjectID, c.ProjectName, c.ProjectDomainID,
		c.DomainID, c.SystemScope, roles, c.IsAdmin}
}

func TestKeystoneIdentity(t *testing.T) {
	f := keystonetest.Load(t)
	k := newKeystone(t, f, f.URL, nil)
	project := func(user, project string, roles ...string) identity {
		return identity{UserID: f.Users[user].ID, UserName: user, UserDomainID: "default",
			ProjectID: f.Projects[project], ProjectName: project, ProjectDomainID: "default",
			Roles: roles, IsAdmin: slices.Contains(roles, "admin")}
	}
	tests := []struct {
		name  string
		token func(t *testing.T) string
		want  identity
	}{
		{"alice member and reader on alpha", func(t *testing.T) string { return f.Token(t, "alice") },
			project("alice", "alpha", "member", "reader")},
		{"bob reader on alpha", func(t *testing.T) string { return f.Token(t, "bob") },
			project("bob", "alpha", "reader")},
		{"carol member on beta gets implied reader", func(t *testing.T) string { return f.Token(t, "carol") },
			project("carol", "beta", "member", "reader")},
		{"admin is admin", func(t *testing.T) string { return f.Token(t, "admin") },
			project("admin", "admin", "admin", "member", "reader")},
		{"system scope", func(t *testing.T) string { return f.SystemToken(t, "admin") },
			identity{UserID: f.Users["admin"].ID, UserName: "admin", UserDomainID: "default", SystemScope: "all",
				Roles: []string{"admin", "member", "reader"}, IsAdmin: true}},
		{"domain scope", func(t *testing.T) string { return f.DomainToken(t, "admin") },
			identity{UserID: f.Users["admin"].ID, UserName: "admin", UserDomainID: "default", DomainID: "default",
				Roles: []string{"admin", "member", "reader"}, IsAdmin: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token(t)
			c, err := k.Authenticate(request("X-Auth-Token", tok, "X-Openstack-Request-Id", "req-abc"))
			if err != nil {
				t.Fatalf("Authenticate error = %v", err)
			}
			if diff := cmp.Diff(tt.want, identityOf(c)); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if string(c.AuthToken) != tok || c.RequestID != "req-abc" || c.ExpiresAt.Before(time.Now()) || !c.IsAdminProject {
				t.Errorf("AuthToken kept %v, RequestID %q, ExpiresAt %v, IsAdminProject %v; want the token, req-abc, a future time, true",
					string(c.AuthToken) == tok, c.RequestID, c.ExpiresAt, c.IsAdminProject)
			}
		})
	}
}

func TestKeystoneRejects(t *testing.T) {
	f := keystonetest.Load(t)
	k := newKeystone(t, f, f.URL, nil)
	if got, want := k.Challenge(), `Keystone uri="`+f.URL+`"`; got != want {
		t.Errorf("Challenge() = %q, want %q", got, want)
	}
	alice := f.Token(t, "alice")
	tests := []struct {
		name    string
		headers []string
	}{
		{"missing token", nil},
		{"garbage token", []string{"X-Auth-Token", "not-a-token"}},
		{"tampered token", []string{"X-Auth-Token", alice[:len(alice)-4] + "AAAA"}},
		{"garbage token with spoofed headers", append([]string{"X-Auth-Token", "not-a-token"}, spoofed...)},
		{"valid user, garbage service token", []string{"X-Auth-Token", alice, "X-Service-Token", "not-a-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := k.Authenticate(request(tt.headers...))
			wantRejected(t, c, err)
		})
	}
}

func TestKeystoneIgnoresSpoofedHeaders(t *testing.T) {
	f := keystonetest.Load(t)
	k := newKeystone(t, f, f.URL, nil)
	tok := f.Token(t, "bob")
	plain, err := k.Authenticate(request("X-Auth-Token", tok))
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Authenticate(request(append([]string{"X-Auth-Token", tok}, spoofed...)...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(plain, got); diff != "" {
		t.Errorf("context with spoofed headers differs (-plain +spoofed):\n%s", diff)
	}
	if got.IsAdmin || got.ProjectID != f.Projects["alpha"] || len(got.ServiceRoles) != 0 || got.SystemScope != "" {
		t.Errorf("spoofed headers leaked: IsAdmin %v, ProjectID %q, ServiceRoles %q, SystemScope %q; want false, %q, none, none",
			got.IsAdmin, got.ProjectID, got.ServiceRoles, got.SystemScope, f.Projects["alpha"])
	}
}

func TestKeystoneServiceToken(t *testing.T) {
	f := keystonetest.Load(t)
	alice, nova, bob := f.Token(t, "alice"), f.Token(t, "nova"), f.Token(t, "bob")
	tests := []struct {
		name     string
		required bool
		service  string
		want     []string // ServiceRoles; nil with wantUser "" means rejected
		wantUser string
	}{
		{"service role", false, nova, []string{"service"}, "nova"},
		{"service role, required", true, nova, []string{"service"}, "nova"},
		{"no service role, not required", false, bob, []string{"reader"}, "bob"},
		{"no service role, required", true, bob, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKeystone(t, f, f.URL, nil, "service_token_roles_required", map[bool]string{true: "true", false: "false"}[tt.required])
			c, err := k.Authenticate(request("X-Auth-Token", alice, "X-Service-Token", tt.service))
			if tt.wantUser == "" {
				wantRejected(t, c, err)
				return
			}
			if err != nil {
				t.Fatalf("Authenticate error = %v", err)
			}
			wantProject := f.Projects[f.Users[tt.wantUser].Project]
			if c.UserID != f.Users["alice"].ID || c.ServiceUserID != f.Users[tt.wantUser].ID ||
				c.ServiceUserName != tt.wantUser || c.ServiceProjectID != wantProject || !slices.Equal(c.ServiceRoles, tt.want) {
				t.Errorf("got user %q, service user %q (%q) project %q roles %q; want %q, %q (%q), %q, %q",
					c.UserID, c.ServiceUserID, c.ServiceUserName, c.ServiceProjectID, c.ServiceRoles,
					f.Users["alice"].ID, f.Users[tt.wantUser].ID, tt.wantUser, wantProject, tt.want)
			}
			if got := c.HasServiceRole("service"); got != slices.Contains(tt.want, "service") {
				t.Errorf("HasServiceRole(service) = %v", got)
			}
		})
	}
}

func TestKeystoneCatalog(t *testing.T) {
	f := keystonetest.Load(t)
	tok := f.Token(t, "alice")
	for _, include := range []string{"true", "false"} {
		t.Run("include_service_catalog="+include, func(t *testing.T) {
			k := newKeystone(t, f, f.URL, nil, "include_service_catalog", include)
			c, err := k.Authenticate(request("X-Auth-Token", tok))
			if err != nil {
				t.Fatal(err)
			}
			got, want := c.Endpoint("identity", "public", f.Region), f.URL+"/v3"
			if include == "false" {
				want = ""
			}
			if got != want {
				t.Errorf("Endpoint(identity, public) = %q, want %q", got, want)
			}
		})
	}
}

func TestKeystoneCachesValidations(t *testing.T) {
	f := keystonetest.Load(t)
	p := newProxy(t, f.URL)
	k := newKeystone(t, f, p.URL, nil)
	tok := f.Token(t, "alice")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := k.Authenticate(request("X-Auth-Token", tok)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Authenticate error = %v", err)
	}
	for range 10 {
		if _, err := k.Authenticate(request("X-Auth-Token", tok)); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.validations.Load(); got != 1 {
		t.Errorf("validations reaching Keystone for 30 requests with one token = %d, want 1", got)
	}
	if got := p.logins.Load(); got != 1 {
		t.Errorf("glimpse logins = %d, want 1", got)
	}

	// Invalid tokens are remembered too.
	for range 5 {
		_, err := k.Authenticate(request("X-Auth-Token", "not-a-token"))
		wantRejected(t, nil, err)
	}
	if got := p.validations.Load(); got != 2 {
		t.Errorf("validations after 5 requests with one invalid token = %d, want 2", got)
	}
}

// clock lets a test move glimpse's time forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time              { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration)     { c.offset.Add(int64(d)) }
func (k *Keystone) useClock(c *clock) *clock { k.now = c.now; return c }

func TestKeystoneRevokedTokenAfterCacheTime(t *testing.T) {
	f := keystonetest.Load(t)
	p := newProxy(t, f.URL)
	k := newKeystone(t, f, p.URL, nil, "token_cache_time", "5")
	clk := k.useClock(&clock{})
	tok := f.Token(t, "carol")
	if _, err := k.Authenticate(request("X-Auth-Token", tok)); err != nil {
		t.Fatal(err)
	}
	f.Revoke(t, tok)
	if _, err := k.Authenticate(request("X-Auth-Token", tok)); err != nil {
		t.Errorf("revoked token within token_cache_time: error %v, want the cached answer", err)
	}
	clk.advance(6 * time.Second)
	c, err := k.Authenticate(request("X-Auth-Token", tok))
	wantRejected(t, c, err)
	if got := p.validations.Load(); got != 2 {
		t.Errorf("validations = %d, want 2", got)
	}
}

func TestKeystoneExpiredTokenRejectedFromCache(t *testing.T) {
	f := keystonetest.Load(t)
	p := newProxy(t, f.URL)
	k := newKeystone(t, f, p.URL, nil, "token_cache_time", "0") // 0: cache until expires_at
	clk := k.useClock(&clock{})
	tok := f.Token(t, "alice")
	c, err := k.Authenticate(request("X-Auth-Token", tok))
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Until(c.ExpiresAt) + time.Second)
	c, err = k.Authenticate(request("X-Auth-Token", tok))
	wantRejected(t, c, err)
	// The cache entry ended with the token's life, so glimpse asked
	// again; Keystone (whose clock did not move) still answered 200 and
	// glimpse saw expires_at in the past.
	if got := p.validations.Load(); got != 2 {
		t.Errorf("validations = %d, want 2", got)
	}
}

func TestKeystoneRenewsRejectedServiceToken(t *testing.T) {
	f := keystonetest.Load(t)
	p := newProxy(t, f.URL)
	k := newKeystone(t, f, p.URL, nil)
	if _, err := k.Authenticate(request("X-Auth-Token", f.Token(t, "alice"))); err != nil {
		t.Fatal(err)
	}
	// Revoke glimpse's own token behind its back.
	k.svcMu.Lock()
	own := k.svcToken
	k.svcMu.Unlock()
	f.Revoke(t, own)
	c, err := k.Authenticate(request("X-Auth-Token", f.Token(t, "bob")))
	if err != nil || c.UserName != "bob" {
		t.Fatalf("Authenticate after glimpse's token was revoked = %+v, %v; want bob", c, err)
	}
	if got := p.logins.Load(); got != 2 {
		t.Errorf("glimpse logins = %d, want 2 (one renewal)", got)
	}
}

func TestKeystoneUnavailable(t *testing.T) {
	f := keystonetest.Load(t)
	t.Run("closed port", func(t *testing.T) {
		k := newKeystone(t, f, closedURL(t), nil, "http_connect_timeout", "2", "http_request_max_retries", "1")
		start := time.Now()
		c, err := k.Authenticate(request("X-Auth-Token", f.Token(t, "alice")))
		if !image.Is(image.Unavailable, err) || errors.Is(err, ErrTokenRejected) {
			t.Fatalf("Authenticate = %+v, %v; want Unavailable", c, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Authenticate took %v, want under 3 s", d)
		}
	})
	t.Run("delay_auth_decision turns an outage into an unconfirmed identity", func(t *testing.T) {
		k := newKeystone(t, f, closedURL(t), nil, "http_request_max_retries", "0", "delay_auth_decision", "true")
		k.AllowAnonymous = true
		c, err := k.Authenticate(request("X-Auth-Token", f.Token(t, "alice")))
		if err != nil || !c.ReadOnly || c.UserID != "" {
			t.Fatalf("Authenticate = %+v, %v; want the anonymous read-only caller", c, err)
		}
	})
	t.Run("stalled, then back", func(t *testing.T) {
		p := newProxy(t, f.URL)
		var logs syncBuffer
		k := newKeystone(t, f, p.URL, slog.New(slog.NewTextHandler(&logs, nil)), "http_connect_timeout", "1")
		alice := f.Token(t, "alice")
		if _, err := k.Authenticate(request("X-Auth-Token", f.Token(t, "bob"))); err != nil {
			t.Fatal(err)
		}
		p.stall(true)
		for i := range 3 {
			start := time.Now()
			c, err := k.Authenticate(request("X-Auth-Token", alice))
			if !image.Is(image.Unavailable, err) || !strings.Contains(err.Error(), "The Keystone service is temporarily unavailable.") {
				t.Fatalf("request %d while Keystone hangs: Authenticate = %+v, %v; want Unavailable", i, c, err)
			}
			if d := time.Since(start); d > 2500*time.Millisecond {
				t.Errorf("request %d took %v, want about 1 s (http_connect_timeout)", i, d)
			}
		}
		p.stall(false)
		c, err := k.Authenticate(request("X-Auth-Token", alice))
		if err != nil || c.UserName != "alice" {
			t.Fatalf("after Keystone came back: Authenticate = %+v, %v; want alice", c, err)
		}
		out := logs.String()
		if got := strings.Count(out, "level=ERROR"); got != 1 {
			t.Errorf("error log lines for one outage = %d, want 1:\n%s", got, out)
		}
		if got := strings.Count(out, "keystone: answering again"); got != 1 {
			t.Errorf("recovery log lines = %d, want 1:\n%s", got, out)
		}
		if strings.Contains(out, alice) {
			t.Errorf("log contains the token:\n%s", out)
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
