package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"glimpse/internal/catalog/sqlcat/sqlcattest"
)

// A database server that goes away costs requests a 503, quickly, and
// nothing else: when it is back, the same glimpse serves again without a
// restart, and what was stored before is still there.
func TestDatabaseOutage(t *testing.T) {
	for _, backend := range sqlcattest.Backends {
		t.Run(backend, func(t *testing.T) {
			relay, conn := sqlcattest.NewRelay(t, sqlcattest.FreshURL(t, backend))
			h := policyServer(t, "[database]\nconnection = "+conn+"\nmax_retries = 0\n", nil)

			img := ownerMember.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, `{"name":"before"}`)
			id, _ := img["id"].(string)

			relay.Cut()
			for _, r := range []struct{ method, target, body string }{
				{"GET", "/v2/images/" + id, noBody},
				{"GET", "/v2/images", noBody},
				{"POST", "/v2/images", `{"name":"during"}`},
				{"PATCH", "/v2/images/" + id, `[{"op":"add","path":"/x","value":"y"}]`},
			} {
				ct := jsonBody
				if r.method == "PATCH" {
					ct = "application/openstack-images-v2.1-json-patch"
				}
				start := time.Now()
				w := ownerMember.do(h, r.method, r.target, ct, r.body)
				if took := time.Since(start); took > 15*time.Second {
					t.Errorf("%s %s with the database gone took %v, want a quick answer", r.method, r.target, took)
				}
				if w.Code != http.StatusServiceUnavailable {
					t.Errorf("%s %s with the database gone: got %d %s, want 503", r.method, r.target, w.Code, w.Body)
				}
			}

			relay.Restore()
			var got map[string]any
			deadline := time.Now().Add(10 * time.Second)
			for {
				w := ownerMember.do(h, "GET", "/v2/images/"+id, noBody, "")
				if w.Code == http.StatusOK {
					if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
						t.Fatal(err)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("GET after the database came back: got %d %s, want 200", w.Code, w.Body)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if got["name"] != "before" || got["x"] != nil {
				t.Errorf("image after the outage: got name %v x %v, want name before and no x", got["name"], got["x"])
			}
			ownerMember.must(t, h, http.StatusCreated, "POST", "/v2/images", jsonBody, `{"name":"after"}`)
			list := ownerMember.must(t, h, http.StatusOK, "GET", "/v2/images?sort=name:asc", noBody, "")
			var names []string
			for _, im := range list["images"].([]any) {
				names = append(names, im.(map[string]any)["name"].(string))
			}
			if len(names) != 2 || names[0] != "after" || names[1] != "before" {
				t.Errorf("images after the outage: got %q, want [after before]", names)
			}
		})
	}
}
