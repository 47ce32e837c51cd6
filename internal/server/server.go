// Package server wires glimpse together from its configuration: the
// catalog, the use cases, the APIs and the HTTP middleware.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"glimpse/internal/api/compute"
	"glimpse/internal/api/httperr"
	"glimpse/internal/api/registry"
	v1 "glimpse/internal/api/v1"
	v2 "glimpse/internal/api/v2"
	"glimpse/internal/api/versions"
	"glimpse/internal/api/wirejson"
	"glimpse/internal/auth"
	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/config"
	"glimpse/internal/format"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
	"glimpse/internal/importplugin"
	"glimpse/internal/policy"
	"glimpse/internal/store"
	"glimpse/internal/store/file"
	httpstore "glimpse/internal/store/http"
	"glimpse/internal/urlfilter"
)

// Implemented lists the API features this build serves; version discovery
// advertises what they add up to.
var Implemented = map[versions.Feature]bool{
	versions.ImagesMetadata:      true,
	versions.ImageData:           true,
	versions.Members:             true,
	versions.PropertyProtections: true,
	versions.Deactivation:        true,
	versions.LocationRules:       true,
	versions.Community:           true,
	versions.Import:              true,
	versions.HiddenAndHashes:     true,
	versions.MultiStore:          true,
}

// Server is a configured glimpse.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	db      *sqlcat.DB
	ops     *imageops.Service
	auth    auth.Authenticator
	policy  *policy.Enforcer
	extra   []Listener
	handler http.Handler
}

// CatalogURL is [database] connection, or when it is unset the embedded
// SQLite file under the data directory.
func CatalogURL(cfg *config.Config) string {
	if cfg.Database.Connection == "" {
		return "sqlite:///" + filepath.Join(cfg.DataDir(), "glance.sqlite")
	}
	return cfg.Database.Connection
}

// CheckCatalog reports a [database] connection glimpse cannot use, without
// connecting.
func CheckCatalog(cfg *config.Config) error {
	return sqlcat.CheckURL(CatalogURL(cfg))
}

// CatalogPath is the catalog's SQLite file; an error when the catalog is
// on a server.
func CatalogPath(cfg *config.Config) (string, error) {
	conn := CatalogURL(cfg)
	if err := sqlcat.CheckURL(conn); err != nil {
		return "", err
	}
	p, ok := strings.CutPrefix(conn, "sqlite:///")
	if !ok {
		return "", fmt.Errorf("[database] connection %q is not an SQLite file", conn)
	}
	return p, nil
}

// OpenCatalog opens the configured catalog without migrating it, waiting
// for a database server as [database] max_retries and retry_interval say.
func OpenCatalog(ctx context.Context, cfg *config.Config, log *slog.Logger) (*sqlcat.DB, error) {
	db := cfg.Database
	return sqlcat.OpenURL(ctx, CatalogURL(cfg), sqlcat.Options{
		MaxPoolSize:   db.MaxPoolSize,
		MaxOverflow:   db.MaxOverflow,
		RecycleTime:   time.Duration(db.ConnectionRecycleTime) * time.Second,
		MaxRetries:    db.MaxRetries,
		RetryInterval: time.Duration(db.RetryInterval) * time.Second,
		Retrying: func(err error, wait time.Duration, attempt, of int) {
			log.Warn("database not reachable; trying again ([database] max_retries, retry_interval)",
				"error", err, "in", wait, "attempt", attempt, "max_retries", of)
		},
	})
}

// Authenticator returns the identity mode of [paste_deploy] flavor; for
// keystone it reads [keystone_authtoken] and logs one warning per option
// it does not use.
func Authenticator(cfg *config.Config, log *slog.Logger) (auth.Authenticator, error) {
	flavor, _, _ := strings.Cut(cfg.PasteDeploy.Flavor, "+")
	switch flavor {
	case "":
		return auth.Unauthenticated{}, nil
	case "noauth":
		return auth.NoAuth{}, nil
	case "keystone":
		k, warnings, err := auth.NewKeystone(cfg.Raw["keystone_authtoken"], log)
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			log.Warn(w)
		}
		k.AllowAnonymous = cfg.Default.AllowAnonymousAccess
		return k, nil
	}
	return nil, fmt.Errorf("[paste_deploy] flavor %q is not supported", cfg.PasteDeploy.Flavor)
}

