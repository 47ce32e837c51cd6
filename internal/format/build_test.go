package format

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// Hand-built images: the smallest byte layouts each format needs, for tests
// that must not depend on qemu-img and for fuzz seeds.

// piece is data at an offset of a stream; the gaps are zeros.
type piece struct {
	off  int64
	data []byte
}

// sparse is a stream of the given size made of pieces over zeros.
type sparse struct {
	size   int64
	pieces []piece
}

// bytes materialises the stream.
func (s sparse) bytes() []byte {
	b := make([]byte, s.size)
	for _, p := range s.pieces {
		copy(b[p.off:], p.data)
	}
	return b
}

// writeTo feeds the stream to w in chunks of at most chunk bytes without
// holding it in memory.
func (s sparse) writeTo(w io.Writer, chunk int) {
	buf := make([]byte, chunk)
	for off := int64(0); off < s.size; {
		n := min(int64(chunk), s.size-off)
		b := buf[:n]
		clear(b)
		for _, p := range s.pieces {
			lo, hi := max(p.off, off), min(p.off+int64(len(p.data)), off+n)
			if lo < hi {
				copy(b[lo-off:hi-off], p.data[lo-p.off:hi-p.off])
			}
		}
		w.Write(b)
		off += n
	}
}

func put16be(b []byte, off int, v uint16) { binary.BigEndian.PutUint16(b[off:], v) }
func put32be(b []byte, off int, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }
func put64be(b []byte, off int, v uint64) { binary.BigEndian.PutUint64(b[off:], v) }
func put16le(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32le(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func put64le(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }

// qcow2Spec describes a qcow2 header.
type qcow2Spec struct {
	version     uint32
	size        uint64
	clusterBits uint32
	backing     uint64 // backing file offset
	crypt       uint32
	l1Size      uint32
	incompat    uint64
	headerLen   uint32 // version 3; 0 means 112 with a compression type
	compression byte
	exts        []qcow2Ext
}

type qcow2Ext struct {
	typ  uint32
	data []byte
}

func (s qcow2Spec) bytes() []byte {
	if s.version == 0 {
		s.version = 3
	}
	if s.clusterBits == 0 {
		s.clusterBits = 16
	}
	b := make([]byte, 4096)
	copy(b, "QFI\xfb")
	put32be(b, 4, s.version)
	put64be(b, 8, s.backing)
	put32be(b, 20, s.clusterBits)
	put64be(b, 24, s.size)
	put32be(b, 32, s.crypt)
	put32be(b, 36, s.l1Size)
	put64be(b, 40, 3<<s.clusterBits)
	put64be(b, 48, 1<<s.clusterBits)
	put32be(b, 56, 1)
	off := 72
	if s.version == 3 {
		if s.headerLen == 0 {
			s.headerLen = 112
		}
		put64be(b, 72, s.incompat)
		put32be(b, 96, 4)
		put32be(b, 100, s.headerLen)
		if s.headerLen > 104 {
			b[104] = s.compression
		}
		off = int(s.headerLen)
	}
	for _, e := range s.exts {
		put32be(b, off, e.typ)
		put32be(b, off+4, uint32(len(e.data)))
		copy(b[off+8:], e.data)
		off += 8 + (len(e.data)+7)&^7
	}
	return b
}

// vmdkSpec describes a hosted sparse VMDK with an embedded descriptor.
type vmdkSpec struct {
	version    uint32
	capacity   uint64 // sectors
	descOffset uint64
	descSize   uint64
	gd         uint64
	descriptor string
	// footer appends a footer marker, footer and end-of-stream marker
	// (with footerCapacity in the footer).
	footer         bool
	footerCapacity uint64
}

func vmdkDescriptor(createType string, extents ...string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=%q\n\n# Extent description\n", createType)
	for _, e := range extents {
		b.WriteString(e + "\n")
	}
	b.WriteString("\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n")
	return b.String()
}

func vmdkHeaderBytes(s vmdkSpec, capacity uint64, gd uint64) []byte {
	h := make([]byte, 512)
	copy(h, "KDMV")
	put32le(h, 4, s.version)
	put32le(h, 8, 3)
	put64le(h, 12, capacity)
	put64le(h, 20, 128)
	put64le(h, 28, s.descOffset)
	put64le(h, 36, s.descSize)
	put32le(h, 44, 512)
	put64le(h, 48, 21)
	put64le(h, 56, gd)
	put64le(h, 64, 128)
	h[73], h[74], h[75], h[76] = '\n', ' ', '\r', '\n'
	return h
}

func (s vmdkSpec) bytes() []byte {
	if s.version == 0 {
		s.version = 1
	}
	if s.descOffset == 0 {
		s.descOffset = 1
	}
	if s.descSize == 0 {
		s.descSize = 20
	}
	if s.gd == 0 {
		s.gd = 42
	}
	size := 512 + 20*512 + 4096
	b := make([]byte, size)
	copy(b, vmdkHeaderBytes(s, s.capacity, s.gd))
	copy(b[512:512+20*512], s.descriptor)
	if s.footer {
		marker := make([]byte, 512)
		put32le(marker, 12, 3)
		b = append(b, marker...)
		b = append(b, vmdkHeaderBytes(s, s.footerCapacity, 42)...)
		b = append(b, make([]byte, 512)...)
	}
	return b
}

// vhdFooterBytes is a VHD footer for a disk of size bytes.
func vhdFooterBytes(size uint64, diskType uint32, dataOffset uint64, creator string) []byte {
	f := make([]byte, 512)
	copy(f, "conectix")
	put32be(f, 8, 2)
	put32be(f, 12, 0x10000)
	put64be(f, 16, dataOffset)
	copy(f[28:32], creator)
	copy(f[36:40], "Wi2k")
	put64be(f, 40, size)
	put64be(f, 48, size)
	// A geometry that covers size exactly for multiples of 16*63 sectors.
	sectors := size / 512
	put16be(f, 56, uint16(min(sectors/(16*63), 65535)))
	f[58], f[59] = 16, 63
	put32be(f, 60, diskType)
	vhdChecksum(f)
	return f
}

func vhdChecksum(f []byte) {
	put32be(f, 64, 0)
	var sum uint32
	for _, c := range f {
		sum += uint32(c)
	}
	put32be(f, 64, ^sum)
}

// vhdDynamic is a dynamic VHD: footer copy, dynamic header, block table,
// footer.
func vhdDynamic(size uint64, creator string) []byte {
	blocks := uint32((size + 2<<20 - 1) / (2 << 20))
	foot := vhdFooterBytes(size, 3, 512, creator)
	h := make([]byte, 1024)
	copy(h, "cxsparse")
	put64be(h, 8, ^uint64(0))
	put64be(h, 16, 1536)
	put32be(h, 24, 0x10000)
	put32be(h, 28, blocks)
	put32be(h, 32, 2<<20)
	bat := bytes.Repeat([]byte{0xff}, int(blocks*4+511)&^511)
	out := append(append(append([]byte{}, foot...), h...), bat...)
	return append(out, foot...)
}

// vhdxImage lays out a VHDX: identifier, region table, metadata table with
// a virtual disk size and file parameters item.
func vhdxImage(size uint64, hasParent bool) sparse {
	const meta = 1 << 20
	rt := make([]byte, 64<<10)
	copy(rt, "regi")
	put32le(rt, 8, 2)
	copy(rt[16:], guid("2DC27766-F623-4200-9D64-115E9BFD4A08")) // BAT
	put64le(rt, 32, 2<<20)
	put32le(rt, 40, 1<<20)
	copy(rt[48:], vhdxMetadataRegion)
	put64le(rt, 64, meta)
	put32le(rt, 72, 1<<20)
	put32le(rt, 76, 1)
	mt := make([]byte, 64<<10+16)
	copy(mt, "metadata")
	put16le(mt, 10, 2)
	copy(mt[32:], vhdxFileParams)
	put32le(mt, 48, 64<<10)
	put32le(mt, 52, 8)
	copy(mt[64:], vhdxVirtualSize)
	put32le(mt, 80, 64<<10+8)
	put32le(mt, 84, 8)
	put32le(mt, 64<<10, 32<<20)
	if hasParent {
		put32le(mt, 64<<10+4, 2)
	}
	put64le(mt, 64<<10+8, size)
	return sparse{size: meta + 2<<20, pieces: []piece{
		{0, []byte("vhdxfile")},
		{192 << 10, rt},
		{meta, mt},
	}}
}

// vdiHeader is a VDI header for a dynamic image of size bytes.
func vdiHeader(size uint64) []byte {
	b := make([]byte, 512)
	copy(b, "<<< QEMU VM Virtual Disk Image >>>\n")
	put32le(b, 0x40, vdiSignature)
	put32le(b, 0x44, 0x00010001)
	put32le(b, 0x48, 0x180)
	put32le(b, 0x4c, 1)
	put32le(b, 0x154, 512)
	put32le(b, 0x158, 1024)
	put32le(b, 0x168, 512)
	put64le(b, 0x170, size)
	put32le(b, 0x178, 1<<20)
	blocks := uint32((size + 1<<20 - 1) >> 20)
	put32le(b, 0x180, blocks)
	return b
}

// isoImage is an ISO 9660 image of blocks 2048-byte blocks with a primary
// volume descriptor and a terminator.
func isoImage(blocks uint32) []byte {
	b := make([]byte, int(blocks)*2048)
	pvd := b[32<<10:]
	pvd[0] = 1
	copy(pvd[1:], "CD001")
	pvd[6] = 1
	put32le(pvd, 80, blocks)
	put32be(pvd, 84, blocks)
	put16le(pvd, 128, 2048)
	put16be(pvd, 130, 2048)
	term := b[34<<10:]
	term[0] = 255
	copy(term[1:], "CD001")
	term[6] = 1
	return b
}

// mbrPartition is one legacy partition entry.
type mbrPartition struct {
	boot     byte
	typ      byte
	chs      [3]byte
	startLBA uint32
	sectors  uint32
}

func mbrSector(parts ...mbrPartition) []byte {
	b := make([]byte, 512)
	for i, p := range parts {
		e := b[446+16*i:]
		e[0] = p.boot
		copy(e[1:4], p.chs[:])
		e[4] = p.typ
		put32le(e, 8, p.startLBA)
		put32le(e, 12, p.sectors)
	}
	b[510], b[511] = 0x55, 0xaa
	return b
}

// gptDisk is a disk of size bytes with a protective MBR and a GPT header.
func gptDisk(size int64) []byte {
	b := make([]byte, size)
	sectors := uint32(size/512 - 1)
	copy(b, mbrSector(mbrPartition{typ: 0xee, chs: [3]byte{0, 2, 0}, startLBA: 1, sectors: sectors}))
	h := b[512:]
	copy(h, "EFI PART")
	put32le(h, 8, 0x10000)
	put32le(h, 12, 92)
	put64le(h, 24, 1)
	put64le(h, 32, uint64(size/512-1))
	put64le(h, 40, 34)
	put64le(h, 48, uint64(size/512-34))
	put64le(h, 72, 2)
	put32le(h, 80, 128)
	put32le(h, 84, 128)
	return b
}

// luksHeader is a LUKS header of the given version with a payload at
// payloadSectors.
func luksHeader(version uint16, payloadSectors uint32) []byte {
	b := make([]byte, 4096)
	copy(b, "LUKS\xba\xbe")
	put16be(b, 6, version)
	copy(b[8:], "aes")
	copy(b[40:], "xts-plain64")
	copy(b[72:], "sha256")
	put32be(b, 104, payloadSectors)
	put32be(b, 108, 64)
	return b
}

// ploopHeader is a ploop header for a disk of size bytes.
func ploopHeader(size uint64) []byte {
	b := make([]byte, 512)
	copy(b, "WithouFreSpacExt")
	put32le(b, 16, 2)
	put32le(b, 20, 16)
	put32le(b, 24, 32)
	put32le(b, 28, 2048)
	put32le(b, 32, uint32((size+1<<20-1)>>20))
	put64le(b, 36, size/512)
	put32le(b, 48, 2048)
	return b
}

// qedHeader is a QED header for a disk of size bytes.
func qedHeader(size uint64) []byte {
	b := make([]byte, 512)
	copy(b, "QED\x00")
	put32le(b, 4, 64<<10)
	put32le(b, 8, 4)
	put32le(b, 12, 1)
	put64le(b, 40, 4096)
	put64le(b, 48, size)
	return b
}

// cat joins byte slices.
func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// pad returns b extended with zeros to n bytes.
func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(b, make([]byte, n-len(b))...)
}
