// Package format recognises disk image formats in an upload stream and checks
// them for the constructs that make image conversion or booting read host
// files: qcow2 backing and external data files, VMDK extents naming other
// files, polyglot files that parse as two formats, and so on.
//
// The Inspector is an io.Writer fed the stream once, in order, so it can sit
// in an io.MultiWriter beside the hashes. It never fails a Write, and holds
// at most MaxBuffered bytes of the stream (about 1.13 MiB) no matter what
// the input claims; most streams are decided within their first 64 KiB,
// after which it keeps only the last 1536 bytes and counts the rest.
//
// Format names are Glance's disk_format names where one exists: raw, qcow2,
// vmdk, vhd, vhdx, vdi, iso, ploop. Formats Glance has no disk_format for use
// the names of Glance's inspectors: "luks", "qed" and "gpt". "gpt" covers
// every disk that starts with a partition table, GUID or legacy MBR (Glance
// does the same); Result.Subformat says which of "gpt" or "mbr" it is.
package format

import (
	"sort"
	"strings"
)

// Options tunes the inspection; the zero value applies Glance's defaults.
type Options struct {
	// VMDKAllowedTypes lists the VMDK createType values accepted as safe
	// ([image_format] vmdk_allowed_types). Nil means Glance's default,
	// streamOptimized and monolithicSparse; an empty non-nil slice allows no
	// VMDK at all. Comparison ignores case, as the descriptor does.
	VMDKAllowedTypes []string
	// GPTSafetyChecksNonfatal names safety checks that do not make a disk
	// with a partition table unsafe ([image_format]
	// gpt_safety_checks_nonfatal): "mbr" (the legacy partition entries) and
	// "gpt" (the GUID partition table header). They are still reported in
	// Result.Failed.
	GPTSafetyChecksNonfatal []string
}

// DefaultVMDKAllowedTypes is Glance's default for vmdk_allowed_types.
var DefaultVMDKAllowedTypes = []string{"streamOptimized", "monolithicSparse"}

func (o *Options) vmdkAllowed(createType string) bool {
	allowed := o.VMDKAllowedTypes
	if allowed == nil {
		allowed = DefaultVMDKAllowedTypes
	}
	for _, a := range allowed {
		if strings.EqualFold(a, createType) {
			return true
		}
	}
	return false
}

func (o *Options) gptNonfatal(check string) bool {
	for _, c := range o.GPTSafetyChecksNonfatal {
		if c == check {
			return true
		}
	}
	return false
}

// Result is what the inspector knows about the stream so far; after the last
// Write it describes the whole image.
type Result struct {
	// Format is the detected format ("raw" when nothing else matched), or
	// empty when the data matched several formats that cannot be told apart
	// (see Formats).
	Format string
	// Formats lists every format whose structures were found, sorted. It has
	// two entries for hybrids that are accepted (an ISO with a partition
	// table is Format "iso"; a fixed VHD's footer after a partitioned disk
	// or an ISO is Format "vhd") and for polyglots that are refused.
	Formats []string
	// Subformat refines Format: the VMDK createType ("monolithicSparse",
	// "streamOptimized", …), "fixed", "dynamic" or "differencing" for VHD,
	// "dynamic" or "static" for VDI, "gpt" or "mbr" for a partition table,
	// "luks1" or "luks2".
	Subformat string
	// Version is the on-disk format version where the format has one
	// (qcow2 2 or 3, VMDK 1–3, LUKS 1 or 2, VDI 1).
	Version int
	// VirtualSize is the size in bytes of the disk the image describes, as
	// qemu-img info reports it; for raw data and partitioned disks it is
	// the stream size. Zero when not known.
	VirtualSize int64
	// Size is the number of bytes written to the inspector.
	Size int64
	// Encrypted is set for LUKS and for encrypted qcow2.
	Encrypted bool
	// Compression names the compression a format declares: "zlib" or
	// "zstd" for qcow2 version 3, "deflate" for compressed VMDK grains.
	Compression string
	// Safe is false when the image must not be accepted: it matched
	// several formats, failed a safety check that is not configured as
	// non-fatal, or its headers are inconsistent or truncated.
	Safe bool
	// Reason explains why the image is unsafe or ambiguous, or which
	// non-fatal checks failed, in one line.
	Reason string
	// Failed names the safety checks that failed, in the names Glance's
	// inspectors use where they have one: backing_file, data_file,
	// unknown_features, descriptor, footer, mbr, version, banned; and
	// header, extents, parent, gpt, multiple_formats for the others.
	Failed []string
}

// Glance's disk formats its inspectors can recognise; others (ami, ari, aki,
// ploop) are accepted with any content its inspectors call raw.
var glanceInspectable = map[string]bool{
	"raw": true, "qcow2": true, "vhd": true, "vhdx": true, "vmdk": true,
	"vdi": true, "qed": true, "iso": true, "gpt": true, "luks": true,
}

