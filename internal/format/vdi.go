package format

// VDI (VirtualBox). A 512-byte little-endian header:
//
//	0x40  signature u32 0xbeda107f     0x44  version u32 (0x00010001)
//	0x4c  image type u32 (1 dynamic, 2 static, 3 undo, 4 differencing)
//	0x154 bitmap offset u32            0x158 data offset u32
//	0x168 sector size u32              0x170 disk size u64
//	0x178 block size u32               0x180 blocks in image u32
//	0x1a8 link UUID                    0x1b8 parent UUID
//
// qemu rounds the disk size up to whole sectors and refuses images with a
// link or parent.
//
// Regions read: the header.
const vdiSignature = 0xbeda107f

func probeVDI(v *view, _ *Options) (status, *found) {
	b, st := v.read(0, 0x44)
	switch {
	case st == wait:
		return pending, nil
	case st == gone || le.Uint32(b[0x40:]) != vdiSignature:
		return absent, nil
	}
	f := &found{format: "vdi"}
	b, st = v.read(0, 512)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("VDI header"))
		return present, f
	}
	f.version = 1
	switch le.Uint32(b[0x4c:]) {
	case 1:
		f.subformat = "dynamic"
	case 2:
		f.subformat = "static"
	case 4:
		f.subformat = "differencing"
	default:
		f.fail("header", "VDI image type is not supported")
	}
	disk := le.Uint64(b[0x170:])
	blockSize := uint64(le.Uint32(b[0x178:]))
	blocks := uint64(le.Uint32(b[0x180:]))
	switch {
	case le.Uint32(b[0x44:]) != 0x00010001:
		f.fail("header", "VDI version is not supported")
	case le.Uint32(b[0x154:])%512 != 0 || le.Uint32(b[0x158:])%512 != 0:
		f.fail("header", "VDI header offsets are not sector aligned")
	case le.Uint32(b[0x168:]) != 512 || blockSize != 1<<20:
		f.fail("header", "VDI sector or block size is not supported")
	case blocks > 0x3fffffff || disk > blocks*blockSize:
		f.fail("header", "VDI disk size is out of range")
	default:
		f.vsize = int64((disk + 511) &^ 511)
	}
	if !isZero(b[0x1a8:0x1c8]) {
		f.fail("parent", "VDI image refers to a parent image")
	}
	return present, f
}
