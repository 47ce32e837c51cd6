package imageops_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/auth"
	"glimpse/internal/catalog/sqlcat"
	"glimpse/internal/image"
	"glimpse/internal/imageops"
	"glimpse/internal/store"
	"glimpse/internal/store/file"
)

const (
	bodyEnded   = "The request body ended before the image data did."
	bodyBroken  = "Reading the request body failed."
	sizeDiffers = "The uploaded data does not match the declared size."
	incoming    = "The incoming image is too large: The provided image is too large."
	mediaFull   = "Image storage media is full: There is not enough disk space on the image storage media."
)

// dataFixture is a service with a catalog and a file store in dir.
type dataFixture struct {
	db  *sqlcat.DB
	svc *imageops.Service
	dir string
}

// newDataFixture opens a file store in dir (a new temporary directory when
// empty) with the given image_size_cap and hashing_algorithm.
func newDataFixture(t *testing.T, dir string, sizeCap int64, algo string, tune ...func(*imageops.DataConfig)) *dataFixture {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	d, err := file.New(dir)
	if err != nil {
		t.Fatalf("file.New: %v", err)
	}
	set, err := store.NewSet("file", store.Backend{ID: "file", Scheme: "file", Driver: d})
	if err != nil {
		t.Fatalf("store.NewSet: %v", err)
	}
	db := openCatalog(t)
	cfg := imageops.DataConfig{Stores: set, SizeCap: sizeCap, HashAlgo: algo}
	for _, f := range tune {
		f(&cfg)
	}
	svc := imageops.New(db, unlimited, imageops.WithData(cfg))
	return &dataFixture{db: db, svc: svc, dir: d.Dir()}
}

func strp(s string) *string { return &s }

// image creates a queued image owned by c's project with the formats
// (nil when empty).
func (f *dataFixture) image(t *testing.T, c *auth.Context, disk, container string, vis image.Visibility) string {
	t.Helper()
	in := &image.Image{Visibility: vis}
	if disk != "" {
		in.DiskFormat = strp(disk)
	}
	if container != "" {
		in.ContainerFormat = strp(container)
	}
	return mustCreate(t, f.svc, c, in).ID
}

// wantFiles checks that the store directory holds exactly the files of ids.
func (f *dataFixture) wantFiles(t *testing.T, what string, ids ...string) {
	t.Helper()
	ents, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, e := range ents {
		if e.Name() == "lost+found" {
			continue
		}
		got = append(got, e.Name())
	}
	want := append([]string{}, ids...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: store holds %q, want %q", what, got, want)
	}
}

// wantQueued checks that an image is queued with no data recorded.
func (f *dataFixture) wantQueued(t *testing.T, id string) {
	t.Helper()
	img := stored(t, f.db, id)
	if img.Status != image.Queued || img.Size != nil || img.VirtualSize != nil || img.Checksum != nil ||
		img.OSHashAlgo != nil || img.OSHashValue != nil || len(img.Locations) != 0 {
		t.Errorf("image %s: got status %s, size %v, virtual size %v, checksum %v, hash %v/%v, locations %v; want queued with no data",
			id, img.Status, img.Size, img.VirtualSize, img.Checksum, img.OSHashAlgo, img.OSHashValue, img.Locations)
	}
}

