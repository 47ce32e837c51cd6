package imageops

import (
	"context"
	"errors"
	"time"

	"glimpse/internal/catalog"
	"glimpse/internal/image"
	"glimpse/internal/store"
)

// uploadTracker is implemented by stores that can tell whether some live
// process is writing an image's data (the file store, through its
// temporary files' locks).
type uploadTracker interface {
	UploadInProgress(imageID string) bool
}

// recoverGrace is how long RecoverInterruptedUploads waits before it takes
// a saving image without a live writer for an interrupted upload: another
// process's upload marks the image saving a moment before its writer
// starts, and its data is renamed into place a moment before the image
// turns active.
const recoverGrace = 300 * time.Millisecond

// RecoverInterruptedUploads puts back to queued the images a crashed
// process left saving: those whose upload no live process (this one or
// another sharing the store) is writing. Data such an upload may have
// published without recording it is removed, so that a new upload can
// store the image. It returns how many images it put back. Call it at
// start-up, after the store's leftovers are cleaned.
func (s *Service) RecoverInterruptedUploads(ctx context.Context) (int, error) {
	return s.recoverInterrupted(ctx, recoverGrace)
}

func (s *Service) recoverInterrupted(ctx context.Context, grace time.Duration) (int, error) {
	if s.data.Stores == nil {
		return 0, nil
	}
	tracker, ok := s.data.Stores.Default().(uploadTracker)
	if !ok {
		// A store that cannot tell live uploads from dead ones: leave the
		// images as they are rather than break an upload in progress.
		return 0, nil
	}
	imgs, err := s.cat.ListImages(ctx, &catalog.ListQuery{
		Scope:      catalog.Scope{Admin: true},
		Visibility: "all",
		In:         map[string][]string{"status": {string(image.Saving)}},
		Sort:       []catalog.SortKey{{Key: "created_at"}, {Key: "id"}},
		Limit:      -1,
	})
	if err != nil {
		return 0, err
	}
	var stale []*image.Image
	for _, img := range imgs {
		if !tracker.UploadInProgress(img.ID) {
			stale = append(stale, img)
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
	n := 0
	var errs []error
	for _, img := range stale {
		if tracker.UploadInProgress(img.ID) {
			continue
		}
		err := s.cat.SetStatus(ctx, img.ID, image.Saving, image.Queued)
		switch {
		case err == nil:
		case errors.Is(err, catalog.ErrConflict), errors.Is(err, catalog.ErrNotFound):
			// Finished, deleted or otherwise moved on meanwhile.
			continue
		default:
			errs = append(errs, err)
			continue
		}
		n++
		s.data.Log.Info("upload interrupted: image returned to queued", "image", img.ID)
		s.removeUnrecorded(ctx, img)
	}
	return n, errors.Join(errs...)
}

// removeUnrecorded deletes the data an interrupted upload may have
// published at the image's default location without recording it (a crash
// between the rename and the catalog update).
func (s *Service) removeUnrecorded(ctx context.Context, img *image.Image) {
	if len(img.Locations) > 0 {
		return
	}
	l, ok := s.data.Stores.Default().(locator)
	if !ok {
		return
	}
	u := l.Location(img.ID)
	if err := s.data.Stores.Default().Delete(ctx, u); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.data.Log.Error("cannot remove data of an interrupted upload", "image", img.ID, "location", u, "error", err)
	}
}