// OpenStores builds the single file store of the legacy [glance_store]
// configuration (over filesystem_store_datadir, or over the directories of
// filesystem_store_datadirs) and removes what uploads cut short by a crash
// left in it.
func OpenStores(cfg *config.Config, log *slog.Logger) (*store.Set, error) {
	if len(cfg.Default.EnabledBackends) > 0 {
		return openNamedStores(cfg, log)
	}
	section := map[string]string{}
	for k, v := range cfg.Raw["glance_store"] {
		if strings.HasPrefix(k, "filesystem_store_") && k != "filesystem_store_datadir" {
			section[k] = v
		}
	}
	dir := cfg.GlanceStore.FilesystemStoreDatadir
	if dir == "" && strings.TrimSpace(section["filesystem_store_datadirs"]) == "" {
		dir = filepath.Join(cfg.DataDir(), "images")
	}
	if dir != "" {
		section["filesystem_store_datadir"] = dir
	}
	fd, err := file.Open(section)
	if err != nil {
		return nil, fmt.Errorf("[glance_store] %w", err)
	}
	cleanFileStore(fd, log)
	backends := []store.Backend{{ID: "file", Scheme: "file", Driver: fd}}
	if slices.Contains(cfg.GlanceStore.Stores, "http") {
		// Read-only: serves images whose location is a web address.
		hd, err := httpstore.Open(cfg.Raw["glance_store"])
		if err != nil {
			return nil, fmt.Errorf("[glance_store] %w", err)
		}
		backends = append(backends, store.Backend{ID: "http", Scheme: "http", Driver: hd})
	}
	return store.NewSet("file", backends...)
}

// cleanFileStore logs what an opened file store warns of and removes what
// uploads cut short by a crash left in its directories.
func cleanFileStore(fd store.Driver, log *slog.Logger) {
	var dirs []*file.Driver
	switch d := fd.(type) {
	case *file.Driver:
		dirs = []*file.Driver{d}
	case *file.Multi:
		for _, w := range d.Warnings() {
			log.Warn(w)
		}
		dirs = d.Drivers()
	}
	for _, d := range dirs {
		if n, err := d.CleanTemp(); err != nil {
			log.Warn("cannot clean interrupted uploads from the file store", "dir", d.Dir(), "error", err)
		} else if n > 0 {
			log.Info("removed data of interrupted uploads", "dir", d.Dir(), "files", n)
		}
	}
}

// storesInfo describes the stores configured by name for discovery
// (nil in the single-store setup).
func storesInfo(cfg *config.Config, set *store.Set) []v2.StoreInfo {
	var out []v2.StoreInfo
	for _, b := range cfg.Default.EnabledBackends {
		sec := cfg.Raw[b.Name]
		info := v2.StoreInfo{ID: b.Name, Type: b.Type, Description: sec["store_description"],
			Default: b.Name == cfg.GlanceStore.DefaultBackend, ReadOnly: b.Type == "http"}
		if d, ok := set.Lookup(b.Name); ok {
			if fd, ok := d.(*file.Driver); ok {
				chunk := file.DefaultChunkSize
				if n, err := strconv.Atoi(strings.TrimSpace(sec["filesystem_store_chunk_size"])); err == nil && n > 0 {
					chunk = n
				}
				thin, _ := strconv.ParseBool(strings.TrimSpace(sec["filesystem_thin_provisioning"]))
				info.Properties = wirejson.NewObject().String("data_dir", fd.Dir()).Int("chunk_size", int64(chunk)).
					Bool("thin_provisioning", thin).Bytes()
			}
		}
		out = append(out, info)
	}
	return out
}

