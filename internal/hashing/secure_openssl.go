//go:build openssl

package hashing

/*
#cgo LDFLAGS: -lcrypto
#include <stdlib.h>
#include <openssl/evp.h>

static EVP_MD_CTX *glimpse_digest_new(const char *name) {
	const EVP_MD *md = EVP_get_digestbyname(name);
	if (md == NULL) return NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL) return NULL;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// Backend names the implementation of the secure hash: "go" (the standard
// library; the default, and the only one in a CGO_ENABLED=0 build) or
// "openssl" (libcrypto through cgo, with the build tag openssl).
const Backend = "openssl"

// newSecureDigest returns OpenSSL's implementation of algo. MD5 (the
// checksum, and the secure hash when it is md5) stays on Go's, which is
// faster than OpenSSL's on amd64.
func newSecureDigest(algo string) (digest, error) {
	if algo == "md5" {
		return newGoDigest(algo), nil
	}
	return newEVPDigest(algo)
}

// newEVPDigest returns OpenSSL's implementation of algo (a name of
// Algorithms()).
func newEVPDigest(algo string) (*evpDigest, error) {
	name := C.CString(strings.ReplaceAll(algo, "_", "-")) // sha3_256 → sha3-256
	defer C.free(unsafe.Pointer(name))
	ctx := C.glimpse_digest_new(name)
	if ctx == nil {
		return nil, fmt.Errorf("hashing: libcrypto has no digest %q", algo)
	}
	return &evpDigest{ctx: ctx}, nil
}

// evpDigest is a one-shot OpenSSL digest: Write any number of times, then
// Sum once; free releases the context (the Hasher always calls it).
type evpDigest struct {
	ctx *C.EVP_MD_CTX
}

// evpPiece bounds the bytes hashed per cgo call. A cgo call that runs for
// long (1 MiB of SHA-512 takes 1.5 ms) has its P taken away by the runtime
// and must queue for one on return, which on a machine with as many busy
// goroutines as cores costs more than the faster digest gains; 16 KiB
// (about 25 µs) measured best.
const evpPiece = 16 << 10

func (d *evpDigest) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		m := min(len(p), evpPiece)
		// p holds no Go pointers, so C may read it for the call's duration.
		if C.EVP_DigestUpdate(d.ctx, unsafe.Pointer(&p[0]), C.size_t(m)) != 1 {
			panic("hashing: EVP_DigestUpdate failed")
		}
		p = p[m:]
	}
	return n, nil
}

func (d *evpDigest) Sum(b []byte) []byte {
	var out [C.EVP_MAX_MD_SIZE]byte
	var n C.uint
	if C.EVP_DigestFinal_ex(d.ctx, (*C.uchar)(unsafe.Pointer(&out[0])), &n) != 1 {
		panic("hashing: EVP_DigestFinal_ex failed")
	}
	return append(b, out[:n]...)
}

func (d *evpDigest) free() {
	if d.ctx != nil {
		C.EVP_MD_CTX_free(d.ctx)
		d.ctx = nil
	}
}
