//go:build openssl && !cgo

package hashing

// The openssl build tag links libcrypto through cgo: building with it and
// CGO_ENABLED=0 stops here, rather than silently using the Go backend.
var _ = the_openssl_build_tag_needs_cgo
