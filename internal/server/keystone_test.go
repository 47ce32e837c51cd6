package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"glimpse/internal/auth/keystonetest"
	"glimpse/internal/config"
	"glimpse/internal/server"
)

// keystoneServer runs glimpse in keystone mode against the fixture's
// Keystone, with authtoken options overridden by opts.
func keystoneServer(t *testing.T, fx *keystonetest.Fixture, policy config.OsloPolicySection, opts map[string]string) http.Handler {
	t.Helper()
	cfg := config.Default()
	cfg.Glimpse.DataDir = t.TempDir()
	cfg.PasteDeploy.Flavor = "keystone"
	cfg.OsloPolicy.EnforceNewDefaults = policy.EnforceNewDefaults
	cfg.OsloPolicy.EnforceScope = policy.EnforceScope
	kopts := fx.AuthTokenOptions()
	for k, v := range opts {
		kopts[k] = v
	}
	cfg.Raw["keystone_authtoken"] = kopts
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Handler()
}

var legacyPolicy = config.OsloPolicySection{}

// tokenCaller sends requests with a Keystone token (and any extra headers).
type tokenCaller struct {
	name, token string
	extra       http.Header
}

func (c tokenCaller) do(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("Accept", "application/json")
	if c.token != "" {
		r.Header.Set("X-Auth-Token", c.token)
	}
	for k, vs := range c.extra {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func (c tokenCaller) must(t *testing.T, h http.Handler, want int, method, target, contentType, body string) map[string]any {
	t.Helper()
	w := c.do(h, method, target, contentType, body)
	if w.Code != want {
		t.Fatalf("%s %s as %s: got %d %s, want %d", method, target, c.name, w.Code, w.Body, want)
	}
	var v map[string]any
	if w.Body.Len() > 0 && strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(w.Body.Bytes(), &v)
	}
	return v
}

func TestKeystoneRejectsMissingAndInvalidTokens(t *testing.T) {
	fx := keystonetest.Load(t)
	h := keystoneServer(t, fx, legacyPolicy, nil)
	for _, tc := range []struct{ name, token string }{
		{"missing", ""},
		{"invalid", "gAAAAABnot-a-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tokenCaller{name: tc.name, token: tc.token}.do(h, "GET", "/v2/images", "", "")
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("got %d %s, want 401", w.Code, w.Body)
			}
			if got, want := w.Header().Get("WWW-Authenticate"), `Keystone uri="`+fx.URL+`"`; got != want {
				t.Fatalf("WWW-Authenticate: got %q, want %q", got, want)
			}
			var body struct {
				Error struct {
					Code    int
					Message string
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != 401 ||
				body.Error.Message != "The request you have made requires authentication." {
				t.Fatalf("body: %s (%v)", w.Body, err)
			}
		})
	}
	// Version discovery needs no token, as in Glance.
	if w := (tokenCaller{}).do(h, "GET", "/versions", "", ""); w.Code != http.StatusOK {
		t.Fatalf("GET /versions without a token: got %d, want 200", w.Code)
	}
}

// Identity headers sent by a client are ignored: the token alone says who
// is calling.
func TestKeystoneIgnoresSpoofedIdentityHeaders(t *testing.T) {
	fx := keystonetest.Load(t)
	h := keystoneServer(t, fx, legacyPolicy, nil)
	alice := tokenCaller{name: "alice", token: fx.Token(t, "alice")}
	priv := alice.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, privateImage)
	if got, want := priv["owner"], fx.Projects["alpha"]; got != want {
		t.Fatalf("owner: got %v, want alpha's id %s", got, want)
	}
	spoof := http.Header{}
	spoof.Set("X-Identity-Status", "Confirmed")
	spoof.Set("X-Roles", "admin")
	spoof.Set("X-Project-Id", fx.Projects["alpha"])
	spoof.Set("X-Tenant-Id", fx.Projects["alpha"])
	spoof.Set("X-User-Id", fx.Users["alice"].ID)
	spoof.Set("X-Is-Admin-Project", "True")
	spoof.Set("X-Service-Roles", "service,admin")
	carol := tokenCaller{name: "carol with spoofed headers", token: fx.Token(t, "carol"), extra: spoof}
	carol.must(t, h, http.StatusNotFound, "GET", "/v2/images/"+priv["id"].(string), "", "")
	carol.must(t, h, http.StatusForbidden, "POST", "/v2/images", jsonBody, publicImage)
	mine := carol.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, privateImage)
	if got, want := mine["owner"], fx.Projects["beta"]; got != want {
		t.Fatalf("owner of carol's image: got %v, want beta's id %s", got, want)
	}
	// Without a token, the headers alone get nowhere.
	(tokenCaller{name: "headers only", extra: spoof}).must(t, h, http.StatusUnauthorized, "GET", "/v2/images", "", "")
}

