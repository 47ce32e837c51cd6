package hashing

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reference returns the hex digest of data computed by the standard
// library's one-shot functions.
func reference(t testing.TB, algo string, data []byte) string {
	t.Helper()
	var sum []byte
	switch algo {
	case "":
		return ""
	case "md5":
		s := md5.Sum(data)
		sum = s[:]
	case "sha1":
		s := sha1.Sum(data)
		sum = s[:]
	case "sha224":
		s := sha256.Sum224(data)
		sum = s[:]
	case "sha256":
		s := sha256.Sum256(data)
		sum = s[:]
	case "sha384":
		s := sha512.Sum384(data)
		sum = s[:]
	case "sha512":
		s := sha512.Sum512(data)
		sum = s[:]
	case "sha3_224":
		s := sha3.Sum224(data)
		sum = s[:]
	case "sha3_256":
		s := sha3.Sum256(data)
		sum = s[:]
	case "sha3_384":
		s := sha3.Sum384(data)
		sum = s[:]
	case "sha3_512":
		s := sha3.Sum512(data)
		sum = s[:]
	default:
		t.Fatalf("no reference for %q", algo)
	}
	return hex.EncodeToString(sum)
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeIn feeds data to w in pieces whose sizes cycle through sizes.
func writeIn(t testing.TB, w io.Writer, data []byte, sizes []int) {
	t.Helper()
	for i := 0; len(data) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(data))
		m, err := w.Write(data[:n])
		if err != nil || m != n {
			t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", n, m, err, n)
		}
		data = data[n:]
	}
}

// oddReader returns data in reads whose sizes cycle through sizes.
type oddReader struct {
	data  []byte
	sizes []int
	i     int
}

func (r *oddReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(r.sizes[r.i%len(r.sizes)], len(p), len(r.data))
	r.i++
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// writerOnly hides every method but Write (so io.Copy uses plain Reads of
// the source when the source has no WriteTo).
type writerOnly struct{ io.Writer }

func checkSum(t *testing.T, h *Hasher, algo string, data []byte) {
	t.Helper()
	size, md5hex, gotAlgo, hashhex := h.Sum()
	if size != int64(len(data)) {
		t.Errorf("size: got %d, want %d", size, len(data))
	}
	if want := reference(t, "md5", data); md5hex != want {
		t.Errorf("md5: got %s, want %s", md5hex, want)
	}
	if gotAlgo != algo {
		t.Errorf("algo: got %q, want %q", gotAlgo, algo)
	}
	if want := reference(t, algo, data); hashhex != want {
		t.Errorf("%s: got %s, want %s", algo, hashhex, want)
	}
}

func TestDigestsMatchReference(t *testing.T) {
	sizes := []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 10 << 20}
	feeds := []struct {
		name string
		max  int // largest input this feed is run on
		feed func(t *testing.T, h *Hasher, data []byte)
	}{
		{"Write 1 byte at a time", ChunkSize + 1, func(t *testing.T, h *Hasher, data []byte) {
			writeIn(t, h, data, []int{1})
		}},
		{"Write 1,7,4097,100003 bytes", 10 << 20, func(t *testing.T, h *Hasher, data []byte) {
			writeIn(t, h, data, []int{1, 7, 4097, 100003})
		}},
		{"Write 3 MiB+1 bytes", 10 << 20, func(t *testing.T, h *Hasher, data []byte) {
			writeIn(t, h, data, []int{3<<20 + 1})
		}},
		{"Copy", 10 << 20, func(t *testing.T, h *Hasher, data []byte) {
			var dst bytes.Buffer
			n, err := Copy(&dst, &oddReader{data: data, sizes: []int{7, 4097, 65536, 1}}, h)
			if err != nil || n != int64(len(data)) {
				t.Fatalf("Copy = %d, %v; want %d, nil", n, err, len(data))
			}
			if !bytes.Equal(dst.Bytes(), data) {
				t.Fatalf("Copy wrote %d bytes differing from the %d read", dst.Len(), len(data))
			}
		}},
		{"ReadFrom", 10 << 20, func(t *testing.T, h *Hasher, data []byte) {
			n, err := io.Copy(h, &oddReader{data: data, sizes: []int{7, 4097, 65536, 1}})
			if err != nil || n != int64(len(data)) {
				t.Fatalf("io.Copy into the Hasher = %d, %v; want %d, nil", n, err, len(data))
			}
		}},
		{"Reader Read", 10 << 20, func(t *testing.T, h *Hasher, data []byte) {
			got, err := io.ReadAll(h.Reader(&oddReader{data: data, sizes: []int{4097, 7}}))
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("Reader yielded %d bytes differing from the %d of the source", len(got), len(data))
			}
		}},
		{"Reader WriteTo", 10 << 20, func(t *testing.T, h *Hasher, data []byte) {
			var dst bytes.Buffer
			n, err := io.Copy(writerOnly{&dst}, h.Reader(bytes.NewReader(data)))
			if err != nil || n != int64(len(data)) {
				t.Fatalf("io.Copy = %d, %v; want %d, nil", n, err, len(data))
			}
			if !bytes.Equal(dst.Bytes(), data) {
				t.Fatalf("io.Copy wrote %d bytes differing from the %d read", dst.Len(), len(data))
			}
		}},
	}
	data := randomBytes(10<<20, 1)
	for _, algo := range append(Algorithms(), "") {
		for _, size := range sizes {
			for _, f := range feeds {
				if size > f.max {
					continue
				}
				t.Run(algo+"/"+f.name+"/"+sizeName(size), func(t *testing.T) {
					h, err := New(algo)
					if err != nil {
						t.Fatalf("New(%q): %v", algo, err)
					}
					defer h.Close()
					f.feed(t, h, data[:size])
					checkSum(t, h, algo, data[:size])
				})
			}
		}
	}
}

