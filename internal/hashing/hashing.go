// Package hashing computes, in one pass over an image upload, the three
// values Glance records for image data: the size, the MD5 checksum
// (`checksum`) and the secure hash (`os_hash_algo` / `os_hash_value`, the
// algorithm chosen by `[DEFAULT] hashing_algorithm`).
//
// # Design
//
// MD5 and the secure hash are each computed on their own worker goroutine, so
// on a machine with two or more cores the two digests run in parallel with
// each other and with the I/O of the upload. Data travels in chunks of
// ChunkSize bytes taken from a ring of at most RingSize chunks per Hasher
// (so a Hasher never holds more than RingSize*ChunkSize bytes, whatever the
// size of the stream):
//
//	reader ──fill──▶ chunk ──┬──▶ MD5 worker ─────────┐
//	                         ├──▶ secure-hash worker ──┼──▶ chunk back to the ring
//	                         └──▶ store writer (Copy) ─┘
//
// A chunk is handed to every consumer at once and carries a count of the
// consumers still using it; the last one to finish puts it back on the ring's
// free list. The producer (Write, Copy or a Reader) takes chunks from the
// free list, so it blocks, and the stream is throttled, when all RingSize
// chunks are still being hashed or written.
//
// # Goroutines and ownership
//
//   - The hash workers (two; one when the secure hash is md5, which is then
//     the checksum itself, or when there is none) belong to the Hasher.
//     They are started lazily by
//     the first full chunk (a stream shorter than ChunkSize is hashed inline
//     by Sum and starts no goroutine at all) and exit when Sum or Close has
//     handed them the last chunk; both Sum and Close wait for them to exit.
//     After Close nothing is hashed any more: the workers skip the chunks
//     still queued.
//   - Copy (and WriteTo of the Reader) starts one store-writer goroutine for
//     the duration of the call (once a full chunk has been read) and waits
//     for it to exit before returning, on success and on every error, so
//     dst is never touched after Copy has returned. ReadFrom starts none.
//
// A Hasher serves one stream: its methods must not be called concurrently
// with each other. Every Hasher must be ended by Sum or Close (calling Close
// after Sum is allowed and a no-op; `defer h.Close()` is the usual form).
//
// # Backends
//
// By default every digest is Go's standard library, so the binary builds
// with CGO_ENABLED=0. The build tag openssl computes the secure hash (not
// MD5, where Go's is faster) with the system's libcrypto through cgo; Backend
// says which one a binary has. On the 2-core amd64 machines this was
// measured on, the two give the same upload throughput within noise, because
// MD5 and the secure hash together use both cores either way.
package hashing

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	// ChunkSize is the size of the buffers that carry the stream from the
	// reader to the hash workers and the store writer.
	ChunkSize = 1 << 20
	// RingSize is the number of chunks a Hasher may have in flight.
	RingSize = 4
)

// ErrClosed is returned by Write and Copy after Sum or Close.
var ErrClosed = errors.New("hashing: write after Sum or Close")

// algorithms are the names accepted for the secure hash, spelt as Python's
// hashlib spells them (which is how Glance's hashing_algorithm names them).
var algorithms = []string{
	"md5", "sha1", "sha224", "sha256", "sha384", "sha512",
	"sha3_224", "sha3_256", "sha3_384", "sha3_512",
}

// Algorithms returns the names New accepts, besides "" (no secure hash).
func Algorithms() []string { return slices.Clone(algorithms) }

// digest is the part of hash.Hash the Hasher uses: Write, then Sum once.
type digest interface {
	io.Writer
	Sum(b []byte) []byte
}

// freer is implemented by digests that hold memory outside Go's heap.
type freer interface{ free() }

// newGoDigest returns the Go standard library's implementation of algo.
func newGoDigest(algo string) hash.Hash {
	switch algo {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha224":
		return sha256.New224()
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	case "sha3_224":
		return sha3.New224()
	case "sha3_256":
		return sha3.New256()
	case "sha3_384":
		return sha3.New384()
	case "sha3_512":
		return sha3.New512()
	}
	return nil
}

