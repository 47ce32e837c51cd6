package format

import (
	"bytes"
	"strconv"
	"strings"
)

// VMDK. Two layouts matter:
//
// A hosted sparse extent (monolithicSparse, streamOptimized) starts with a
// little-endian header and embeds a text descriptor at sector 1:
//
//	 0  magic "KDMV"              4  version (1-3)
//	 8  flags u32                12  capacity u64 (sectors)
//	20  grain size u64 (sectors) 28  descriptor offset u64 (sectors)
//	36  descriptor size u64      44  grain table entries per table u32
//	56  grain directory offset u64 (all ones: read the footer at the end)
//	77  compress algorithm u16 (1 = deflate)
//
// With a non-zero capacity qemu reads the data from the file itself; with a
// zero capacity it follows the descriptor's extent lines instead.
//
// A descriptor file is the text alone; its extents are other files. qemu
// reads up to 1 MiB - 1 of it, and looks for parentFileNameHint (a backing
// file) in the first vmdkParentScan bytes of the descriptor.
//
// Regions read: the header, the descriptor (up to vmdkDescMax bytes from
// sector 1, or the text at the start), and for a footer the last 1536
// bytes: footer marker, footer (a copy of the header), end-of-stream marker.
const (
	vmdkDescMax    = 1<<20 - 1
	vmdkParentScan = 20 * 512
	vmdkGDAtEnd    = 1<<64 - 1
	vmdkHeaderLen  = 79
)

type vmdkHeader struct {
	magic                string
	version, gtes        uint32
	capacity, grain, gd  uint64
	descOffset, descSize uint64
	compressAlgorithm    uint16
}

func parseVMDKHeader(b []byte) vmdkHeader {
	return vmdkHeader{
		magic:             string(b[:4]),
		version:           le.Uint32(b[4:]),
		capacity:          le.Uint64(b[12:]),
		grain:             le.Uint64(b[20:]),
		descOffset:        le.Uint64(b[28:]),
		descSize:          le.Uint64(b[36:]),
		gtes:              le.Uint32(b[44:]),
		gd:                le.Uint64(b[56:]),
		compressAlgorithm: le.Uint16(b[77:]),
	}
}

// check applies qemu's limits on a sparse header.
func (h vmdkHeader) check(f *found, what string) {
	switch {
	case h.version < 1 || h.version > 3:
		f.fail("header", "unsupported VMDK version "+strconv.FormatUint(uint64(h.version), 10)+" in the "+what)
	case h.capacity == 0 && what == "header":
		// qemu then opens the extents the descriptor names instead.
		f.fail("extents", "VMDK header has a zero capacity, so the descriptor's extents would be used")
	case h.capacity == 0:
		f.fail("header", "VMDK "+what+" has a zero capacity")
	case h.capacity > 1<<53:
		f.fail("header", "VMDK capacity in the "+what+" is out of range")
	case h.grain == 0 || h.grain > 0x200000 || h.gtes == 0 || h.gtes > 512:
		f.fail("header", "VMDK grain layout in the "+what+" is out of range")
	case (h.capacity+h.grain*uint64(h.gtes)-1)/(h.grain*uint64(h.gtes)) > 512<<20/4:
		f.fail("header", "VMDK grain directory in the "+what+" is too large")
	}
}

func probeVMDK(v *view, o *Options) (status, *found) {
	b, st := v.read(0, 4)
	switch {
	case st == wait:
		return pending, nil
	case st == gone:
		return absent, nil
	}
	switch string(b) {
	case "KDMV":
		return vmdkSparse(v, o)
	case "COWD":
		f := &found{format: "vmdk", subformat: "vmfsSparse"}
		f.fail("descriptor", "VMDK3 (COWD) sparse extents are not allowed")
		return present, f
	}
	return vmdkText(v, o)
}

