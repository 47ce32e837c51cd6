package format

// VHDX (MS-VHDX). Little-endian structures found through GUIDs:
//
//	0        file identifier "vhdxfile"
//	192 KiB  region table (64 KiB): "regi", entry count u32 at 8, then
//	         32-byte entries from 16: GUID, file offset u64, length u32
//	metadata region (offset from the region table): a 64 KiB table of
//	         "metadata", entry count u16 at 10, then 32-byte entries from
//	         32: GUID, item offset u32 (from the region start), length u32
//
// The virtual disk size item is a u64; the file parameters item has a flags
// u32 at 4 whose bit 1 marks a differencing image.
//
// Regions read: the identifier, the region table, the metadata table, the
// two items.
const (
	vhdxRegionTable = 192 << 10
	vhdxTableLen    = 64 << 10
	vhdxMaxEntries  = 2047
	vhdxMaxSize     = 64 << 40
)

// GUIDs as stored (mixed-endian).
var (
	vhdxMetadataRegion = guid("8B7CA206-4790-4B9A-B8FE-575F050F886E")
	vhdxVirtualSize    = guid("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	vhdxFileParams     = guid("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
)

func probeVHDX(v *view, _ *Options) (status, *found) {
	b, st := v.read(0, 8)
	switch {
	case st == wait:
		return pending, nil
	case st == gone || string(b) != "vhdxfile":
		return absent, nil
	}
	f := &found{format: "vhdx"}
	rt, st := v.read(vhdxRegionTable, vhdxTableLen)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("VHDX region table"))
		return present, f
	}
	if string(rt[:4]) != "regi" {
		f.fail("header", "VHDX region table signature not found")
		return present, f
	}
	count := le.Uint32(rt[8:])
	if count > vhdxMaxEntries {
		f.fail("header", "VHDX region table entry count is out of range")
		return present, f
	}
	var meta int64 = -1
	for i := range int(count) {
		e := rt[16+32*i:][:32]
		if string(e[:16]) == vhdxMetadataRegion {
			meta = int64(min(le.Uint64(e[16:]), 1<<62))
			break
		}
	}
	if meta < 0 {
		f.fail("header", "VHDX metadata region not found")
		return present, f
	}
	mt, st := v.read(meta, vhdxTableLen)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("VHDX metadata table"))
		return present, f
	}
	if string(mt[:8]) != "metadata" {
		f.fail("header", "VHDX metadata table signature not found")
		return present, f
	}
	n := int(le.Uint16(mt[10:]))
	if n > vhdxMaxEntries {
		f.fail("header", "VHDX metadata entry count is out of range")
		return present, f
	}
	var sizeItem, paramsItem []byte
	for i := range n {
		e := mt[32+32*i:][:32]
		switch string(e[:16]) {
		case vhdxVirtualSize:
			sizeItem = e
		case vhdxFileParams:
			paramsItem = e
		}
	}
	if sizeItem == nil || le.Uint32(sizeItem[20:]) < 8 {
		f.fail("header", "VHDX virtual disk size not found")
		return present, f
	}
	// Ask for both items before waiting for either: they may lie in any
	// order in the stream.
	vs, st := v.read(meta+int64(le.Uint32(sizeItem[16:])), 8)
	missing := v.missing("VHDX virtual disk size")
	var params []byte
	pst := have
	if paramsItem != nil && le.Uint32(paramsItem[20:]) >= 8 {
		params, pst = v.read(meta+int64(le.Uint32(paramsItem[16:])), 8)
		if st != gone {
			missing = v.missing("VHDX file parameters")
		}
	}
	switch {
	case st == wait || pst == wait:
		return pending, nil
	case st == gone || pst == gone:
		f.fail("header", missing)
		return present, f
	}
	if size := le.Uint64(vs); size <= vhdxMaxSize {
		f.vsize = int64(size)
	} else {
		f.fail("header", "VHDX virtual disk size is out of range")
	}
	if params != nil && le.Uint32(params[4:])&2 != 0 {
		f.fail("parent", "differencing VHDX needs a parent image")
	}
	return present, f
}

// guid returns the 16 bytes a GUID is stored as in VHDX and GPT: the first
// three groups little-endian, the rest in order.
func guid(s string) string {
	var hex []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			hex = append(hex, s[i])
		}
	}
	var b [16]byte
	for i := range b {
		b[i] = unhex(hex[2*i])<<4 | unhex(hex[2*i+1])
	}
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return string(b[:])
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
