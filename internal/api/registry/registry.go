// Package registry serves the glance-registry API (Glance's last registry
// v1 routes: images and their members as JSON documents) over the shared
// image use cases, on its own listener.
package registry

import (
	"net/http"
	"strings"

	"glimpse/internal/api/httperr"
	"glimpse/internal/auth"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// Config is what the registry API needs from the service configuration.
type Config struct {
	// LimitDefault and LimitMax bound list pages ([DEFAULT]
	// limit_param_default and api_limit_max); zero means Glance's 25 and
	// 1000.
	LimitDefault int
	LimitMax     int
	// DiskFormats and ContainerFormats are the values an image may be
	// registered with; empty means the registry document's lists.
	DiskFormats      []string
	ContainerFormats []string
	// DelayedDelete is [DEFAULT] delayed_delete: a deleted image with data
	// is reported pending_delete, as the catalog then keeps it.
	DelayedDelete bool
	// MemberLimit is [DEFAULT] image_member_quota, checked against the
	// whole wanted set of a member replacement before it changes
	// anything; negative means unlimited. Zero is taken as unset (the
	// use cases still enforce their quota, and a refused replacement is
	// rolled back): give the quota as is, or -1.
	MemberLimit int
}

// The registry document's enumerations.
var (
	seedStatuses         = []string{"active", "saving", "queued", "killed"}
	seedDiskFormats      = []string{"ari", "aki", "ami", "raw", "iso", "vhd", "vdi", "qcow2", "vmdk"}
	seedContainerFormats = []string{"ari", "aki", "ami", "bare", "ovf"}
)

// API is the registry handler set.
type API struct {
	ops *imageops.Service
	cfg Config
	mux *http.ServeMux
}

// New returns the registry API over the shared use cases.
func New(ops *imageops.Service, cfg Config) *API {
	if cfg.LimitDefault <= 0 {
		cfg.LimitDefault = 25
	}
	if cfg.LimitMax <= 0 {
		cfg.LimitMax = 1000
	}
	if cfg.MemberLimit == 0 {
		cfg.MemberLimit = -1
	}
	if len(cfg.DiskFormats) == 0 {
		cfg.DiskFormats = seedDiskFormats
	}
	if len(cfg.ContainerFormats) == 0 {
		cfg.ContainerFormats = seedContainerFormats
	}
	a := &API{ops: ops, cfg: cfg, mux: http.NewServeMux()}
	a.routes()
	return a
}

// Handler is the registry's router. Identity must already be in the
// request context (auth.NewContext), as the server's middleware puts it.
func (a *API) Handler() http.Handler { return a.mux }

// handler is an HTTP handler that returns its error for the one adapter
// to render.
type handler func(w http.ResponseWriter, r *http.Request) error

// routes maps Glance's registry routes. A route answers only the methods
// Glance's mapper gave it; any other request is the router's bare 404.
func (a *API) routes() {
	route := func(path string, methods map[string]handler) {
		a.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok {
				h, ok = methods["*"]
			}
			if !ok {
				notFound(w, r)
				return
			}
			if err := h(w, r); err != nil {
				httperr.Write(w, r, err)
			}
		})
	}
	route("/{$}", map[string]handler{"*": a.index})
	route("/images", map[string]handler{"GET": a.index, "POST": a.create})
	route("/images/{id}", map[string]handler{
		"GET": func(w http.ResponseWriter, r *http.Request) error {
			// The detail route comes first in Glance's mapper.
			if r.PathValue("id") == "detail" {
				return a.detail(w, r)
			}
			return a.show(w, r)
		},
		"PUT":    a.update,
		"DELETE": a.delete,
	})
	route("/images/{id}/members", map[string]handler{"GET": a.listMembers, "PUT": a.replaceMembers, "POST": a.memberNotAllowed})
	route("/images/{id}/members/{member}", map[string]handler{"PUT": a.putMember, "DELETE": a.deleteMember, "GET": a.memberNotAllowed})
	route("/shared-images/{member}", map[string]handler{"*": a.sharedImages})
	a.mux.HandleFunc("/", notFound)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	httperr.WriteStatus(w, r, http.StatusNotFound, "", "")
}

func caller(r *http.Request) *auth.Context { return auth.FromContext(r.Context()) }

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// writePlain answers with a literal text body, as Glance's registry does
// for a few errors of its update route.
func writePlain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// isUUIDLike accepts what Glance's uuidutils.is_uuid_like does: 32 hex
// digits once "urn:", "uuid:", braces and dashes are dropped.
func isUUIDLike(s string) bool {
	s = strings.ReplaceAll(s, "urn:", "")
	s = strings.ReplaceAll(s, "uuid:", "")
	s = strings.Trim(s, "{}")
	s = strings.ReplaceAll(s, "-", "")
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func badRequest(op, format string, args ...any) error {
	return image.E(op, image.Invalid, format, args...)
}

func badRequestDetail(op, format string, args ...any) error {
	return image.D(op, image.Invalid, format, args...)
}
