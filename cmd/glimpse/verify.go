package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"glimpse/internal/imageops"
)

// verify re-reads stored image data and compares it with the recorded
// size and hashes: exit 0 when everything matches, 1 when anything does
// not or cannot be found, 2 for a bad command line or configuration.
func verify(args []string, stdout, stderr io.Writer) int {
	o := &options{}
	var all bool
	fs := flag.NewFlagSet("glimpse verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configFile, "config", "", "glance-api.conf-style configuration file")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for the catalog and image data (default ./glimpse-data)")
	fs.BoolVar(&all, "all", false, "verify every active and deactivated image")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	ids := fs.Args()
	if all == (len(ids) > 0) {
		fmt.Fprintf(stderr, "glimpse verify: name image IDs or pass --all (not both)\n%s", usage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, db, stores, code := openData(ctx, o, stderr)
	if code != 0 {
		return code
	}
	defer db.Close()
	checked, failed := 0, 0
	last := ""
	err := imageops.Verify(ctx, db, stores, ids, func(r imageops.VerifyResult) {
		if r.ID != last {
			checked++
			last = r.ID
		}
		if r.Failed() {
			failed++
		}
		switch r.Outcome {
		case imageops.VerifyOK:
			fmt.Fprintf(stdout, "ok %s\n", r.ID)
		case imageops.VerifySkipped:
			fmt.Fprintf(stdout, "skip %s status %s\n", r.ID, r.Status)
		case imageops.VerifyNotFound:
			fmt.Fprintf(stdout, "NOTFOUND %s\n", r.ID)
		case imageops.VerifyMissing:
			loc := r.Location
			if loc == "" {
				loc = "-"
			}
			if r.Detail != "" {
				fmt.Fprintf(stdout, "MISSING %s %s (%s)\n", r.ID, loc, r.Detail)
			} else {
				fmt.Fprintf(stdout, "MISSING %s %s\n", r.ID, loc)
			}
		default:
			fmt.Fprintf(stdout, "%s %s %s %s\n", r.Outcome, r.ID, r.Location, r.Detail)
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "glimpse: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "glimpse verify: %d images, %d problems\n", checked, failed)
	if failed > 0 {
		return exitFailure
	}
	return 0
}
