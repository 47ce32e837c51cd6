// Package compute serves the Compute API's deprecated image proxy
// (/v2.1/images… and the legacy /v2/images…) the way Nova answers it,
// over the shared image use cases instead of a call to Glance.
package compute

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"glimpse/internal/api/httperr"
	"glimpse/internal/api/wirejson"
	"glimpse/internal/auth"
	"glimpse/internal/imageops"
)

// Config is what the proxy needs from the service configuration.
type Config struct {
	// MetadataQuota is Nova's metadata_items quota on an image's
	// properties: 0 means Nova's default (128), a negative value no limit.
	MetadataQuota int
	// PublicEndpoint, when set, replaces the scheme, host and leading path
	// of compute links (Nova's [api] compute_link_prefix); otherwise links
	// are built from the request.
	PublicEndpoint string
	// GlanceEndpoint is the image service root for the "alternate" links
	// (Nova's [glance] api_servers). When empty the caller's service
	// catalog is asked for the image endpoint, then PublicEndpoint, then
	// the request's host.
	GlanceEndpoint string
	// MaxLimit is Nova's [api] max_limit; 0 means 1000.
	MaxLimit int
	// GlanceLimitMax is Glance's api_limit_max, the most images one list
	// request returns whatever limit it asks for; 0 means 1000.
	GlanceLimitMax int
}

// API is the proxy's handler set.
type API struct {
	ops *imageops.Service
	cfg Config
}

// New returns the proxy over the shared use cases.
func New(ops *imageops.Service, cfg Config) *API {
	if cfg.MetadataQuota == 0 {
		cfg.MetadataQuota = 128
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = 1000
	}
	if cfg.GlanceLimitMax <= 0 {
		cfg.GlanceLimitMax = 1000
	}
	return &API{ops: ops, cfg: cfg}
}

// Handler serves the proxy's routes. Identity comes from the request
// context (auth.FromContext), which the listener's middleware sets.
func (a *API) Handler() http.Handler { return http.HandlerFunc(a.serve) }

// Microversion bounds, as Nova sets them.
var (
	minVersion   = version{2, 1}
	maxVersion   = version{2, 104}
	maxImages    = version{2, 35} // the /images routes
	maxImageMeta = version{2, 38} // the /images/{id}/metadata routes
)

type version struct{ major, minor int }

func (v version) String() string { return strconv.Itoa(v.major) + "." + strconv.Itoa(v.minor) }

func (v version) less(o version) bool {
	return v.major < o.major || (v.major == o.major && v.minor < o.minor)
}

// req is one request as the controllers see it.
type req struct {
	r       *http.Request
	legacy  bool    // the /v2 compatibility endpoint: no microversions
	ver     version // requested microversion (2.1 on /v2)
	prefix  string  // /v2.1 or /v2
	project string  // the project segment of the URL, if any
	caller  *auth.Context
	body    any  // decoded JSON body of a PUT or POST (nil when none)
	hasBody bool // body was sent
}

// projectSegment is Nova's requirement on a project_id in the URL.
var projectSegment = regexp.MustCompile(`^[0-9a-f-]+$`)

var versionPattern = regexp.MustCompile(`^([1-9]\d*)\.([1-9]\d*|0)$`)