// openNamedStores builds the stores of [DEFAULT] enabled_backends, each
// from the section of its name, as glance_store's multi-store mode does.
// A file store without a directory gets <data-dir>/<name> (Glance's
// default is /var/lib/glance/<name>).
func openNamedStores(cfg *config.Config, log *slog.Logger) (*store.Set, error) {
	var backends []store.Backend
	for _, b := range cfg.Default.EnabledBackends {
		if b.Type == "http" {
			hd, err := httpstore.Open(cfg.Raw[b.Name])
			if err != nil {
				return nil, fmt.Errorf("[%s] %w", b.Name, err)
			}
			backends = append(backends, store.Backend{ID: b.Name, Scheme: "http", Driver: hd})
			continue
		}
		if b.Type != "file" {
			return nil, fmt.Errorf("[DEFAULT] enabled_backends: %s:%s: only file and http stores are available in this build", b.Name, b.Type)
		}
		section := map[string]string{}
		for k, v := range cfg.Raw[b.Name] {
			section[k] = v
		}
		if section["filesystem_store_datadir"] == "" && strings.TrimSpace(section["filesystem_store_datadirs"]) == "" {
			section["filesystem_store_datadir"] = filepath.Join(cfg.DataDir(), b.Name)
		}
		fd, err := file.Open(section)
		if err != nil {
			return nil, fmt.Errorf("[%s] %w", b.Name, err)
		}
		cleanFileStore(fd, log)
		backends = append(backends, store.Backend{ID: b.Name, Scheme: "file", Driver: fd})
	}
	return store.NewSet(cfg.GlanceStore.DefaultBackend, backends...)
}

// OpenStaging builds the staging area of image import: the file store of
// the reserved os_glance_staging_store section when stores are configured
// by name, else node_staging_uri's directory; <data-dir>/staging when
// neither names one.
func OpenStaging(cfg *config.Config, log *slog.Logger) (*file.Driver, error) {
	dir := filepath.Join(cfg.DataDir(), "staging")
	if len(cfg.Default.EnabledBackends) > 0 {
		if d := strings.TrimSpace(cfg.Raw["os_glance_staging_store"]["filesystem_store_datadir"]); d != "" {
			dir = d
		}
	} else if u := strings.TrimSpace(cfg.Default.NodeStagingURI); u != "" {
		p, ok := strings.CutPrefix(u, "file://")
		if !ok || !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("[DEFAULT] node_staging_uri %q: must be a file:///absolute/path URI", u)
		}
		dir = strings.TrimSuffix(p, "/")
	}
	fd, err := file.New(dir)
	if err != nil {
		return nil, fmt.Errorf("staging area: %w", err)
	}
	cleanFileStore(fd, log)
	return fd, nil
}

// ImportFilter builds the URI rules of [import_filtering_opts].
func ImportFilter(cfg *config.Config) (*urlfilter.Rules, error) {
	f := cfg.ImportFiltering
	ports := func(key string, vs []string) ([]int, error) {
		out := make([]int, 0, len(vs))
		for _, v := range vs {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("[import_filtering_opts] %s: %q is not a port number", key, v)
			}
			out = append(out, n)
		}
		return out, nil
	}
	allowed, err := ports("allowed_ports", f.AllowedPorts)
	if err != nil {
		return nil, err
	}
	disallowed, err := ports("disallowed_ports", f.DisallowedPorts)
	if err != nil {
		return nil, err
	}
	r, err := urlfilter.New(urlfilter.Config{
		AllowedSchemes: f.AllowedSchemes, DisallowedSchemes: f.DisallowedSchemes,
		AllowedHosts: f.AllowedHosts, DisallowedHosts: f.DisallowedHosts,
		AllowedPorts: allowed, DisallowedPorts: disallowed,
		AllowPrivateAddresses: f.AllowPrivateAddresses,
	})
	if err != nil {
		return nil, fmt.Errorf("[import_filtering_opts] %w", err)
	}
	return r, nil
}

// webFetcher fetches web-download URIs through the import filter, bounded
// in size (image_size_cap), in total time and in every wait.
type webFetcher struct{ rules *urlfilter.Rules }

// Web-download bounds: a stalled server is dropped after a minute without
// progress; no download runs longer than a day.
const (
	webIdleTimeout  = time.Minute
	webTotalTimeout = 24 * time.Hour
)

func (f webFetcher) Check(uri string) error { return f.rules.Check(uri) }

// CheckContext adds the name lookup the newest Glance does when a task is
// requested.
func (f webFetcher) CheckContext(ctx context.Context, uri string) error {
	return f.rules.CheckContext(ctx, uri)
}

func (f webFetcher) Open(ctx context.Context, uri string, max int64) (io.ReadCloser, error) {
	return f.OpenWithHeader(ctx, uri, max, nil)
}

// OpenWithHeader fetches with headers (glance-download sends the caller's
// token; the filter keeps it from other hosts a redirect names).
func (f webFetcher) OpenWithHeader(ctx context.Context, uri string, max int64, h http.Header) (io.ReadCloser, error) {
	return f.rules.Open(ctx, uri, urlfilter.Limits{Timeout: webTotalTimeout, IdleTimeout: webIdleTimeout, MaxSize: max}, h)
}