func vmdkSparse(v *view, o *Options) (status, *found) {
	f := &found{format: "vmdk"}
	b, st := v.read(0, vmdkHeaderLen)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("VMDK header"))
		return present, f
	}
	h := parseVMDKHeader(b)
	f.version = int(h.version)
	if h.compressAlgorithm == 1 {
		f.compression = "deflate"
	}
	if h.capacity <= 1<<53 {
		f.vsize = int64(h.capacity) * 512
	}
	h.check(f, "header")
	switch {
	case h.descOffset == 0:
		f.fail("descriptor", "VMDK has no embedded descriptor")
		return present, f
	case h.descOffset != 1:
		f.fail("descriptor", "VMDK descriptor is not at sector 1")
		return present, f
	case h.descSize == 0 || h.descSize > 2048:
		f.fail("descriptor", "VMDK descriptor size is out of range")
		return present, f
	}
	descLen := min(int64(h.descSize)*512, vmdkDescMax)
	scanLen := int64(vmdkParentScan)
	if v.eof {
		scanLen = min(scanLen, v.size()-512)
	}
	desc, st := v.read(512, max(descLen, scanLen))
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("descriptor", v.missing("VMDK descriptor"))
		return present, f
	}
	checkParent(f, desc[:max(scanLen, 0)])
	text := desc[:descLen]
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	d := parseDescriptor(f, text)
	f.subformat = d.createType
	if d.createType != "" && !o.vmdkAllowed(d.createType) {
		f.fail("descriptor", "VMDK create type "+strconv.Quote(d.createType)+" is not allowed")
	}
	if d.ok && (len(d.extents) != 1 || d.extents[0].kind != "sparse") {
		f.fail("extents", "VMDK descriptor names extents other than the file's own data")
	}
	if h.gd == vmdkGDAtEnd {
		f.atEnd = func(f *found, size int64, tail []byte) { vmdkFooter(f, h, size, tail) }
	}
	return present, f
}

// vmdkFooter checks the footer a stream-optimised VMDK with its grain
// directory at the end carries, which qemu reads instead of the header.
func vmdkFooter(f *found, h vmdkHeader, size int64, tail []byte) {
	if size < 512+tailLen || len(tail) < tailLen {
		f.fail("footer", "VMDK footer is missing")
		return
	}
	t := tail[len(tail)-tailLen:]
	marker, foot, eos := t[:512], t[512:1024], t[1024:]
	if le.Uint32(marker[8:]) != 0 || le.Uint32(marker[12:]) != 3 || !isZero(marker[16:]) {
		f.fail("footer", "VMDK footer marker is invalid")
		return
	}
	if !isZero(eos) {
		f.fail("footer", "VMDK end-of-stream marker is invalid")
		return
	}
	fh := parseVMDKHeader(foot)
	switch {
	case fh.magic != h.magic || fh.version != h.version:
		f.fail("footer", "VMDK footer does not match the header")
		return
	case fh.descOffset != h.descOffset || fh.descSize != h.descSize:
		f.fail("footer", "VMDK footer names a different descriptor than the header")
		return
	case fh.gd == vmdkGDAtEnd:
		f.fail("footer", "VMDK footer points at another footer")
		return
	}
	fh.check(f, "footer")
	f.vsize = 0
	if fh.capacity <= 1<<53 {
		f.vsize = int64(fh.capacity) * 512
	}
}

// vmdkText recognises a descriptor file: text up to the first NUL that sets
// createType. Its extents are separate files, so it is never safe.
func vmdkText(v *view, o *Options) (status, *found) {
	var text []byte
	for k := int64(512); ; k = min(2*k, vmdkDescMax) {
		if v.eof {
			k = min(k, v.size())
		}
		if k == 0 {
			return absent, nil
		}
		b, st := v.read(0, k)
		switch st {
		case wait:
			return pending, nil
		case gone:
			return absent, nil
		}
		end := bytes.IndexByte(b, 0)
		if end < 0 {
			end = len(b)
		}
		for _, c := range b[:end] {
			if !isText(c) {
				return absent, nil
			}
		}
		if end < len(b) || k == vmdkDescMax || (v.eof && k == v.size()) {
			text = b[:end]
			break
		}
	}
	if indexFold(text, `createtype="`) < 0 {
		return absent, nil
	}
	f := &found{format: "vmdk"}
	checkParent(f, text)
	d := parseDescriptor(f, text)
	f.subformat = d.createType
	if d.createType != "" && !o.vmdkAllowed(d.createType) {
		f.fail("descriptor", "VMDK create type "+strconv.Quote(d.createType)+" is not allowed")
	}
	f.fail("extents", "VMDK descriptor file keeps its data in separate extent files")
	return present, f
}