func randomData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func hexSum(h hash.Hash, b []byte) string {
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestUploadRecordsData(t *testing.T) {
	data := randomData(300<<10+3, 1)
	for _, tc := range []struct {
		algo string
		sum  hash.Hash
	}{
		{"sha512", sha512.New()},
		{"sha256", sha256.New()},
		{"sha3_256", sha3.New256()},
		{"md5", md5.New()},
	} {
		t.Run(tc.algo, func(t *testing.T) {
			f := newDataFixture(t, "", 1<<30, tc.algo)
			ctx := context.Background()
			owner := member("A")
			id := f.image(t, owner, "raw", "bare", image.Private)
			if err := f.svc.Upload(ctx, owner, id, bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatalf("Upload: %v", err)
			}
			img := stored(t, f.db, id)
			got := map[string]any{
				"status": string(img.Status), "size": deref(img.Size), "virtual_size": deref(img.VirtualSize),
				"checksum": deref(img.Checksum), "os_hash_algo": deref(img.OSHashAlgo), "os_hash_value": deref(img.OSHashValue),
			}
			want := map[string]any{
				"status": "active", "size": int64(len(data)), "virtual_size": int64(len(data)),
				"checksum": hexSum(md5.New(), data), "os_hash_algo": tc.algo, "os_hash_value": hexSum(tc.sum, data),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("recorded data (-want +got):\n%s", diff)
			}
			wantLoc := []image.Location{{URL: "file://" + filepath.Join(f.dir, id), Status: "active", Metadata: map[string]any{}}}
			if diff := cmp.Diff(wantLoc, img.Locations, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ID" }, cmp.Ignore())); diff != "" {
				t.Errorf("locations (-want +got):\n%s", diff)
			}
			f.wantFiles(t, "after the upload", id)

			for _, r := range []struct{ offset, length int64 }{{0, -1}, {0, int64(len(data))}, {5, 10}, {int64(len(data)) - 1, 1}, {100, -1}} {
				rc, dimg, err := f.svc.Download(ctx, owner, id, r.offset, r.length)
				if err != nil {
					t.Fatalf("Download(%d, %d): %v", r.offset, r.length, err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatalf("reading: %v", err)
				}
				end := int64(len(data))
				if r.length >= 0 {
					end = r.offset + r.length
				}
				if !bytes.Equal(b, data[r.offset:end]) {
					t.Errorf("Download(%d, %d): got %d bytes, want %d", r.offset, r.length, len(b), end-r.offset)
				}
				if dimg.ID != id || deref(dimg.Checksum) != want["checksum"] {
					t.Errorf("Download(%d, %d): got image %s with checksum %v", r.offset, r.length, dimg.ID, deref(dimg.Checksum))
				}
			}
			_, _, err := f.svc.Download(ctx, owner, id, int64(len(data))+1, -1)
			wantErr(t, "Download past the end", err, image.RangeNotSatisfiable, "")
		})
	}
}

// qcow2 returns a qcow2 header (padded to n bytes) announcing virtual.
// qemuImage makes a disk image with qemu-img (create, then any extra
// arguments) and returns its bytes. Without qemu-img the test skips, or
// fails under GLIMPSE_REQUIRE_BACKENDS=1.
func qemuImage(t *testing.T, fmtName, size string, opts ...string) []byte {
	t.Helper()
	qemu, err := exec.LookPath("qemu-img")
	if err != nil {
		if os.Getenv("GLIMPSE_REQUIRE_BACKENDS") == "1" {
			t.Fatalf("qemu-img not found (Debian package qemu-utils) and GLIMPSE_REQUIRE_BACKENDS=1")
		}
		t.Skip("qemu-img not found: install qemu-utils (scripts/test.sh does) to run this test")
	}
	path := filepath.Join(t.TempDir(), "disk."+fmtName)
	args := append([]string{"create", "-q", "-f", fmtName}, opts...)
	args = append(args, path, size)
	if out, err := exec.Command(qemu, args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploadVirtualSize(t *testing.T) {
	f := newDataFixture(t, "", 1<<30, "sha512", func(c *imageops.DataConfig) { c.RequireFormatMatch = true })
	owner := member("A")
	i64 := func(v int64) *int64 { return &v }
	qcow := qemuImage(t, "qcow2", "1G")
	vmdk := qemuImage(t, "vmdk", "3M", "-o", "subformat=streamOptimized")
	for _, tc := range []struct {
		name            string
		disk, container string
		data            []byte
		want            *int64
	}{
		{"raw", "raw", "bare", randomData(1000, 2), i64(1000)},
		{"raw, nothing", "raw", "bare", nil, nil},
		{"raw in ovf", "raw", "ovf", randomData(1000, 2), nil},
		{"qcow2", "qcow2", "bare", qcow, i64(1 << 30)},
		// Glance takes data declared raw whatever it holds, as raw.
		{"qcow2 declared raw", "raw", "bare", qcow, i64(int64(len(qcow)))},
		{"qcow2 in ova", "qcow2", "ova", qcow, nil},
		{"vmdk", "vmdk", "bare", vmdk, i64(3 << 20)},
		// ami and friends cannot be inspected: anything unrecognised goes.
		{"ami", "ami", "ami", randomData(4096, 4), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := f.image(t, owner, tc.disk, tc.container, image.Private)
			if err := f.svc.Upload(context.Background(), owner, id, bytes.NewReader(tc.data), -1); err != nil {
				t.Fatalf("Upload: %v", err)
			}
			img := stored(t, f.db, id)
			if diff := cmp.Diff(deref(tc.want), deref(img.VirtualSize)); diff != "" {
				t.Errorf("virtual size (-want +got):\n%s", diff)
			}
			if deref(img.Size) != int64(len(tc.data)) {
				t.Errorf("size: got %v, want %d", deref(img.Size), len(tc.data))
			}
		})
	}
}

// Data that is not what the image says it is, or that is unsafe for a
// hypervisor to open, is refused with Glance's 415 and leaves nothing
// behind: the image is queued again and no data is stored.
func TestUploadFormatRefusals(t *testing.T) {
	qcow := qemuImage(t, "qcow2", "64M")
	backed := qemuImage(t, "qcow2", "64M", "-o", "backing_file=/etc/hostname,backing_fmt=raw", "-u")
	iso := qemuImage(t, "raw", "1M")
	for _, tc := range []struct {
		name         string
		requireMatch bool
		disk         string
		data         []byte
		want         string // "" = accepted
	}{
		{"raw declared qcow2", true, "qcow2", randomData(1<<20, 7), "Image disk_format qcow2 does not match stream data raw"},
		{"qcow2 declared vmdk", true, "vmdk", qcow, "Image disk_format vmdk does not match stream data qcow2"},
		{"raw declared iso", true, "iso", iso, "Image disk_format iso does not match stream data raw"},
		{"backing file", true, "qcow2", backed, "Image failed safety checks"},
		{"backing file declared raw", true, "raw", backed, "Image failed safety checks"},
		{"mismatch allowed by config", false, "vmdk", qcow, ""},
		// Glance would let an unsafe image through when the format need
		// not match; glimpse never stores one.
		{"backing file, mismatch allowed", false, "vmdk", backed, "Image failed safety checks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDataFixture(t, "", 1<<30, "sha512", func(c *imageops.DataConfig) { c.RequireFormatMatch = tc.requireMatch })
			owner := member("A")
			id := f.image(t, owner, tc.disk, "bare", image.Private)
			err := f.svc.Upload(context.Background(), owner, id, bytes.NewReader(tc.data), int64(len(tc.data)))
			img := stored(t, f.db, id)
			if tc.want == "" {
				if err != nil || img.Status != image.Active {
					t.Fatalf("Upload: %v, status %s; want it accepted", err, img.Status)
				}
				if img.VirtualSize != nil {
					t.Fatalf("virtual size of mismatched data: got %d, want none", *img.VirtualSize)
				}
				return
			}
			var ie *image.Error
			if !errors.As(err, &ie) || ie.Kind != image.Unsupported || ie.Msg != tc.want {
				t.Fatalf("Upload: got %v, want a 415 saying %q", err, tc.want)
			}
			if img.Status != image.Queued || img.Size != nil || len(img.Locations) != 0 {
				t.Fatalf("after the refusal: status %s, size %v, locations %v; want queued with nothing", img.Status, deref(img.Size), img.Locations)
			}
			if entries, err := os.ReadDir(f.dir); err != nil || len(entries) != 0 {
				t.Fatalf("store directory after the refusal: %v (%v), want empty", entries, err)
			}
		})
	}
}

func TestUploadRefusals(t *testing.T) {
	f := newDataFixture(t, "", 1<<30, "sha512")
	ctx := context.Background()
	owner, other := member("A"), member("B")
	abc := []byte("abc")
	noFormats := f.image(t, owner, "", "", image.Community)
	diskOnly := f.image(t, owner, "raw", "", image.Community)
	containerOnly := f.image(t, owner, "", "bare", image.Community)
	community := f.image(t, owner, "raw", "bare", image.Community)
	private := f.image(t, owner, "raw", "bare", image.Private)
	active := f.image(t, owner, "raw", "bare", image.Private)
	if err := f.svc.Upload(ctx, owner, active, bytes.NewReader(abc), 3); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	saving := f.image(t, owner, "raw", "bare", image.Private)
	if err := f.db.SetStatus(ctx, saving, image.Queued, image.Saving); err != nil {
		t.Fatal(err)
	}
	// Glance checks the status before the formats.
	savingNoFormats := f.image(t, owner, "", "", image.Private)
	if err := f.db.SetStatus(ctx, savingNoFormats, image.Queued, image.Saving); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    *auth.Context
		id   string
		kind image.Kind
		msg  string
	}{
		{"no formats", owner, noFormats, image.Invalid, "Properties disk_format, container_format must be set prior to saving data."},
		{"no container format", owner, diskOnly, image.Invalid, "Property container_format must be set prior to saving data."},
		{"no disk format", owner, containerOnly, image.Invalid, "Property disk_format must be set prior to saving data."},
		{"not the owner", other, community, image.Forbidden, "Not allowed to upload image data for image " + community},
		{"not the owner, no formats", other, noFormats, image.Forbidden, "Not allowed to upload image data for image " + noFormats},
		{"invisible", other, private, image.NotFound, "No image found with ID " + private},
		{"active", owner, active, image.Conflict, "Image status transition from active to saving is not allowed"},
		{"active, admin", adminCtx, active, image.Conflict, "Image status transition from active to saving is not allowed"},
		{"saving", owner, saving, image.Conflict, "Image status transition from saving to saving is not allowed"},
		{"saving without formats", owner, savingNoFormats, image.Conflict, "Image status transition from saving to saving is not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := 0
			body := readerFunc(func(p []byte) (int, error) { read++; return 0, io.EOF })
			wantErr(t, "Upload", f.svc.Upload(ctx, tc.c, tc.id, body, 3), tc.kind, tc.msg)
			if read != 0 {
				t.Errorf("the body was read %d times, want never", read)
			}
		})
	}
	for _, id := range []string{noFormats, diskOnly, containerOnly, community, private} {
		f.wantQueued(t, id)
	}
	f.wantFiles(t, "after the refusals", active)
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// failingReader yields data, then fails with err.
func failingReader(data []byte, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(data), readerFunc(func([]byte) (int, error) { return 0, err }))
}

