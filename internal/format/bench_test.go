package format

import "testing"

// BenchmarkInspect measures inspection throughput over a 1 GiB stream
// written in 1 MiB chunks: each format's structures at the start (and end),
// zeros in between. After the decision the inspector only counts bytes and
// keeps the last ones, so the figure is dominated by that bookkeeping.
func BenchmarkInspect(b *testing.B) {
	const total = 1 << 30
	const chunk = 1 << 20
	cases := []struct {
		name   string
		head   sparse // the first bytes of the stream
		suffix []byte // the last bytes
	}{
		{name: "raw", head: raw(nil)},
		{name: "qcow2", head: raw(qcow2Spec{size: 10 << 30}.bytes())},
		{name: "vmdk", head: raw(kdmv(20<<21, vmdkDescriptor("monolithicSparse", `RW 20971520 SPARSE "disk.vmdk"`)))},
		{name: "vmdk footer", head: raw(vmdkSpec{capacity: 20 << 21, gd: vmdkGDAtEnd,
			descriptor: vmdkDescriptor("streamOptimized", `RW 20971520 SPARSE "disk.vmdk"`)}.bytes()),
			suffix: vmdkSpec{capacity: 20 << 21, gd: vmdkGDAtEnd, footer: true, footerCapacity: 20 << 21}.bytes()[11776:]},
		{name: "vhd dynamic", head: raw(vhdDynamic(10<<30, "win "))},
		{name: "vhd fixed", head: raw(nil), suffix: vhdFooterBytes(total, 2, ^uint64(0), "qem2")},
		{name: "vhdx", head: vhdxImage(10<<30, false)},
		{name: "vdi", head: raw(vdiHeader(10 << 30))},
		{name: "iso", head: raw(isoImage(total / 2048)[:36<<10])},
		{name: "gpt", head: raw(gptDisk(64 << 10))},
		{name: "luks", head: raw(luksHeader(1, 4096))},
		{name: "ploop", head: raw(ploopHeader(10 << 30))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			// The stream: the head rounded up to whole chunks, zeros, the
			// suffix at the very end.
			headLen := (max(c.head.size, int64(len(c.suffix))) + chunk - 1) / chunk * chunk
			head := sparse{size: headLen, pieces: c.head.pieces}.bytes()
			zeros := make([]byte, chunk)
			last := make([]byte, chunk)
			copy(last[chunk-len(c.suffix):], c.suffix)
			b.SetBytes(total)
			b.ReportAllocs()
			var r Result
			for b.Loop() {
				in := NewInspector(Options{})
				n := int64(0)
				for ; n < headLen; n += chunk {
					in.Write(head[n : n+chunk])
				}
				for ; n < total-chunk; n += chunk {
					in.Write(zeros)
				}
				in.Write(last)
				r = in.Result()
			}
			if !r.Safe || r.Size != total {
				b.Fatalf("benchmark stream inspected as %+v", r)
			}
		})
	}
}

// BenchmarkDecide measures the work before the decision: a new inspector
// fed the first 1 MiB of a qcow2 image.
func BenchmarkDecide(b *testing.B) {
	data := pad(qcow2Spec{size: 10 << 30}.bytes(), 1<<20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		in := NewInspector(Options{})
		in.Write(data)
		if in.Result().Format != "qcow2" {
			b.Fatal("not qcow2")
		}
	}
}