// Matches reports whether an image declared with disk_format declared may
// hold the inspected data, as Glance's require_image_format_match decides:
// the detected format must equal the declared one, except that data declared
// raw is accepted whatever it holds (its safety checks still apply: see
// Result.Safe), and a format Glance cannot inspect (ami, ari, aki, ploop)
// accepts data in which no format was recognised. Ambiguous data matches
// nothing.
func Matches(declared string, r Result) bool {
	switch {
	case r.Format == "":
		return false
	case declared == r.Format, declared == "raw":
		return true
	}
	glanceSeesRaw := r.Format == "raw" || !glanceInspectable[r.Format]
	return glanceSeesRaw && !glanceInspectable[declared]
}

// VirtualSizeFor is the virtual_size Glance records for an image declared
// with disk_format declared: the detected virtual size when the formats
// agree, the stream size for data declared raw, and 0 (unknown) otherwise.
func VirtualSizeFor(declared string, r Result) int64 {
	switch {
	case !Matches(declared, r):
		return 0
	case declared == r.Format:
		return r.VirtualSize
	case declared == "raw":
		return r.Size
	}
	return 0
}

// Refusal returns the message Glance answers with (415, as the detail) when it
// refuses an upload declared with disk_format declared, or "" when the
// upload is acceptable.
func Refusal(declared string, r Result) string {
	switch {
	case r.Format == "":
		return "Multiple formats detected: " + strings.Join(r.Formats, ",")
	case !Matches(declared, r):
		return "Image disk_format " + declared + " does not match stream data " + r.Format
	case !r.Safe:
		return "Image failed safety checks"
	}
	return ""
}

// failure is one failed safety check.
type failure struct {
	check  string
	reason string
}

// found describes one format whose structures were recognised.
type found struct {
	format      string
	subformat   string
	version     int
	vsize       int64 // virtual size from the headers
	streamSize  bool  // the virtual size is the stream size
	encrypted   bool
	compression string
	failed      []failure
	// atEnd, if set, completes the description from the end of the stream:
	// size is the stream size and tail its last bytes (at most tailLen).
	atEnd func(f *found, size int64, tail []byte)
}

func (f *found) fail(check, reason string) {
	f.failed = append(f.failed, failure{check, reason})
}

// resolve turns the formats found into a Result.
func resolve(o *Options, fs []*found, size int64) Result {
	r := Result{Size: size, Safe: true}
	names := make([]string, 0, len(fs))
	for _, f := range fs {
		names = append(names, f.format)
	}
	sort.Strings(names)
	var f *found
	switch {
	case len(fs) == 0:
		r.Format, r.Formats, r.VirtualSize = "raw", []string{"raw"}, size
		return r
	case len(fs) == 1:
		f = fs[0]
	default:
		f = hybrid(fs)
	}
	r.Formats = names
	if f == nil {
		r.Safe = false
		r.Reason = "Multiple formats detected: " + strings.Join(names, ",")
		r.Failed = []string{"multiple_formats"}
		return r
	}
	r.Format, r.Subformat, r.Version = f.format, f.subformat, f.version
	r.Encrypted, r.Compression = f.encrypted, f.compression
	r.VirtualSize = f.vsize
	if f.streamSize {
		r.VirtualSize = size
	}
	// A fixed VHD is a raw disk with a footer: the checks of the
	// partition table it holds apply to it, as they would to the raw disk.
	checked := []*found{f}
	if f.format == "vhd" {
		for _, g := range fs {
			if g.format == "gpt" {
				checked = append(checked, g)
			}
		}
	}
	var fatal, nonfatal []string
	for _, g := range checked {
		for _, x := range g.failed {
			r.Failed = append(r.Failed, x.check)
			if g.format == "gpt" && o.gptNonfatal(x.check) {
				nonfatal = append(nonfatal, x.reason)
			} else {
				fatal = append(fatal, x.reason)
			}
		}
	}
	switch {
	case len(fatal) > 0:
		r.Safe = false
		r.Reason = strings.Join(fatal, "; ")
	case len(nonfatal) > 0:
		r.Reason = "non-fatal: " + strings.Join(nonfatal, "; ")
	}
	return r
}

// hybrid picks the format that describes a combination of matches known to
// be legitimate, or returns nil: a bootable ISO carries a partition table in
// its system area (Glance accepts it as iso), and a fixed VHD is a raw disk,
// possibly partitioned or an ISO, followed by a footer.
func hybrid(fs []*found) *found {
	by := map[string]*found{}
	for _, f := range fs {
		by[f.format] = f
	}
	if len(by) != len(fs) {
		return nil
	}
	if v := by["vhd"]; v != nil && v.subformat == "fixed" {
		for _, f := range fs {
			if f != v && f.format != "gpt" && f.format != "iso" {
				return nil
			}
		}
		return v
	}
	if len(fs) == 2 && by["iso"] != nil && by["gpt"] != nil {
		return by["iso"]
	}
	return nil
}
