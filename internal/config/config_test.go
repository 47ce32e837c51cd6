package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeConf stores text as a config file and returns its path.
func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "glance-api.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// problems unpacks the error from Load or Validate.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("error %v (%T) is not Problems", err, err)
	}
	return p
}

func mustLoad(t *testing.T, text string, env []string) (*Config, []string) {
	t.Helper()
	c, warns, err := Load(writeConf(t, text), env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c, warns
}

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Errorf("Validate(Default()) = %v, want nil", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Listen", c.Listen(), "127.0.0.1:9292"},
		{"DataDir", c.DataDir(), "glimpse-data"},
		{"ImageLocationQuota", c.Default.ImageLocationQuota, 10},
		{"APILimitMax", c.Default.APILimitMax, 1000},
		{"ImageSizeCap", c.Default.ImageSizeCap, int64(1099511627776)},
		{"HashingAlgorithm", c.Default.HashingAlgorithm, "sha512"},
		{"EnabledImportMethods", c.Default.EnabledImportMethods, []string{"glance-direct", "web-download", "copy-image"}},
		{"EnabledBackends", len(c.Default.EnabledBackends), 0},
		{"EnableV1API", c.Default.EnableV1API, true},
		{"DoSecureHash", c.Default.DoSecureHash, true},
		{"ConnectionRecycleTime", c.Database.ConnectionRecycleTime, 3600},
		{"DiskFormats", c.ImageFormat.DiskFormats, []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}},
		{"ContainerFormats", c.ImageFormat.ContainerFormats, []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}},
		{"VMDKAllowedTypes", c.ImageFormat.VMDKAllowedTypes, []string{"streamOptimized", "monolithicSparse"}},
		{"RequireImageFormatMatch", c.ImageFormat.RequireImageFormatMatch, true},
		{"Stores", c.GlanceStore.Stores, []string{"file", "http"}},
		{"DefaultStore", c.GlanceStore.DefaultStore, "file"},
		{"PolicyFile", c.OsloPolicy.PolicyFile, "policy.yaml"},
		{"PolicyDirs", c.OsloPolicy.PolicyDirs, []string{"policy.d"}},
		{"Raw", c.Raw, map[string]map[string]string{}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadNoFile(t *testing.T) {
	c, warns, err := Load("", nil)
	if err != nil || len(warns) != 0 {
		t.Fatalf("Load(\"\") = %v, %q; want no error or warnings", err, warns)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load(\"\") = %+v, want Default()", c)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.conf")
	c, _, err := Load(path, []string{"GLIMPSE_DEFAULT_BIND_PORT=x"})
	if c != nil {
		t.Errorf("Load returned a config along with an error")
	}
	want := []string{
		"cannot read config file " + path + ": no such file or directory",
		`[DEFAULT] bind_port: "x" is not an integer (from GLIMPSE_DEFAULT_BIND_PORT)`,
	}
	if got := problems(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
}

func TestLoadValues(t *testing.T) {
	tests := []struct {
		name string
		conf string
		get  func(*Config) any
		want any
	}{
		{"bool True", "[DEFAULT]\ndebug = True", func(c *Config) any { return c.Default.Debug }, true},
		{"bool yes", "[DEFAULT]\ndebug = yes", func(c *Config) any { return c.Default.Debug }, true},
		{"bool ON", "[DEFAULT]\ndebug = ON", func(c *Config) any { return c.Default.Debug }, true},
		{"bool 1", "[DEFAULT]\ndebug = 1", func(c *Config) any { return c.Default.Debug }, true},
		{"bool False", "[DEFAULT]\ndo_secure_hash = False", func(c *Config) any { return c.Default.DoSecureHash }, false},
		{"bool no", "[DEFAULT]\ndo_secure_hash = no", func(c *Config) any { return c.Default.DoSecureHash }, false},
		{"bool Off", "[DEFAULT]\ndo_secure_hash = Off", func(c *Config) any { return c.Default.DoSecureHash }, false},
		{"bool 0", "[DEFAULT]\ndo_secure_hash = 0", func(c *Config) any { return c.Default.DoSecureHash }, false},
		{"negative int", "[DEFAULT]\nimage_location_quota = -1", func(c *Config) any { return c.Default.ImageLocationQuota }, -1},
		{"int64", "[DEFAULT]\nimage_size_cap = 9223372036854775807", func(c *Config) any { return c.Default.ImageSizeCap }, int64(1<<63 - 1)},
		{"size plain", "[DEFAULT]\nuser_storage_quota = 10", func(c *Config) any { return c.Default.UserStorageQuota }, int64(10)},
		{"size B", "[DEFAULT]\nuser_storage_quota = 10B", func(c *Config) any { return c.Default.UserStorageQuota }, int64(10)},
		{"size KB", "[DEFAULT]\nuser_storage_quota = 10KB", func(c *Config) any { return c.Default.UserStorageQuota }, int64(10 << 10)},
		{"size MB", "[DEFAULT]\nuser_storage_quota = 10MB", func(c *Config) any { return c.Default.UserStorageQuota }, int64(10 << 20)},
		{"size GB", "[DEFAULT]\nuser_storage_quota = 10GB", func(c *Config) any { return c.Default.UserStorageQuota }, int64(10 << 30)},
		{"size TB", "[DEFAULT]\nuser_storage_quota = 10TB", func(c *Config) any { return c.Default.UserStorageQuota }, int64(10 << 40)},
		{"list", "[image_format]\ndisk_formats = raw, qcow2 ,iso", func(c *Config) any { return c.ImageFormat.DiskFormats }, []string{"raw", "qcow2", "iso"}},
		{"list brackets", "[image_format]\ndisk_formats = [raw,qcow2]", func(c *Config) any { return c.ImageFormat.DiskFormats }, []string{"raw", "qcow2"}},
		{"list quoted items", "[DEFAULT]\nenabled_import_methods = ['glance-direct', \"copy-image\"]", func(c *Config) any { return c.Default.EnabledImportMethods }, []string{"glance-direct", "copy-image"}},
		{"list trailing comma", "[image_format]\ndisk_formats = raw,", func(c *Config) any { return c.ImageFormat.DiskFormats }, []string{"raw"}},
		{"list empty", "[image_format]\ndisk_formats =", func(c *Config) any { return c.ImageFormat.DiskFormats }, []string{}},
		{"list continued", "[image_format]\ndisk_formats = raw,\n  qcow2", func(c *Config) any { return c.ImageFormat.DiskFormats }, []string{"raw", "qcow2"}},
		{"dict", "[DEFAULT]\nenabled_backends = fast:file, cheap:file,web:http\n[glance_store]\ndefault_backend = fast",
			func(c *Config) any { return c.Default.EnabledBackends },
			[]Backend{{"fast", "file"}, {"cheap", "file"}, {"web", "http"}}},
		{"blank string", "[paste_deploy]\nflavor =", func(c *Config) any { return c.PasteDeploy.Flavor }, ""},
		{"flavor", "[paste_deploy]\nflavor = keystone+cachemanagement", func(c *Config) any { return c.PasteDeploy.Flavor }, "keystone+cachemanagement"},
		{"deprecated alias", "[database]\nidle_timeout = 60", func(c *Config) any { return c.Database.ConnectionRecycleTime }, 60},
		{"new name beats alias", "[database]\nconnection_recycle_time = 30\nidle_timeout = 60", func(c *Config) any { return c.Database.ConnectionRecycleTime }, 30},
		{"glimpse section", "[glimpse]\ndata_dir = /srv/glimpse\ninsecure = true", func(c *Config) any { return c.DataDir() }, "/srv/glimpse"},
		{"listen", "[DEFAULT]\nbind_host = ::1\nbind_port = 0", func(c *Config) any { return c.Listen() }, "[::1]:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := mustLoad(t, tt.conf, nil)
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestLoadEnvOverridesFile(t *testing.T) {
	conf := `[DEFAULT]
image_tag_quota = 7
image_member_quota = 9
enabled_backends = fast:file
[glance_store]
default_backend = fast
[fast]
filesystem_store_datadir = /from/file
[keystone_authtoken]
password = from-file
`
	env := []string{
		"PATH=/usr/bin",
		"GLIMPSE_CONFIG=/etc/glimpse/glance-api.conf", // no such section: not ours
		"GLIMPSE_DEFAULT_IMAGE_TAG_QUOTA=5",
		"GLIMPSE_DATABASE_CONNECTION=postgresql://u:p@h/db?x=1",
		"GLIMPSE_IMAGE_FORMAT_DISK_FORMATS=raw,qcow2",
		"GLIMPSE_KEYSTONE_AUTHTOKEN_PASSWORD=from-env",
		"GLIMPSE_FAST_FILESYSTEM_STORE_DATADIR=/from/env",
		"GLIMPSE_GLIMPSE_DATA_DIR=/var/lib/glimpse",
		"GLIMPSE_DEFAULT_IMAGE_TAG_QUOTA=6", // the later one wins
	}
	c, warns := mustLoad(t, conf, env)
	if len(warns) != 0 {
		t.Errorf("warnings = %q, want none", warns)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"env beats file", c.Default.ImageTagQuota, 6},
		{"file beats default", c.Default.ImageMemberQuota, 9},
		{"env over default", c.Database.Connection, "postgresql://u:p@h/db?x=1"},
		{"section with underscore", c.ImageFormat.DiskFormats, []string{"raw", "qcow2"}},
		{"glimpse section", c.DataDir(), "/var/lib/glimpse"},
		{"raw pass-through section", c.Raw["keystone_authtoken"]["password"], "from-env"},
		{"raw backend section", c.Raw["fast"]["filesystem_store_datadir"], "/from/env"},
		{"raw typed section", c.Raw["DEFAULT"]["image_tag_quota"], "6"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadEnvOnly(t *testing.T) {
	c, warns, err := Load("", []string{
		"GLIMPSE_DEFAULT_ENABLED_BACKENDS=a:file",
		"GLIMPSE_GLANCE_STORE_DEFAULT_BACKEND=a",
		"GLIMPSE_A_FILESYSTEM_STORE_DATADIR=/a",
		"GLIMPSE_DEFAULT_NO_SUCH_OPTION=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Raw["a"]["filesystem_store_datadir"], "/a"; got != want {
		t.Errorf("backend section from env: got %q, want %q", got, want)
	}
	if want := []string{"unknown option [DEFAULT] no_such_option ignored"}; !reflect.DeepEqual(warns, want) {
		t.Errorf("warnings:\n got %q\nwant %q", warns, want)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	conf := `[DEFAULT]
image_tag_quota = abc
show_image_direct_url = maybe
user_storage_quota = 10K
enabled_backends = fast
bind_port = 99999
oops
[image_format]
require_image_format_match = sometimes
`
	path := writeConf(t, conf)
	c, _, err := Load(path, []string{"GLIMPSE_DATABASE_MAX_RETRIES=lots"})
	if c != nil {
		t.Errorf("Load returned a config along with an error")
	}
	want := []string{
		path + `:7: no '=' or ':' in assignment: "oops"`,
		`[DEFAULT] image_tag_quota: "abc" is not an integer`,
		`[DEFAULT] show_image_direct_url: "maybe" is not a boolean (use true/false, yes/no, on/off or 1/0)`,
		`[DEFAULT] user_storage_quota: "10K" is not a size (use a number of bytes with an optional B, KB, MB, GB or TB suffix)`,
		`[DEFAULT] enabled_backends: "fast" is not a list of NAME:TYPE pairs ("fast" has no ':')`,
		`[database] max_retries: "lots" is not an integer (from GLIMPSE_DATABASE_MAX_RETRIES)`,
		`[image_format] require_image_format_match: "sometimes" is not a boolean (use true/false, yes/no, on/off or 1/0)`,
		`[DEFAULT] bind_port: "99999" must be between 0 and 65535`,
	}
	got := problems(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != len(want) {
		t.Errorf("Error() has %d lines, want %d", len(lines), len(want))
	}
}

func TestLoadThreeBadValuesThreeLines(t *testing.T) {
	_, _, err := Load(writeConf(t, "[DEFAULT]\nimage_tag_quota = abc\nbind_port = x\ndebug = perhaps\n"), nil)
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != 3 {
		t.Errorf("error has %d lines, want 3:\n%v", got, err)
	}
}

func TestLoadWarnings(t *testing.T) {
	conf := `[DEFAULT]
debug = true
verbose = true
log_dir = /var/log
transport_url = rabbit://x
image_cache_max_size = 1
image_cache_max_size = 2
bind_host = 127.0.0.1
enabled_backends = Fast:file
[glance_store]
default_backend = Fast
rbd_store_pool = images
swift_store_auth_version = 3
mystery = 1
[database]
idle_timeout = 5
[fast]
anything = goes
[keystone_authtoken]
anything = goes
[oslo_concurrency]
lock_path = /var/lock
[rogue]
[Task]
x = 1
`
	_, warns := mustLoad(t, conf, []string{"GLIMPSE_GLANCE_STORE_MYSTERY=2", "GLIMPSE_OSLO_POLICY_POLICY_DEFAULT_RULE=x"})
	want := []string{
		"unknown section [oslo_concurrency] ignored",
		"unknown section [rogue] ignored",
		"unknown option [DEFAULT] image_cache_max_size ignored",
		"unknown option [glance_store] mystery ignored",
		"deprecated option [database] idle_timeout: use connection_recycle_time instead",
		"unknown option [oslo_policy] policy_default_rule ignored",
	}
	if !reflect.DeepEqual(warns, want) {
		t.Errorf("warnings:\n got %q\nwant %q", warns, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"ephemeral port", func(c *Config) { c.Default.BindPort = 0 }, nil},
		{"port too big", func(c *Config) { c.Default.BindPort = 65536 },
			[]string{`[DEFAULT] bind_port: "65536" must be between 0 and 65535`}},
		{"negative port", func(c *Config) { c.Default.BindPort = -1 },
			[]string{`[DEFAULT] bind_port: "-1" must be between 0 and 65535`}},
		{"limit default zero", func(c *Config) { c.Default.LimitParamDefault = 0 },
			[]string{`[DEFAULT] limit_param_default: "0" must be at least 1`}},
		{"limit default above max", func(c *Config) { c.Default.LimitParamDefault = 2000 },
			[]string{`[DEFAULT] limit_param_default: "2000" must not exceed api_limit_max (1000)`}},
		{"limit max zero", func(c *Config) { c.Default.APILimitMax = 0 },
			[]string{`[DEFAULT] api_limit_max: "0" must be at least 1`}},
		{"unlimited quotas", func(c *Config) {
			c.Default.ImageMemberQuota, c.Default.ImagePropertyQuota = -1, -1
			c.Default.ImageTagQuota, c.Default.ImageLocationQuota = -1, -1
		}, nil},
		{"quotas below -1", func(c *Config) {
			c.Default.ImageMemberQuota, c.Default.ImagePropertyQuota = -2, -2
			c.Default.ImageTagQuota, c.Default.ImageLocationQuota = -2, -2
		}, []string{
			`[DEFAULT] image_member_quota: "-2" must be -1 (unlimited) or more`,
			`[DEFAULT] image_property_quota: "-2" must be -1 (unlimited) or more`,
			`[DEFAULT] image_tag_quota: "-2" must be -1 (unlimited) or more`,
			`[DEFAULT] image_location_quota: "-2" must be -1 (unlimited) or more`,
		}},
		{"size cap", func(c *Config) { c.Default.ImageSizeCap = 0 },
			[]string{`[DEFAULT] image_size_cap: "0" must be at least 1`}},
		{"negative workers", func(c *Config) { c.Default.Workers = -1 },
			[]string{`[DEFAULT] workers: "-1" must not be negative`}},
		{"request id length", func(c *Config) { c.Default.MaxRequestIDLength = 16385 },
			[]string{`[DEFAULT] max_request_id_length: "16385" must be between 0 and 16384`}},
		{"hashing algorithm", func(c *Config) { c.Default.HashingAlgorithm = "crc32" },
			[]string{`[DEFAULT] hashing_algorithm: "crc32" is not one of md5, sha1, sha224, sha256, sha384, sha512, sha3_256, sha3_512`}},
		{"hashing algorithm sha3", func(c *Config) { c.Default.HashingAlgorithm = "sha3_256" }, nil},
		{"import methods", func(c *Config) {
			c.Default.EnabledImportMethods = []string{"glance-direct", "glance-download", "carrier-pigeon"}
		}, []string{`[DEFAULT] enabled_import_methods: "carrier-pigeon" is not one of glance-direct, web-download, copy-image, glance-download`}},
		{"rule format", func(c *Config) { c.Default.PropertyProtectionRuleFormat = "acl" },
			[]string{`[DEFAULT] property_protection_rule_format: "acl" is not one of roles, policies`}},
		{"compute listen", func(c *Config) { c.Glimpse.ComputeListen = "127.0.0.1:8774" }, nil},
		{"keystone limits", func(c *Config) { c.Default.UseKeystoneLimits = true },
			[]string{`[DEFAULT] use_keystone_limits: "true" is not supported yet: quotas are [DEFAULT] user_storage_quota and the image_*_quota options`}},
		{"compute listen without port", func(c *Config) { c.Glimpse.ComputeListen = "127.0.0.1" },
			[]string{`[glimpse] compute_listen: "127.0.0.1" is not HOST:PORT`}},
		{"registry listen bad port", func(c *Config) { c.Glimpse.RegistryListen = "127.0.0.1:http" },
			[]string{`[glimpse] registry_listen: "127.0.0.1:http" has no valid port`}},
		{"registry bind_port out of range", func(c *Config) { c.Registry.BindPort = 70000 },
			[]string{`[registry] bind_port: "70000" must be between 0 and 65535`}},
		{"secure rbac matches new defaults", func(c *Config) {
			v := true
			c.Default.EnforceSecureRBAC, c.OsloPolicy.EnforceNewDefaults = &v, true
		}, nil},
		{"secure rbac without new defaults", func(c *Config) {
			v := true
			c.Default.EnforceSecureRBAC = &v
		}, []string{`[DEFAULT] enforce_secure_rbac: "true" must match [oslo_policy] enforce_new_defaults (false)`}},
		{"backends ok", func(c *Config) {
			c.Default.EnabledBackends = []Backend{{"fast", "file"}, {"ceph", "rbd"}, {"s", "swift"}, {"a", "s3"}, {"b", "cinder"}, {"w", "http"}}
			c.GlanceStore.DefaultBackend = "ceph"
		}, nil},
		{"backends bad", func(c *Config) {
			c.Default.EnabledBackends = []Backend{{"fast", "file"}, {"fast", "http"}, {"os_glance_x", "file"}, {"odd", "ftp"}}
			c.GlanceStore.DefaultBackend = "slow"
		}, []string{
			`[DEFAULT] enabled_backends: "fast" is listed twice`,
			`[DEFAULT] enabled_backends: "os_glance_x" uses the prefix os_glance_, which is reserved for internal stores`,
			`[DEFAULT] enabled_backends: "odd:ftp" has unknown store type "ftp" (want one of file, http, swift, rbd, s3, cinder)`,
			`[glance_store] default_backend: "slow" must name one of enabled_backends`,
		}},
		{"backends without default", func(c *Config) { c.Default.EnabledBackends = []Backend{{"fast", "file"}} },
			[]string{`[glance_store] default_backend: "" must name one of enabled_backends`}},
		{"default backend ignored in single store", func(c *Config) { c.GlanceStore.DefaultBackend = "x" }, nil},
		{"flavor keystone+caching", func(c *Config) { c.PasteDeploy.Flavor = "keystone+caching" }, nil},
		{"flavor noauth+cachemanagement", func(c *Config) { c.PasteDeploy.Flavor = "noauth+cachemanagement" }, nil},
		{"flavor bad", func(c *Config) { c.PasteDeploy.Flavor = "keystone+bogus" },
			[]string{`[paste_deploy] flavor: "keystone+bogus" must be empty, "noauth" or "keystone", optionally followed by "+cachemanagement" or "+caching"`}},
		{"flavor bare suffix", func(c *Config) { c.PasteDeploy.Flavor = "+caching" },
			[]string{`[paste_deploy] flavor: "+caching" must be empty, "noauth" or "keystone", optionally followed by "+cachemanagement" or "+caching"`}},
		{"public address without auth", func(c *Config) { c.Default.BindHost = "0.0.0.0" },
			[]string{`[DEFAULT] bind_host: "0.0.0.0" is not a loopback address and [paste_deploy] flavor "" does not authenticate requests; use flavor = keystone or set [glimpse] insecure = true`}},
		{"public address with keystone", func(c *Config) {
			c.Default.BindHost, c.PasteDeploy.Flavor = "0.0.0.0", "keystone"
		}, nil},
		{"public address insecure", func(c *Config) {
			c.Default.BindHost, c.Glimpse.Insecure = "", true
		}, nil},
		{"localhost without auth", func(c *Config) { c.Default.BindHost = "localhost" }, nil},
		{"ipv6 loopback without auth", func(c *Config) { c.Default.BindHost = "::1" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(c)
			if got := problems(t, c.Validate()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLoadRealisticFile(t *testing.T) {
	c, warns, err := Load(filepath.Join("testdata", "glance-api.conf"), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantWarns := []string{
		"unknown section [oslo_concurrency] ignored",
		"unknown option [DEFAULT] image_cache_max_size ignored",
		"unknown option [database] backend ignored",
	}
	if !reflect.DeepEqual(warns, wantWarns) {
		t.Errorf("warnings:\n got %q\nwant %q", warns, wantWarns)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Listen", c.Listen(), "0.0.0.0:9292"},
		{"Workers", c.Default.Workers, 4},
		{"ShowImageDirectURL", c.Default.ShowImageDirectURL, true},
		{"ImageLocationQuota", c.Default.ImageLocationQuota, -1},
		{"UserStorageQuota", c.Default.UserStorageQuota, int64(500) << 30},
		{"EnabledImportMethods", c.Default.EnabledImportMethods, []string{"glance-direct", "web-download", "copy-image"}},
		{"EnabledBackends", c.Default.EnabledBackends, []Backend{{"fast", "file"}, {"cheap", "rbd"}, {"web", "http"}}},
		{"ImageCacheDir", c.Default.ImageCacheDir, "/var/lib/glance/image-cache/"},
		{"Connection", c.Database.Connection, "mysql+pymysql://glance:GLANCE_DBPASS@controller/glance"},
		{"DefaultBackend", c.GlanceStore.DefaultBackend, "fast"},
		{"Flavor", c.PasteDeploy.Flavor, "keystone"},
		{"EnforceScope", c.OsloPolicy.EnforceScope, true},
		{"PolicyFile", c.OsloPolicy.PolicyFile, "/etc/glance/policy.yaml"},
		{"authtoken", c.Raw["keystone_authtoken"]["www_authenticate_uri"], "http://controller:5000"},
		{"rbd section", c.Raw["cheap"]["rbd_store_pool"], "images"},
		{"staging", c.Raw["os_glance_staging_store"]["filesystem_store_datadir"], "/var/lib/glance/staging/"},
		{"transport_url kept", c.Raw["DEFAULT"]["transport_url"], "rabbit://openstack:RABBIT_PASS@controller:5672/"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestProblemsError(t *testing.T) {
	p := Problems{"one", "two"}
	if got, want := p.Error(), "one\ntwo"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if err := (Problems{}).err(); err != nil {
		t.Errorf("empty Problems as error = %#v, want nil", err)
	}
}

func TestRegistryListen(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"off by default", func(*Config) {}, ""},
		{"[registry] bind_port", func(c *Config) { c.Registry.BindPort = 9191 }, "127.0.0.1:9191"},
		{"[registry] bind_host and bind_port", func(c *Config) { c.Registry.BindHost, c.Registry.BindPort = "::1", 9191 }, "[::1]:9191"},
		{"[glimpse] registry_listen wins", func(c *Config) {
			c.Registry.BindPort, c.Glimpse.RegistryListen = 9191, "127.0.0.2:9999"
		}, "127.0.0.2:9999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.set(c)
			if got := c.RegistryListen(); got != tc.want {
				t.Fatalf("RegistryListen: got %q, want %q", got, tc.want)
			}
		})
	}
}
