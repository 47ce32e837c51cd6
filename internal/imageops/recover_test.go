package imageops_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"glimpse/internal/image"
	"glimpse/internal/store/file"
)

// TestRecoverInterruptedUploads: images a crashed process left saving go
// back to queued with no data, while uploads still being written (here or
// in another process sharing the store) and images in other states are
// left alone.
func TestRecoverInterruptedUploads(t *testing.T) {
	f := newDataFixture(t, "", 1<<30, "sha512")
	ctx := context.Background()
	owner := member("A")

	// Crashed mid-stream: saving, an unlocked temporary file left behind.
	crashed := f.image(t, owner, "raw", "bare", image.Private)
	if err := f.db.SetStatus(ctx, crashed, image.Queued, image.Saving); err != nil {
		t.Fatal(err)
	}
	// Crashed after the rename, before the catalog update: saving, its
	// data published but not recorded.
	published := f.image(t, owner, "raw", "bare", image.Private)
	if err := f.db.SetStatus(ctx, published, image.Queued, image.Saving); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, published), []byte("orphan"), 0o600); err != nil {
		t.Fatal(err)
	}
	queued := f.image(t, owner, "raw", "bare", image.Private)
	active := f.image(t, owner, "raw", "bare", image.Private)
	if err := f.svc.Upload(ctx, owner, active, bytes.NewReader([]byte("abc")), 3); err != nil {
		t.Fatalf("Upload: %v", err)
	}

	// Live in this process: an upload blocked mid-stream.
	live := f.image(t, owner, "raw", "bare", image.Private)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- f.svc.Upload(context.Background(), owner, live, pr, -1) }()
	pw.Write([]byte("first"))

	// Live in another process: another driver on the same directory
	// writing an image marked saving.
	other := f.image(t, owner, "raw", "bare", image.Private)
	if err := f.db.SetStatus(ctx, other, image.Queued, image.Saving); err != nil {
		t.Fatal(err)
	}
	d2, err := file.New(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	pr2, pw2 := io.Pipe()
	done2 := make(chan error, 1)
	go func() {
		_, _, err := d2.Put(context.Background(), other, pr2, -1)
		done2 <- err
	}()
	pw2.Write([]byte("data"))
	deadline := time.Now().Add(5 * time.Second)
	for !(d2.UploadInProgress(live) && d2.UploadInProgress(other)) {
		if time.Now().After(deadline) {
			t.Fatal("the live uploads did not start within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The crashed process's temporary file, whose lock nobody holds.
	if err := os.WriteFile(filepath.Join(f.dir, "."+crashed+".0123456789abcdef.tmp"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Start-up order: the store's leftovers first, then the catalog.
	d3, err := file.New(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d3.CleanTemp(); err != nil || n != 1 {
		t.Errorf("CleanTemp: got %d removed, %v; want 1 (the crashed upload's), nil", n, err)
	}
	n, err := f.svc.RecoverInterruptedUploads(ctx)
	if err != nil || n != 2 {
		t.Errorf("RecoverInterruptedUploads: got %d, %v; want 2, nil", n, err)
	}
	f.wantQueued(t, crashed)
	f.wantQueued(t, published)
	f.wantQueued(t, queued)
	want := map[string]image.Status{active: image.Active, live: image.Saving, other: image.Saving}
	for id, st := range want {
		if got := stored(t, f.db, id).Status; got != st {
			t.Errorf("image %s: got status %s, want %s", id, got, st)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, published)); !os.IsNotExist(err) {
		t.Errorf("unrecorded data of %s: got %v, want it removed", published, err)
	}

	// The live uploads finish undisturbed.
	pw.Write([]byte(" second"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("live Upload: got %v, want nil", err)
	}
	if got := stored(t, f.db, live).Status; got != image.Active {
		t.Errorf("live upload: got status %s, want active", got)
	}
	pw2.Close()
	if err := <-done2; err != nil {
		t.Fatalf("other driver's Put: got %v, want nil", err)
	}

	// A recovered image takes a new upload.
	for _, id := range []string{crashed, published} {
		if err := f.svc.Upload(ctx, owner, id, bytes.NewReader([]byte("fresh")), 5); err != nil {
			t.Fatalf("Upload after recovery of %s: got %v, want nil", id, err)
		}
		rc, _, err := f.svc.Download(ctx, owner, id, 0, -1)
		if err != nil {
			t.Fatalf("Download %s: %v", id, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "fresh" {
			t.Errorf("Download %s: got %q, want %q", id, b, "fresh")
		}
	}

	// The other process published its data and died before recording it:
	// the next recovery takes it back.
	if n, err := f.svc.RecoverInterruptedUploads(ctx); err != nil || n != 1 {
		t.Errorf("second RecoverInterruptedUploads: got %d, %v; want 1, nil", n, err)
	}
	f.wantQueued(t, other)
	f.wantFiles(t, "after the second recovery", active, live, crashed, published)
	if n, err := f.svc.RecoverInterruptedUploads(ctx); err != nil || n != 0 {
		t.Errorf("third RecoverInterruptedUploads: got %d, %v; want 0, nil", n, err)
	}
}
