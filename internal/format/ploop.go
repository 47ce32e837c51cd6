package format

// ploop (Virtuozzo; qemu's "parallels"). Little-endian 64-byte header:
//
//	 0  magic "WithoutFreeSpace" or "WithouFreSpacExt"
//	16  version u32 (2)        28  sectors per cluster u32
//	32  block table entries u32 36  virtual size in sectors u64 (only the
//	    low 32 bits count in the older "WithoutFreeSpace" images)
//
// Regions read: the header.
func probePloop(v *view, _ *Options) (status, *found) {
	b, st := v.read(0, 16)
	switch {
	case st == wait:
		return pending, nil
	case st == gone:
		return absent, nil
	}
	magic := string(b)
	if magic != "WithoutFreeSpace" && magic != "WithouFreSpacExt" {
		return absent, nil
	}
	f := &found{format: "ploop"}
	b, st = v.read(0, 64)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("ploop header"))
		return present, f
	}
	sectors := le.Uint64(b[36:])
	if magic == "WithoutFreeSpace" {
		sectors &= 0xffffffff
	}
	tracks := le.Uint32(b[28:])
	switch {
	case le.Uint32(b[16:]) != 2:
		f.fail("header", "ploop version is not supported")
	case tracks == 0 || tracks > (1<<31-1)/513:
		f.fail("header", "ploop cluster size is out of range")
	case le.Uint32(b[32:]) > (1<<31-1)/4:
		f.fail("header", "ploop block table is too large")
	case sectors > 1<<53:
		f.fail("header", "ploop virtual size is out of range")
	default:
		f.vsize = int64(sectors) * 512
	}
	return present, f
}
