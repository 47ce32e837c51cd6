package format

// VHD (Virtual PC; qemu's "vpc"). A 512-byte big-endian footer ends every
// image; dynamic and differencing images also keep a copy at the start:
//
//	 0  cookie "conectix"         16  data offset u64 (dynamic header)
//	28  creator application [4]   48  current size u64
//	56  cylinders u16, heads u8, sectors per track u8
//	60  disk type u32 (2 fixed, 3 dynamic, 4 differencing)
//	64  checksum u32 (one's complement of the byte sum, this field as zero)
//
// A fixed image is raw data followed by the footer, so it is only known at
// the end of the stream. A dynamic image's header (at the data offset)
// starts with "cxsparse" and gives the block size (u32 at 32) and the number
// of block table entries (u32 at 28).
//
// The virtual size follows qemu: the CHS geometry, except for creators that
// use the current size field and for images at the largest geometry.
//
// Regions read: the first 512 bytes, the dynamic header's first 512 bytes,
// the last 512 bytes.
const (
	vhdMaxSectors  = 0xff000000 // 2040 GiB
	vhdMaxGeometry = 65535 * 16 * 255
	vhdDiff        = 4 // disk type of a differencing image
)

func probeVHD(v *view, _ *Options) (status, *found) {
	b, st := v.read(0, 8)
	switch {
	case st == wait:
		return pending, nil
	case st == gone || string(b) != "conectix":
		return absent, nil
	}
	f := &found{format: "vhd", subformat: "dynamic"}
	b, st = v.read(0, 512)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("VHD footer"))
		return present, f
	}
	sectors, ok := vhdFooter(f, b)
	if !ok {
		return present, f
	}
	if be.Uint32(b[60:]) == vhdDiff {
		f.subformat = "differencing"
		f.fail("parent", "differencing VHD needs a parent image")
	}
	// qemu reads a dynamic header wherever the footer copy at the start
	// points, whatever disk type it states.
	dataOffset := be.Uint64(b[16:])
	if dataOffset > 1<<62 {
		f.fail("header", "VHD dynamic header offset is out of range")
		return present, f
	}
	h, st := v.read(int64(dataOffset), 512)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("VHD dynamic header"))
		return present, f
	}
	if string(h[:8]) != "cxsparse" {
		f.fail("header", "VHD dynamic header signature not found")
		return present, f
	}
	blockSize := int64(be.Uint32(h[32:]))
	entries := int64(be.Uint32(h[28:]))
	switch {
	case blockSize < 512 || blockSize&(blockSize-1) != 0:
		f.fail("header", "VHD block size is invalid")
	case entries > (1<<31-1)/4 || entries*blockSize < sectors*512:
		f.fail("header", "VHD block table size is invalid")
	}
	return present, f
}

// vhdFooter checks a footer and sets f's virtual size; ok is false when the
// footer is unusable.
func vhdFooter(f *found, b []byte) (sectors int64, ok bool) {
	var sum uint32
	for i, c := range b[:512] {
		if i < 64 || i >= 68 {
			sum += uint32(c)
		}
	}
	if ^sum != be.Uint32(b[64:]) {
		f.fail("header", "VHD footer checksum is wrong")
		return 0, false
	}
	sectors = int64(be.Uint16(b[56:])) * int64(b[58]) * int64(b[59])
	switch string(b[28:32]) {
	case "win ", "qem2", "d2v ", "CTXS", "tap\x00":
		sectors = -1
	}
	if sectors < 0 || sectors == vhdMaxGeometry {
		sectors = int64(min(be.Uint64(b[48:])/512, 1<<54))
	}
	if sectors > vhdMaxSectors {
		f.fail("header", "VHD is larger than 2040 GiB")
		return 0, false
	}
	f.vsize = sectors * 512
	return sectors, true
}

// vhdFixedFooter recognises the footer of a fixed VHD in the last 512 bytes
// of a stream that does not start with one.
func vhdFixedFooter(tail []byte, size int64) *found {
	if size < 512 || len(tail) < 512 {
		return nil
	}
	b := tail[len(tail)-512:]
	if string(b[:8]) != "conectix" {
		return nil
	}
	f := &found{format: "vhd", subformat: "fixed"}
	vhdFooter(f, b)
	return f
}
