package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/config"
	"glimpse/internal/imageops"
	"glimpse/internal/server"
	"glimpse/internal/store"
)

// errNoSchema: the catalog has no tables yet.
var errNoSchema = errors.New("the catalog is empty; run glimpse db sync or start glimpse serve first")

// openData opens the configured catalog, refusing one whose schema this
// build cannot serve, and the configured stores.
func openData(ctx context.Context, o *options, stderr io.Writer) (*config.Config, *sqlcat.DB, *store.Set, int) {
	cfg, ok := loadConfig(o, stderr)
	if !ok {
		return nil, nil, nil, exitUsage
	}
	db, stores, code := openCatalogAndStores(ctx, cfg, stderr)
	return cfg, db, stores, code
}

func openCatalogAndStores(ctx context.Context, cfg *config.Config, stderr io.Writer) (*sqlcat.DB, *store.Set, int) {
	if err := server.CheckCatalog(cfg); err != nil {
		fmt.Fprintf(stderr, "glimpse: config error: %v\n", err)
		return nil, nil, exitUsage
	}
	db, err := server.OpenCatalog(ctx, cfg, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintf(stderr, "glimpse: %v\n", err)
		return nil, nil, exitFailure
	}
	rev, err := db.Version(ctx)
	if err == nil && rev == "" {
		err = errNoSchema
	} else if err == nil {
		err = sqlcat.CheckVersion(rev)
	}
	if err != nil {
		db.Close()
		fmt.Fprintf(stderr, "glimpse: %v\n", err)
		return nil, nil, schemaExitCode(err)
	}
	stores, err := server.OpenStores(cfg, newLogger(stderr, cfg.Default.Debug))
	if err != nil {
		db.Close()
		fmt.Fprintf(stderr, "glimpse: config error: %v\n", err)
		return nil, nil, exitUsage
	}
	return db, stores, 0
}

// scrub removes the data of images deleted with delayed_delete once they
// have waited scrub_time seconds, and marks them deleted.
func scrub(args []string, stdout, stderr io.Writer) int {
	o, ok := parseFlags("scrub", args, false, stderr)
	if !ok {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, db, stores, code := openData(ctx, o, stderr)
	if code != 0 {
		return code
	}
	defer db.Close()
	age := time.Duration(cfg.Default.ScrubTime) * time.Second
	results, err := imageops.Scrub(ctx, db, stores, age, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "glimpse: %v\n", err)
		return exitFailure
	}
	failed := 0
	for _, r := range results {
		for _, l := range r.Locations {
			switch {
			case l.Err != nil:
				fmt.Fprintf(stdout, "failed %s %s: %v\n", r.ID, l.URL, l.Err)
			case l.Missing:
				fmt.Fprintf(stdout, "missing %s %s\n", r.ID, l.URL)
			default:
				fmt.Fprintf(stdout, "removed %s %s\n", r.ID, l.URL)
			}
		}
		if r.Err != nil {
			failed++
			fmt.Fprintf(stdout, "kept %s pending_delete: %v\n", r.ID, r.Err)
			continue
		}
		fmt.Fprintf(stdout, "deleted %s\n", r.ID)
	}
	fmt.Fprintf(stdout, "scrubbed %d of %d pending_delete images older than %d s\n", len(results)-failed, len(results), cfg.Default.ScrubTime)
	if failed > 0 {
		return exitFailure
	}
	return 0
}
