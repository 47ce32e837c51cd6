package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"glimpse/internal/format"
)

const inspectUsage = "usage: glimpse inspect [--json] FILE...\n"

// inspectReport is one file's line in glimpse inspect --json.
type inspectReport struct {
	File        string   `json:"file"`
	Format      string   `json:"format"`
	Formats     []string `json:"formats"`
	Subformat   string   `json:"subformat,omitempty"`
	Version     int      `json:"version,omitempty"`
	VirtualSize int64    `json:"virtual_size"`
	Size        int64    `json:"size"`
	Encrypted   bool     `json:"encrypted,omitempty"`
	Compression string   `json:"compression,omitempty"`
	Safe        bool     `json:"safe"`
	Reason      string   `json:"reason,omitempty"`
	Failed      []string `json:"failed_checks,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// runInspect implements glimpse inspect: it reports each file's format,
// virtual size and safety verdict. It exits 0 when every file is safe, 1
// when any is unsafe, and 2 for a bad command line or a file it cannot read.
func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glimpse inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, inspectUsage) }
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, inspectUsage)
		return exitUsage
	}
	code := 0
	enc := json.NewEncoder(stdout)
	for _, path := range fs.Args() {
		r, err := format.InspectFile(path, format.Options{})
		if err != nil {
			fmt.Fprintf(stderr, "glimpse inspect: %v\n", err)
			if *asJSON {
				_ = enc.Encode(inspectReport{File: path, Error: err.Error()})
			}
			code = exitUsage
			continue
		}
		if !r.Safe && code == 0 {
			code = exitFailure
		}
		if *asJSON {
			_ = enc.Encode(inspectReport{
				File: path, Format: r.Format, Formats: r.Formats, Subformat: r.Subformat,
				Version: r.Version, VirtualSize: r.VirtualSize, Size: r.Size,
				Encrypted: r.Encrypted, Compression: r.Compression,
				Safe: r.Safe, Reason: r.Reason, Failed: r.Failed,
			})
			continue
		}
		fmt.Fprintln(stdout, describe(path, r))
	}
	return code
}

// describe is the one-line text report for a file.
func describe(path string, r format.Result) string {
	var b strings.Builder
	name := r.Format
	if name == "" {
		name = strings.Join(r.Formats, "+")
	}
	fmt.Fprintf(&b, "%s: %s", path, name)
	if r.Subformat != "" {
		fmt.Fprintf(&b, " (%s)", r.Subformat)
	}
	fmt.Fprintf(&b, ", virtual size %d", r.VirtualSize)
	if r.Encrypted {
		b.WriteString(", encrypted")
	}
	if r.Safe {
		b.WriteString(", safe")
	} else {
		b.WriteString(", unsafe")
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	return b.String()
}