// ImportPlugins builds the import plugins of [image_import_opts]
// image_import_plugins, with their sections' options.
func ImportPlugins(cfg *config.Config, log *slog.Logger) ([]importplugin.Plugin, error) {
	names := config.ParseList(cfg.Raw["image_import_opts"]["image_import_plugins"])
	if len(names) == 0 {
		return nil, nil
	}
	inject, err := importplugin.ParseDict(cfg.Raw["inject_metadata_properties"]["inject"])
	if err != nil {
		return nil, fmt.Errorf("[inject_metadata_properties] inject: %w", err)
	}
	var ignore []string
	if v, ok := cfg.Raw["inject_metadata_properties"]["ignore_user_roles"]; ok {
		ignore = config.ParseList(v)
	}
	opts := format.Options{VMDKAllowedTypes: cfg.ImageFormat.VMDKAllowedTypes, GPTSafetyChecksNonfatal: cfg.ImageFormat.GPTSafetyChecksNonfatal}
	plugins, err := importplugin.New(names, importplugin.Config{
		OutputFormat:     strings.TrimSpace(cfg.Raw["image_conversion"]["output_format"]),
		Inject:           inject,
		IgnoreUserRoles:  ignore,
		VMDKAllowedTypes: cfg.ImageFormat.VMDKAllowedTypes,
		MaxSize:          cfg.Default.ImageSizeCap,
		Log:              log,
		Inspect: func(path string) (importplugin.Inspection, error) {
			r, err := format.InspectFile(path, opts)
			return importplugin.Inspection{Format: r.Format, VirtualSize: r.VirtualSize, Safe: r.Safe, Reason: r.Reason}, err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("[image_import_opts] image_import_plugins: %w", err)
	}
	return plugins, nil
}

// ConfigError is a failure of New caused by the configuration (identity,
// policy or store settings), as opposed to the catalog or the machine.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// New builds a server: it opens the catalog, creating Glance's schema in an
// empty database and refusing one it cannot serve.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Server, error) {
	a, err := Authenticator(cfg, log)
	if err != nil {
		return nil, &ConfigError{err}
	}
	enforcer, propRules, err := Policy(cfg)
	if err != nil {
		return nil, &ConfigError{err}
	}
	// Stores before the catalog: a store setting that is wrong must not
	// leave a new, empty catalog behind.
	stores, err := OpenStores(cfg, log)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// The machine's fault (a directory that cannot be made),
			// not the settings'.
			return nil, err
		}
		return nil, &ConfigError{err}
	}
	filter, err := ImportFilter(cfg)
	if err != nil {
		return nil, &ConfigError{err}
	}
	plugins, err := ImportPlugins(cfg, log)
	if err != nil {
		return nil, &ConfigError{err}
	}
	staging, err := OpenStaging(cfg, log)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, &ConfigError{err}
	}
	db, err := OpenCatalog(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	rev, err := db.Version(ctx)
	if err == nil && rev == "" {
		var to string
		_, to, err = db.Sync(ctx)
		if err == nil {
			log.Info("created catalog schema", "revision", to)
		}
	} else if err == nil {
		err = sqlcat.CheckVersion(rev)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	d := cfg.Default
	opts := []imageops.Option{
		imageops.WithData(imageops.DataConfig{Stores: stores, SizeCap: d.ImageSizeCap, UserStorageQuota: d.UserStorageQuota, HashAlgo: d.HashingAlgorithm, Log: log, DelayedDelete: d.DelayedDelete,
			Formats:            format.Options{VMDKAllowedTypes: cfg.ImageFormat.VMDKAllowedTypes, GPTSafetyChecksNonfatal: cfg.ImageFormat.GPTSafetyChecksNonfatal},
			RequireFormatMatch: cfg.ImageFormat.RequireImageFormatMatch,
			MultiStore:         len(d.EnabledBackends) > 0}),
		imageops.WithPolicy(enforcer, !cfg.OsloPolicy.EnforceNewDefaults),
		imageops.WithLocations(imageops.LocationConfig{Show: d.ShowMultipleLocations, DirectURL: d.ShowImageDirectURL, Quota: d.ImageLocationQuota}),
		imageops.WithImport(imageops.ImportConfig{
			Methods:                  d.EnabledImportMethods,
			Staging:                  staging,
			StagingURI:               staging.Location,
			StagingDir:               staging.Dir(),
			Plugins:                  plugins,
			Fetch:                    webFetcher{filter},
			TaskTTL:                  taskTTL(cfg),
			StageHost:                cmp.Or(d.WorkerSelfReferenceURL, d.PublicEndpoint),
			GlanceDownloadProperties: downloadProperties(cfg),
		}),
	}
	if propRules != nil {
		opts = append(opts, imageops.WithPropertyRules(propRules))
	}
	ops := imageops.New(db, imageops.Limits{Properties: d.ImagePropertyQuota, Tags: d.ImageTagQuota, Members: d.ImageMemberQuota}, opts...)
	if n, err := ops.RecoverInterruptedImports(ctx); err != nil {
		log.Warn("cannot end the tasks of interrupted imports", "error", err)
	} else if n > 0 {
		log.Info("ended the tasks of interrupted imports", "tasks", n)
	}
	if n, err := ops.CleanStaging(ctx); err != nil {
		log.Warn("cannot clean the staging area", "error", err)
	} else if n > 0 {
		log.Info("removed staged data no image needs", "images", n)
	}
	if n, err := ops.RecoverInterruptedUploads(ctx); err != nil {
		log.Warn("cannot return images of interrupted uploads to queued", "error", err)
	} else if n > 0 {
		log.Info("returned images of interrupted uploads to queued", "images", n)
	}
	vh := versions.New(versions.Current(Implemented), d.PublicEndpoint)
	api := v2.New(ops, v2.Config{
		LimitDefault:     d.LimitParamDefault,
		LimitMax:         d.APILimitMax,
		DiskFormats:      cfg.ImageFormat.DiskFormats,
		ContainerFormats: cfg.ImageFormat.ContainerFormats,
		PublicEndpoint:   d.PublicEndpoint,
		ImportMethods:    d.EnabledImportMethods,
		Stores:           storesInfo(cfg, stores),
	})
	mux := http.NewServeMux()
	api.Register(mux)
	if d.EnableV1API {
		// The deprecated Images v1 API, on the same catalog and stores.
		v1.New(ops, v1.Config{
			LimitDefault: d.LimitParamDefault, LimitMax: d.APILimitMax,
			DiskFormats: cfg.ImageFormat.DiskFormats, ContainerFormats: cfg.ImageFormat.ContainerFormats,
			SizeCap: d.ImageSizeCap, MemberQuota: &d.ImageMemberQuota,
		}).Register(mux)
		vh.EnableV1()
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httperr.WriteStatus(w, r, http.StatusNotFound, "", "")
	})
	s := &Server{cfg: cfg, log: log, db: db, ops: ops, auth: a, policy: enforcer}
	s.handler = s.middleware(vh, mux)
	if addr := cfg.RegistryListen(); addr != "" {
		reg := registry.New(ops, registry.Config{
			LimitDefault: d.LimitParamDefault, LimitMax: d.APILimitMax, DelayedDelete: d.DelayedDelete,
			MemberLimit: d.ImageMemberQuota,
		})
		s.extra = append(s.extra, Listener{Name: "registry", Addr: addr, Handler: s.middleware(nil, reg.Handler())})
	}
	if addr := cfg.Glimpse.ComputeListen; addr != "" {
		// The compute API's /images proxy negotiates its own versions.
		proxy := compute.New(ops, compute.Config{GlanceEndpoint: d.PublicEndpoint, GlanceLimitMax: d.APILimitMax})
		s.extra = append(s.extra, Listener{Name: "compute", Addr: addr, Handler: s.middleware(nil, proxy.Handler())})
	}
	return s, nil
}

