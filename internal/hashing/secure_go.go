//go:build !openssl

package hashing

// Backend names the implementation of the secure hash: "go" (the standard
// library; the default, and the only one in a CGO_ENABLED=0 build) or
// "openssl" (libcrypto through cgo, with the build tag openssl).
const Backend = "go"

func newSecureDigest(algo string) (digest, error) { return newGoDigest(algo), nil }