func TestUploadFailuresLeaveNothing(t *testing.T) {
	const limit = 1 << 20
	f := newDataFixture(t, "", limit, "sha512")
	owner := member("A")
	data := randomData(300<<10, 6)
	errBroken := errors.New("malformed chunked encoding")
	for _, tc := range []struct {
		name string
		body func(cancel func()) io.Reader
		size int64
		kind image.Kind
		msg  string
	}{
		{"reader fails mid-stream", func(func()) io.Reader { return failingReader(data, errBroken) }, -1, image.Invalid, bodyBroken},
		{"reader fails with a declared size", func(func()) io.Reader { return failingReader(data, errBroken) }, 1 << 19, image.Invalid, bodyBroken},
		{"body ends early", func(func()) io.Reader { return failingReader(data, io.ErrUnexpectedEOF) }, 1 << 19, image.Invalid, bodyEnded},
		{"shorter than declared", func(func()) io.Reader { return bytes.NewReader(data) }, int64(len(data)) + 1, image.Invalid, sizeDiffers},
		{"longer than declared", func(func()) io.Reader { return bytes.NewReader(data) }, int64(len(data)) - 1, image.Invalid, sizeDiffers},
		{"request cancelled", func(cancel func()) io.Reader {
			return io.MultiReader(bytes.NewReader(data), readerFunc(func([]byte) (int, error) { cancel(); return 0, io.EOF }), bytes.NewReader(data))
		}, -1, image.Invalid, bodyEnded},
		{"declared size over the cap", func(func()) io.Reader {
			return readerFunc(func([]byte) (int, error) { panic("the body of an oversized upload was read") })
		}, limit + 1, image.TooLarge, incoming},
		{"stream over the cap", func(func()) io.Reader { return bytes.NewReader(randomData(limit+1, 7)) }, -1, image.TooLarge, incoming},
		{"endless stream", func(func()) io.Reader { return readerFunc(func(p []byte) (int, error) { return len(p), nil }) }, -1, image.TooLarge, incoming},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			id := f.image(t, owner, "raw", "bare", image.Private)
			wantErr(t, "Upload", f.svc.Upload(ctx, owner, id, tc.body(cancel), tc.size), tc.kind, tc.msg)
			f.wantQueued(t, id)
			f.wantFiles(t, "after the failure")
			// The image takes another upload.
			if err := f.svc.Upload(context.Background(), owner, id, bytes.NewReader(data[:100]), 100); err != nil {
				t.Fatalf("second Upload: %v", err)
			}
			if got := deref(stored(t, f.db, id).Checksum); got != hexSum(md5.New(), data[:100]) {
				t.Errorf("checksum after the retry: got %v, want %s", got, hexSum(md5.New(), data[:100]))
			}
			if err := f.svc.Delete(context.Background(), owner, id); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			f.wantFiles(t, "after the delete")
		})
	}

	t.Run("exactly the cap", func(t *testing.T) {
		for _, size := range []int64{limit, -1} {
			id := f.image(t, owner, "raw", "bare", image.Private)
			if err := f.svc.Upload(context.Background(), owner, id, bytes.NewReader(randomData(limit, 8)), size); err != nil {
				t.Fatalf("Upload of %d bytes (declared %d): %v", limit, size, err)
			}
			if got := deref(stored(t, f.db, id).Size); got != int64(limit) {
				t.Errorf("size: got %v, want %d", got, limit)
			}
		}
	})
}

