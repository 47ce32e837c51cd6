package imageops_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// opsFixture is a service over a catalog file and a file store, both in
// temporary directories whose paths the test knows.
type opsFixture struct {
	db     *sqlcat.DB
	dbPath string
	stores *store.Set
	svc    *imageops.Service
	dir    string
}

func newOpsFixture(t *testing.T, algo string, delayed bool) *opsFixture {
	t.Helper()
	ctx := context.Background()
	f := &opsFixture{dbPath: filepath.Join(t.TempDir(), "glance.sqlite")}
	db, err := sqlcat.Open(ctx, f.dbPath)
	if err != nil {
		t.Fatalf("sqlcat.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, _, err := db.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	d, err := file.New(t.TempDir())
	if err != nil {
		t.Fatalf("file.New: %v", err)
	}
	set, err := store.NewSet("file", store.Backend{ID: "file", Scheme: "file", Driver: d})
	if err != nil {
		t.Fatalf("store.NewSet: %v", err)
	}
	f.db, f.stores, f.dir = db, set, d.Dir()
	f.svc = imageops.New(db, unlimited, imageops.WithData(imageops.DataConfig{
		Stores: set, SizeCap: 1 << 30, HashAlgo: algo, DelayedDelete: delayed}))
	return f
}

// upload creates an active image holding data and returns its ID.
func (f *opsFixture) upload(t *testing.T, c *auth.Context, data []byte) string {
	t.Helper()
	id, err := f.tryUpload(c, data)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// tryUpload is upload for goroutines other than the test's.
func (f *opsFixture) tryUpload(c *auth.Context, data []byte) (string, error) {
	ctx := context.Background()
	img, err := f.svc.Create(ctx, c, &image.Image{DiskFormat: strp("raw"), ContainerFormat: strp("bare")}, 0)
	if err != nil {
		return "", fmt.Errorf("Create: %w", err)
	}
	if err := f.svc.Upload(ctx, c, img.ID, bytes.NewReader(data), int64(len(data))); err != nil {
		return "", fmt.Errorf("Upload %s: %w", img.ID, err)
	}
	return img.ID, nil
}

func (f *opsFixture) path(id string) string { return filepath.Join(f.dir, id) }

func (f *opsFixture) verify(t *testing.T, ids ...string) []imageops.VerifyResult {
	t.Helper()
	var got []imageops.VerifyResult
	err := imageops.Verify(context.Background(), f.db, f.stores, ids, func(r imageops.VerifyResult) { got = append(got, r) })
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return got
}

type verifyLine struct {
	ID       string
	Outcome  imageops.VerifyOutcome
	Location string
}

func lines(rs []imageops.VerifyResult) []verifyLine {
	out := []verifyLine{}
	for _, r := range rs {
		out = append(out, verifyLine{r.ID, r.Outcome, r.Location})
	}
	return out
}

func sortLines(ls []verifyLine) []verifyLine {
	slices.SortFunc(ls, func(a, b verifyLine) int { return strings.Compare(a.ID, b.ID) })
	return ls
}

func TestVerify(t *testing.T) {
	for _, algo := range []string{"sha512", "sha256", ""} {
		t.Run("algo="+algo, func(t *testing.T) {
			f := newOpsFixture(t, algo, false)
			owner := member("P")
			intact := f.upload(t, owner, randomData(70<<10, 1))
			flipped := f.upload(t, owner, randomData(70<<10, 2))
			gone := f.upload(t, owner, randomData(1000, 3))
			deact := f.upload(t, owner, randomData(500, 4))
			grown := f.upload(t, owner, randomData(500, 5))
			queued := mustCreate(t, f.svc, owner, &image.Image{}).ID
			if err := f.svc.Deactivate(context.Background(), adminCtx, deact); err != nil {
				t.Fatalf("Deactivate: %v", err)
			}

			b, err := os.ReadFile(f.path(flipped))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(f.path(flipped), b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(f.path(gone)); err != nil {
				t.Fatal(err)
			}
			fh, err := os.OpenFile(f.path(grown), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fh.Write([]byte("x"))
			fh.Close()

			want := []verifyLine{
				{intact, imageops.VerifyOK, ""},
				{flipped, imageops.VerifyMismatch, "file://" + f.path(flipped)},
				{gone, imageops.VerifyMissing, "file://" + f.path(gone)},
				{deact, imageops.VerifyOK, ""},
				{grown, imageops.VerifyMismatch, "file://" + f.path(grown)},
			}
			all := f.verify(t)
			if diff := cmp.Diff(sortLines(want), sortLines(lines(all))); diff != "" {
				t.Errorf("Verify(all) (-want +got):\n%s", diff)
			}
			for _, r := range all {
				if got, want := r.Failed(), r.Outcome != imageops.VerifyOK; got != want {
					t.Errorf("%s %s: Failed() got %v, want %v", r.Outcome, r.ID, got, want)
				}
				if r.ID == flipped {
					hashDiffers := strings.Contains(r.Detail, "os_hash_value")
					if !strings.Contains(r.Detail, "checksum") || hashDiffers != (algo != "") || strings.Contains(r.Detail, "size") {
						t.Errorf("flipped byte detail: got %q, want the checksum (and os_hash_value when hashed) only", r.Detail)
					}
				}
				if r.ID == grown && !strings.Contains(r.Detail, "size 501, recorded 500") {
					t.Errorf("grown file detail: got %q, want the size difference", r.Detail)
				}
			}

			named := f.verify(t, intact, queued, "00000000-0000-0000-0000-000000000000")
			wantNamed := []verifyLine{
				{intact, imageops.VerifyOK, ""},
				{queued, imageops.VerifySkipped, ""},
				{"00000000-0000-0000-0000-000000000000", imageops.VerifyNotFound, ""},
			}
			if diff := cmp.Diff(wantNamed, lines(named)); diff != "" {
				t.Errorf("Verify(named) (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerifyPages checks that verifying every image pages through more
// images than one catalog read returns.
func TestVerifyPages(t *testing.T) {
	f := newOpsFixture(t, "sha512", false)
	owner := member("P")
	const n = 501
	ids := make([]string, n)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				id, err := f.tryUpload(owner, randomData(10, uint64(i)))
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	got := map[string]bool{}
	for _, r := range f.verify(t) {
		if r.Outcome != imageops.VerifyOK {
			t.Errorf("%s: got %s %s, want ok", r.ID, r.Outcome, r.Detail)
		}
		if got[r.ID] {
			t.Errorf("%s: reported twice", r.ID)
		}
		got[r.ID] = true
	}
	if len(got) != len(want) {
		t.Errorf("verified %d images, want %d", len(got), len(want))
	}
}
