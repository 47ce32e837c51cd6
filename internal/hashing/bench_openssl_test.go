//go:build openssl

package hashing

import "testing"

// BenchmarkOpenSSLMD5: OpenSSL's MD5, which the openssl build leaves unused
// because Go's is faster.
func BenchmarkOpenSSLMD5(b *testing.B) {
	benchData()
	measure(b, func() {
		d, err := newEVPDigest("md5")
		if err != nil {
			b.Fatal(err)
		}
		feedDigests(d)
		d.Sum(nil)
		d.free()
	})
}