// Listener is an API served on an address of its own.
type Listener struct {
	Name    string // for messages: "registry", "compute"
	Addr    string // HOST:PORT
	Handler http.Handler
}

// Extra lists the APIs configured to listen beside the Images API.
func (s *Server) Extra() []Listener { return s.extra }

// ServeHandler answers requests for h on ln until ctx is cancelled, as
// Serve does for the Images API.
func (s *Server) ServeHandler(ctx context.Context, ln net.Listener, h http.Handler) error {
	return s.serve(ctx, ln, h)
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the imports still running (their images are put back) and
// releases the catalog.
func (s *Server) Close() error {
	s.ops.StopImports()
	return s.db.Close()
}

// downloadProperties is [glance_download_properties] extra_properties;
// nil (Glance's default) when unset.
func downloadProperties(cfg *config.Config) []string {
	v, ok := cfg.Raw["glance_download_properties"]["extra_properties"]
	if !ok {
		return nil
	}
	return config.ParseList(v)
}

// taskTTL is [task] task_time_to_live, in hours (48 by default).
func taskTTL(cfg *config.Config) time.Duration {
	if h, err := strconv.Atoi(strings.TrimSpace(cfg.Raw["task"]["task_time_to_live"])); err == nil && h > 0 {
		return time.Duration(h) * time.Hour
	}
	return 48 * time.Hour
}

// statusWriter records the status and size for the access log; it passes
// ReadFrom through so file downloads keep using sendfile.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom hands the copy to the connection's writer, which sends files
// with sendfile(2); without it io.Copy would go through a user-space buffer.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

// middleware wraps an API in what every request passes through: version
// negotiation (vh; nil on the listeners of APIs without it), identity,
// the request id, the access log and panic recovery.
func (s *Server) middleware(vh *versions.Handler, next http.Handler) http.Handler {
	maxID := s.cfg.Default.MaxRequestIDLength
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		reqID := ""
		log := s.log
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic serving request", "panic", p, "method", r.Method, "path", r.URL.Path)
				if w.status == 0 {
					httperr.WriteStatus(w, r, http.StatusInternalServerError, "", "")
				}
			}
			level := slog.LevelInfo
			if w.status >= 500 {
				level = slog.LevelError
			}
			log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path,
				"status", w.status, "bytes", w.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()
		if vh != nil && !vh.Negotiate(w, r) {
			return
		}
		c, err := s.auth.Authenticate(r)
		if err != nil {
			s.authFailed(w, r, err)
			return
		}
		if _, unauthenticated := s.auth.(auth.Unauthenticated); !unauthenticated {
			// As Glance's request context: is_admin is what the
			// context_is_admin rule says of the caller, whatever the
			// authenticator guessed from the roles.
			c.IsAdmin = s.policy.IsAdmin(c.PolicyCreds())
		}
		if c.ReadOnly && mutating(r.Method) {
			// Glance's anonymous caller may only read.
			httperr.WriteStatus(w, r, http.StatusForbidden, "", "Read-only access")
			return
		}
		reqID = c.RequestID
		switch {
		case reqID == "":
			reqID = "req-" + uuid.NewString()
		case maxID > 0 && len(reqID) > maxID:
			httperr.Write(w, r, image.E("server", image.Invalid, "X-Openstack-Request-ID is longer than %d characters.", maxID))
			return
		case !strings.HasPrefix(reqID, "req-"):
			reqID = "req-" + reqID
		}
		w.Header().Set("X-Openstack-Request-Id", reqID)
		log = s.log.With("request_id", reqID)
		// The caller's context carries the request's id from here on, as
		// Glance's does (a task records it).
		withID := *c
		withID.RequestID = reqID
		c = &withID
		ctx := auth.NewContext(r.Context(), c)
		ctx = httperr.NewContext(ctx, log)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// mutating reports whether a method changes state (Glance's @mutating
// handlers are exactly the non-GET/HEAD ones).
func mutating(method string) bool {
	return method != http.MethodGet && method != http.MethodHead
}

// authFailed answers a request whose identity was refused. Keystone
// rejections get keystonemiddleware's JSON body, whatever the client
// accepts, and every 401 in keystone mode names where to get a token.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, err error) {
	k, isKeystone := s.auth.(*auth.Keystone)
	if isKeystone && image.KindOf(err) == image.Unauthorized {
		w.Header().Set("WWW-Authenticate", k.Challenge())
	}
	if errors.Is(err, auth.ErrTokenRejected) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, auth.RejectionBody)
		return
	}
	httperr.Write(w, r, err)
}

// Serve answers requests on ln until ctx is cancelled, then shuts down
// gracefully, letting requests in flight finish for up to 30 s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.handler)
}

func (s *Server) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       10 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	return err
}

// CheckListen refuses a non-loopback address when nothing authenticates
// requests, unless the operator said insecure.
func CheckListen(addr string, a auth.Authenticator, insecure bool) error {
	if a.RequiresAuth() || insecure {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: every client would be an administrator; listen on a loopback address, configure [paste_deploy] flavor = keystone, or pass --insecure", addr)
}