// isText reports whether c may appear in a descriptor: printable ASCII or
// white space.
func isText(c byte) bool {
	return c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// checkParent refuses a descriptor that names a parent image, which qemu
// opens as a backing file. b is the region qemu scans, up to its first NUL.
func checkParent(f *found, b []byte) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if indexFold(b, "parentfilenamehint") >= 0 {
		f.fail("parent", "VMDK names a parent (backing) file")
	}
}

type extent struct {
	kind string // lower case: sparse, flat, zero, vmfs, …
}

type descriptor struct {
	createType string
	extents    []extent
	ok         bool // every line was understood
}

// parseDescriptor reads a VMDK text descriptor as cautiously as Glance: every
// line must be a comment, a ddb entry, a key=value field or an extent, and
// extent lines may not contain a path separator. Keys and values are
// compared without regard to case. It copies no more than a few bytes of
// text, whatever its size.
func parseDescriptor(f *found, text []byte) descriptor {
	var d descriptor
	for _, c := range text {
		if c >= 0x80 {
			f.fail("descriptor", "VMDK descriptor is not ASCII text")
			return d
		}
	}
	if i := indexFold(text, `createtype="`); i >= 0 {
		i += len(`createtype="`)
		if j := bytes.IndexByte(text[i:], '"'); j >= 0 && j < 64 {
			d.createType = string(text[i : i+j])
		}
	}
	if d.createType == "" {
		f.fail("descriptor", "VMDK descriptor has no create type")
	}
	for rest := text; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSpace(line)
		eq := bytes.IndexByte(line, '=')
		switch {
		case len(line) == 0 || line[0] == '#' || hasPrefixFold(line, "ddb"):
		case eq >= 0 && bytes.IndexByte(line[:eq], ' ') < 0:
		default:
			first := line
			if i := bytes.IndexByte(line, ' '); i >= 0 {
				first = line[:i]
			}
			if !bytes.EqualFold(first, []byte("rw")) && !bytes.EqualFold(first, []byte("rdonly")) && !bytes.EqualFold(first, []byte("noaccess")) {
				f.fail("descriptor", "VMDK descriptor has a line that is not understood")
				return d
			}
			if bytes.ContainsAny(line, `/\`) {
				f.fail("descriptor", "VMDK extent names a path")
				return d
			}
			var e extent
			if fs := bytes.Fields(line); len(fs) >= 3 && len(fs[2]) <= 16 {
				e.kind = strings.ToLower(string(fs[2]))
			}
			d.extents = append(d.extents, e)
			if len(d.extents) > 1024 {
				f.fail("descriptor", "VMDK descriptor has too many extents")
				return d
			}
		}
	}
	if len(d.extents) == 0 {
		f.fail("descriptor", "VMDK descriptor has no extents")
		return d
	}
	d.ok = true
	return d
}

// indexFold is the index of the first instance of the lower-case ASCII
// string pat in b, ignoring case, or -1.
func indexFold(b []byte, pat string) int {
	for i := 0; i+len(pat) <= len(b); i++ {
		if hasPrefixFold(b[i:], pat) {
			return i
		}
	}
	return -1
}

// hasPrefixFold reports whether b starts with the lower-case ASCII string
// pat, ignoring case.
func hasPrefixFold(b []byte, pat string) bool {
	if len(b) < len(pat) {
		return false
	}
	for i := 0; i < len(pat); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != pat[i] {
			return false
		}
	}
	return true
}