// mountTmpfs mounts a tmpfs of the given size on a new directory and
// unmounts it when the test ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("filling a store needs a small file system: mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("filling a store needs a small file system, and no tmpfs could be mounted: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func TestUploadStoreFull(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	f := newDataFixture(t, dir, 1<<30, "sha512")
	ctx := context.Background()
	owner := member("A")
	for _, size := range []int64{4 << 20, -1} {
		id := f.image(t, owner, "raw", "bare", image.Private)
		err := f.svc.Upload(ctx, owner, id, bytes.NewReader(randomData(4<<20, 9)), size)
		wantErr(t, "Upload of 4 MiB to 2 MiB", err, image.TooLarge, mediaFull)
		f.wantQueued(t, id)
		f.wantFiles(t, "after the full store")
	}
	// The space is free again.
	id := f.image(t, owner, "raw", "bare", image.Private)
	data := randomData(1<<20, 10)
	if err := f.svc.Upload(ctx, owner, id, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Upload of 1 MiB: %v", err)
	}
	f.wantFiles(t, "after the upload", id)
}

func TestUploadRace(t *testing.T) {
	f := newDataFixture(t, "", 1<<30, "sha512")
	owner := member("A")
	for round := range 10 {
		id := f.image(t, owner, "raw", "bare", image.Private)
		bodies := [][]byte{randomData(200<<10, uint64(2*round)), randomData(200<<10, uint64(2*round+1))}
		errs := make([]error, len(bodies))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = f.svc.Upload(context.Background(), owner, id, bytes.NewReader(bodies[i]), int64(len(bodies[i])))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: both uploads succeeded", round)
			case image.KindOf(err) != image.Conflict:
				t.Fatalf("round %d upload %d: got %v, want a conflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: both uploads failed: %v", round, errs)
		}
		if got, want := deref(stored(t, f.db, id).Checksum), hexSum(md5.New(), bodies[winner]); got != want {
			t.Errorf("round %d: checksum %v, want the winner's %s", round, got, want)
		}
		b, err := os.ReadFile(filepath.Join(f.dir, id))
		if err != nil || !bytes.Equal(b, bodies[winner]) {
			t.Errorf("round %d: stored data is not the winner's (%v)", round, err)
		}
	}
}