// The policy matrix through real tokens: two projects' members and
// readers, the cloud admin and a service user, under Glance's legacy
// defaults and under the secure-RBAC defaults.
func TestKeystonePolicyMatrix(t *testing.T) {
	fx := keystonetest.Load(t)
	tok := map[string]tokenCaller{}
	for _, u := range []string{"alice", "bob", "carol", "admin", "nova"} {
		tok[u] = tokenCaller{name: u, token: fx.Token(t, u)}
	}
	type want struct{ legacy, rbac int }
	for _, tc := range []struct {
		op, who      string
		want         want
		method, path string
		ctype, body  string
	}{
		{"show", "alice", want{200, 200}, "GET", "/v2/images/{id}", "", ""},
		{"show", "bob", want{200, 200}, "GET", "/v2/images/{id}", "", ""},
		{"show", "carol", want{404, 404}, "GET", "/v2/images/{id}", "", ""},
		{"show", "admin", want{200, 200}, "GET", "/v2/images/{id}", "", ""},
		{"show", "nova", want{404, 404}, "GET", "/v2/images/{id}", "", ""},
		{"list", "bob", want{200, 200}, "GET", "/v2/images", "", ""},
		{"create", "bob", want{201, 403}, "POST", "/v2/images", jsonBody, privateImage},
		{"create", "carol", want{201, 201}, "POST", "/v2/images", jsonBody, privateImage},
		{"create public", "alice", want{403, 403}, "POST", "/v2/images", jsonBody, publicImage},
		{"create public", "admin", want{201, 201}, "POST", "/v2/images", jsonBody, publicImage},
		{"rename", "alice", want{200, 200}, "PATCH", "/v2/images/{id}", jsonPatch, `[{"op":"replace","path":"/name","value":"a"}]`},
		{"rename", "bob", want{200, 403}, "PATCH", "/v2/images/{id}", jsonPatch, `[{"op":"replace","path":"/name","value":"b"}]`},
		{"rename", "carol", want{404, 404}, "PATCH", "/v2/images/{id}", jsonPatch, `[{"op":"replace","path":"/name","value":"c"}]`},
		{"download", "bob", want{200, 403}, "GET", "/v2/images/{id}/file", "", ""},
		{"download", "alice", want{200, 200}, "GET", "/v2/images/{id}/file", "", ""},
		{"download", "carol", want{404, 404}, "GET", "/v2/images/{id}/file", "", ""},
		{"share", "bob", want{200, 403}, "POST", "/v2/images/{id}/members", jsonBody, `{"member":"` + fx.Projects["beta"] + `"}`},
		{"share", "alice", want{200, 200}, "POST", "/v2/images/{id}/members", jsonBody, `{"member":"` + fx.Projects["beta"] + `"}`},
		{"deactivate", "bob", want{204, 403}, "POST", "/v2/images/{id}/actions/deactivate", "", ""},
		{"deactivate", "admin", want{204, 204}, "POST", "/v2/images/{id}/actions/deactivate", "", ""},
		{"delete", "bob", want{204, 403}, "DELETE", "/v2/images/{id}", "", ""},
		{"delete", "carol", want{404, 404}, "DELETE", "/v2/images/{id}", "", ""},
		{"delete", "admin", want{204, 204}, "DELETE", "/v2/images/{id}", "", ""},
	} {
		for _, mode := range []struct {
			name string
			rbac bool
		}{{"legacy", false}, {"new defaults", true}} {
			h := keystoneServer(t, fx, config.OsloPolicySection{EnforceNewDefaults: mode.rbac}, nil)
			want := tc.want.legacy
			if mode.rbac {
				want = tc.want.rbac
			}
			t.Run(mode.name+"/"+tc.who+" "+tc.op, func(t *testing.T) {
				img := tok["alice"].must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody,
					`{"name":"m","disk_format":"raw","container_format":"bare","visibility":"shared"}`)
				id := img["id"].(string)
				tok["alice"].must(t, h, http.StatusNoContent, "PUT", "/v2/images/"+id+"/file", octetStream, "matrix")
				path := strings.ReplaceAll(tc.path, "{id}", id)
				if w := tok[tc.who].do(h, tc.method, path, tc.ctype, tc.body); w.Code != want {
					t.Fatalf("%s %s as %s: got %d %s, want %d", tc.method, path, tc.who, w.Code, w.Body, want)
				}
			})
		}
	}
}

// Keystone unreachable: requests get a 503 within the bounded timeout, not
// a hang and not a 500.
func TestKeystoneUnreachableIs503(t *testing.T) {
	fx := keystonetest.Load(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	h := keystoneServer(t, fx, legacyPolicy, map[string]string{"auth_url": dead, "http_connect_timeout": "1", "http_request_max_retries": "1"})
	start := time.Now()
	w := tokenCaller{name: "alice", token: fx.Token(t, "alice")}.do(h, "GET", "/v2/images", "", "")
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("got %d %s, want 503", w.Code, w.Body)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("answered after %s; the Keystone timeout should bound it", d)
	}
}

// With enforce_scope, a system-scoped token cannot use the project-scoped
// image rules (oslo.policy's InvalidScope, which Glance answers with 403),
// while the same admin's project-scoped token can.
func TestKeystoneEnforceScope(t *testing.T) {
	fx := keystonetest.Load(t)
	h := keystoneServer(t, fx, config.OsloPolicySection{EnforceNewDefaults: true, EnforceScope: true}, nil)
	system := tokenCaller{name: "admin (system scope)", token: fx.SystemToken(t, "admin")}
	w := system.do(h, "GET", "/v2/images", "", "")
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "get_images") {
		t.Fatalf("system-scoped list: got %d %s, want 403 naming get_images", w.Code, w.Body)
	}
	project := tokenCaller{name: "admin (project scope)", token: fx.Token(t, "admin")}
	project.must(t, h, http.StatusOK, "GET", "/v2/images", "", "")
}