// sizeName names a test input size.
func sizeName(n int) string {
	switch {
	case n == ChunkSize-1:
		return "1MiB-1"
	case n == ChunkSize+1:
		return "1MiB+1"
	case n > 0 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	}
	return strconv.Itoa(n)
}

// TestSmallChunks runs the pipelined path (workers, ring reuse, writer) on
// chunks of a few bytes, so that many chunk hand-overs happen.
func TestSmallChunks(t *testing.T) {
	data := randomBytes(300_001, 2)
	for _, ring := range []int{1, 2, 4} {
		for _, algo := range []string{"sha512", "md5", "sha3_256", ""} {
			t.Run(algo+"/ring"+strconv.Itoa(ring), func(t *testing.T) {
				h, err := newHasher(algo, 97, ring)
				if err != nil {
					t.Fatal(err)
				}
				defer h.Close()
				writeIn(t, h, data[:1000], []int{1, 7, 300})
				var dst bytes.Buffer
				if _, err := Copy(&dst, &oddReader{data: data[1000:290_000], sizes: []int{13, 500, 4097}}, h); err != nil {
					t.Fatalf("Copy: %v", err)
				}
				if !bytes.Equal(dst.Bytes(), data[1000:290_000]) {
					t.Fatalf("Copy wrote %d bytes differing from the %d read", dst.Len(), 289_000)
				}
				writeIn(t, h, data[290_000:], []int{4097})
				if len(h.chunks) > ring {
					t.Errorf("chunks allocated: got %d, want at most %d", len(h.chunks), ring)
				}
				checkSum(t, h, algo, data)
			})
		}
	}
}

func TestEmptyInput(t *testing.T) {
	h, err := New("sha512")
	if err != nil {
		t.Fatal(err)
	}
	size, md5hex, algo, hashhex := h.Sum()
	if size != 0 {
		t.Errorf("size: got %d, want 0", size)
	}
	if want := "d41d8cd98f00b204e9800998ecf8427e"; md5hex != want {
		t.Errorf("md5: got %s, want %s", md5hex, want)
	}
	if algo != "sha512" {
		t.Errorf("algo: got %q, want sha512", algo)
	}
	if want := "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"; hashhex != want {
		t.Errorf("sha512: got %s, want %s", hashhex, want)
	}
}

func TestMD5AsSecureHash(t *testing.T) {
	h, err := New("md5")
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, h, randomBytes(3<<20, 3), []int{1 << 20})
	_, md5hex, _, hashhex := h.Sum()
	if hashhex != md5hex {
		t.Errorf("os_hash_value: got %s, want the checksum %s", hashhex, md5hex)
	}
}

