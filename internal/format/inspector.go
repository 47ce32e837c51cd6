package format

import (
	"encoding/binary"
	"math"
	"slices"
)

// Buffering limits. Until every format has decided, the inspector keeps the
// start of the stream (the head), a few regions further on that headers
// point at (windows); it always keeps the last tailLen bytes. Requests
// beyond these limits are refused, and the format that made them is
// reported unsafe.
const (
	// headMax covers a VMDK sparse header and the largest embedded
	// descriptor qemu reads (1 MiB - 1 from sector 1), the ISO volume
	// descriptor and the VHDX region table.
	headMax = 1<<20 + 1024
	// windowMax is the largest region kept elsewhere in the stream: a VHDX
	// region or metadata table.
	windowMax = 64 << 10
	// windowsMax bounds all windows together: a VHDX metadata table and
	// the items it points at.
	windowsMax = 2 * windowMax
	// tailLen covers a VMDK footer, its marker and the end-of-stream
	// marker; a VHD footer is the last 512 bytes.
	tailLen = 1536

	// MaxBuffered is the most stream data an Inspector holds at once.
	MaxBuffered = headMax + windowsMax + tailLen
)

// Inspector recognises the format of a stream written to it and checks it
// for unsafe constructs. Write never fails, so an Inspector can sit in an
// io.MultiWriter; Result may be called at any point. An Inspector is not
// safe for concurrent use.
type Inspector struct {
	opts Options
	n    int64 // bytes written
	pos  int64 // how far the probes have seen the stream

	head     []byte // the first len(head) bytes of the stream
	wins     []*window
	winBytes int
	tail     tailRing

	probes []probeState
	live   int // probes still waiting for data
}

type probeState struct {
	parse    prober
	done     bool
	f        *found // nil when done and the format is absent
	waitHead int64
	waitWins []*window
}

// readyAt is the stream offset at which the data the probe last asked for
// will have arrived.
func (ps *probeState) readyAt() int64 {
	at := ps.waitHead
	for _, w := range ps.waitWins {
		at = max(at, w.off+int64(w.n))
	}
	return at
}

// ready reports whether the data the probe last asked for has arrived.
func (ps *probeState) ready(headLen int) bool {
	if int64(headLen) < ps.waitHead {
		return false
	}
	for _, w := range ps.waitWins {
		if !w.full() {
			return false
		}
	}
	return true
}

// A window keeps the n bytes of the stream at off.
type window struct {
	off int64
	n   int
	buf []byte
}

func (w *window) full() bool { return len(w.buf) == w.n }

// NewInspector returns an Inspector that has seen no data.
func NewInspector(o Options) *Inspector {
	in := &Inspector{opts: o, probes: make([]probeState, len(probers))}
	for i, p := range probers {
		in.probes[i].parse = p
	}
	in.live = len(in.probes)
	return in
}

// Write feeds the next bytes of the stream. It always returns len(p), nil.
func (in *Inspector) Write(p []byte) (int, error) {
	start := in.n
	in.n += int64(len(p))
	in.tail.write(p)
	if in.live > 0 {
		in.process(p, start)
	}
	return len(p), nil
}

// process feeds p, which starts at offset start, to the probes. It steps
// through p from one point where a probe's data is complete to the next and
// runs that probe there, so each probe sees exactly the stream up to that
// point, however the stream was cut into writes.
func (in *Inspector) process(p []byte, start int64) {
	pos, end := start, start+int64(len(p))
	for {
		in.pos = pos
		for i := range in.probes {
			ps := &in.probes[i]
			if ps.done || !ps.ready(len(in.head)) {
				continue
			}
			v := view{in: in}
			st, f := ps.parse(&v, &in.opts)
			if st == pending {
				ps.waitHead, ps.waitWins = v.waitHead, v.waitWins
				continue
			}
			ps.done, ps.f = true, f
			in.live--
		}
		if in.live == 0 {
			// Every probe has decided: from now on only the size and
			// the tail matter.
			in.head, in.wins, in.winBytes = nil, nil, 0
			return
		}
		if pos == end {
			return
		}
		next, want := end, int64(0)
		for i := range in.probes {
			if ps := &in.probes[i]; !ps.done {
				next = min(next, ps.readyAt())
				want = max(want, ps.waitHead)
			}
		}
		next = max(next, pos+1)
		in.capture(p[pos-start:next-start], pos, want)
		pos = next
	}
}

// capture copies the parts of p (at offset start) that extend the head,
// while a probe waits for the head to reach want, or a window.
func (in *Inspector) capture(p []byte, start, want int64) {
	end := start + int64(len(p))
	if h := int64(len(in.head)); h < want && h == start {
		stop := min(want, end)
		if need := int(stop); need > cap(in.head) {
			c := min(max(4*cap(in.head), need, 4096), headMax)
			in.head = append(make([]byte, 0, c), in.head...)
		}
		in.head = append(in.head, p[:stop-start]...)
	}
	for _, w := range in.wins {
		at := w.off + int64(len(w.buf))
		if !w.full() && at >= start && at < end {
			w.buf = append(w.buf, p[at-start:min(w.off+int64(w.n), end)-start]...)
		}
	}
}

