package format

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// requireTool returns the path of a command the test needs. A missing tool
// skips the test, or fails it when GLIMPSE_REQUIRE_BACKENDS=1.
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("GLIMPSE_REQUIRE_BACKENDS") == "1" {
			t.Fatalf("%s not found (Debian package %s) and GLIMPSE_REQUIRE_BACKENDS=1", name, debianPackage)
		}
		t.Skipf("%s not found: install the Debian package %s", name, debianPackage)
	}
	return p
}

// run runs a command and fails the test if it fails.
func run(t *testing.T, stdin string, name string, args ...string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err == nil {
			return
		}
		// qemu-img times a LUKS key's PBKDF by the CPU time it used, and
		// gives up when a busy virtual machine's accounting does not
		// move: the tool's flake, not the image's, so try again.
		if attempt < 3 && strings.Contains(string(out), "Unable to get accurate CPU usage") {
			continue
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// qemuInfo is the part of qemu-img info --output=json the tests compare.
type qemuInfo struct {
	VirtualSize int64  `json:"virtual-size"`
	Format      string `json:"format"`
}

func qemuImgInfo(t *testing.T, path, driver string) qemuInfo {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "--output=json", "-f", driver, path).Output()
	if err != nil {
		t.Fatalf("qemu-img info -f %s %s: %v", driver, path, err)
	}
	var info qemuInfo
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("qemu-img info output: %v\n%s", err, out)
	}
	return info
}

// qemuDriver is the qemu block driver for a format name.
func qemuDriver(format string) string {
	switch format {
	case "vhd":
		return "vpc"
	case "ploop":
		return "parallels"
	case "iso", "gpt":
		return "raw"
	}
	return format
}

// pattern is size bytes of a repeating non-zero pattern.
func pattern(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

// patternFile writes size bytes of pattern.
func patternFile(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.WriteFile(path, pattern(size), 0o644); err != nil {
		t.Fatal(err)
	}
}

// streamResult inspects data fed in chunks of the given size.
func streamResult(data []byte, chunk int) Result {
	in := NewInspector(Options{})
	for len(data) > 0 {
		n := min(chunk, len(data))
		in.Write(data[:n])
		data = data[n:]
	}
	return in.Result()
}

type realImage struct {
	name      string
	format    string
	subformat string
	version   int
	compress  string
	sizes     []string
	make      func(t *testing.T, dir, path, size string)
}

func qemuCreate(args ...string) func(t *testing.T, dir, path, size string) {
	return func(t *testing.T, _, path, size string) {
		run(t, "", "qemu-img", append(append(append([]string{"create", "-q"}, args...), path), size)...)
	}
}

func qemuConvert(args ...string) func(t *testing.T, dir, path, size string) {
	return func(t *testing.T, dir, path, size string) {
		src := filepath.Join(dir, "source.raw")
		run(t, "", "qemu-img", "create", "-q", "-f", "raw", src, size)
		fh, err := os.OpenFile(src, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		if _, err := fh.Write(pattern(512 << 10)); err != nil {
			t.Fatal(err)
		}
		run(t, "", "qemu-img", append(append([]string{"convert", "-q", "-f", "raw"}, args...), src, path)...)
	}
}

var realImages = []realImage{
	{name: "raw", format: "raw", sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "raw")},
	{name: "raw with data", format: "raw", sizes: []string{"1M"}, make: func(t *testing.T, _, path, size string) {
		patternFile(t, path, 1<<20)
	}},
	{name: "qcow2 v2", format: "qcow2", version: 2, compress: "zlib", sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "qcow2", "-o", "compat=0.10")},
	{name: "qcow2 v3", format: "qcow2", version: 3, compress: "zlib", sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "qcow2", "-o", "compat=1.1")},
	{name: "qcow2 v3 2M clusters", format: "qcow2", version: 3, compress: "zlib", sizes: []string{"1M"}, make: qemuCreate("-f", "qcow2", "-o", "cluster_size=2M")},
	{name: "qcow2 compressed", format: "qcow2", version: 3, compress: "zlib", sizes: []string{"3M"}, make: qemuConvert("-c", "-O", "qcow2")},
	{name: "qcow2 zstd", format: "qcow2", version: 3, compress: "zstd", sizes: []string{"3M"}, make: qemuConvert("-c", "-O", "qcow2", "-o", "compression_type=zstd")},
	{name: "qcow2 with data", format: "qcow2", version: 3, compress: "zlib", sizes: []string{"2M"}, make: qemuConvert("-O", "qcow2")},
	{name: "qcow2 encrypted", format: "qcow2", version: 3, compress: "zlib", sizes: []string{"1M"}, make: qemuCreate("--object", "secret,id=sec0,data=passphrase", "-f", "qcow2", "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10")},
	{name: "vmdk monolithicSparse", format: "vmdk", subformat: "monolithicSparse", version: 1, sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "vmdk")},
	{name: "vmdk streamOptimized", format: "vmdk", subformat: "streamOptimized", version: 3, compress: "deflate", sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "vmdk", "-o", "subformat=streamOptimized")},
	{name: "vmdk streamOptimized with data", format: "vmdk", subformat: "streamOptimized", version: 3, compress: "deflate", sizes: []string{"3M"}, make: qemuConvert("-O", "vmdk", "-o", "subformat=streamOptimized")},
	{name: "vhd dynamic", format: "vhd", subformat: "dynamic", sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "vpc")},
	{name: "vhd dynamic force_size", format: "vhd", subformat: "dynamic", sizes: []string{"1234567"}, make: qemuCreate("-f", "vpc", "-o", "force_size=on")},
	{name: "vhd fixed", format: "vhd", subformat: "fixed", sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "vpc", "-o", "subformat=fixed")},
	{name: "vhd fixed with data", format: "vhd", subformat: "fixed", sizes: []string{"2M"}, make: qemuConvert("-O", "vpc", "-o", "subformat=fixed")},
	{name: "vhdx", format: "vhdx", sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "vhdx")},
	{name: "vdi", format: "vdi", subformat: "dynamic", version: 1, sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "vdi")},
	{name: "vdi static", format: "vdi", subformat: "static", version: 1, sizes: []string{"1M"}, make: qemuCreate("-f", "vdi", "-o", "static=on")},
	{name: "luks", format: "luks", subformat: "luks1", version: 1, sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("--object", "secret,id=sec0,data=passphrase", "-f", "luks", "-o", "key-secret=sec0,iter-time=10")},
	{name: "ploop", format: "ploop", sizes: []string{"1M", "1234567", "10G"}, make: qemuCreate("-f", "parallels")},
}