func TestUnknownAlgorithm(t *testing.T) {
	for _, algo := range []string{"crc32", "SHA-512", "sha3-256", "blake2b", " sha512"} {
		t.Run(algo, func(t *testing.T) {
			h, err := New(algo)
			if err == nil {
				h.Close()
				t.Fatalf("New(%q): got no error, want one", algo)
			}
			msg := err.Error()
			for _, want := range append(Algorithms(), algo) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q: want it to name %q", msg, want)
				}
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	data := randomBytes(3*ChunkSize+5, 4)
	t.Run("Close without writes", func(t *testing.T) {
		h, _ := New("sha512")
		if err := h.Close(); err != nil {
			t.Errorf("Close: got %v, want nil", err)
		}
	})
	t.Run("Close twice", func(t *testing.T) {
		h, _ := New("sha512")
		writeIn(t, h, data, []int{ChunkSize})
		if err := h.Close(); err != nil {
			t.Errorf("first Close: got %v, want nil", err)
		}
		if err := h.Close(); err != nil {
			t.Errorf("second Close: got %v, want nil", err)
		}
	})
	t.Run("Sum twice, then Close", func(t *testing.T) {
		h, _ := New("sha256")
		writeIn(t, h, data, []int{4097})
		s1, m1, a1, v1 := h.Sum()
		s2, m2, a2, v2 := h.Sum()
		if s1 != s2 || m1 != m2 || a1 != a2 || v1 != v2 {
			t.Errorf("second Sum: got %d %s %s %s, want %d %s %s %s", s2, m2, a2, v2, s1, m1, a1, v1)
		}
		h.Close()
		checkSum(t, h, "sha256", data)
	})
	t.Run("Write after Sum", func(t *testing.T) {
		h, _ := New("sha512")
		h.Sum()
		if n, err := h.Write([]byte("x")); n != 0 || !errors.Is(err, ErrClosed) {
			t.Errorf("Write: got %d, %v; want 0, %v", n, err, ErrClosed)
		}
		if n, err := Copy(io.Discard, strings.NewReader("x"), h); n != 0 || !errors.Is(err, ErrClosed) {
			t.Errorf("Copy: got %d, %v; want 0, %v", n, err, ErrClosed)
		}
	})
	t.Run("Write after Close", func(t *testing.T) {
		h, _ := New("sha512")
		h.Close()
		if n, err := h.Write([]byte("x")); n != 0 || !errors.Is(err, ErrClosed) {
			t.Errorf("Write: got %d, %v; want 0, %v", n, err, ErrClosed)
		}
	})
	t.Run("Sum after Close reports no digest", func(t *testing.T) {
		h, _ := New("sha512")
		writeIn(t, h, data, []int{ChunkSize / 2})
		h.Close()
		size, md5hex, algo, hashhex := h.Sum()
		if size != int64(len(data)) || md5hex != "" || algo != "sha512" || hashhex != "" {
			t.Errorf("Sum: got %d %q %q %q, want %d \"\" \"sha512\" \"\"", size, md5hex, algo, hashhex, len(data))
		}
	})
	t.Run("Size", func(t *testing.T) {
		h, _ := New("sha512")
		defer h.Close()
		writeIn(t, h, data[:10], []int{3})
		Copy(io.Discard, bytes.NewReader(data[10:]), h)
		if got := h.Size(); got != int64(len(data)) {
			t.Errorf("Size: got %d, want %d", got, len(data))
		}
	})
}

func TestCopyMixedWithWrites(t *testing.T) {
	data := randomBytes(5*ChunkSize+123, 5)
	a, b, c := data[:ChunkSize/3], data[ChunkSize/3:4*ChunkSize+7], data[4*ChunkSize+7:]
	h, _ := New("sha384")
	defer h.Close()
	writeIn(t, h, a, []int{4097})
	var dst bytes.Buffer
	n, err := Copy(&dst, bytes.NewReader(b), h)
	if err != nil || n != int64(len(b)) {
		t.Fatalf("Copy = %d, %v; want %d, nil", n, err, len(b))
	}
	if !bytes.Equal(dst.Bytes(), b) {
		t.Errorf("Copy wrote %d bytes differing from its %d-byte source", dst.Len(), len(b))
	}
	writeIn(t, h, c, []int{7})
	checkSum(t, h, "sha384", data)
}

var (
	errDisk    = errors.New("disk full")
	errNetwork = errors.New("connection reset")
)

// failingWriter accepts limit bytes, then fails (or, when short, accepts
// half of the next write without an error).
type failingWriter struct {
	limit, n int
	short    bool
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) <= w.limit {
		w.n += len(p)
		return len(p), nil
	}
	if w.short {
		w.n += len(p) / 2
		return len(p) / 2, nil
	}
	return 0, errDisk
}

// failingReader yields data, then fails with errNetwork.
type failingReader struct{ r io.Reader }

func (r *failingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		err = errNetwork
	}
	return n, err
}

func TestReadFromError(t *testing.T) {
	data := randomBytes(2*ChunkSize+5, 10)
	h, _ := New("sha512")
	defer h.Close()
	n, err := h.ReadFrom(&failingReader{bytes.NewReader(data)})
	if !errors.Is(err, errNetwork) || n != int64(len(data)) {
		t.Errorf("ReadFrom: got %d, %v; want %d, %v", n, err, len(data), errNetwork)
	}
}