func TestUploadImageDeletedMeanwhile(t *testing.T) {
	f := newDataFixture(t, "", 1<<30, "sha512")
	ctx := context.Background()
	owner := member("A")
	id := f.image(t, owner, "raw", "bare", image.Private)
	deleted := false
	body := io.MultiReader(bytes.NewReader(randomData(200<<10, 11)), readerFunc(func([]byte) (int, error) {
		if !deleted {
			deleted = true
			if err := f.svc.Delete(ctx, owner, id); err != nil {
				t.Errorf("Delete during the upload: %v", err)
			}
		}
		return 0, io.EOF
	}))
	err := f.svc.Upload(ctx, owner, id, body, -1)
	wantErr(t, "Upload", err, image.Gone, "Image "+id+" could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded.")
	f.wantFiles(t, "after the upload")
	_, err = f.svc.Get(ctx, owner, id)
	wantErr(t, "Get", err, image.NotFound, "No image found with ID "+id)
}

func TestDownloadRules(t *testing.T) {
	f := newDataFixture(t, "", 1<<30, "sha512")
	ctx := context.Background()
	owner, other := member("A"), member("B")
	id := f.image(t, owner, "raw", "bare", image.Community)
	data := []byte("abcde")
	if err := f.svc.Upload(ctx, owner, id, bytes.NewReader(data), 5); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	queued := f.image(t, owner, "raw", "bare", image.Community)
	private := f.image(t, owner, "raw", "bare", image.Private)

	read := func(c *auth.Context, id string) ([]byte, error) {
		rc, _, err := f.svc.Download(ctx, c, id, 0, -1)
		if err != nil || rc == nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	if b, err := read(other, id); err != nil || !bytes.Equal(b, data) {
		t.Errorf("Download by another project: got %q, %v; want %q", b, err, data)
	}
	if b, err := read(other, queued); err != nil || b != nil {
		t.Errorf("Download of a queued image: got %q, %v; want no data and no error", b, err)
	}
	_, err := read(other, private)
	wantErr(t, "Download of an invisible image", err, image.NotFound, "No image found with ID "+private)

	if err := f.svc.Deactivate(ctx, owner, id); err != nil {
		t.Fatalf("Deactivate: %v", err)
	}
	for _, c := range []*auth.Context{owner, other} {
		_, err := read(c, id)
		wantErr(t, "Download of a deactivated image", err, image.Forbidden, "The requested image has been deactivated. Image data download is forbidden.")
	}
	if b, err := read(adminCtx, id); err != nil || !bytes.Equal(b, data) {
		t.Errorf("admin's Download of a deactivated image: got %q, %v; want %q", b, err, data)
	}

	// Data removed behind the service's back reads as no data.
	if err := os.Remove(filepath.Join(f.dir, id)); err != nil {
		t.Fatal(err)
	}
	if b, err := read(adminCtx, id); err != nil || b != nil {
		t.Errorf("Download of lost data: got %q, %v; want no data and no error", b, err)
	}
}

func TestDeleteRemovesData(t *testing.T) {
	f := newDataFixture(t, "", 1<<30, "sha512")
	ctx := context.Background()
	owner := member("A")
	keep := f.image(t, owner, "raw", "bare", image.Private)
	active := f.image(t, owner, "raw", "bare", image.Private)
	for _, id := range []string{keep, active} {
		if err := f.svc.Upload(ctx, owner, id, bytes.NewReader([]byte(id)), -1); err != nil {
			t.Fatalf("Upload: %v", err)
		}
	}
	if err := f.svc.Delete(ctx, owner, active); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	f.wantFiles(t, "after deleting an active image", keep)

	// An image stuck in saving by an upload that never finished (a crash
	// after the data was stored) leaves its data at its usual place.
	stuck := f.image(t, owner, "raw", "bare", image.Private)
	if err := f.db.SetStatus(ctx, stuck, image.Queued, image.Saving); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, stuck), []byte("orphan"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(ctx, owner, stuck); err != nil {
		t.Fatalf("Delete of a saving image: %v", err)
	}
	f.wantFiles(t, "after deleting a saving image", keep)

	// Deleting an image whose data is already gone works.
	if err := os.Remove(filepath.Join(f.dir, keep)); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(ctx, owner, keep); err != nil {
		t.Fatalf("Delete of an image with lost data: %v", err)
	}
	f.wantFiles(t, "at the end")
}
