package sqlcat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

func testID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func testImage(n int) *image.Image {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Millisecond)
	return &image.Image{
		ID:         testID(n),
		Name:       image.Str(fmt.Sprintf("image-%d", n)),
		Status:     image.Queued,
		Visibility: image.Shared,
		Owner:      image.Str("p1"),
		CreatedAt:  at,
		UpdatedAt:  at,
		Properties: map[string]*string{"n": image.Str(fmt.Sprint(n))},
		Tags:       []string{"t", fmt.Sprintf("t%d", n%4)},
	}
}

// liveIDs lists the IDs of the live images in the file, read on a
// connection of its own.
func liveIDs(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	queryEach(t, t.Context(), rawDB(t, path), `SELECT id FROM images WHERE deleted = 0 ORDER BY id`, nil, func(r *sql.Rows) error {
		var id string
		err := r.Scan(&id)
		out = append(out, id)
		return err
	})
	return out
}

// 64 creates at once all succeed, and every one is on disk once they
// returned: a fresh handle on the file after Close sees them all.
func TestConcurrentCreatesAreDurable(t *testing.T) {
	db, path := openSynced(t)
	const n = 64
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = db.CreateImage(t.Context(), testImage(i))
		})
	}
	close(start)
	wg.Wait()
	var want []string
	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateImage %d: got error %v, want nil", i, err)
		}
		want = append(want, testID(i))
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := liveIDs(t, path); !slices.Equal(got, want) {
		t.Errorf("images on disk after Close: got %d %q, want %d", len(got), got, len(want))
	}
	again := openDB(t, path)
	for i := range n {
		want := testImage(i)
		got, err := again.GetImage(t.Context(), want.ID)
		if err != nil {
			t.Errorf("GetImage(%s) after reopening: got error %v, want nil", want.ID, err)
			continue
		}
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("image %d after reopening (-want +got):\n%s", i, d)
		}
	}
}

