package imageops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"glimpse/internal/catalog"
	"glimpse/internal/store"
)

// ScrubLocation is what the scrubber did with one location of an image.
type ScrubLocation struct {
	URL string
	// Missing: the data was already gone from its store.
	Missing bool
	// Err: the data could not be removed; the image stays pending.
	Err error
}

// ScrubResult is what the scrubber did with one pending_delete image.
type ScrubResult struct {
	ID        string
	Locations []ScrubLocation
	// Err is nil when the image is now deleted; otherwise it stays
	// pending_delete for the next run.
	Err error
}

// Scrub is the scrubber of delayed deletes: every image pending deletion
// since at least age before now loses its data, location by location, and
// then becomes deleted. An image whose data cannot all be removed stays
// pending for the next run. The error is for the catalog failing to list
// the pending images; per-image failures are in the results.
func Scrub(ctx context.Context, cat catalog.Catalog, stores *store.Set, age time.Duration, now time.Time) ([]ScrubResult, error) {
	imgs, err := cat.PendingDeletes(ctx, now.Add(-age))
	if err != nil {
		return nil, err
	}
	results := make([]ScrubResult, 0, len(imgs))
	for _, img := range imgs {
		r := ScrubResult{ID: img.ID}
		failed := 0
		for _, loc := range img.Locations {
			sl := ScrubLocation{URL: loc.URL}
			_, d, err := stores.ForURI(loc.URL)
			if err == nil {
				err = d.Delete(ctx, loc.URL)
			}
			switch {
			case err == nil:
			case errors.Is(err, store.ErrNotFound):
				sl.Missing = true
			default:
				sl.Err = err
				failed++
			}
			r.Locations = append(r.Locations, sl)
		}
		if failed > 0 {
			r.Err = fmt.Errorf("%d of %d locations could not be deleted", failed, len(img.Locations))
		} else if err := cat.FinishDelete(ctx, img.ID); err != nil {
			r.Err = err
		}
		results = append(results, r)
	}
	return results, nil
}
