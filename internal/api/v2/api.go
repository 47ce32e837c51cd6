// Package v2 serves the Images API v2 (images, tags, members, schemas) in
// Glance's wire format.
package v2

import (
	"net/http"
	"strings"

	"glimpse/internal/api/httperr"
	"glimpse/internal/api/wirejson"
	"glimpse/internal/auth"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
)

// Config is what the v2 API needs from the service configuration.
type Config struct {
	LimitDefault     int
	LimitMax         int
	DiskFormats      []string
	ContainerFormats []string
	// PublicEndpoint, when set, is the base of absolute URLs (Location).
	PublicEndpoint string
	// ImportMethods are the import methods glimpse serves, announced in
	// the OpenStack-image-import-methods header.
	ImportMethods []string
	// Stores are the stores configured by name ([DEFAULT]
	// enabled_backends), in configuration order; empty in the single
	// store setup, where /v2/info/stores is not served.
	Stores []StoreInfo
}

// StoreInfo describes one store for /v2/info/stores.
type StoreInfo struct {
	ID, Type, Description string
	Default, ReadOnly     bool
	// Properties, a JSON object, are shown by /v2/info/stores/detail.
	Properties []byte
}

// API is the v2 handler set.
type API struct {
	ops     *imageops.Service
	cfg     Config
	schema  schema
	schemas map[string][]byte
}

// New returns the v2 API over the shared use cases.
func New(ops *imageops.Service, cfg Config) *API {
	return &API{
		ops:     ops,
		cfg:     cfg,
		schema:  schema{disk: cfg.DiskFormats, container: cfg.ContainerFormats},
		schemas: schemaDocs(cfg.DiskFormats, cfg.ContainerFormats),
	}
}

// handler is an HTTP handler that returns its error for the one adapter
// to render.
type handler func(w http.ResponseWriter, r *http.Request) error

// Register adds the v2 routes to mux. Each path also gets a method-less
// pattern answering 405 with Glance's Allow list.
func (a *API) Register(mux *http.ServeMux) {
	route := func(path string, methods map[string]handler, allow string, bodyless ...string) {
		for m, h := range methods {
			mux.Handle(m+" "+path, a.adapt(h, contains(bodyless, m)))
		}
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			httperr.MethodNotAllowed(w, r, allow)
		})
	}
	route("/v2/images", map[string]handler{"GET": a.listImages, "POST": a.createImage}, "GET, POST")
	route("/v2/images/{id}", map[string]handler{"GET": a.showImage, "PATCH": a.updateImage, "DELETE": a.deleteImage}, "GET, PATCH, DELETE", "GET", "DELETE")
	route("/v2/images/{id}/file", map[string]handler{"GET": a.downloadImage, "PUT": a.uploadImage}, "GET, PUT", "GET")
	route("/v2/images/{id}/actions/deactivate", map[string]handler{"POST": a.deactivate}, "POST", "POST")
	route("/v2/images/{id}/actions/reactivate", map[string]handler{"POST": a.reactivate}, "POST", "POST")
	route("/v2/images/{id}/tags/{tag}", map[string]handler{"PUT": a.addTag, "DELETE": a.deleteTag}, "PUT, DELETE", "PUT", "DELETE")
	route("/v2/images/{id}/members", map[string]handler{"GET": a.listMembers, "POST": a.addMember}, "GET, POST", "GET")
	route("/v2/images/{id}/members/{member}", map[string]handler{"GET": a.showMember, "PUT": a.updateMember, "DELETE": a.deleteMember}, "GET, PUT, DELETE", "GET", "DELETE")
	route("/v2/images/{id}/stage", map[string]handler{"PUT": a.stageImage}, "PUT")
	route("/v2/images/{id}/import", map[string]handler{"POST": a.importImage}, "POST")
	route("/v2/images/{id}/tasks", map[string]handler{"GET": a.imageTasks}, "GET", "GET")
	a.registerTasks(mux, route)
	route("/v2/stores/{store}/{id}", map[string]handler{"DELETE": a.deleteFromStore}, "DELETE", "DELETE")
	route("/v2/info/import", map[string]handler{"GET": a.importInfo}, "GET", "GET")
	route("/v2/info/stores", map[string]handler{"GET": a.storesInfo}, "GET", "GET")
	// Glance routes only GET here: other methods find no route (404).
	mux.Handle("GET /v2/info/usage", a.adapt(a.usageInfo, false))
	mux.HandleFunc("/v2/info/usage", func(w http.ResponseWriter, r *http.Request) {
		httperr.WriteStatus(w, r, http.StatusNotFound, "", "")
	})
	route("/v2/info/stores/detail", map[string]handler{"GET": a.storesDetail}, "GET", "GET")
	for _, name := range []string{"image", "images", "member", "members", "task", "tasks"} {
		doc := a.schemas[name]
		route("/v2/schemas/"+name, map[string]handler{"GET": func(w http.ResponseWriter, r *http.Request) error {
			writeJSON(w, http.StatusOK, doc)
			return nil
		}}, "GET", "GET")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// adapt renders a handler's error through httperr. bodyless routes refuse
// a request body as Glance does. HEAD is not served on v2 resources: the
// mux lets GET patterns answer it, Glance answers 405.
func (a *API) adapt(h handler, bodyless bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			httperr.MethodNotAllowed(w, r, allowFor(r))
			return
		}
		if bodyless && (r.ContentLength > 0 || (r.ContentLength < 0 && len(r.TransferEncoding) > 0)) {
			httperr.Write(w, r, image.E("v2", image.Invalid, "A body is not expected with this request."))
			return
		}
		if err := h(w, r); err != nil {
			httperr.Write(w, r, err)
		}
	})
}

// allowFor names the methods of a GET route for a HEAD refusal.
func allowFor(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/v2/images", strings.HasSuffix(p, "/members"):
		return "GET, POST"
	case strings.Contains(p, "/members/"):
		return "GET, PUT, DELETE"
	case strings.HasPrefix(p, "/v2/schemas/"):
		return "GET"
	case strings.HasSuffix(p, "/file"):
		return "GET, PUT"
	}
	return "GET, PATCH, DELETE"
}

// writeUnicodeJSON writes an image, member or task document as Glance
// does, with non-ASCII characters as UTF-8 (ensure_ascii=False); other
// documents keep the \u escapes of Glance's default serializer.
func writeUnicodeJSON(w http.ResponseWriter, status int, body []byte) {
	writeJSON(w, status, wirejson.Unescaped(body))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func caller(r *http.Request) *auth.Context { return auth.FromContext(r.Context()) }

// baseURL is the service's public root, for absolute links.
func (a *API) baseURL(r *http.Request) string {
	if a.cfg.PublicEndpoint != "" {
		return strings.TrimSuffix(a.cfg.PublicEndpoint, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
