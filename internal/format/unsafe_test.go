package format

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// verdict is the part of a Result the hand-built cases check.
type verdict struct {
	Format      string
	Formats     []string
	Subformat   string
	VirtualSize int64
	Safe        bool
	Failed      []string
}

func verdictOf(r Result) verdict {
	return verdict{r.Format, r.Formats, r.Subformat, r.VirtualSize, r.Safe, r.Failed}
}

type handCase struct {
	name   string
	stream sparse
	opts   Options
	want   verdict
	reason string // a substring Result.Reason must contain
}

func raw(b []byte) sparse { return sparse{size: int64(len(b)), pieces: []piece{{0, b}}} }

func withFooter(b []byte, size uint64) []byte {
	return cat(b, vhdFooterBytes(size, 2, ^uint64(0), "qem2"))
}

func iso(b []byte, blocks uint32) sparse {
	img := isoImage(blocks)
	copy(img, b)
	return raw(img)
}

func kdmv(capacity uint64, desc string) []byte {
	return vmdkSpec{capacity: capacity, descriptor: desc}.bytes()
}

const mib = 1 << 20

var handCases = []handCase{
	// Recognised and safe.
	{name: "qcow2 v3", stream: raw(qcow2Spec{size: 5 * mib}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", 5 * mib, true, nil}},
	{name: "qcow2 v2", stream: raw(qcow2Spec{version: 2, size: 7 * mib}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", 7 * mib, true, nil}},
	{name: "qcow2 v3 known features", stream: raw(qcow2Spec{size: mib, incompat: 0b1011, compression: 1}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, true, nil}},
	{name: "vmdk monolithicSparse", stream: raw(kdmv(2048, vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`))),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, true, nil}},
	{name: "vmdk footer", stream: raw(vmdkSpec{capacity: 0x8000, gd: vmdkGDAtEnd, footer: true, footerCapacity: 4096,
		descriptor: vmdkDescriptor("streamOptimized", `RW 4096 SPARSE "disk.vmdk"`)}.bytes()),
		want: verdict{"vmdk", []string{"vmdk"}, "streamOptimized", 2 * mib, true, nil}},
	{name: "vhd dynamic", stream: raw(vhdDynamic(16*63*512*40, "qemu")),
		want: verdict{"vhd", []string{"vhd"}, "dynamic", 16 * 63 * 512 * 40, true, nil}},
	{name: "vhd fixed", stream: raw(withFooter(make([]byte, 3*mib), 3*mib)),
		want: verdict{"vhd", []string{"vhd"}, "fixed", 3 * mib, true, nil}},
	{name: "vhdx", stream: vhdxImage(123*mib, false),
		want: verdict{"vhdx", []string{"vhdx"}, "", 123 * mib, true, nil}},
	{name: "vdi", stream: raw(pad(vdiHeader(3*mib+512), 4096)),
		want: verdict{"vdi", []string{"vdi"}, "dynamic", 3*mib + 512, true, nil}},
	{name: "iso", stream: iso(nil, 40),
		want: verdict{"iso", []string{"iso"}, "", 40 * 2048, true, nil}},
	{name: "luks", stream: raw(pad(luksHeader(1, 8), 8*512+3000)),
		want: verdict{"luks", []string{"luks"}, "luks1", 3072, true, nil}},
	{name: "ploop", stream: raw(pad(ploopHeader(9*mib), 4096)),
		want: verdict{"ploop", []string{"ploop"}, "", 9 * mib, true, nil}},
	{name: "gpt", stream: raw(gptDisk(mib)),
		want: verdict{"gpt", []string{"gpt"}, "gpt", mib, true, nil}},
	{name: "mbr", stream: raw(pad(mbrSector(mbrPartition{boot: 0x80, typ: 0x83, startLBA: 2048, sectors: 100}), 8192)),
		want: verdict{"gpt", []string{"gpt"}, "mbr", 8192, true, nil}},
	{name: "FAT boot sector is not a partition table", stream: raw(func() []byte {
		b := mbrSector()
		b[0x10], b[0x15] = 2, 0xf8
		return pad(b, 4096)
	}()), want: verdict{"raw", []string{"raw"}, "", 4096, true, nil}},
	{name: "text is raw", stream: raw([]byte("just some text\nwithout a create type\n")),
		want: verdict{"raw", []string{"raw"}, "", 37, true, nil}},
	{name: "empty", stream: raw(nil), want: verdict{"raw", []string{"raw"}, "", 0, true, nil}},

	// Hybrids Glance accepts.
	{name: "iso with partition table", stream: iso(mbrSector(mbrPartition{boot: 0x80, typ: 0x17, startLBA: 0, sectors: 160}), 40),
		want: verdict{"iso", []string{"gpt", "iso"}, "", 40 * 2048, true, nil}},
	{name: "fixed vhd of a gpt disk", stream: raw(withFooter(gptDisk(mib), mib)),
		want: verdict{"vhd", []string{"gpt", "vhd"}, "fixed", mib, true, nil}},
	{name: "fixed vhd of a disk with a bad mbr", stream: raw(withFooter(pad(mbrSector(mbrPartition{boot: 1, typ: 0x83, startLBA: 1, sectors: 10}), mib), mib)),
		want: verdict{"vhd", []string{"gpt", "vhd"}, "fixed", mib, false, []string{"mbr"}}, reason: "boot flag"},
	{name: "fixed vhd of a disk with a bad mbr non-fatal", stream: raw(withFooter(pad(mbrSector(mbrPartition{boot: 1, typ: 0x83, startLBA: 1, sectors: 10}), mib), mib)),
		opts: Options{GPTSafetyChecksNonfatal: []string{"mbr"}},
		want: verdict{"vhd", []string{"gpt", "vhd"}, "fixed", mib, true, []string{"mbr"}}, reason: "non-fatal"},
	{name: "fixed vhd of an iso", stream: raw(withFooter(isoImage(512), mib)),
		want: verdict{"vhd", []string{"iso", "vhd"}, "fixed", mib, true, nil}},

	// qcow2.
	{name: "qcow2 backing file", stream: raw(qcow2Spec{size: mib, backing: 512}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"backing_file"}}, reason: "backing file"},
	{name: "qcow2 data file bit", stream: raw(qcow2Spec{size: mib, incompat: qcow2IncompatDataFile}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"data_file"}}, reason: "external data file"},
	{name: "qcow2 data file extension", stream: raw(qcow2Spec{size: mib, exts: []qcow2Ext{{qcow2ExtDataFile, []byte("/etc/shadow")}}}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"data_file"}}, reason: "external data file"},
	{name: "qcow2 data file extension in v2", stream: raw(qcow2Spec{version: 2, size: mib, exts: []qcow2Ext{{0xe2792aca, []byte("raw")}, {qcow2ExtDataFile, []byte("x")}}}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"data_file"}}},
	{name: "qcow2 unknown feature", stream: raw(qcow2Spec{size: mib, incompat: 1 << 5}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"unknown_features"}}, reason: "unknown incompatible"},
	{name: "qcow2 extended L2 is unknown to Glance", stream: raw(qcow2Spec{size: mib, incompat: 1 << 4}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"unknown_features"}}},
	{name: "qcow2 high feature bit", stream: raw(qcow2Spec{size: mib, incompat: 1 << 63}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"unknown_features"}}},
	{name: "qcow version 1", stream: raw(qcow2Spec{version: 1, size: mib}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"unknown_features"}}, reason: "version 1"},
	{name: "qcow2 version 4", stream: raw(qcow2Spec{version: 4, size: mib}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"unknown_features"}}},
	{name: "qcow2 huge clusters", stream: raw(qcow2Spec{size: mib, clusterBits: 31}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"header"}}, reason: "cluster size"},
	{name: "qcow2 tiny clusters", stream: raw(qcow2Spec{size: mib, clusterBits: 8}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"header"}}},
	{name: "qcow2 huge L1 table", stream: raw(qcow2Spec{size: mib, l1Size: 1<<32 - 1}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"header"}}, reason: "L1"},
	{name: "qcow2 huge virtual size", stream: raw(qcow2Spec{size: 1<<64 - 1}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", 0, false, []string{"header"}}},
	{name: "qcow2 huge header length", stream: raw(qcow2Spec{size: mib, headerLen: 1<<32 - 1}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"header"}}},
	{name: "qcow2 huge extension", stream: raw(func() []byte {
		b := qcow2Spec{size: mib}.bytes()
		put32be(b, 112, 0x12345678)
		put32be(b, 116, 1<<32-1)
		return b
	}()), want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"header"}}, reason: "overrun"},
	{name: "qcow2 unknown compression", stream: raw(qcow2Spec{size: mib, incompat: qcow2IncompatCompress, compression: 7}.bytes()),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"header"}}},
	{name: "qcow2 truncated", stream: raw(qcow2Spec{size: mib}.bytes()[:50]),
		want: verdict{"qcow2", []string{"qcow2"}, "", 0, false, []string{"header"}}, reason: "truncated"},
	{name: "qcow2 v3 truncated", stream: raw(qcow2Spec{size: mib}.bytes()[:90]),
		want: verdict{"qcow2", []string{"qcow2"}, "", mib, false, []string{"header"}}, reason: "truncated"},

	// VMDK.
	{name: "vmdk descriptor file naming a host file", stream: raw([]byte(vmdkDescriptor("monolithicFlat", `RW 2048 FLAT "/etc/passwd" 0`))),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicFlat", 0, false, []string{"descriptor", "descriptor", "extents"}}},
	{name: "vmdk descriptor file naming a neighbour", stream: raw([]byte(vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "other-image"`))),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", 0, false, []string{"extents"}}, reason: "separate extent files"},
	{name: "vmdk descriptor file padded with NULs", stream: raw(pad([]byte(vmdkDescriptor("twoGbMaxExtentSparse", `RW 2048 SPARSE "x-s001.vmdk"`)), 64<<10)),
		want: verdict{"vmdk", []string{"vmdk"}, "twoGbMaxExtentSparse", 0, false, []string{"descriptor", "extents"}}},
	{name: "vmdk zero capacity defers to extents", stream: raw(kdmv(0, vmdkDescriptor("monolithicSparse", `RW 2048 FLAT "/etc/passwd" 0`))),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", 0, false, []string{"extents", "descriptor"}}},
	{name: "vmdk extent with path", stream: raw(kdmv(2048, vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "../disk.vmdk"`))),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, false, []string{"descriptor"}}, reason: "path"},
	{name: "vmdk two extents", stream: raw(kdmv(2048, vmdkDescriptor("monolithicSparse", `RW 1024 SPARSE "disk.vmdk"`, `RW 1024 FLAT "other" 0`))),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, false, []string{"extents"}}},
	{name: "vmdk flat extent", stream: raw(kdmv(2048, vmdkDescriptor("monolithicSparse", `RW 2048 FLAT "disk.vmdk" 0`))),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, false, []string{"extents"}}},
	{name: "vmdk no extents", stream: raw(kdmv(2048, vmdkDescriptor("monolithicSparse"))),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, false, []string{"descriptor"}}},
	{name: "vmdk parent", stream: raw(kdmv(2048, vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`)+`parentFileNameHint="/etc/passwd"`+"\n")),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, false, []string{"parent"}}, reason: "parent"},
	{name: "vmdk parent past the descriptor", stream: raw(func() []byte {
		desc := vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`)
		desc += strings.Repeat("#", 512-len(desc)-1) + "\n"
		b := vmdkSpec{capacity: 2048, descSize: 1, descriptor: desc + `parentFileNameHint="/etc/passwd"`}.bytes()
		return b
	}()), want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, false, []string{"parent"}}},
	{name: "vmdk createType not allowed", stream: raw(kdmv(2048, vmdkDescriptor("monolithicFlat", `RW 2048 SPARSE "disk.vmdk"`))),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicFlat", mib, false, []string{"descriptor"}}, reason: `"monolithicFlat" is not allowed`},
	{name: "vmdk type outside configured list", stream: raw(kdmv(2048, vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`))),
		opts: Options{VMDKAllowedTypes: []string{"streamOptimized"}},
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, false, []string{"descriptor"}}},
	{name: "vmdk with empty allowed list", stream: raw(kdmv(2048, vmdkDescriptor("streamOptimized", `RW 2048 SPARSE "disk.vmdk"`))),
		opts: Options{VMDKAllowedTypes: []string{}},
		want: verdict{"vmdk", []string{"vmdk"}, "streamOptimized", mib, false, []string{"descriptor"}}},
	{name: "vmdk unknown line", stream: raw(kdmv(2048, vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`)+"include /etc/passwd\n")),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, false, []string{"descriptor"}}, reason: "not understood"},
	{name: "vmdk non-ASCII descriptor", stream: raw(kdmv(2048, vmdkDescriptor("monolithicSparse", "RW 2048 SPARSE \"d\xc3\xa9.vmdk\""))),
		want: verdict{"vmdk", []string{"vmdk"}, "", mib, false, []string{"descriptor"}}},
	{name: "vmdk huge descriptor", stream: raw(vmdkSpec{capacity: 2048, descSize: 1 << 40, descriptor: "x"}.bytes()),
		want: verdict{"vmdk", []string{"vmdk"}, "", mib, false, []string{"descriptor"}}, reason: "size"},
	{name: "vmdk descriptor elsewhere", stream: raw(vmdkSpec{capacity: 2048, descOffset: 9, descriptor: "x"}.bytes()),
		want: verdict{"vmdk", []string{"vmdk"}, "", mib, false, []string{"descriptor"}}},
	{name: "vmdk version 9", stream: raw(vmdkSpec{version: 9, capacity: 2048, descriptor: vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "d"`)}.bytes()),
		want: verdict{"vmdk", []string{"vmdk"}, "monolithicSparse", mib, false, []string{"header"}}},
	{name: "vmdk footer missing", stream: raw(vmdkSpec{capacity: 2048, gd: vmdkGDAtEnd, descriptor: vmdkDescriptor("streamOptimized", `RW 2048 SPARSE "d"`)}.bytes()),
		want: verdict{"vmdk", []string{"vmdk"}, "streamOptimized", mib, false, []string{"footer"}}},
	{name: "vmdk footer with zero capacity", stream: raw(vmdkSpec{capacity: 2048, gd: vmdkGDAtEnd, footer: true,
		descriptor: vmdkDescriptor("streamOptimized", `RW 2048 SPARSE "d"`)}.bytes()),
		want: verdict{"vmdk", []string{"vmdk"}, "streamOptimized", 0, false, []string{"header"}}},
	{name: "vmdk truncated header", stream: raw([]byte("KDMV\x01\x00\x00\x00")),
		want: verdict{"vmdk", []string{"vmdk"}, "", 0, false, []string{"header"}}, reason: "truncated"},
	{name: "vmdk truncated descriptor", stream: raw(kdmv(2048, "")[:600]),
		want: verdict{"vmdk", []string{"vmdk"}, "", mib, false, []string{"descriptor"}}, reason: "truncated"},
	{name: "vmdk COWD", stream: raw(pad([]byte("COWD\x01\x00\x00\x00"), 2048)),
		want: verdict{"vmdk", []string{"vmdk"}, "vmfsSparse", 0, false, []string{"descriptor"}}},

	// VHD.
	{name: "vhd bad checksum", stream: raw(func() []byte {
		b := vhdDynamic(mib, "qemu")
		b[100]++
		return b
	}()), want: verdict{"vhd", []string{"vhd"}, "dynamic", 0, false, []string{"header"}}, reason: "checksum"},
	{name: "vhd differencing", stream: raw(func() []byte {
		b := vhdDynamic(16*63*512, "qemu")
		put32be(b, 60, 4)
		vhdChecksum(b[:512])
		return b
	}()), want: verdict{"vhd", []string{"vhd"}, "differencing", 16 * 63 * 512, false, []string{"parent"}}},
	{name: "vhd dynamic header far away", stream: raw(func() []byte {
		b := vhdDynamic(16*63*512, "qemu")
		put64be(b, 16, 1<<61)
		vhdChecksum(b[:512])
		return b
	}()), want: verdict{"vhd", []string{"vhd"}, "dynamic", 16 * 63 * 512, false, []string{"header"}}, reason: "truncated"},
	{name: "vhd bad block size", stream: raw(func() []byte {
		b := vhdDynamic(16*63*512, "qemu")
		put32be(b, 512+32, 3000)
		return b
	}()), want: verdict{"vhd", []string{"vhd"}, "dynamic", 16 * 63 * 512, false, []string{"header"}}},
	{name: "vhd too large", stream: raw(vhdDynamic(3<<40, "win ")),
		want: verdict{"vhd", []string{"vhd"}, "dynamic", 0, false, []string{"header"}}, reason: "2040 GiB"},
	{name: "vhd truncated", stream: raw(vhdDynamic(mib, "qemu")[:300]),
		want: verdict{"vhd", []string{"vhd"}, "dynamic", 0, false, []string{"header"}}, reason: "truncated"},

	// VHDX.
	{name: "vhdx parent", stream: vhdxImage(mib, true),
		want: verdict{"vhdx", []string{"vhdx"}, "", mib, false, []string{"parent"}}},
	{name: "vhdx absurd region count", stream: func() sparse {
		s := vhdxImage(mib, false)
		put32le(s.pieces[1].data, 8, 1<<31)
		return s
	}(), want: verdict{"vhdx", []string{"vhdx"}, "", 0, false, []string{"header"}}, reason: "count"},
	{name: "vhdx absurd metadata count", stream: func() sparse {
		s := vhdxImage(mib, false)
		put16le(s.pieces[2].data, 10, 65535)
		return s
	}(), want: verdict{"vhdx", []string{"vhdx"}, "", 0, false, []string{"header"}}, reason: "count"},
	{name: "vhdx metadata far away", stream: func() sparse {
		s := vhdxImage(mib, false)
		put64le(s.pieces[1].data, 64, 1<<50)
		return s
	}(), want: verdict{"vhdx", []string{"vhdx"}, "", 0, false, []string{"header"}}, reason: "truncated"},
	{name: "vhdx metadata behind", stream: func() sparse {
		s := vhdxImage(mib, false)
		put64le(s.pieces[1].data, 64, 4096)
		return s
	}(), want: verdict{"vhdx", []string{"vhdx"}, "", 0, false, []string{"header"}}, reason: "metadata table signature"},
	{name: "vhdx absurd size", stream: vhdxImage(1<<62, false),
		want: verdict{"vhdx", []string{"vhdx"}, "", 0, false, []string{"header"}}},
	{name: "vhdx no region table", stream: raw(pad([]byte("vhdxfile"), 300<<10)),
		want: verdict{"vhdx", []string{"vhdx"}, "", 0, false, []string{"header"}}, reason: "signature"},
	{name: "vhdx truncated", stream: raw(pad([]byte("vhdxfile"), 100)),
		want: verdict{"vhdx", []string{"vhdx"}, "", 0, false, []string{"header"}}, reason: "truncated"},

	// VDI, LUKS, ploop, QED.
	{name: "vdi parent", stream: raw(func() []byte {
		b := pad(vdiHeader(mib), 2048)
		put32le(b, 0x4c, 4)
		b[0x1b8] = 1
		return b
	}()), want: verdict{"vdi", []string{"vdi"}, "differencing", mib, false, []string{"parent"}}},
	{name: "vdi absurd size", stream: raw(func() []byte {
		b := pad(vdiHeader(mib), 2048)
		put64le(b, 0x170, 1<<60)
		return b
	}()), want: verdict{"vdi", []string{"vdi"}, "dynamic", 0, false, []string{"header"}}},
	{name: "vdi truncated", stream: raw(vdiHeader(mib)[:0x50]),
		want: verdict{"vdi", []string{"vdi"}, "", 0, false, []string{"header"}}, reason: "truncated"},
	{name: "luks2", stream: raw(pad(luksHeader(2, 0), 16<<10)),
		want: verdict{"luks", []string{"luks"}, "luks2", 0, false, []string{"version"}}, reason: "version 2"},
	{name: "luks payload past the end", stream: raw(pad(luksHeader(1, 4096), 8192)),
		want: verdict{"luks", []string{"luks"}, "luks1", 0, false, []string{"header"}}},
	{name: "luks truncated", stream: raw(luksHeader(1, 8)[:100]),
		want: verdict{"luks", []string{"luks"}, "luks1", 0, false, []string{"header"}}, reason: "truncated"},
	{name: "ploop zero cluster", stream: raw(func() []byte {
		b := pad(ploopHeader(mib), 4096)
		put32le(b, 28, 0)
		return b
	}()), want: verdict{"ploop", []string{"ploop"}, "", 0, false, []string{"header"}}},
	{name: "qed", stream: raw(pad(qedHeader(5*mib), 4096)),
		want: verdict{"qed", []string{"qed"}, "", 5 * mib, false, []string{"banned"}}},

	// Partition tables.
	{name: "mbr bad boot flag", stream: raw(pad(mbrSector(mbrPartition{boot: 0x12, typ: 0x83, startLBA: 1, sectors: 10}), 4096)),
		want: verdict{"gpt", []string{"gpt"}, "mbr", 4096, false, []string{"mbr"}}, reason: "boot flag"},
	{name: "mbr bad boot flag non-fatal", stream: raw(pad(mbrSector(mbrPartition{boot: 0x12, typ: 0x83, startLBA: 1, sectors: 10}), 4096)),
		opts: Options{GPTSafetyChecksNonfatal: []string{"mbr"}},
		want: verdict{"gpt", []string{"gpt"}, "mbr", 4096, true, []string{"mbr"}}, reason: "non-fatal"},
	{name: "mbr without partitions", stream: raw(pad(mbrSector(), 4096)),
		want: verdict{"gpt", []string{"gpt"}, "mbr", 4096, false, []string{"mbr"}}},
	{name: "protective mbr with extra partitions", stream: raw(func() []byte {
		b := gptDisk(mib)
		copy(b, mbrSector(mbrPartition{typ: 0xee, chs: [3]byte{0, 2, 0}, startLBA: 1, sectors: 100}, mbrPartition{typ: 0x83, startLBA: 200, sectors: 10}))
		return b
	}()), want: verdict{"gpt", []string{"gpt"}, "gpt", mib, false, []string{"mbr"}}},
	{name: "protective mbr bad start", stream: raw(func() []byte {
		b := gptDisk(mib)
		copy(b, mbrSector(mbrPartition{typ: 0xee, chs: [3]byte{0, 2, 0}, startLBA: 7, sectors: 100}))
		return b
	}()), want: verdict{"gpt", []string{"gpt"}, "gpt", mib, false, []string{"mbr"}}},
	{name: "protective mbr without gpt", stream: raw(pad(mbrSector(mbrPartition{typ: 0xee, chs: [3]byte{0, 2, 0}, startLBA: 1, sectors: 100}), 8192)),
		want: verdict{"gpt", []string{"gpt"}, "gpt", 8192, false, []string{"gpt"}}},
	{name: "protective mbr without gpt non-fatal", stream: raw(pad(mbrSector(mbrPartition{typ: 0xee, chs: [3]byte{0, 2, 0}, startLBA: 1, sectors: 100}), 8192)),
		opts: Options{GPTSafetyChecksNonfatal: []string{"mbr", "gpt"}},
		want: verdict{"gpt", []string{"gpt"}, "gpt", 8192, true, []string{"gpt"}}},
	{name: "gpt huge entry array", stream: raw(func() []byte {
		b := gptDisk(mib)
		put32le(b, 512+80, 1<<31)
		put32le(b, 512+84, 1<<31)
		return b
	}()), want: verdict{"gpt", []string{"gpt"}, "gpt", mib, false, []string{"gpt"}}},

	// Polyglots.
	{name: "iso and qcow2", stream: iso(qcow2Spec{size: mib}.bytes(), 40),
		want: verdict{"", []string{"iso", "qcow2"}, "", 0, false, []string{"multiple_formats"}}, reason: "Multiple formats detected: iso,qcow2"},
	{name: "iso and vmdk", stream: iso(kdmv(2048, vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "d"`)), 40),
		want: verdict{"", []string{"iso", "vmdk"}, "", 0, false, []string{"multiple_formats"}}},
	{name: "iso and luks", stream: iso(luksHeader(1, 64), 40),
		want: verdict{"", []string{"iso", "luks"}, "", 0, false, []string{"multiple_formats"}}},
	{name: "qcow2 with a vhd footer", stream: raw(withFooter(pad(qcow2Spec{size: mib}.bytes(), 8192), mib)),
		want: verdict{"", []string{"qcow2", "vhd"}, "", 0, false, []string{"multiple_formats"}}},
	{name: "vdi and mbr", stream: raw(func() []byte {
		b := pad(vdiHeader(mib), 2048)
		copy(b[446:], mbrSector(mbrPartition{typ: 0x83, startLBA: 1, sectors: 1})[446:])
		return b
	}()), want: verdict{"", []string{"gpt", "vdi"}, "", 0, false, []string{"multiple_formats"}}},
	{name: "iso, gpt and qcow2", stream: iso(func() []byte {
		b := qcow2Spec{size: mib}.bytes()[:512]
		copy(b[446:], mbrSector(mbrPartition{typ: 0x83, startLBA: 1, sectors: 1})[446:])
		return b
	}(), 40), want: verdict{"", []string{"gpt", "iso", "qcow2"}, "", 0, false, []string{"multiple_formats"}}},
}

func TestHandBuilt(t *testing.T) {
	for _, c := range handCases {
		t.Run(c.name, func(t *testing.T) {
			buf := make([]byte, 1<<20)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			in := NewInspector(c.opts)
			writeSparse(c.stream, buf, func(p []byte) { in.Write(p) })
			got := in.Result()
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*MaxBuffered {
				t.Errorf("inspection allocated %d bytes, want at most %d", alloc, 2*MaxBuffered)
			}
			if diff := cmp.Diff(c.want, verdictOf(got)); diff != "" {
				t.Errorf("Result mismatch (-want +got):\n%s\nreason: %s", diff, got.Reason)
			}
			if got.Size != c.stream.size {
				t.Errorf("Size = %d, want %d", got.Size, c.stream.size)
			}
			if c.reason != "" && !strings.Contains(got.Reason, c.reason) {
				t.Errorf("Reason = %q, want it to contain %q", got.Reason, c.reason)
			}
			if !got.Safe && got.Reason == "" {
				t.Errorf("unsafe result without a reason")
			}
			// The verdict must not depend on how the stream is cut.
			for _, chunk := range []int{1, 7, 4096, 64 << 10} {
				if chunk == 1 && c.stream.size > 1<<20 {
					continue
				}
				in := NewInspector(c.opts)
				c.stream.writeTo(in, chunk)
				if diff := cmp.Diff(got, in.Result()); diff != "" {
					t.Errorf("%d-byte chunks: result differs (-1 MiB chunks +%d-byte chunks):\n%s", chunk, chunk, diff)
				}
			}
		})
	}
}

// TestBoundedMemory feeds streams whose headers claim huge structures and
// checks that the inspector allocates no more than its budget.
func TestBoundedMemory(t *testing.T) {
	longText := bytes.Repeat([]byte("createType=\"monolithicFlat\" "), 1<<16)
	cases := []struct {
		name   string
		stream sparse
	}{
		{"text without end", raw(longText)},
		{"vmdk largest descriptor", raw(pad(vmdkSpec{capacity: 2048, descSize: 2048, descriptor: string(longText[:1<<20])}.bytes(), 2<<20))},
		{"vhdx huge counts far away", func() sparse {
			s := vhdxImage(mib, false)
			put64le(s.pieces[1].data, 64, 40<<20)
			s.pieces[2].off = 40 << 20
			put16le(s.pieces[2].data, 10, 2047)
			put32le(s.pieces[2].data, 80, 1<<31)
			s.size = 64 << 20
			return s
		}()},
		{"qcow2 big clusters", raw(pad(qcow2Spec{size: 1 << 40, clusterBits: 21}.bytes(), 4<<20))},
		{"iso and everything", iso(pad(qcow2Spec{size: mib}.bytes(), 512), 4096)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chunk := make([]byte, 1<<20)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			in := NewInspector(Options{})
			maxHead, maxWins := 0, 0
			writeSparse(c.stream, chunk, func(p []byte) {
				in.Write(p)
				maxHead = max(maxHead, cap(in.head))
				maxWins = max(maxWins, in.winBytes)
			})
			r := in.Result()
			runtime.ReadMemStats(&after)
			if maxHead > headMax {
				t.Errorf("head capacity reached %d, want at most %d", maxHead, headMax)
			}
			if maxWins > windowsMax {
				t.Errorf("windows held %d bytes, want at most %d", maxWins, windowsMax)
			}
			// The head may be reallocated as it grows: count it twice.
			const slack = 64 << 10
			if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(2*MaxBuffered+slack); got > limit {
				t.Errorf("inspection allocated %d bytes, want at most %d", got, limit)
			}
			if r.Size != c.stream.size {
				t.Errorf("Size = %d, want %d", r.Size, c.stream.size)
			}
		})
	}
}

// writeSparse feeds s through write in chunks the size of buf.
func writeSparse(s sparse, buf []byte, write func([]byte)) {
	for off := int64(0); off < s.size; {
		n := min(int64(len(buf)), s.size-off)
		b := buf[:n]
		clear(b)
		for _, p := range s.pieces {
			lo, hi := max(p.off, off), min(p.off+int64(len(p.data)), off+n)
			if lo < hi {
				copy(b[lo-off:hi-off], p.data[lo-p.off:hi-p.off])
			}
		}
		write(b)
		off += n
	}
}

func TestMatches(t *testing.T) {
	r := func(format string) Result { return Result{Format: format, Formats: []string{format}, Safe: true} }
	ambiguous := Result{Formats: []string{"iso", "qcow2"}}
	cases := []struct {
		declared string
		r        Result
		want     bool
		refusal  string
	}{
		{"qcow2", r("qcow2"), true, ""},
		{"iso", r("iso"), true, ""},
		{"raw", r("raw"), true, ""},
		{"raw", r("qcow2"), true, ""}, // Glance lets data declared raw through
		{"raw", r("gpt"), true, ""},
		{"qcow2", r("raw"), false, "Image disk_format qcow2 does not match stream data raw"},
		{"vmdk", r("qcow2"), false, "Image disk_format vmdk does not match stream data qcow2"},
		{"ami", r("raw"), true, ""},
		{"aki", r("raw"), true, ""},
		{"ari", r("qcow2"), false, "Image disk_format ari does not match stream data qcow2"},
		{"ploop", r("raw"), true, ""},
		{"ploop", r("ploop"), true, ""},
		{"ami", r("ploop"), true, ""},
		{"qcow2", r("ploop"), false, "Image disk_format qcow2 does not match stream data ploop"},
		{"gpt", r("iso"), false, "Image disk_format gpt does not match stream data iso"},
		{"raw", ambiguous, false, "Multiple formats detected: iso,qcow2"},
		{"iso", ambiguous, false, "Multiple formats detected: iso,qcow2"},
		{"qcow2", Result{Format: "qcow2", Formats: []string{"qcow2"}}, true, "Image failed safety checks"},
	}
	for _, c := range cases {
		t.Run(c.declared+"/"+c.r.Format, func(t *testing.T) {
			if got := Matches(c.declared, c.r); got != c.want {
				t.Errorf("Matches(%q, %v) = %v, want %v", c.declared, c.r.Formats, got, c.want)
			}
			if got := Refusal(c.declared, c.r); got != c.refusal {
				t.Errorf("Refusal(%q, %v) = %q, want %q", c.declared, c.r.Formats, got, c.refusal)
			}
		})
	}
}

func TestVirtualSizeFor(t *testing.T) {
	q := Result{Format: "qcow2", Formats: []string{"qcow2"}, VirtualSize: 10 << 30, Size: 200 << 10, Safe: true}
	raw := Result{Format: "raw", Formats: []string{"raw"}, VirtualSize: 5000, Size: 5000, Safe: true}
	cases := []struct {
		declared string
		r        Result
		want     int64
	}{
		{"qcow2", q, 10 << 30},
		{"raw", q, 200 << 10},
		{"vmdk", q, 0},
		{"raw", raw, 5000},
		{"ami", raw, 0},
	}
	for _, c := range cases {
		if got := VirtualSizeFor(c.declared, c.r); got != c.want {
			t.Errorf("VirtualSizeFor(%q, %s) = %d, want %d", c.declared, c.r.Format, got, c.want)
		}
	}
}

// TestResultEarly checks that Result describes the stream seen so far.
func TestResultEarly(t *testing.T) {
	in := NewInspector(Options{})
	if r := in.Result(); r.Format != "raw" || !r.Safe || r.Size != 0 {
		t.Errorf("before any data: got %+v, want safe raw of size 0", r)
	}
	b := qcow2Spec{size: 3 * mib, backing: 512}.bytes()
	in.Write(b[:40])
	r := in.Result()
	if r.Format != "qcow2" || r.Safe || !slices0(r.Failed, "header") || !strings.Contains(r.Reason, "truncated") {
		t.Errorf("after 40 bytes: got %+v, want unsafe truncated qcow2", r)
	}
	in.Write(b[40:])
	in.Write(make([]byte, 1<<20))
	r = in.Result()
	if r.Format != "qcow2" || r.VirtualSize != 3*mib || r.Safe || !slices0(r.Failed, "backing_file") {
		t.Errorf("after the header: got %+v, want unsafe qcow2 with a backing file", r)
	}
	if r.Size != int64(len(b))+1<<20 {
		t.Errorf("Size = %d, want %d", r.Size, len(b)+1<<20)
	}
}

func slices0(got []string, want ...string) bool { return cmp.Equal(got, want) }