// serve routes a request as Nova's mapper and resource do: an unknown
// path or method is webob's plain 404; then the microversion, the body's
// media type and syntax and the URL's project are checked, in that order.
func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	rq := &req{r: r, caller: auth.FromContext(r.Context())}
	path := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(path, "/v2.1/"):
		rq.prefix = "/v2.1"
	case strings.HasPrefix(path, "/v2/"):
		rq.prefix, rq.legacy = "/v2", true
	default:
		notFound(w, r)
		return
	}
	rest := strings.TrimSuffix(strings.TrimPrefix(path, rq.prefix+"/"), "/")
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			notFound(w, r)
			return
		}
		segs[i] = u
	}
	if len(segs) >= 2 && segs[1] == "images" && projectSegment.MatchString(segs[0]) {
		rq.project = segs[0]
		segs = segs[1:]
	}
	h, maxVer := a.route(r.Method, segs)
	if h == nil {
		notFound(w, r)
		return
	}
	rq.ver = minVersion
	if !rq.legacy {
		ver, status, msg, ok := requestedVersion(r.Header)
		if !ok {
			if status == http.StatusNotAcceptable {
				rq.ver = ver
				writeVersionHeaders(w, rq)
			}
			fault(w, status, msg)
			return
		}
		rq.ver = ver
	}
	writeVersionHeaders(w, rq)
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		if mt != "" && mt != "text/plain" && mt != "application/json" && mt != "application/vnd.openstack.compute+v1.1+json" {
			fault(w, http.StatusUnsupportedMediaType, "Unsupported Content-Type")
			return
		}
	}
	if r.Method == http.MethodPut || r.Method == http.MethodPost {
		if err := rq.readBody(); err != nil {
			fault(w, http.StatusBadRequest, "Malformed request body")
			return
		}
	}
	if rq.project != "" && rq.project != rq.caller.ProjectID {
		ctxProject := rq.caller.ProjectID
		if ctxProject == "" {
			ctxProject = "None"
		}
		fault(w, http.StatusBadRequest, "Malformed request URL: URL's project_id '"+rq.project+"' doesn't match Context's project_id '"+ctxProject+"'")
		return
	}
	if maxVer.less(rq.ver) {
		// The controller exists but not at this microversion: Nova
		// answers as if the method were not implemented.
		fault(w, http.StatusNotFound, "The resource could not be found.")
		return
	}
	if e := h(w, rq); e != nil {
		fault(w, e.status, e.msg)
	}
}

// handler is a controller method; it returns the fault to send, if any.
type handler func(w http.ResponseWriter, rq *req) *apiError

// apiError is a Nova fault: the status picks the body's name.
type apiError struct {
	status int
	msg    string
}

func errorf(status int, msg string) *apiError { return &apiError{status, msg} }

// route finds the controller method for a path below the version (and
// project) segment, with the last microversion it exists in.
func (a *API) route(method string, segs []string) (handler, version) {
	if len(segs) == 0 || segs[0] != "images" {
		return nil, version{}
	}
	switch len(segs) {
	case 1:
		if method == http.MethodGet {
			return a.index, maxImages
		}
	case 2:
		if segs[1] == "" {
			return nil, version{}
		}
		id := segs[1]
		switch method {
		case http.MethodGet:
			if id == "detail" {
				return a.detail, maxImages
			}
			return func(w http.ResponseWriter, rq *req) *apiError { return a.show(w, rq, id) }, maxImages
		case http.MethodDelete:
			return func(w http.ResponseWriter, rq *req) *apiError { return a.delete(w, rq, id) }, maxImages
		}
	case 3:
		if segs[1] == "" || segs[2] != "metadata" {
			return nil, version{}
		}
		id := segs[1]
		switch method {
		case http.MethodGet:
			return func(w http.ResponseWriter, rq *req) *apiError { return a.metadataIndex(w, rq, id) }, maxImageMeta
		case http.MethodPost:
			return func(w http.ResponseWriter, rq *req) *apiError { return a.metadataCreate(w, rq, id) }, maxImageMeta
		case http.MethodPut:
			return func(w http.ResponseWriter, rq *req) *apiError { return a.metadataUpdateAll(w, rq, id) }, maxImageMeta
		}
	case 4:
		if segs[1] == "" || segs[2] != "metadata" || segs[3] == "" {
			return nil, version{}
		}
		id, key := segs[1], segs[3]
		switch method {
		case http.MethodGet:
			return func(w http.ResponseWriter, rq *req) *apiError { return a.metadataShow(w, rq, id, key) }, maxImageMeta
		case http.MethodPut:
			return func(w http.ResponseWriter, rq *req) *apiError { return a.metadataUpdate(w, rq, id, key) }, maxImageMeta
		case http.MethodDelete:
			return func(w http.ResponseWriter, rq *req) *apiError { return a.metadataDelete(w, rq, id, key) }, maxImageMeta
		}
	}
	return nil, version{}
}

