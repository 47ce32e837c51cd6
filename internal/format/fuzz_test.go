package format

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Seeds: the starts of images qemu-img made (testdata/seeds) and the
// hand-built headers of every format, sound and broken.

func seedFiles(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "seeds", "*"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed files in testdata/seeds: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func handSeeds() [][]byte {
	desc := vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`)
	return [][]byte{
		qcow2Spec{size: mib}.bytes(),
		qcow2Spec{version: 2, size: mib, exts: []qcow2Ext{{qcow2ExtDataFile, []byte("x")}}}.bytes(),
		qcow2Spec{size: mib, backing: 512, incompat: 1 << 6}.bytes(),
		kdmv(2048, desc),
		kdmv(0, vmdkDescriptor("monolithicFlat", `RW 2048 FLAT "/etc/passwd" 0`)),
		vmdkSpec{capacity: 2048, gd: vmdkGDAtEnd, footer: true, footerCapacity: 2048, descriptor: desc}.bytes(),
		[]byte(vmdkDescriptor("twoGbMaxExtentSparse", `RW 2048 SPARSE "a-s001.vmdk"`)),
		vhdDynamic(mib, "qemu"),
		withFooter(make([]byte, 4096), 4096),
		pad(vdiHeader(mib), 1024),
		isoImage(18),
		gptDisk(64 << 10),
		pad(mbrSector(mbrPartition{boot: 0x80, typ: 0x83, startLBA: 63, sectors: 100}), 1024),
		pad(luksHeader(1, 8), 8192),
		luksHeader(2, 0),
		pad(ploopHeader(mib), 1024),
		qedHeader(mib),
		[]byte("vhdxfile"),
		{},
	}
}

// checkInvariants fails when a result breaks the package's promises.
func checkInvariants(t *testing.T, in *Inspector, r Result, size int64) {
	t.Helper()
	if r.Size != size {
		t.Errorf("Size = %d, want %d", r.Size, size)
	}
	if r.Format == "" && len(r.Formats) < 2 {
		t.Errorf("no format but Formats = %v", r.Formats)
	}
	if r.Format != "" && !contains(r.Formats, r.Format) {
		t.Errorf("Format %q not in Formats %v", r.Format, r.Formats)
	}
	if !r.Safe && r.Reason == "" {
		t.Errorf("unsafe without a reason: %+v", r)
	}
	if r.VirtualSize < 0 {
		t.Errorf("VirtualSize = %d, want >= 0", r.VirtualSize)
	}
	if cap(in.head) > headMax || in.winBytes > windowsMax {
		t.Errorf("buffers: head %d (max %d), windows %d (max %d)", cap(in.head), headMax, in.winBytes, windowsMax)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// FuzzInspect feeds arbitrary data whole and in chunks: the inspector must
// not panic, must keep its budget, and must reach the same verdict however
// the stream is cut.
func FuzzInspect(f *testing.F) {
	for _, s := range append(seedFiles(f), handSeeds()...) {
		f.Add(s, uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		whole := NewInspector(Options{})
		whole.Write(data)
		want := whole.Result()
		checkInvariants(t, whole, want, int64(len(data)))

		n := int(chunk)%4096 + 1
		in := NewInspector(Options{})
		for p := data; len(p) > 0; {
			k := min(n, len(p))
			in.Write(p[:k])
			p = p[k:]
		}
		got := in.Result()
		checkInvariants(t, in, got, int64(len(data)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%d-byte chunks: result differs from one write (-whole +chunked):\n%s", n, diff)
		}
	})
}

// FuzzInspectLayout places three fuzzed pieces at fuzzed offsets of a
// stream of up to 2.25 MiB, so that structures far from the start (VHDX region
// and metadata tables, ISO descriptors, footers) are reached.
func FuzzInspectLayout(f *testing.F) {
	vx := vhdxImage(5*mib, false)
	f.Add([]byte("vhdxfile"), uint32(192<<10), vx.pieces[1].data[:128], uint32(1<<20), vx.pieces[2].data[:64<<10+16], uint32(3<<20))
	f.Add(qcow2Spec{size: mib}.bytes()[:512], uint32(32<<10), isoImage(18)[32<<10:], uint32(0), []byte{}, uint32(40*2048))
	f.Add(gptDisk(4096), uint32(32<<10), isoImage(18)[32<<10:], uint32(2<<20), vhdFooterBytes(2<<20, 2, ^uint64(0), "qem2"), uint32(2<<20+512))
	tail := vmdkSpec{capacity: 2048, gd: vmdkGDAtEnd, footer: true, footerCapacity: 2048,
		descriptor: vmdkDescriptor("streamOptimized", `RW 2048 SPARSE "d"`)}.bytes()
	f.Add(tail[:11264], uint32(100<<10), tail[len(tail)-1536:], uint32(0), []byte{}, uint32(100<<10+1536))
	f.Fuzz(func(t *testing.T, head []byte, off1 uint32, b1 []byte, off2 uint32, b2 []byte, size uint32) {
		const limit = 2<<20 + 256<<10
		s := sparse{size: int64(size % limit), pieces: []piece{{0, head}, {int64(off1 % limit), b1}, {int64(off2 % limit), b2}}}
		for _, p := range s.pieces {
			s.size = max(s.size, p.off+int64(len(p.data)))
		}
		s.size = min(s.size, limit)
		var results []Result
		for _, chunk := range []int{1 << 20, 4093} {
			in := NewInspector(Options{})
			s.writeTo(in, chunk)
			r := in.Result()
			checkInvariants(t, in, r, s.size)
			results = append(results, r)
		}
		for i := 1; i < len(results); i++ {
			if diff := cmp.Diff(results[0], results[i]); diff != "" {
				t.Errorf("result depends on the chunk size (-1 MiB +other):\n%s", diff)
			}
		}
	})
}

// FuzzDescriptor parses arbitrary VMDK descriptor text.
func FuzzDescriptor(f *testing.F) {
	f.Add([]byte(vmdkDescriptor("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`)))
	f.Add([]byte(vmdkDescriptor("monolithicFlat", `RW 2048 FLAT "/etc/passwd" 0`) + `parentFileNameHint="x"`))
	f.Add([]byte("createType=\"\nRW\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		var fd found
		checkParent(&fd, text)
		d := parseDescriptor(&fd, text)
		if d.ok && len(d.extents) == 0 {
			t.Errorf("descriptor accepted without extents")
		}
		if len(d.createType) >= 64 {
			t.Errorf("create type of %d bytes accepted", len(d.createType))
		}
		for _, x := range fd.failed {
			if x.reason == "" || x.check == "" {
				t.Errorf("failure without a name or reason: %+v", x)
			}
		}
	})
}
