package format

// ISO 9660 (and UDF, which keeps the same volume descriptor area). The first
// 32 KiB are a system area free for boot code or a partition table; the
// volume descriptor at 32 KiB has its type in byte 0 and "CD001" (or UDF's
// "NSR02"/"NSR03") in bytes 1-5. A primary volume descriptor (type 1) gives
// the volume space size in blocks (u32 little-endian at 80) and the logical
// block size (u16 little-endian at 128).
//
// Regions read: the volume descriptor at 32 KiB.
const isoDescriptor = 32 << 10

func probeISO(v *view, _ *Options) (status, *found) {
	b, st := v.read(isoDescriptor, 2048)
	switch st {
	case wait:
		return pending, nil
	case gone:
		return absent, nil
	}
	switch string(b[1:6]) {
	case "CD001", "NSR02", "NSR03":
	default:
		return absent, nil
	}
	f := &found{format: "iso"}
	if b[0] == 1 {
		f.vsize = int64(le.Uint32(b[80:])) * int64(le.Uint16(b[128:]))
	}
	if f.vsize == 0 {
		// No usable primary volume descriptor: qemu reads an ISO as raw.
		f.streamSize = true
	}
	return present, f
}