// chunk is one buffer of the ring.
type chunk struct {
	buf  []byte
	n    int          // bytes of buf in use
	refs atomic.Int32 // consumers that have not finished with buf[:n]
}

// chunkPool recycles full-size chunks between Hashers.
var chunkPool = sync.Pool{New: func() any { return &chunk{buf: make([]byte, ChunkSize)} }}

// Hasher computes size, MD5 and the secure hash of a stream in one pass.
// Create it with New; feed it with Write, ReadFrom (io.Copy(h, r)), Copy
// or Reader; read the result with Sum.
type Hasher struct {
	algo   string
	md5    digest
	sec    digest // nil when algo is "" (no secure hash) or "md5" (same as md5)
	size   int64
	chunk  int // chunk size
	ring   int // chunks in the ring
	pooled bool

	cur    *chunk   // chunk being filled, not yet handed to the workers
	chunks []*chunk // every chunk this Hasher owns (len ≤ ring)
	free   chan *chunk

	started bool
	md5In   chan *chunk
	secIn   chan *chunk // nil when sec is nil
	workers sync.WaitGroup
	aborted atomic.Bool

	done            bool
	md5hex, hashhex string
}

// New returns a Hasher whose secure hash is algo, one of Algorithms(), or
// no secure hash at all when algo is "" (Glance's do_secure_hash = False):
// Sum then reports "" for the algorithm and its value.
func New(algo string) (*Hasher, error) {
	return newHasher(algo, ChunkSize, RingSize)
}

func newHasher(algo string, chunkSize, ring int) (*Hasher, error) {
	if algo != "" && !slices.Contains(algorithms, algo) {
		return nil, fmt.Errorf("hashing: unknown hashing algorithm %q: allowed are %s", algo, strings.Join(algorithms, ", "))
	}
	h := &Hasher{
		algo:   algo,
		md5:    md5.New(),
		chunk:  chunkSize,
		ring:   ring,
		pooled: chunkSize == ChunkSize,
		free:   make(chan *chunk, ring),
	}
	if algo != "" && algo != "md5" {
		d, err := newSecureDigest(algo)
		if err != nil {
			return nil, err
		}
		h.sec = d
	}
	return h, nil
}

// Write feeds p to the hashes. It copies p (Write never keeps a reference to
// it), so it is a valid target for io.TeeReader or io.MultiWriter. It fails
// only after Sum or Close.
func (h *Hasher) Write(p []byte) (int, error) {
	if h.done {
		return 0, ErrClosed
	}
	total := len(p)
	for len(p) > 0 {
		if h.cur == nil {
			h.cur = h.getChunk()
		}
		c := h.cur
		m := copy(c.buf[c.n:h.chunk], p)
		c.n += m
		p = p[m:]
		h.size += int64(m)
		if c.n == h.chunk {
			h.cur = nil
			h.dispatch(c, 0)
		}
	}
	return total, nil
}

// Size reports the number of bytes fed so far.
func (h *Hasher) Size() int64 { return h.size }

// Sum ends the stream and returns its size, its MD5 and the secure hash's
// algorithm and value (lower-case hex). It waits for the hash workers to
// finish. Sum may be called again and returns the same values. After a
// Close that came before any Sum the stream was abandoned: Sum then returns
// the size fed and empty digests.
func (h *Hasher) Sum() (size int64, md5hex, algo, hashhex string) {
	h.finish(false)
	return h.size, h.md5hex, h.algo, h.hashhex
}

// Close abandons the stream if Sum has not ended it: queued chunks are
// dropped and the workers exit; Close returns once they have. It releases
// the Hasher's buffers. Close is idempotent and always returns nil.
func (h *Hasher) Close() error {
	h.finish(true)
	return nil
}