func TestRealImages(t *testing.T) {
	requireTool(t, "qemu-img", "qemu-utils")
	for _, c := range realImages {
		for _, size := range c.sizes {
			t.Run(c.name+"/"+size, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "image")
				c.make(t, dir, path, size)
				info := qemuImgInfo(t, path, qemuDriver(c.format))
				checkReal(t, path, info, Result{
					Format: c.format, Formats: []string{c.format}, Subformat: c.subformat,
					Version: c.version, Compression: c.compress,
					Encrypted: c.format == "luks" || strings.Contains(c.name, "encrypted"),
					Safe:      true,
				})
			})
		}
	}
}

// checkReal inspects the image at path, whole and streamed in odd chunks,
// and compares the verdict with want and the virtual size with qemu's.
func checkReal(t *testing.T, path string, info qemuInfo, want Result) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := InspectFile(path, Options{})
	if err != nil {
		t.Fatalf("InspectFile: %v", err)
	}
	want.Size = st.Size()
	want.VirtualSize = info.VirtualSize
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InspectFile(%s) mismatch (-want +got):\n%s", filepath.Base(path), diff)
	}
	if !Matches(want.Format, got) {
		t.Errorf("Matches(%q, result) = false, want true", want.Format)
	}
	if st.Size() > 16<<20 {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 7, 512, 64 << 10, 1 << 20} {
		if chunk == 1 && len(data) > 4<<20 {
			continue
		}
		if diff := cmp.Diff(got, streamResult(data, chunk)); diff != "" {
			t.Errorf("streamed in %d-byte chunks: result differs from InspectFile (-file +stream):\n%s", chunk, diff)
		}
	}
}

func TestRealISO(t *testing.T) {
	requireTool(t, "qemu-img", "qemu-utils")
	geniso := requireTool(t, "genisoimage", "genisoimage")
	dir := t.TempDir()
	content := filepath.Join(dir, "content")
	if err := os.MkdirAll(content, 0o755); err != nil {
		t.Fatal(err)
	}
	patternFile(t, filepath.Join(content, "file.bin"), 3<<20+123)
	path := filepath.Join(dir, "image.iso")
	run(t, "", geniso, "-quiet", "-R", "-V", "TEST", "-o", path, content)
	checkReal(t, path, qemuImgInfo(t, path, "raw"), Result{Format: "iso", Formats: []string{"iso"}, Safe: true})
}