func TestCopyErrors(t *testing.T) {
	data := randomBytes(8*ChunkSize, 6)
	cases := []struct {
		name        string
		dst         io.Writer
		src         io.Reader
		wantErr     error
		wantWritten int64
	}{
		{"store fails at once", &failingWriter{limit: 0}, bytes.NewReader(data), errDisk, 0},
		{"store fails after 2 chunks", &failingWriter{limit: 2*ChunkSize + 10}, bytes.NewReader(data), errDisk, 2 * ChunkSize},
		{"store short write", &failingWriter{limit: ChunkSize, short: true}, bytes.NewReader(data), io.ErrShortWrite, ChunkSize + ChunkSize/2},
		{"small input, store fails", &failingWriter{limit: 0}, bytes.NewReader(data[:100]), errDisk, 0},
		{"small input, short write", &failingWriter{limit: 0, short: true}, bytes.NewReader(data[:100]), io.ErrShortWrite, 50},
		{"client fails mid-chunk", io.Discard, &failingReader{bytes.NewReader(data[:3*ChunkSize+99])}, errNetwork, 3*ChunkSize + 99},
		{"client fails at once", io.Discard, &failingReader{bytes.NewReader(nil)}, errNetwork, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := New("sha512")
			defer h.Close()
			done := make(chan struct{})
			var n int64
			var err error
			go func() {
				defer close(done)
				n, err = Copy(tc.dst, tc.src, h)
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Copy did not return")
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error: got %v, want %v", err, tc.wantErr)
			}
			if n != tc.wantWritten {
				t.Errorf("written: got %d, want %d", n, tc.wantWritten)
			}
		})
	}
}

