package format

import "strconv"

// LUKS. Big-endian header: magic "LUKS\xba\xbe" and version u16 at 6. In
// version 1 the payload offset in 512-byte sectors is a u32 at 104 and the
// whole header with its eight key slots is 592 bytes. qemu exposes the
// payload, so the virtual size is the stream size less the payload offset,
// rounded up to whole sectors.
// Version 2 (a JSON header) is not supported by qemu or Glance.
//
// Regions read: the version 1 header.
const luksHeaderLen = 592

func probeLUKS(v *view, _ *Options) (status, *found) {
	b, st := v.read(0, 8)
	switch {
	case st == wait:
		return pending, nil
	case st == gone || string(b[:6]) != "LUKS\xba\xbe":
		return absent, nil
	}
	f := &found{format: "luks", encrypted: true}
	version := be.Uint16(b[6:])
	f.version = int(version)
	f.subformat = "luks" + strconv.Itoa(int(version))
	if version != 1 {
		f.fail("version", "LUKS version "+strconv.Itoa(int(version))+" is not supported")
		return present, f
	}
	b, st = v.read(0, luksHeaderLen)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("LUKS header"))
		return present, f
	}
	payload := int64(be.Uint32(b[104:])) * 512
	if payload < luksHeaderLen {
		f.fail("header", "LUKS payload overlaps the header")
		return present, f
	}
	f.atEnd = func(f *found, size int64, _ []byte) {
		if size < payload {
			f.fail("header", "LUKS payload starts past the end of the image")
			return
		}
		// qemu counts whole sectors, rounding a partial one up.
		f.vsize = (size - payload + 511) &^ 511
	}
	return present, f
}