// Writes that arrive while the writer is busy share one transaction. One
// of them failing (a duplicate ID, a lost compare-and-set) is rolled back
// alone: the others in the same batch are committed.
func TestBatchFailureIsolated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, path := openSynced(t)
		ctx := context.Background()
		// Eight images exist before the batch.
		for i := range 8 {
			if err := db.CreateImage(ctx, testImage(i)); err != nil {
				t.Fatalf("CreateImage %d: %v", i, err)
			}
		}

		// Hold the writer inside a transaction so that everything below
		// queues up and is taken as one batch.
		running, release := make(chan struct{}), make(chan struct{})
		held := make(chan error, 1)
		go func() {
			held <- db.write(ctx, func(context.Context, *wtx) error {
				close(running)
				<-release
				return nil
			})
		}()
		<-running

		type op struct {
			name string
			run  func() error
			want error
		}
		var ops []op
		for i := 100; i < 140; i++ {
			ops = append(ops, op{fmt.Sprintf("create new %d", i), func() error { return db.CreateImage(ctx, testImage(i)) }, nil})
		}
		for i := range 8 {
			dup := testImage(i)
			dup.Name = image.Str("duplicate")
			dup.Properties["dup"] = image.Str("yes")
			dup.Tags = []string{"dup"}
			ops = append(ops, op{fmt.Sprintf("create duplicate %d", i), func() error { return db.CreateImage(ctx, dup) }, catalog.ErrDuplicate})
		}
		for i := range 8 {
			ops = append(ops, op{fmt.Sprintf("stale SetStatus %d", i), func() error {
				return db.SetStatus(ctx, testID(i), image.Active, image.Deactivated)
			}, catalog.ErrConflict})
		}
		ops = append(ops, op{"member of a missing image", func() error {
			return db.AddMember(ctx, &image.Member{ImageID: testID(999), MemberID: "p2", Status: image.MemberPending})
		}, errAny})
		errs := make([]error, len(ops))
		var wg sync.WaitGroup
		for i, o := range ops {
			wg.Go(func() { errs[i] = o.run() })
		}
		// Every writer is now blocked handing its request to the busy
		// writer goroutine.
		synctest.Wait()
		close(release)
		wg.Wait()
		if err := <-held; err != nil {
			t.Fatalf("holding write: %v", err)
		}

		for i, o := range ops {
			switch {
			case o.want == errAny && errs[i] == nil:
				t.Errorf("%s: got nil error, want one", o.name)
			case o.want == errAny:
			case o.want == nil && errs[i] != nil:
				t.Errorf("%s: got error %v, want nil", o.name, errs[i])
			case o.want != nil && !errors.Is(errs[i], o.want):
				t.Errorf("%s: got error %v, want %v", o.name, errs[i], o.want)
			}
		}
		var want []string
		for i := range 8 {
			want = append(want, testID(i))
		}
		for i := 100; i < 140; i++ {
			want = append(want, testID(i))
		}
		if got := liveIDs(t, path); !slices.Equal(got, want) {
			t.Errorf("images after the batch: got %q, want %q", got, want)
		}
		for _, id := range want {
			var n int
			fmt.Sscanf(id[len(id)-12:], "%d", &n)
			got, err := db.GetImage(ctx, id)
			if err != nil {
				t.Errorf("GetImage(%s): %v", id, err)
				continue
			}
			if d := cmp.Diff(testImage(n), got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("image %d after the batch (-want +got):\n%s", n, d)
			}
		}
		var members int
		if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM image_members`).Scan(&members); err != nil || members != 0 {
			t.Errorf("member rows: got %d (%v), want 0", members, err)
		}
	})
}

// errAny marks an operation expected to fail with some error.
var errAny = errors.New("any error")

// Two clients racing to create the same new ID in one batch: one wins.
func TestBatchDuplicateWithinBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, path := openSynced(t)
		ctx := context.Background()
		running, release := make(chan struct{}), make(chan struct{})
		go db.write(ctx, func(context.Context, *wtx) error {
			close(running)
			<-release
			return nil
		})
		<-running
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				img := testImage(7)
				img.Name = image.Str(fmt.Sprintf("writer-%d", i))
				errs[i] = db.CreateImage(ctx, img)
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("creates %d and %d both succeeded, want exactly one", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, catalog.ErrDuplicate):
				t.Errorf("create %d: got error %v, want nil or %v", i, err, catalog.ErrDuplicate)
			}
		}
		if winner < 0 {
			t.Fatalf("no create succeeded")
		}
		if got := liveIDs(t, path); !slices.Equal(got, []string{testID(7)}) {
			t.Errorf("images: got %q, want one", got)
		}
		got, err := db.GetImage(ctx, testID(7))
		if err != nil || got.Name == nil || *got.Name != fmt.Sprintf("writer-%d", winner) {
			t.Errorf("stored image: got %+v (%v), want the winner's name writer-%d", got, err, winner)
		}
		var props, tags int
		db.sql.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM image_properties), (SELECT count(*) FROM image_tags)`).Scan(&props, &tags)
		if props != 1 || tags != 2 {
			t.Errorf("rows: got %d properties and %d tags, want the winner's 1 and 2", props, tags)
		}
	})
}

// The writer's statements run on its single connection inside a
// transaction: nothing they do may wait for a second connection of that
// pool. Each kind of write, twice (the second time from the statement
// cache), finishes promptly.
func TestWritesNeverWaitForAnotherWriteConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "glance.sqlite")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx := context.Background()
		var errs []error
		for round := range 2 {
			img := testImage(round)
			errs = append(errs, db.CreateImage(ctx, img))
			upd := img.Clone()
			upd.Properties["x"] = image.Str("y")
			upd.Tags = []string{"other"}
			errs = append(errs,
				db.UpdateImage(ctx, img, upd),
				db.AddMember(ctx, &image.Member{ImageID: img.ID, MemberID: "p2", Status: image.MemberPending}))
			_, err := db.UpdateMemberStatus(ctx, img.ID, "p2", image.MemberAccepted)
			errs = append(errs, err,
				db.DeleteMember(ctx, img.ID, "p2"),
				db.SetStatus(ctx, img.ID, image.Queued, image.Active),
				db.DeleteImage(ctx, img.ID, image.Active))
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("writes: got %v, want no error", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(30 * time.Second):
		// Leave db open: closing it would wait for the stuck writer.
		t.Fatalf("writes still blocked after 30s, want them done")
	}
}
