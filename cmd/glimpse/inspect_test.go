package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// qcow2Header is a version 3 qcow2 header for a disk of size bytes, with a
// backing file offset when backing is set, padded to 4 KiB.
func qcow2Header(size uint64, backing bool) []byte {
	b := make([]byte, 4096)
	copy(b, "QFI\xfb")
	binary.BigEndian.PutUint32(b[4:], 3)
	if backing {
		binary.BigEndian.PutUint64(b[8:], 512)
		binary.BigEndian.PutUint32(b[16:], 4)
		copy(b[512:], "base")
	}
	binary.BigEndian.PutUint32(b[20:], 16)
	binary.BigEndian.PutUint64(b[24:], size)
	binary.BigEndian.PutUint32(b[96:], 4)
	binary.BigEndian.PutUint32(b[100:], 104)
	return b
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func inspectCmd(args ...string) result {
	var out, errb bytes.Buffer
	code := runInspect(args, &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestInspectText(t *testing.T) {
	dir := t.TempDir()
	rawFile := writeFile(t, dir, "disk.raw", bytes.Repeat([]byte{0}, 3000))
	good := writeFile(t, dir, "good.qcow2", qcow2Header(1<<30, false))
	bad := writeFile(t, dir, "bad.qcow2", qcow2Header(1<<20, true))
	missing := filepath.Join(dir, "missing")

	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		inStderr string
	}{
		{"safe files", []string{rawFile, good}, 0, []string{
			rawFile + ": raw, virtual size 3000, safe",
			good + ": qcow2, virtual size 1073741824, safe",
		}, ""},
		{"one unsafe file", []string{good, bad}, 1, []string{
			good + ": qcow2, virtual size 1073741824, safe",
			bad + ": qcow2, virtual size 1048576, unsafe: qcow2 image has a backing file",
		}, ""},
		{"unreadable file", []string{bad, missing, good}, 2, []string{
			bad + ": qcow2, virtual size 1048576, unsafe: qcow2 image has a backing file",
			good + ": qcow2, virtual size 1073741824, safe",
		}, "missing"},
		{"no files", nil, 2, nil, "usage: glimpse inspect"},
		{"unknown flag", []string{"--frobnicate", good}, 2, nil, "frobnicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := inspectCmd(c.args...)
			if r.code != c.code {
				t.Errorf("exit code: got %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
			if diff := cmp.Diff(c.stdout, lines(r.stdout)); diff != "" {
				t.Errorf("stdout mismatch (-want +got):\n%s", diff)
			}
			if c.inStderr == "" && r.stderr != "" {
				t.Errorf("stderr: got %q, want nothing", r.stderr)
			}
			if !strings.Contains(r.stderr, c.inStderr) {
				t.Errorf("stderr: got %q, want it to contain %q", r.stderr, c.inStderr)
			}
			noStackTrace(t, r.stderr)
		})
	}
}

func TestInspectJSON(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.qcow2", qcow2Header(5<<20, false))
	bad := writeFile(t, dir, "bad.qcow2", qcow2Header(1<<20, true))
	r := inspectCmd("--json", good, bad)
	if r.code != 1 {
		t.Fatalf("exit code: got %d, want 1 (stderr %q)", r.code, r.stderr)
	}
	var got []inspectReport
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var rep inspectReport
		if err := dec.Decode(&rep); err != nil {
			t.Fatalf("decoding %q: %v", r.stdout, err)
		}
		got = append(got, rep)
	}
	want := []inspectReport{
		{File: good, Format: "qcow2", Formats: []string{"qcow2"}, Version: 3, VirtualSize: 5 << 20, Size: 4096, Compression: "zlib", Safe: true},
		{File: bad, Format: "qcow2", Formats: []string{"qcow2"}, Version: 3, VirtualSize: 1 << 20, Size: 4096, Compression: "zlib",
			Reason: "qcow2 image has a backing file", Failed: []string{"backing_file"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON reports mismatch (-want +got):\n%s", diff)
	}
	// Field names are part of the output contract.
	if !strings.Contains(r.stdout, `"virtual_size":5242880`) || !strings.Contains(r.stdout, `"failed_checks":["backing_file"]`) {
		t.Errorf("stdout lacks the documented field names:\n%s", r.stdout)
	}
}
