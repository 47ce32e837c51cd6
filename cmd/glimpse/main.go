// Command glimpse is an OpenStack image service compatible with Glance.
//
//	glimpse serve [--config FILE] [--data-dir DIR] [--listen HOST:PORT] [--insecure]
//	glimpse db sync|version [--config FILE] [--data-dir DIR]
//	glimpse scrub [--config FILE] [--data-dir DIR]
//	glimpse verify [--config FILE] [--data-dir DIR] (--all | ID...)
//	glimpse version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/config"
	"glimpse/internal/server"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Exit codes: 1 for a failure while running, 2 for a bad command line or
// configuration.
const (
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  glimpse serve [--config FILE] [--data-dir DIR] [--listen HOST:PORT] [--insecure]
                [--registry-listen HOST:PORT] [--compute-listen HOST:PORT]
  glimpse db sync [--config FILE] [--data-dir DIR]
  glimpse db version [--config FILE] [--data-dir DIR]
  glimpse scrub [--config FILE] [--data-dir DIR]
  glimpse verify [--config FILE] [--data-dir DIR] (--all | ID...)
  glimpse policy check RULE [--config FILE] [--roles R1,R2] [--project P] [--target KEY=VALUE ...]
  glimpse policy list [--config FILE]
  glimpse inspect [--json] FILE...
  glimpse version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "db":
		if len(args) < 2 || (args[1] != "sync" && args[1] != "version") {
			fmt.Fprint(stderr, usage)
			return exitUsage
		}
		return db(args[1], args[2:], stdout, stderr)
	case "scrub":
		return scrub(args[1:], stdout, stderr)
	case "verify":
		return verify(args[1:], stdout, stderr)
	case "inspect":
		return runInspect(args[1:], stdout, stderr)
	case "policy":
		return runPolicy(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "glimpse %s (Images API v2, Glance schema %s)\n", version, sqlcat.HeadRevision)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "glimpse: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

// options are the flags every command that reads the configuration takes.
type options struct {
	configFile     string
	dataDir        string
	listen         string
	registryListen string
	computeListen  string
	insecure       bool
}

func parseFlags(name string, args []string, withListen bool, stderr io.Writer) (*options, bool) {
	o := &options{}
	fs := flag.NewFlagSet("glimpse "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configFile, "config", "", "glance-api.conf-style configuration file")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for the catalog and image data (default ./glimpse-data)")
	if withListen {
		fs.StringVar(&o.listen, "listen", "", "address to listen on, HOST:PORT (default 127.0.0.1:9292)")
		fs.StringVar(&o.registryListen, "registry-listen", "", "also serve the glance-registry API on HOST:PORT")
		fs.StringVar(&o.computeListen, "compute-listen", "", "also serve the compute API's /images proxy on HOST:PORT")
		fs.BoolVar(&o.insecure, "insecure", false, "allow a non-loopback address without authentication")
	}
	if err := fs.Parse(args); err != nil {
		return nil, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "glimpse %s: unexpected argument %q\n", name, fs.Arg(0))
		return nil, false
	}
	return o, true
}

// loadConfig reads the configuration with flags taking precedence, printing
// every problem on its own line and every warning once.
func loadConfig(o *options, stderr io.Writer) (*config.Config, bool) {
	var flagProblems []string
	apply := func(c *config.Config) {
		if o.dataDir != "" {
			c.Glimpse.DataDir = o.dataDir
		}
		if o.insecure {
			c.Glimpse.Insecure = true
		}
		if o.registryListen != "" {
			c.Glimpse.RegistryListen = o.registryListen
		}
		if o.computeListen != "" {
			c.Glimpse.ComputeListen = o.computeListen
		}
		if o.listen != "" {
			host, port, err := net.SplitHostPort(o.listen)
			n, perr := strconv.Atoi(port)
			if err != nil || perr != nil || n < 0 || n > 65535 {
				flagProblems = append(flagProblems, fmt.Sprintf("--listen %q: want HOST:PORT", o.listen))
				return
			}
			c.Default.BindHost, c.Default.BindPort = host, n
		}
	}
	cfg, warnings, err := config.Load(o.configFile, os.Environ(), apply)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "glimpse: warning: %s\n", w)
	}
	var probs config.Problems
	if err != nil && !errors.As(err, &probs) {
		probs = config.Problems{err.Error()}
	}
	probs = append(flagProblems, probs...)
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintf(stderr, "glimpse: config error: %s\n", p)
		}
		return nil, false
	}
	return cfg, true
}

func newLogger(w io.Writer, debug bool) *slog.Logger { return slog.New(jsonHandler(w, debug)) }

