//go:build unix

package hashing

import (
	"crypto/md5"
	"crypto/sha512"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The benchmarks stream benchSize bytes of random data per operation, in
// the 1 MiB pieces an upload would arrive in, and report MB/s.
const benchSize = 256 << 20

var benchData = sync.OnceValue(func() []byte { return randomBytes(benchSize, 42) })

// measure runs op once per benchmark iteration and, besides Go's MB/s
// (bytes over wall time), reports cpu-MB/s: bytes over the CPU time the
// process used (all threads, user and system). On a machine whose cores are
// busy with other work the wall figure drops and the CPU figure holds; the
// ratio of the two is the parallelism achieved.
func measure(b *testing.B, op func()) {
	b.SetBytes(benchSize)
	start := cpuTime()
	for b.Loop() {
		op()
	}
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(benchSize)*float64(b.N)/1e6/cpu.Seconds(), "cpu-MB/s")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sliceReader is bytes.Reader without WriteTo, like a request body.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func feedDigests(ws ...io.Writer) {
	data := benchData()
	for off := 0; off < len(data); off += ChunkSize {
		for _, w := range ws {
			w.Write(data[off : off+ChunkSize])
		}
	}
}

// BenchmarkStdlib: Go's MD5 and SHA-512 alone, and both one after the other
// on each piece (the naive single-goroutine pipeline).
func BenchmarkStdlib(b *testing.B) {
	benchData()
	for _, bc := range []struct {
		name string
		new  []func() hash.Hash
	}{
		{"md5", []func() hash.Hash{md5.New}},
		{"sha512", []func() hash.Hash{sha512.New}},
		{"md5+sha512 sequential", []func() hash.Hash{md5.New, sha512.New}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			measure(b, func() {
				ws := make([]io.Writer, len(bc.new))
				for i, f := range bc.new {
					ws[i] = f()
				}
				feedDigests(ws...)
			})
		})
	}
}

// BenchmarkSecureDigest: the secure hash of this build's Backend alone.
func BenchmarkSecureDigest(b *testing.B) {
	benchData()
	for _, algo := range Algorithms() {
		b.Run(algo, func(b *testing.B) {
			measure(b, func() {
				d, err := newSecureDigest(algo)
				if err != nil {
					b.Fatal(err)
				}
				feedDigests(d)
				d.Sum(nil)
				if f, ok := d.(freer); ok {
					f.free()
				}
			})
		})
	}
}

// BenchmarkHasher: the whole Hasher (size, MD5 and the secure hash) fed
// through each of its entry points, with io.Discard as the store.
func BenchmarkHasher(b *testing.B) {
	benchData()
	feeds := []struct {
		name string
		run  func(h *Hasher) error
	}{
		{"Copy", func(h *Hasher) error {
			_, err := Copy(io.Discard, &sliceReader{benchData()}, h)
			return err
		}},
		{"TeeReader", func(h *Hasher) error {
			_, err := io.CopyBuffer(io.Discard, io.TeeReader(&sliceReader{benchData()}, h), make([]byte, ChunkSize))
			return err
		}},
		{"ReadFrom", func(h *Hasher) error {
			_, err := io.Copy(h, &sliceReader{benchData()})
			return err
		}},
		{"Reader.WriteTo", func(h *Hasher) error {
			_, err := io.Copy(io.Discard, h.Reader(&sliceReader{benchData()}))
			return err
		}},
	}
	for _, f := range feeds {
		algos := []string{"sha512"}
		if f.name == "Copy" {
			algos = append(Algorithms(), "")
		}
		for _, algo := range algos {
			name := f.name + "/" + algo
			if algo == "" {
				name = f.name + "/md5-only"
			}
			b.Run(name, func(b *testing.B) {
				measure(b, func() {
					h, err := New(algo)
					if err != nil {
						b.Fatal(err)
					}
					if err := f.run(h); err != nil {
						b.Fatal(err)
					}
					h.Sum()
					h.Close()
				})
			})
		}
	}
}

// BenchmarkRingShape compares chunk sizes and ring lengths for Copy with
// sha512.
func BenchmarkRingShape(b *testing.B) {
	benchData()
	for _, chunk := range []int{256 << 10, 1 << 20, 4 << 20} {
		for _, ring := range []int{2, 4, 8} {
			b.Run(strconv.Itoa(chunk>>10)+"KiB×"+strconv.Itoa(ring), func(b *testing.B) {
				measure(b, func() {
					h, _ := newHasher("sha512", chunk, ring)
					if _, err := Copy(io.Discard, &sliceReader{benchData()}, h); err != nil {
						b.Fatal(err)
					}
					h.Sum()
					h.Close()
				})
			})
		}
	}
}

// BenchmarkUploadToFile: an upload into a file, as the file store does it
// (written to the page cache, not synced): the sequential pipeline (read,
// hash MD5, hash SHA-512, write, one goroutine) against Copy.
func BenchmarkUploadToFile(b *testing.B) {
	benchData()
	path := filepath.Join(b.TempDir(), "image")
	run := func(b *testing.B, upload func(f *os.File) error) {
		measure(b, func() {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := upload(f); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.Run("sequential md5+sha512", func(b *testing.B) {
		run(b, func(f *os.File) error {
			m, s := md5.New(), sha512.New()
			_, err := io.CopyBuffer(struct{ io.Writer }{f}, io.TeeReader(&sliceReader{benchData()}, io.MultiWriter(m, s)), make([]byte, ChunkSize))
			m.Sum(nil)
			s.Sum(nil)
			return err
		})
	})
	b.Run("Copy sha512", func(b *testing.B) {
		run(b, func(f *os.File) error {
			h, _ := New("sha512")
			defer h.Close()
			_, err := Copy(f, &sliceReader{benchData()}, h)
			h.Sum()
			return err
		})
	})
}