// Result reports what is known about the stream, as if it ended now.
func (in *Inspector) Result() Result {
	tail := in.tail.bytes()
	var fs []*found
	for i := range in.probes {
		ps := &in.probes[i]
		f := ps.f
		if !ps.done {
			v := view{in: in, eof: true}
			_, f = ps.parse(&v, &in.opts)
		}
		if f == nil {
			continue
		}
		c := *f
		c.failed = slices.Clone(f.failed)
		if c.atEnd != nil {
			c.atEnd(&c, in.n, tail)
		}
		fs = append(fs, &c)
	}
	if !slices.ContainsFunc(fs, func(f *found) bool { return f.format == "vhd" }) {
		if f := vhdFixedFooter(tail, in.n); f != nil {
			fs = append(fs, f)
		}
	}
	return resolve(&in.opts, fs, in.n)
}

// discard counts n more bytes of stream that are not shown to the
// inspector. It may only be used once every probe has decided, and the tail
// is then only valid once tailLen more bytes (or the rest of the stream)
// have been written.
func (in *Inspector) discard(n int64) {
	in.n += n
	in.tail.reset()
}

// status is what a probe concludes from the data it has seen.
type status int

const (
	pending status = iota // waiting for more data
	absent                // the data is not in this format
	present               // the format is recognised (f describes it)
)

// A prober recognises one format. It is run whenever the data it last asked
// for has arrived, and by Result with the view at the end of the stream; it
// re-reads what it needs each time.
type prober func(v *view, o *Options) (status, *found)

// probers is every format the inspector recognises besides raw, each
// described in its own file.
var probers = []prober{
	probeQcow2,
	probeQED,
	probeVHD,
	probeVHDX,
	probeVMDK,
	probeVDI,
	probeISO,
	probeGPT,
	probeLUKS,
	probePloop,
}

// avail says whether data a probe asked for is there.
type avail int

const (
	have avail = iota
	wait       // not yet; the probe must return pending
	gone       // never: the stream ended, or it is out of the kept range
)

// A view gives a probe the stream data the inspector kept: the head and the
// windows. A probe may issue several reads before returning pending; it is
// run again once all the data they asked for has arrived.
//
// What is kept must not depend on how the stream was cut into writes.
// Probes run at the exact offsets where their data completes (see process),
// the head keeps growing from the start of the stream only while some probe
// waits for it, and a window can only be opened for data at or after the
// offset the probes have reached.
type view struct {
	in       *Inspector
	eof      bool
	waitHead int64
	waitWins []*window
	short    bool // the last gone read was past the end of the stream
}

// size is the number of bytes seen so far.
func (v *view) size() int64 { return v.in.n }

// read returns the n bytes at off. When they have not arrived it asks for
// them and returns wait, or gone if they never will be kept.
func (v *view) read(off, n int64) ([]byte, avail) {
	in := v.in
	v.short = false
	if off < 0 || n < 0 || off > math.MaxInt64-n {
		return nil, gone
	}
	end := off + n
	if end <= int64(len(in.head)) {
		return in.head[off:end], have
	}
	for _, w := range in.wins {
		if off >= w.off && end <= w.off+int64(w.n) {
			if end <= w.off+int64(len(w.buf)) {
				return w.buf[off-w.off : end-w.off], have
			}
			if !v.eof && !w.full() {
				v.waitWins = append(v.waitWins, w)
				return nil, wait
			}
		}
	}
	if v.eof || in.live == 0 {
		v.short = end > in.n
		return nil, gone
	}
	if end <= headMax && int64(len(in.head)) == in.pos {
		v.waitHead = max(v.waitHead, end)
		return nil, wait
	}
	// A window can only keep data the probes have not seen go by.
	if off >= in.pos && n <= windowMax && in.winBytes+int(n) <= windowsMax {
		w := &window{off: off, n: int(n), buf: make([]byte, 0, n)}
		in.wins = append(in.wins, w)
		in.winBytes += int(n)
		v.waitWins = append(v.waitWins, w)
		return nil, wait
	}
	return nil, gone
}

// missing is the failure reason when the region named what could not be
// read.
func (v *view) missing(what string) string {
	if v.short {
		return what + " is truncated"
	}
	return what + " lies outside the range the inspector examines"
}

// tailRing keeps the last tailLen bytes written.
type tailRing struct {
	buf  [tailLen]byte
	next int   // where the next byte goes
	n    int64 // bytes held, up to tailLen
}

func (t *tailRing) write(p []byte) {
	if len(p) >= tailLen {
		copy(t.buf[:], p[len(p)-tailLen:])
		t.next, t.n = 0, tailLen
		return
	}
	k := copy(t.buf[t.next:], p)
	copy(t.buf[:], p[k:])
	t.next = (t.next + len(p)) % tailLen
	t.n = min(t.n+int64(len(p)), tailLen)
}

func (t *tailRing) reset() { t.next, t.n = 0, 0 }

// bytes returns a copy of the bytes held, oldest first.
func (t *tailRing) bytes() []byte {
	out := make([]byte, 0, t.n)
	if t.n < tailLen {
		return append(out, t.buf[:t.n]...)
	}
	out = append(out, t.buf[t.next:]...)
	return append(out, t.buf[:t.next]...)
}

// Byte order helpers.
var (
	be = binary.BigEndian
	le = binary.LittleEndian
)

// isZero reports whether b holds only zero bytes.
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