// jsonHandler logs JSON lines at info level, or debug with [DEFAULT] debug.
func jsonHandler(w io.Writer, debug bool) slog.Handler {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
}

func serve(args []string, stderr io.Writer) int {
	o, ok := parseFlags("serve", args, true, stderr)
	if !ok {
		return exitUsage
	}
	cfg, ok := loadConfig(o, stderr)
	if !ok {
		return exitUsage
	}
	sink := newLogSink(stderr)
	defer sink.Close()
	log := slog.New(flushingHandler{jsonHandler(sink, cfg.Default.Debug), sink})
	// Messages written straight to stderr come after the log lines
	// before them.
	errorf := func(format string, a ...any) {
		sink.Flush()
		fmt.Fprintf(stderr, format, a...)
	}
	slog.SetDefault(log)
	// The server reports the identity mode's warnings when it starts.
	a, err := server.Authenticator(cfg, slog.New(slog.DiscardHandler))
	for _, addr := range []string{cfg.Listen(), cfg.RegistryListen(), cfg.Glimpse.ComputeListen} {
		if err == nil && addr != "" {
			err = server.CheckListen(addr, a, cfg.Glimpse.Insecure)
		}
	}
	if err == nil {
		err = server.CheckCatalog(cfg)
	}
	if err != nil {
		errorf("glimpse: config error: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		errorf("glimpse: %v\n", err)
		return schemaExitCode(err)
	}
	defer srv.Close()
	// Every listener is open before anything is served, so that a busy
	// port fails the start, not a later request.
	extra := srv.Extra()
	lns := make([]net.Listener, 0, 1+len(extra))
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for _, addr := range append([]string{cfg.Listen()}, listenAddrs(extra)...) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			errorf("glimpse: %v\n", err)
			return exitFailure
		}
		lns = append(lns, l)
	}
	log.Info("glimpse serving", "version", version, "listen", lns[0].Addr().String(), "data_dir", cfg.DataDir())
	for i, x := range extra {
		log.Info("serving the "+x.Name+" API", x.Name+"_listen", lns[i+1].Addr().String())
	}
	sink.Flush()
	// One failing listener stops them all.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(lns))
	go func() { errc <- srv.Serve(ctx, lns[0]) }()
	for i, x := range extra {
		go func() { errc <- srv.ServeHandler(ctx, lns[i+1], x.Handler) }()
	}
	var firstErr error
	for range lns {
		if err := <-errc; err != nil && firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	if firstErr != nil {
		errorf("glimpse: %v\n", firstErr)
		return exitFailure
	}
	log.Info("glimpse stopped")
	return 0
}

func listenAddrs(ls []server.Listener) []string {
	addrs := make([]string, len(ls))
	for i, l := range ls {
		addrs[i] = l.Addr
	}
	return addrs
}

func db(cmd string, args []string, stdout, stderr io.Writer) int {
	o, ok := parseFlags("db "+cmd, args, false, stderr)
	if !ok {
		return exitUsage
	}
	cfg, ok := loadConfig(o, stderr)
	if !ok {
		return exitUsage
	}
	if err := server.CheckCatalog(cfg); err != nil {
		fmt.Fprintf(stderr, "glimpse: config error: %v\n", err)
		return exitUsage
	}
	ctx := context.Background()
	d, err := server.OpenCatalog(ctx, cfg, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintf(stderr, "glimpse: %v\n", err)
		return exitFailure
	}
	defer d.Close()
	if cmd == "version" {
		v, err := d.Version(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "glimpse: %v\n", err)
			return exitFailure
		}
		if v == "" {
			v = "(empty database)"
		}
		fmt.Fprintln(stdout, v)
		return 0
	}
	from, to, err := d.Sync(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "glimpse: %v\n", err)
		return schemaExitCode(err)
	}
	switch {
	case from == to:
		fmt.Fprintf(stdout, "schema already at %s\n", to)
	case from == "":
		fmt.Fprintf(stdout, "created schema at %s\n", to)
	default:
		fmt.Fprintf(stdout, "upgraded schema from %s to %s\n", from, to)
	}
	return 0
}

// schemaExitCode classifies a failure to open or migrate the catalog: a
// schema this binary cannot serve needs the operator's action, like a bad
// configuration; anything else is a failure while running.
func schemaExitCode(err error) int {
	var ce *server.ConfigError
	if errors.Is(err, sqlcat.ErrNewerSchema) || errors.Is(err, sqlcat.ErrOldSchema) || errors.As(err, &ce) {
		return exitUsage
	}
	return exitFailure
}
