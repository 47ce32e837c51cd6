package imageops_test

import (
	"bytes"
	"io"
	"testing"

	"glimpse/internal/auth"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
	"glimpse/internal/store"
	"glimpse/internal/store/file"
)

// user_storage_quota counts every stored byte of the owner's images and is
// enforced while the data streams: an upload that would pass it is refused
// with 413, the image stays queued and nothing is kept.
func TestUserStorageQuota(t *testing.T) {
	d, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	set, err := store.NewSet("file", store.Backend{ID: "file", Scheme: "file", Driver: d})
	if err != nil {
		t.Fatal(err)
	}
	db := openCatalog(t)
	svc := imageops.New(db, unlimited, imageops.WithData(imageops.DataConfig{Stores: set, SizeCap: 1 << 30, HashAlgo: "sha512", UserStorageQuota: 1000}))
	f := &dataFixture{db: db, svc: svc, dir: d.Dir()}
	a := &auth.Context{ProjectID: "A", Roles: []string{"member"}}
	b := &auth.Context{ProjectID: "B", Roles: []string{"member"}}
	ctx := t.Context()

	first := f.image(t, a, "raw", "bare", image.Private)
	if err := svc.Upload(ctx, a, first, bytes.NewReader(make([]byte, 600)), 600); err != nil {
		t.Fatalf("upload within quota: %v", err)
	}

	tests := []struct {
		name string
		size int64 // declared; -1 streams without a length
		n    int
	}{
		{"declared length over what is left", 500, 500},
		{"chunked body growing past what is left", -1, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := f.image(t, a, "raw", "bare", image.Private)
			err := svc.Upload(ctx, a, id, io.LimitReader(zeroReader{}, int64(tt.n)), tt.size)
			if !image.Is(image.TooLarge, err) {
				t.Fatalf("Upload = %v, want TooLarge", err)
			}
			// A chunked body is refused at the read that passes the
			// quota; this one arrives in a single read of 500 bytes.
			want := "Denying attempt to upload image because it exceeds the quota: The size of the data 500 will exceed the limit. 400 bytes remaining."
			if got := image.Message(err); got != want {
				t.Errorf("message = %q, want %q", got, want)
			}
			f.wantQueued(t, id)
		})
	}
	f.wantFiles(t, "after refused uploads", first)

	// Exactly what is left fits; another project has its own quota.
	rest := f.image(t, a, "raw", "bare", image.Private)
	if err := svc.Upload(ctx, a, rest, bytes.NewReader(make([]byte, 400)), 400); err != nil {
		t.Fatalf("upload of exactly the remaining bytes: %v", err)
	}
	other := f.image(t, b, "raw", "bare", image.Private)
	if err := svc.Upload(ctx, b, other, bytes.NewReader(make([]byte, 900)), 900); err != nil {
		t.Fatalf("upload by another project: %v", err)
	}
	// Deleting an image gives its bytes back.
	if err := svc.Delete(ctx, a, first); err != nil {
		t.Fatal(err)
	}
	again := f.image(t, a, "raw", "bare", image.Private)
	if err := svc.Upload(ctx, a, again, bytes.NewReader(make([]byte, 600)), 600); err != nil {
		t.Fatalf("upload after freeing space: %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