// TestBoundedMemory streams 64 MiB through a slow store and checks that the
// Hasher allocated no more than its ring.
func TestBoundedMemory(t *testing.T) {
	const total = 64 << 20
	src := io.LimitReader(zeroReader{}, total)
	h, _ := New("sha512")
	defer h.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := Copy(io.Discard, src, h)
	runtime.ReadMemStats(&after)
	if err != nil || n != total {
		t.Fatalf("Copy = %d, %v; want %d, nil", n, err, total)
	}
	if len(h.chunks) > RingSize {
		t.Errorf("chunks: got %d, want at most %d", len(h.chunks), RingSize)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*RingSize*ChunkSize {
		t.Errorf("allocated while streaming %d bytes: got %d bytes, want at most %d", total, alloc, 2*RingSize*ChunkSize)
	}
	size, _, _, hashhex := h.Sum()
	if want := reference(t, "sha512", make([]byte, total)); size != total || hashhex != want {
		t.Errorf("Sum: got %d %s, want %d %s", size, hashhex, total, want)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// ownGoroutines counts the running goroutines of this package: hash
// workers and store writers.
func ownGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		// Matched by creator: a goroutine that has not run yet shows a
		// wrapper, not its function.
		if strings.Contains(g, "created by glimpse/internal/hashing.(*Hasher).start in ") ||
			strings.Contains(g, "created by glimpse/internal/hashing.Copy in ") {
			count++
		}
	}
	return count
}

// ownGoroutinesSettle waits up to 5s for ownGoroutines to drop to want.
func ownGoroutinesSettle(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := ownGoroutines()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	data := randomBytes(6*ChunkSize+1, 7)
	scenarios := []struct {
		name        string
		wantWorkers int // hash goroutines running while the stream is open
		run         func(h *Hasher)
	}{
		{"small stream, Sum", 0, func(h *Hasher) { h.Write(data[:ChunkSize-1]) }},
		{"Write stream, Sum", 2, func(h *Hasher) { h.Write(data) }},
		{"Copy stream, Sum", 2, func(h *Hasher) { Copy(io.Discard, bytes.NewReader(data), h) }},
		{"store fails", 2, func(h *Hasher) { Copy(&failingWriter{limit: 2 * ChunkSize}, bytes.NewReader(data), h) }},
		{"client fails", 2, func(h *Hasher) { Copy(io.Discard, &failingReader{bytes.NewReader(data)}, h) }},
		{"ReadFrom", 2, func(h *Hasher) { h.ReadFrom(bytes.NewReader(data)) }},
	}
	for _, sc := range scenarios {
		for _, end := range []string{"Sum", "Close"} {
			t.Run(sc.name+"/"+end, func(t *testing.T) {
				if n := ownGoroutinesSettle(0); n != 0 {
					t.Fatalf("goroutines of earlier tests still running: %d", n)
				}
				h, err := New("sha512")
				if err != nil {
					t.Fatal(err)
				}
				sc.run(h)
				if got := ownGoroutines(); got != sc.wantWorkers {
					t.Errorf("goroutines while the stream is open: got %d, want %d", got, sc.wantWorkers)
				}
				if end == "Sum" {
					h.Sum()
					h.Close()
				} else {
					h.Close()
				}
				if got := ownGoroutinesSettle(0); got != 0 {
					t.Errorf("goroutines after %s: got %d, want 0", end, got)
				}
			})
		}
	}
}

// gateDigest counts the writes it gets; the first one announces itself on
// entered and waits for gate.
type gateDigest struct {
	entered, gate chan struct{}
	writes        int
}

func (d *gateDigest) Write(p []byte) (int, error) {
	if d.writes == 0 {
		close(d.entered)
		<-d.gate
	}
	d.writes++
	return len(p), nil
}

func (d *gateDigest) Sum(b []byte) []byte { return b }

// TestCloseAbandonsQueuedWork checks that Close makes the workers drop the
// chunks still queued instead of hashing them.
func TestCloseAbandonsQueuedWork(t *testing.T) {
	h, _ := newHasher("sha512", 1000, 8)
	d := &gateDigest{entered: make(chan struct{}), gate: make(chan struct{})}
	if f, ok := h.sec.(freer); ok {
		f.free()
	}
	h.sec = d
	h.Write(make([]byte, 8*1000)) // 8 chunks queued
	select {
	case <-d.entered: // the secure-hash worker is in its first chunk
	case <-time.After(10 * time.Second):
		t.Fatal("the secure-hash worker did not start")
	}
	if got := ownGoroutines(); got != 2 {
		t.Errorf("goroutines before Close: got %d, want 2", got)
	}
	closed := make(chan struct{})
	go func() {
		h.Close()
		close(closed)
	}()
	for !h.aborted.Load() {
		time.Sleep(time.Millisecond)
	}
	close(d.gate)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if d.writes != 1 {
		t.Errorf("chunks hashed: got %d, want 1 (the one under way at Close)", d.writes)
	}
	if got := ownGoroutinesSettle(0); got != 0 {
		t.Errorf("goroutines after Close: got %d, want 0", got)
	}
}

// FuzzHasher feeds arbitrary data in arbitrary pieces, through Write, Copy
// and ReadFrom, to Hashers with tiny chunks and rings, and compares with the
// reference digests.
func FuzzHasher(f *testing.F) {
	f.Add([]byte(""), []byte{}, uint8(0), uint8(1), uint8(1))
	f.Add([]byte("hello, world"), []byte{1, 2, 3}, uint8(5), uint8(3), uint8(2))
	f.Add(randomBytes(5000, 9), []byte{255, 7, 0, 40}, uint8(9), uint8(64), uint8(4))
	f.Fuzz(func(t *testing.T, data, pieces []byte, algoIdx, chunk, ring uint8) {
		// With chunks of a few bytes every byte is a hand-over between
		// goroutines: keep inputs small enough to run quickly.
		if len(data) > 1<<12 {
			data = data[:1<<12]
		}
		all := append(Algorithms(), "")
		algo := all[int(algoIdx)%len(all)]
		h, err := newHasher(algo, 1+int(chunk), 1+int(ring)%4)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(pieces) > 0 {
				n = min(int(pieces[i%len(pieces)])+1, n)
			}
			switch i % 4 {
			case 2:
				var dst bytes.Buffer
				if m, err := Copy(&dst, bytes.NewReader(rest[:n]), h); err != nil || m != int64(n) || !bytes.Equal(dst.Bytes(), rest[:n]) {
					t.Fatalf("Copy of %d bytes: got %d written, %v; want %d, nil and the same bytes", n, m, err, n)
				}
			case 3:
				if m, err := h.ReadFrom(bytes.NewReader(rest[:n])); err != nil || m != int64(n) {
					t.Fatalf("ReadFrom of %d bytes: got %d, %v; want %d, nil", n, m, err, n)
				}
			default:
				if _, err := h.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
			}
			rest = rest[n:]
		}
		size, md5hex, gotAlgo, hashhex := h.Sum()
		if size != int64(len(data)) || md5hex != reference(t, "md5", data) || gotAlgo != algo || hashhex != reference(t, algo, data) {
			t.Errorf("Sum: got %d %s %s %s, want %d %s %s %s", size, md5hex, gotAlgo, hashhex,
				len(data), reference(t, "md5", data), algo, reference(t, algo, data))
		}
	})
}
