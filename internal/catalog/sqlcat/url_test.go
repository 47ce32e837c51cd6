package sqlcat

import (
	"strings"
	"testing"
	"time"
)

// The URLs operators have in their glance-api.conf, as SQLAlchemy reads them.
func TestMySQLURL(t *testing.T) {
	for _, tc := range []struct {
		url, net, addr, user, pass, db, charset string
		read                                    time.Duration
	}{
		{"glance:pw@db.example/glance?charset=utf8", "tcp", "db.example:3306", "glance", "pw", "glance", "utf8", opTimeout},
		{"glance:p%40ss@127.0.0.1:13306/glance?charset=utf8&plugin=dbcounter", "tcp", "127.0.0.1:13306", "glance", "p@ss", "glance", "utf8", opTimeout},
		{"glance:pw@/glance?unix_socket=/run/mysqld/mysqld.sock&charset=utf8mb4", "unix", "/run/mysqld/mysqld.sock", "glance", "pw", "glance", "utf8mb4", opTimeout},
		{"glance@[::1]:3307/glance?read_timeout=2.5", "tcp", "[::1]:3307", "glance", "", "glance", "utf8", 2500 * time.Millisecond},
	} {
		t.Run(tc.url, func(t *testing.T) {
			cfg, err := mysqlConfig(tc.url)
			if err != nil {
				t.Fatalf("mysqlConfig: %v", err)
			}
			if cfg.Net != tc.net || cfg.Addr != tc.addr || cfg.User != tc.user || cfg.Passwd != tc.pass || cfg.DBName != tc.db {
				t.Errorf("got %s %s %s:%s/%s, want %s %s %s:%s/%s", cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName,
					tc.net, tc.addr, tc.user, tc.pass, tc.db)
			}
			if !strings.HasPrefix(cfg.Collation, tc.charset+"_") && cfg.Collation != "" {
				t.Errorf("collation %q, want one of charset %s", cfg.Collation, tc.charset)
			}
			if cfg.ReadTimeout != tc.read || cfg.Timeout != connectTimeout {
				t.Errorf("timeouts: read %v connect %v, want %v %v", cfg.ReadTimeout, cfg.Timeout, tc.read, connectTimeout)
			}
			if !cfg.ClientFoundRows || cfg.Params["sql_mode"] != "'TRADITIONAL'" {
				t.Errorf("ClientFoundRows %v, sql_mode %q: want true and TRADITIONAL", cfg.ClientFoundRows, cfg.Params["sql_mode"])
			}
		})
	}
	for _, bad := range []string{"glance:pw@db/glance?read_timeout=soon", "glance:pw@db/glance?ssl_ca=/ca.pem"} {
		if _, err := mysqlConfig(bad); err == nil {
			t.Errorf("mysqlConfig(%q): got nil error, want one", bad)
		}
	}
}

func TestPostgresURL(t *testing.T) {
	cfg, err := pgConfig("glance:pw@db.example:5433/glance?sslmode=disable&application_name=glimpse")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "db.example" || cfg.Port != 5433 || cfg.User != "glance" || cfg.Password != "pw" || cfg.Database != "glance" {
		t.Errorf("got %s:%d %s:%s/%s", cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database)
	}
	if cfg.ConnectTimeout != connectTimeout || cfg.TLSConfig != nil || cfg.RuntimeParams["application_name"] != "glimpse" {
		t.Errorf("connect timeout %v, TLS %v, application_name %q", cfg.ConnectTimeout, cfg.TLSConfig != nil, cfg.RuntimeParams["application_name"])
	}
	cfg, err = pgConfig("glance:pw@/glance?host=/var/run/postgresql&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "/var/run/postgresql" || cfg.ConnectTimeout != 2*time.Second {
		t.Errorf("socket URL: host %q connect timeout %v", cfg.Host, cfg.ConnectTimeout)
	}
}

func TestConnectionURLs(t *testing.T) {
	for _, tc := range []struct{ url, err string }{
		{"sqlite:////var/lib/glance/glance.sqlite", ""},
		{"sqlite:///glance.sqlite", ""},
		{"sqlite://", "in memory"},
		{"postgresql+psycopg2://glance:pw@db/glance", ""},
		{"postgresql://glance:pw@db/glance", ""},
		{"mysql+pymysql://glance:pw@db/glance?charset=utf8", ""},
		{"mysql://glance:pw@db/glance", ""},
		{"mysql+oursql://glance:pw@db/glance", "unknown MySQL driver"},
		{"oracle://glance:pw@db/glance", "unsupported database"},
		{"glance.sqlite", "not a URL"},
		{"glance:pw@db/glance", "not a URL"},
		{"postgresql://glance:p%ws@db/glance", ""},
	} {
		err := CheckURL(tc.url)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("CheckURL(%q): got %v, want an error containing %q", tc.url, err, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("CheckURL(%q): the error shows the password: %v", tc.url, err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgresql://glance:pw@db/glance":                   "postgresql://glance:xxxxx@db/glance",
		"postgresql://glance@db/glance?password=pw":          "postgresql://glance@db/glance?password=xxxxx",
		"mysql+pymysql://glance:p%ss@db/glance?charset=utf8": "mysql+pymysql://xxxxx@db/glance?charset=utf8",
		"sqlite:////var/lib/glance/glance.sqlite":            "sqlite:////var/lib/glance/glance.sqlite",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q): got %q, want %q", in, got, want)
		}
	}
	// A stray % in a password is taken as SQLAlchemy takes it.
	cfg, err := mysqlConfig(escapeStrayPercents("glance:p%ss%41@db/glance"))
	if err != nil || cfg.Passwd != "p%ssA" {
		t.Errorf("password with a stray %%: got %q (%v), want p%%ssA", cfg.Passwd, err)
	}
}

func TestMySQLVersions(t *testing.T) {
	for v, want := range map[string]string{
		"10.11.19-MariaDB-0+deb12u1": "",
		"10.5.0-MariaDB":             "",
		"10.4.32-MariaDB":            "too old",
		"8.0.36":                     "",
		"8.4.3":                      "",
		"5.7.44-log":                 "too old",
	} {
		_, err := checkMySQLVersion(v)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("checkMySQLVersion(%q): got %v, want %q", v, err, want)
		}
	}
	// On Oracle's MySQL no JSON_ARRAYAGG keeps an ORDER BY.
	tr := newTranslator(mysqlDialect)
	tr.unorderedAggregates = true
	for _, q := range []string{`SELECT ` + imageColumns + locationsColumn + ` FROM images`, locationIDsAgg} {
		got := tr.sql(q)
		if i := strings.Index(got, "JSON_ARRAYAGG"); i < 0 || strings.Contains(got, " ORDER BY") {
			t.Errorf("translated for MySQL 8:\n%s\nwant JSON_ARRAYAGG without ORDER BY", got)
		}
	}
}