// requestedVersion reads the microversion from OpenStack-API-Version
// ("compute X.Y", possibly among other services) or, without it, from
// X-OpenStack-Nova-API-Version. No header means 2.1, "latest" the newest.
// On failure it returns the status (400 for a malformed string, 406 for
// one out of range) and Nova's message.
func requestedVersion(h http.Header) (v version, status int, msg string, ok bool) {
	s, found := "", false
	for _, line := range h.Values("OpenStack-API-Version") {
		for _, item := range strings.Split(line, ",") {
			fields := strings.Fields(item)
			if len(fields) == 2 && strings.ToLower(fields[0]) == "compute" {
				s, found = fields[1], true
			}
		}
	}
	if !found {
		if vals := h.Values("X-OpenStack-Nova-API-Version"); len(vals) > 0 {
			s, found = strings.TrimSpace(strings.Join(vals, ",")), true
		}
	}
	if !found {
		return minVersion, 0, "", true
	}
	if strings.ToLower(s) == "latest" {
		return maxVersion, 0, "", true
	}
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return version{}, http.StatusBadRequest, "API Version String " + s + " is of invalid format. Must be of format MajorNum.MinorNum.", false
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil {
		return version{}, http.StatusBadRequest, "API Version String " + s + " is of invalid format. Must be of format MajorNum.MinorNum.", false
	}
	v = version{major, minor}
	if v.less(minVersion) || maxVersion.less(v) {
		return v, http.StatusNotAcceptable, "Version " + v.String() + " is not supported by the API. Minimum is " + minVersion.String() + " and maximum is " + maxVersion.String() + ".", false
	}
	return v, 0, "", true
}

// writeVersionHeaders echoes the microversion as Nova does on the
// microversioned endpoint; the /v2 endpoint sends none.
func writeVersionHeaders(w http.ResponseWriter, rq *req) {
	if rq.legacy {
		return
	}
	h := w.Header()
	h.Set("OpenStack-API-Version", "compute "+rq.ver.String())
	h.Set("X-OpenStack-Nova-API-Version", rq.ver.String())
	h.Del("Vary")
	h.Add("Vary", "OpenStack-API-Version")
	h.Add("Vary", "X-OpenStack-Nova-API-Version")
}

// faultNames are the body keys Nova's fault wrapper uses per status.
var faultNames = map[int]string{
	400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
	405: "badMethod", 409: "conflictingRequest", 413: "overLimit", 415: "badMediaType",
	429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable",
}

// fault writes Nova's error body: {"<name>": {"code": N, "message": …}}.
func fault(w http.ResponseWriter, status int, msg string) {
	name, ok := faultNames[status]
	if !ok {
		name = "computeFault"
	}
	inner := wirejson.NewObject().Int("code", int64(status)).String("message", msg).Bytes()
	body := wirejson.NewObject().RawBytes(name, inner).Bytes()
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// notFound is what Nova's router answers for a path or method it has no
// route for: webob's own 404, before any controller runs.
func notFound(w http.ResponseWriter, r *http.Request) {
	httperr.WriteStatus(w, r, http.StatusNotFound, "", "")
}

// writeJSON sends a successful response body.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// noContent answers 204 as Nova's resource does: its media type and no body.
func noContent(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNoContent)
}

// unexpected is Nova's answer to an error its controller did not expect;
// class names the Python exception Nova would have met.
func unexpected(class string) *apiError {
	return errorf(http.StatusInternalServerError, "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class '"+class+"'>")
}
