package format

// QED (QEMU enhanced disk): recognised so that it is refused, as Glance
// does; no one supports it. Little-endian header: magic "QED\0", image size
// u64 at 48.
//
// Regions read: the first 56 bytes.
func probeQED(v *view, _ *Options) (status, *found) {
	b, st := v.read(0, 4)
	switch {
	case st == wait:
		return pending, nil
	case st == gone || string(b) != "QED\x00":
		return absent, nil
	}
	f := &found{format: "qed"}
	f.fail("banned", "QED images are not allowed")
	b, st = v.read(0, 56)
	switch st {
	case wait:
		return pending, nil
	case have:
		if size := le.Uint64(b[48:]); size <= 1<<62 {
			f.vsize = int64(size)
		}
	}
	return present, f
}
