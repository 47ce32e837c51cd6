package sqlcat

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// Two handles on one file, as two glimpse processes sharing a data
// directory have, write concurrently: creates, updates, member changes and
// status races on shared images. The only errors are the catalog's own
// answers; nobody sees "database is locked".
func TestTwoHandlesOnOneFile(t *testing.T) {
	first, path := openSynced(t)
	twoHandles(t, first, openDB(t, path))
}

// twoHandles races two handles on one database, as two glimpse processes
// sharing it do.
func twoHandles(t *testing.T, first, second *DB) {
	handles := []*DB{first, second}
	ctx := t.Context()

	// Images every worker races to activate.
	const contested = 8
	for i := range contested {
		if err := first.CreateImage(ctx, testImage(1000+i)); err != nil {
			t.Fatalf("CreateImage: %v", err)
		}
	}

	const workers, rounds = 4, 8
	var (
		mu     sync.Mutex
		failed []string
		wins   = map[string]int{}
	)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for h, db := range handles {
		for w := range workers {
			wg.Go(func() {
				<-start
				for r := range rounds {
					n := (h*workers+w)*rounds + r
					img := testImage(n)
					if err := db.CreateImage(ctx, img); err != nil {
						report("handle %d: CreateImage %d: %v", h, n, err)
						continue
					}
					upd := img.Clone()
					upd.Name = image.Str("renamed")
					upd.Properties["round"] = image.Str(fmt.Sprint(r))
					upd.Tags = append(upd.Tags, "updated")
					if err := db.UpdateImage(ctx, img, upd); err != nil {
						report("handle %d: UpdateImage %d: %v", h, n, err)
					}
					if err := db.AddMember(ctx, &image.Member{ImageID: img.ID, MemberID: "p2",
						Status: image.MemberPending, CreatedAt: img.CreatedAt, UpdatedAt: img.CreatedAt}); err != nil {
						report("handle %d: AddMember %d: %v", h, n, err)
					}
					id := testID(1000 + r%contested)
					switch err := db.SetStatus(ctx, id, image.Queued, image.Active); {
					case err == nil:
						mu.Lock()
						wins[id]++
						mu.Unlock()
					case !errors.Is(err, catalog.ErrConflict):
						report("handle %d: SetStatus %s: %v", h, id, err)
					}
					if _, err := db.ListImages(ctx, &catalog.ListQuery{Scope: catalog.Scope{Project: "p1"},
						Sort: []catalog.SortKey{{Key: "created_at", Desc: true}, {Key: "id", Desc: true}}, Limit: 20}); err != nil {
						report("handle %d: ListImages: %v", h, err)
					}
				}
			})
		}
	}
	close(start)
	wg.Wait()
	for _, f := range failed {
		t.Error(f)
		if strings.Contains(f, "locked") {
			t.Errorf("a client saw the database locked")
		}
	}
	for i := range contested {
		if id := testID(1000 + i); wins[id] != 1 {
			t.Errorf("SetStatus winners for %s: got %d, want 1", id, wins[id])
		}
	}
	// Both handles see everything either wrote.
	total := len(handles) * workers * rounds
	for h, db := range handles {
		for n := range total {
			img, err := db.GetImage(ctx, testID(n))
			if err != nil {
				t.Errorf("handle %d: GetImage %d: %v", h, n, err)
				continue
			}
			if img.Name == nil || *img.Name != "renamed" || len(img.Tags) != 3 {
				t.Errorf("handle %d: image %d: got name %v, tags %q; want the update", h, n, img.Name, img.Tags)
			}
		}
	}
	var live int
	if err := first.queryRow(ctx, `SELECT count(*) FROM images WHERE deleted = 0`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if got := live; got != total+contested {
		t.Errorf("live images: got %d, want %d", got, total+contested)
	}
}
