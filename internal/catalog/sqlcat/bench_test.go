package sqlcat

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
)

// The benchmarks print figures for comparison between versions; they
// assert nothing about time.

const benchImages = 10_000

// benchImage is the n-th image of a benchmark catalog: owned by one of 20
// projects, a quarter of them public, every tenth tagged "needle".
func benchImage(n int) *image.Image {
	img := testImage(n)
	img.Owner = image.Str(fmt.Sprintf("project-%d", n%20))
	if n%4 == 0 {
		img.Visibility = image.Public
	}
	img.Tags = []string{"common", fmt.Sprintf("group-%d", n%50)}
	if n%10 == 0 {
		img.Tags = append(img.Tags, "needle")
	}
	img.Properties["os_distro"] = image.Str("ubuntu")
	img.Properties["hw_disk_bus"] = image.Str("virtio")
	return img
}

// seeded returns a catalog holding benchImages images, written by 64
// concurrent clients.
func seeded(b *testing.B) *DB {
	b.Helper()
	db, _ := openSynced(b)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for {
				n := int(next.Add(1)) - 1
				if n >= benchImages {
					return
				}
				if err := db.CreateImage(context.Background(), benchImage(n)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("seed: %v", err)
	}
	return db
}

func BenchmarkCreate(b *testing.B) {
	db, _ := openSynced(b)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		if err := db.CreateImage(ctx, benchImage(n)); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

func BenchmarkCreateParallel(b *testing.B) {
	db, _ := openSynced(b)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.CreateImage(ctx, benchImage(int(next.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

var defaultSort = []catalog.SortKey{{Key: "created_at", Desc: true}, {Key: "id", Desc: true}}

func BenchmarkList(b *testing.B) {
	db := seeded(b)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		scope catalog.Scope
	}{
		{"admin", catalog.Scope{Admin: true}},
		{"project", catalog.Scope{Project: "project-3"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				imgs, err := db.ListImages(ctx, &catalog.ListQuery{Scope: tc.scope, Sort: defaultSort, Limit: 100, OSHidden: new(bool)})
				if err != nil || len(imgs) != 100 {
					b.Fatalf("got %d images, %v", len(imgs), err)
				}
			}
		})
		b.Run(tc.name+"/marker", func(b *testing.B) {
			marker := testID(benchImages / 2)
			if !tc.scope.Admin {
				marker = testID(benchImages/2 + 3) // a project-3 image
			}
			for b.Loop() {
				imgs, err := db.ListImages(ctx, &catalog.ListQuery{Scope: tc.scope, Sort: defaultSort, Limit: 100, Marker: marker, OSHidden: new(bool)})
				if err != nil || len(imgs) != 100 {
					b.Fatalf("got %d images, %v", len(imgs), err)
				}
			}
		})
	}
}

func BenchmarkListTagFilter(b *testing.B) {
	db := seeded(b)
	ctx := context.Background()
	for b.Loop() {
		imgs, err := db.ListImages(ctx, &catalog.ListQuery{Scope: catalog.Scope{Admin: true}, Sort: defaultSort,
			Limit: 100, Tags: []string{"needle"}, OSHidden: new(bool)})
		if err != nil || len(imgs) != 100 {
			b.Fatalf("got %d images, %v", len(imgs), err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	db := seeded(b)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		if _, err := db.GetImage(ctx, testID(n*7919%benchImages)); err != nil {
			b.Fatal(err)
		}
		n++
	}
}
