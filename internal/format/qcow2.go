package format

import "fmt"

// qcow2 (QEMU copy-on-write, docs/interop/qcow2.txt). Big-endian header:
//
//	  0  magic "QFI\xfb"             4  version (2 or 3; 1 is the old qcow)
//	  8  backing_file_offset u64    16  backing_file_size u32
//	 20  cluster_bits u32           24  size u64 (virtual size)
//	 32  crypt_method u32           36  l1_size u32
//	 56  refcount_table_clusters    60  nb_snapshots u32
//	version 3 only:
//	 72  incompatible_features u64  96  refcount_order u32
//	100  header_length u32         104  compression_type u8
//
// Header extensions (type u32, length u32, data padded to 8 bytes) follow
// the header inside the first cluster; type 0 ends the list.
//
// Regions read: the header, then the extensions (at most qcow2ExtMax bytes).
const (
	qcow2ExtMax = 64 << 10

	qcow2IncompatDataFile = 1 << 2
	qcow2IncompatCompress = 1 << 3
	// Glance's inspector knows incompatible bits 0-3 (dirty, corrupt,
	// external data file, compression type) and refuses any other.
	qcow2IncompatKnown = 0xf

	qcow2ExtDataFile = 0x44415441
)

func probeQcow2(v *view, _ *Options) (status, *found) {
	b, st := v.read(0, 4)
	switch {
	case st == wait:
		return pending, nil
	case st == gone || string(b) != "QFI\xfb":
		return absent, nil
	}
	f := &found{format: "qcow2"}
	b, st = v.read(0, 72)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("qcow2 header"))
		return present, f
	}
	version := be.Uint32(b[4:])
	f.version = int(version)
	if size := be.Uint64(b[24:]); size <= 1<<62 {
		f.vsize = int64(size)
	} else {
		f.fail("header", "qcow2 virtual size is out of range")
	}
	if be.Uint64(b[8:]) != 0 {
		f.fail("backing_file", "qcow2 image has a backing file")
	}
	if version != 2 && version != 3 {
		f.fail("unknown_features", fmt.Sprintf("unsupported qcow2 version %d", version))
		return present, f
	}
	clusterBits := be.Uint32(b[20:])
	if clusterBits < 9 || clusterBits > 21 {
		f.fail("header", "qcow2 cluster size is out of range")
		return present, f
	}
	clusterSize := int64(1) << clusterBits
	switch be.Uint32(b[32:]) {
	case 0:
	case 1, 2:
		f.encrypted = true
	default:
		f.fail("header", "qcow2 encryption method is unknown")
	}
	if be.Uint32(b[36:]) > (32<<20)/8 {
		f.fail("header", "qcow2 L1 table is too large")
	}
	if int64(be.Uint32(b[56:])) > (8<<20)>>clusterBits {
		f.fail("header", "qcow2 refcount table is too large")
	}
	if be.Uint32(b[60:]) > 65536 {
		f.fail("header", "qcow2 snapshot count is too large")
	}
	f.compression = "zlib"
	extStart := int64(72)
	if version == 3 {
		b, st = v.read(0, 104)
		switch st {
		case wait:
			return pending, nil
		case gone:
			f.fail("header", v.missing("qcow2 version 3 header"))
			return present, f
		}
		incompat := be.Uint64(b[72:])
		if incompat&qcow2IncompatDataFile != 0 {
			f.fail("data_file", "qcow2 image has an external data file")
		}
		if incompat&^qcow2IncompatKnown != 0 {
			f.fail("unknown_features", "qcow2 image has unknown incompatible features")
		}
		if be.Uint32(b[96:]) > 6 {
			f.fail("header", "qcow2 refcount order is out of range")
		}
		extStart = int64(be.Uint32(b[100:]))
		if extStart < 104 || extStart > clusterSize {
			f.fail("header", "qcow2 header length is out of range")
			return present, f
		}
		if extStart >= 105 {
			c, st := v.read(104, 1)
			switch st {
			case wait:
				return pending, nil
			case gone:
				f.fail("header", v.missing("qcow2 header"))
				return present, f
			}
			switch c[0] {
			case 0:
			case 1:
				f.compression = "zstd"
			default:
				f.fail("header", "qcow2 compression type is unknown")
			}
			if c[0] != 0 && incompat&qcow2IncompatCompress == 0 {
				f.fail("header", "qcow2 compression type is set without its feature bit")
			}
		} else if incompat&qcow2IncompatCompress != 0 {
			f.fail("header", "qcow2 compression type feature bit is set without the field")
		}
	}
	return qcow2Extensions(v, f, extStart, clusterSize)
}

// qcow2Extensions walks the header extensions between start and the end of
// the first cluster.
func qcow2Extensions(v *view, f *found, start, clusterSize int64) (status, *found) {
	end := min(clusterSize, qcow2ExtMax)
	if v.eof {
		end = min(end, v.size())
	}
	if end <= start {
		f.fail("header", "qcow2 header extensions are truncated")
		return present, f
	}
	b, st := v.read(start, end-start)
	switch st {
	case wait:
		return pending, nil
	case gone:
		f.fail("header", v.missing("qcow2 header extensions"))
		return present, f
	}
	for off := 0; ; {
		if off+8 > len(b) {
			switch end {
			case clusterSize:
				f.fail("header", "qcow2 header extensions overrun the first cluster")
			case qcow2ExtMax:
				f.fail("header", "qcow2 header extensions are too long to inspect")
			default:
				f.fail("header", "qcow2 header extensions are truncated")
			}
			return present, f
		}
		typ, n := be.Uint32(b[off:]), int64(be.Uint32(b[off+4:]))
		if typ == 0 {
			return present, f
		}
		if typ == qcow2ExtDataFile {
			f.fail("data_file", "qcow2 image names an external data file")
		}
		next := int64(off) + 8 + (n+7)&^7
		if next > clusterSize-start {
			f.fail("header", "qcow2 header extensions overrun the first cluster")
			return present, f
		}
		off = int(min(next, int64(len(b))+8))
	}
}