// finish ends the stream once: it hands the last partial chunk to the
// workers (or hashes it inline when the workers never started), stops the
// workers and waits for them, and gives the chunks back to the pool.
func (h *Hasher) finish(abort bool) {
	if h.done {
		return
	}
	h.done = true
	if abort {
		h.aborted.Store(true)
	}
	if c := h.cur; c != nil && c.n > 0 && !abort {
		h.cur = nil
		if h.started {
			h.dispatch(c, 0)
		} else {
			h.md5.Write(c.buf[:c.n])
			if h.sec != nil {
				h.sec.Write(c.buf[:c.n])
			}
		}
	}
	if h.started {
		close(h.md5In)
		if h.secIn != nil {
			close(h.secIn)
		}
		h.workers.Wait()
	}
	if !abort {
		h.md5hex = hex.EncodeToString(h.md5.Sum(nil))
		switch {
		case h.algo == "md5":
			h.hashhex = h.md5hex
		case h.sec != nil:
			h.hashhex = hex.EncodeToString(h.sec.Sum(nil))
		}
	}
	if f, ok := h.sec.(freer); ok {
		f.free()
	}
	// Every goroutine that could touch a chunk has exited.
	h.cur = nil
	if h.pooled {
		for _, c := range h.chunks {
			c.n = 0
			chunkPool.Put(c)
		}
	}
	h.chunks = nil
}

// getChunk returns an empty chunk: a free one if there is one, a new one
// while the ring is not full, else the next one a consumer gives back.
func (h *Hasher) getChunk() *chunk {
	var c *chunk
	select {
	case c = <-h.free:
	default:
		if len(h.chunks) < h.ring {
			if h.pooled {
				c = chunkPool.Get().(*chunk)
			} else {
				c = &chunk{buf: make([]byte, h.chunk)}
			}
			h.chunks = append(h.chunks, c)
		} else {
			c = <-h.free
		}
	}
	c.n = 0
	return c
}

// dispatch hands c to the hash workers, starting them if needed, with
// extra more consumers (the store writer) that will call release.
func (h *Hasher) dispatch(c *chunk, extra int32) {
	if !h.started {
		h.start()
	}
	consumers := int32(1)
	if h.secIn != nil {
		consumers++
	}
	c.refs.Store(consumers + extra)
	// The channels hold h.ring chunks, the most there can be: never blocks.
	h.md5In <- c
	if h.secIn != nil {
		h.secIn <- c
	}
}

// release is called by each consumer of c when done with it; the last one
// puts c back on the free list (which has room for every chunk).
func (h *Hasher) release(c *chunk) {
	if c.refs.Add(-1) == 0 {
		h.free <- c
	}
}

func (h *Hasher) start() {
	h.started = true
	h.md5In = make(chan *chunk, h.ring)
	h.workers.Add(1)
	go h.work(h.md5, h.md5In)
	if h.sec != nil {
		h.secIn = make(chan *chunk, h.ring)
		h.workers.Add(1)
		go h.work(h.sec, h.secIn)
	}
}

// work is a hash worker: it owns d until in is closed and drained.
func (h *Hasher) work(d digest, in <-chan *chunk) {
	defer h.workers.Done()
	for c := range in {
		if !h.aborted.Load() {
			d.Write(c.buf[:c.n])
		}
		h.release(c)
	}
}

// span is a part of a chunk for the store writer; release says whether the
// chunk was dispatched (and so counts the writer among its consumers).
type span struct {
	c        *chunk
	from, to int
	release  bool
}

// Copy copies src to dst until EOF or an error, feeding every byte to h on
// the way, and returns the number of bytes written to dst. It reads straight
// into h's chunks, hands each full chunk to the hash workers and to a
// store-writer goroutine at the same time, and reads the next chunk while
// they work. The writer goroutine has exited when Copy returns.
//
// A successful Copy leaves h open: more Writes or Copies may follow before
// Sum. After an error (from src other than io.EOF, or from dst, which wins),
// h has been fed bytes dst may not have received: Close it.
func Copy(dst io.Writer, src io.Reader, h *Hasher) (written int64, err error) {
	_, written, err = h.pump(dst, src)
	return written, err
}

