package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"glimpse/internal/config"
	"glimpse/internal/server"
)

// The registry and compute APIs listen only when configured.
func TestExtraListeners(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(c *config.Config)
		want []string
	}{
		{"off by default", func(*config.Config) {}, nil},
		{"registry", func(c *config.Config) { c.Registry.BindPort = 9191 }, []string{"registry 127.0.0.1:9191"}},
		{"compute", func(c *config.Config) { c.Glimpse.ComputeListen = "127.0.0.1:8774" }, []string{"compute 127.0.0.1:8774"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Glimpse.DataDir = t.TempDir()
			cfg.PasteDeploy.Flavor = "noauth"
			tc.set(cfg)
			srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var got []string
			for _, l := range srv.Extra() {
				got = append(got, l.Name+" "+l.Addr)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Fatalf("extra listeners: got %v, want %v", got, tc.want)
			}
			for _, l := range srv.Extra() {
				// Each is wrapped in the identity middleware and answers.
				path := "/images"
				if l.Name == "compute" {
					path = "/v2.1/images"
				}
				r := httptest.NewRequest("GET", path, nil)
				w := httptest.NewRecorder()
				l.Handler.ServeHTTP(w, r)
				if w.Code != http.StatusUnauthorized {
					t.Errorf("%s without identity: got %d, want 401", l.Name, w.Code)
				}
				r = httptest.NewRequest("GET", path, nil)
				r.Header.Set("X-Identity-Status", "Confirmed")
				r.Header.Set("X-Project-Id", "p1")
				w = httptest.NewRecorder()
				l.Handler.ServeHTTP(w, r)
				var body map[string]any
				if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &body) != nil || body["images"] == nil {
					t.Errorf("%s GET /images: got %d %s", l.Name, w.Code, w.Body)
				}
				if w.Header().Get("X-Openstack-Request-Id") == "" {
					t.Errorf("%s: no request id", l.Name)
				}
			}
		})
	}
}