func TestRealPartitionTables(t *testing.T) {
	requireTool(t, "qemu-img", "qemu-utils")
	sfdisk := requireTool(t, "sfdisk", "fdisk")
	for _, c := range []struct {
		label, subformat string
	}{
		{"dos", "mbr"},
		{"gpt", "gpt"},
	} {
		t.Run(c.label, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "disk.raw")
			run(t, "", "qemu-img", "create", "-q", "-f", "raw", path, "20M")
			run(t, "label: "+c.label+"\n,8M,L\n,,L\n", sfdisk, "--quiet", path)
			checkReal(t, path, qemuImgInfo(t, path, "raw"), Result{
				Format: "gpt", Formats: []string{"gpt"}, Subformat: c.subformat, Safe: true,
			})
			// Glance accepts a partitioned disk declared raw.
			r, _ := InspectFile(path, Options{})
			if !Matches("raw", r) {
				t.Errorf("Matches(raw, %s disk) = false, want true", c.label)
			}
		})
	}
}

// TestRealUnsafeImages checks images qemu-img makes that must be refused.
func TestRealUnsafeImages(t *testing.T) {
	requireTool(t, "qemu-img", "qemu-utils")
	cases := []struct {
		name      string
		args      []string // qemu-img create arguments before the file name
		format    string
		subformat string
		failed    []string
		opts      Options
	}{
		{"qcow2 backing file", []string{"-f", "qcow2", "-b", "base.raw", "-F", "raw"}, "qcow2", "", []string{"backing_file"}, Options{}},
		{"qcow2 data file", []string{"-f", "qcow2", "-o", "data_file=data.raw"}, "qcow2", "", []string{"data_file", "data_file"}, Options{}},
		{"qcow2 raw data file", []string{"-f", "qcow2", "-o", "data_file=data.raw,data_file_raw=on"}, "qcow2", "", []string{"data_file", "data_file"}, Options{}},
		{"qcow2 extended L2", []string{"-f", "qcow2", "-o", "extended_l2=on"}, "qcow2", "", []string{"unknown_features"}, Options{}},
		{"vmdk monolithicFlat", []string{"-f", "vmdk", "-o", "subformat=monolithicFlat"}, "vmdk", "monolithicFlat", []string{"descriptor", "extents"}, Options{}},
		{"vmdk twoGbMaxExtentSparse", []string{"-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse"}, "vmdk", "twoGbMaxExtentSparse", []string{"descriptor", "extents"}, Options{}},
		{"vmdk twoGbMaxExtentFlat", []string{"-f", "vmdk", "-o", "subformat=twoGbMaxExtentFlat"}, "vmdk", "twoGbMaxExtentFlat", []string{"descriptor", "extents"}, Options{}},
		{"vmdk type not configured", []string{"-f", "vmdk"}, "vmdk", "monolithicSparse", []string{"descriptor"}, Options{VMDKAllowedTypes: []string{"streamOptimized"}}},
		{"qed", []string{"-f", "qed"}, "qed", "", []string{"banned"}, Options{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			run(t, "", "qemu-img", "create", "-q", "-f", "raw", filepath.Join(dir, "base.raw"), "1M")
			path := filepath.Join(dir, "image")
			cmd := exec.Command("qemu-img", append(append([]string{"create", "-q"}, c.args...), path, "1M")...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("qemu-img create: %v\n%s", err, out)
			}
			r, err := InspectFile(path, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != c.format || r.Subformat != c.subformat || r.Safe || !cmp.Equal(r.Failed, c.failed) {
				t.Errorf("got format %q (%q) safe=%v failed=%v (%s), want %q (%q) unsafe with %v",
					r.Format, r.Subformat, r.Safe, r.Failed, r.Reason, c.format, c.subformat, c.failed)
			}
			if r.Reason == "" {
				t.Errorf("unsafe result without a reason")
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, chunk := range []int{1, 7, 64 << 10} {
				in := NewInspector(c.opts)
				for p := data; len(p) > 0; p = p[min(chunk, len(p)):] {
					in.Write(p[:min(chunk, len(p))])
				}
				if diff := cmp.Diff(r, in.Result()); diff != "" {
					t.Errorf("%d-byte chunks: result differs (-file +stream):\n%s", chunk, diff)
				}
			}
		})
	}
}
