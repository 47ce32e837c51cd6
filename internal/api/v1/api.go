// Package v1 serves the Images API v1 (Glance's legacy header-based API,
// removed upstream in Rocky) over the same use cases as v2, so that an image
// written through one API reads the same through the other.
package v1

import (
	"encoding/json"
	"net/http"
	"slices"

	"glimpse/internal/api/httperr"
	"glimpse/internal/auth"
	"glimpse/internal/imageops"
)

// Config is what the v1 API needs from the service configuration.
type Config struct {
	// LimitDefault and LimitMax are limit_param_default and api_limit_max.
	LimitDefault int
	LimitMax     int
	// DiskFormats and ContainerFormats are [image_format] disk_formats and
	// container_formats.
	DiskFormats      []string
	ContainerFormats []string
	// SizeCap is image_size_cap.
	SizeCap int64
	// StoreSchemes are the store schemes x-image-meta-store may name; the
	// file store's when empty.
	StoreSchemes []string
	// MemberQuota is image_member_quota (negative: unlimited), so that a
	// replacement of all members over it is refused before anything
	// changes; nil when not known, and then the use case's own check
	// refuses it and the replacement is undone.
	MemberQuota *int
}

// API is the v1 handler set.
type API struct {
	ops *imageops.Service
	cfg Config
}

// New returns the v1 API over the shared use cases.
func New(ops *imageops.Service, cfg Config) *API {
	if len(cfg.StoreSchemes) == 0 {
		cfg.StoreSchemes = []string{"file"}
	}
	return &API{ops: ops, cfg: cfg}
}

// handler is an HTTP handler that returns its error for the one adapter
// to render.
type handler func(w http.ResponseWriter, r *http.Request) error

// Register adds the v1 routes to mux. Every path also answers the methods
// it does not serve with 405 and Glance's Allow list.
func (a *API) Register(mux *http.ServeMux) {
	notAllowed := func(allow string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { httperr.MethodNotAllowed(w, r, allow) }
	}
	mux.Handle("GET /v1/images", a.adapt(a.index))
	mux.Handle("POST /v1/images", a.adapt(a.create))
	mux.Handle("/v1/images", notAllowed("GET, POST"))

	// "detail" is a literal next to /v1/images/{id}: each method gets its
	// own pattern so that the literal wins for all of them.
	mux.Handle("GET /v1/images/detail", a.adapt(a.detail))
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		mux.Handle(m+" /v1/images/detail", notAllowed("GET, HEAD"))
	}

	// GET patterns also serve HEAD: show answers it with the metadata.
	mux.Handle("GET /v1/images/{id}", a.adapt(a.show))
	mux.Handle("PUT /v1/images/{id}", a.adapt(a.update))
	mux.Handle("DELETE /v1/images/{id}", a.adapt(a.delete))
	mux.Handle("/v1/images/{id}", notAllowed("GET, HEAD, PUT, DELETE"))

	mux.Handle("GET /v1/images/{id}/members", a.adapt(a.listMembers))
	mux.Handle("PUT /v1/images/{id}/members", a.adapt(a.replaceMembers))
	mux.Handle("/v1/images/{id}/members", notAllowed("GET, PUT"))

	mux.Handle("GET /v1/images/{id}/members/{member}", notAllowed("PUT, DELETE"))
	mux.Handle("PUT /v1/images/{id}/members/{member}", a.adapt(a.addMember))
	mux.Handle("DELETE /v1/images/{id}/members/{member}", a.adapt(a.deleteMember))
	mux.Handle("/v1/images/{id}/members/{member}", notAllowed("GET, PUT, DELETE"))

	mux.Handle("GET /v1/shared-images/{member}", a.adapt(a.sharedImages))
	mux.Handle("/v1/shared-images/{member}", notAllowed("GET"))
}

// adapt renders a handler's error through httperr.
func (a *API) adapt(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			httperr.Write(w, r, err)
		}
	})
}

func caller(r *http.Request) *auth.Context { return auth.FromContext(r.Context()) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only maps of strings, numbers and booleans are written.
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