// ReadFrom feeds h from r until io.EOF and returns the number of bytes
// read. It makes h an io.ReaderFrom, so io.Copy(h, r) reads straight into
// h's chunks.
func (h *Hasher) ReadFrom(r io.Reader) (int64, error) {
	read, _, err := h.pump(nil, r)
	return read, err
}

// pump is Copy, and ReadFrom when dst is nil (no writer then).
func (h *Hasher) pump(dst io.Writer, src io.Reader) (read, written int64, err error) {
	if h.done {
		return 0, 0, ErrClosed
	}
	var (
		spans   chan span
		result  chan copyResult
		wfailed atomic.Bool
		rerr    error
	)
	for {
		c := h.cur
		if c == nil {
			c = h.getChunk()
			h.cur = c
		}
		from := c.n
		var m int
		m, rerr = readFull(src, c.buf[from:h.chunk])
		c.n += m
		h.size += int64(m)
		read += int64(m)
		switch {
		case c.n == h.chunk && dst == nil:
			h.cur = nil
			h.dispatch(c, 0)
		case c.n == h.chunk:
			if spans == nil {
				spans = make(chan span, h.ring)
				result = make(chan copyResult, 1)
				go writeSpans(dst, h, spans, result, &wfailed)
			}
			h.cur = nil
			h.dispatch(c, 1)
			spans <- span{c, from, c.n, true}
		case m > 0 && dst != nil:
			// A partial chunk ends the input: it stays h.cur, to be
			// completed by later writes or hashed by Sum.
			if spans != nil {
				spans <- span{c, from, c.n, false}
				break
			}
			nw, werr := dst.Write(c.buf[from:c.n])
			written += int64(nw)
			if werr == nil && nw != c.n-from {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return read, written, werr
			}
		}
		if rerr != nil || wfailed.Load() {
			break
		}
	}
	if spans != nil {
		close(spans)
		r := <-result
		written += r.n
		if r.err != nil {
			return read, written, r.err
		}
	}
	if rerr == io.EOF {
		rerr = nil
	}
	return read, written, rerr
}

type copyResult struct {
	n   int64
	err error
}

// writeSpans is Copy's store writer. It writes spans in order until the
// first error, then only releases them, so the producer never waits on a
// chunk the writer holds; it reports on result when spans is closed.
func writeSpans(dst io.Writer, h *Hasher, spans <-chan span, result chan<- copyResult, failed *atomic.Bool) {
	var r copyResult
	for s := range spans {
		if r.err == nil {
			nw, err := dst.Write(s.c.buf[s.from:s.to])
			r.n += int64(nw)
			if err == nil && nw != s.to-s.from {
				err = io.ErrShortWrite
			}
			if err != nil {
				r.err = err
				failed.Store(true)
			}
		}
		if s.release {
			h.release(s.c)
		}
	}
	result <- r
}

// readFull reads until buf is full or src fails; io.EOF is returned as is,
// even after a partial read.
func readFull(src io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			if empty++; empty >= 100 {
				return n, io.ErrNoProgress
			}
		} else {
			empty = 0
		}
	}
	return n, nil
}

// Reader returns an io.Reader over src that feeds h with every byte it
// yields. Its WriteTo (used by io.Copy) runs Copy, so a store that io.Copies
// from it gets the pipelined path with no extra buffer copy; plain Reads
// hash what they return (one extra copy into h's chunks).
func (h *Hasher) Reader(src io.Reader) io.Reader {
	return &hashReader{h: h, src: src}
}

type hashReader struct {
	h   *Hasher
	src io.Reader
}

func (r *hashReader) Read(p []byte) (int, error) {
	n, err := r.src.Read(p)
	if n > 0 {
		if _, werr := r.h.Write(p[:n]); werr != nil {
			return 0, werr
		}
	}
	return n, err
}

// WriteTo copies the rest of the stream to w through Copy.
func (r *hashReader) WriteTo(w io.Writer) (int64, error) {
	return Copy(w, r.src, r.h)
}
