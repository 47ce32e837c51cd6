package imageops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"glimpse/internal/catalog"
	"glimpse/internal/hashing"
	"glimpse/internal/image"
	"glimpse/internal/store"
)

// VerifyOutcome classifies one verified image or location.
type VerifyOutcome string

// Verify outcomes. OK and Skipped are successes; the others are failures.
const (
	VerifyOK       VerifyOutcome = "ok"
	VerifyMismatch VerifyOutcome = "MISMATCH"
	VerifyMissing  VerifyOutcome = "MISSING"
	VerifyNotFound VerifyOutcome = "NOTFOUND"
	VerifyError    VerifyOutcome = "ERROR"
	// VerifySkipped: the image has no data to verify in its status.
	VerifySkipped VerifyOutcome = "skip"
)

// VerifyResult is the outcome for one image: one OK (or Skipped or
// NotFound) result, or one failure result per location that failed.
type VerifyResult struct {
	ID       string
	Outcome  VerifyOutcome
	Status   image.Status
	Location string // the location concerned; "" when none
	Detail   string // what differs, or the error
}

// Failed reports whether r is a failure.
func (r VerifyResult) Failed() bool {
	return r.Outcome != VerifyOK && r.Outcome != VerifySkipped
}

// verifyPage is how many images one catalog read lists when verifying
// every image.
const verifyPage = 500

// Verify re-reads the stored data of images and compares its size, MD5
// checksum and secure hash (os_hash_algo) with what the catalog recorded.
// With ids empty it verifies every active and deactivated image; otherwise
// the images named. Each result goes to report as soon as it is known. The
// error is for the catalog failing; stored data that cannot be read is a
// result.
func Verify(ctx context.Context, cat catalog.Catalog, stores *store.Set, ids []string, report func(VerifyResult)) error {
	if len(ids) > 0 {
		for _, id := range ids {
			img, err := cat.GetImage(ctx, id)
			if errors.Is(err, catalog.ErrNotFound) {
				report(VerifyResult{ID: id, Outcome: VerifyNotFound})
				continue
			}
			if err != nil {
				return err
			}
			if img.Status != image.Active && img.Status != image.Deactivated {
				report(VerifyResult{ID: id, Outcome: VerifySkipped, Status: img.Status})
				continue
			}
			verifyImage(ctx, stores, img, report)
		}
		return nil
	}
	q := catalog.ListQuery{
		Scope:      catalog.Scope{Admin: true},
		Visibility: "all",
		In:         map[string][]string{"status": {string(image.Active), string(image.Deactivated)}},
		Sort:       []catalog.SortKey{{Key: "created_at"}, {Key: "id"}},
		Limit:      verifyPage,
	}
	for {
		page, err := cat.ListImages(ctx, &q)
		if err != nil {
			return err
		}
		for _, listed := range page {
			// Lists carry no locations; read each image whole.
			img, err := cat.GetImage(ctx, listed.ID)
			if errors.Is(err, catalog.ErrNotFound) {
				continue // deleted since the list
			}
			if err != nil {
				return err
			}
			verifyImage(ctx, stores, img, report)
		}
		if len(page) < verifyPage {
			return nil
		}
		q.Marker = page[len(page)-1].ID
	}
}

func verifyImage(ctx context.Context, stores *store.Set, img *image.Image, report func(VerifyResult)) {
	res := func(o VerifyOutcome, loc, detail string) VerifyResult {
		return VerifyResult{ID: img.ID, Outcome: o, Status: img.Status, Location: loc, Detail: detail}
	}
	checked, failed := 0, false
	for _, loc := range img.Locations {
		if loc.Status != "active" {
			continue
		}
		checked++
		if r := verifyLocation(ctx, stores, img, loc.URL); r != nil {
			report(res(r.Outcome, loc.URL, r.Detail))
			failed = true
		}
	}
	switch {
	case checked == 0:
		report(res(VerifyMissing, "", "no active location"))
	case !failed:
		report(res(VerifyOK, "", ""))
	}
}

// verifyLocation reads one location's data; nil when it matches.
func verifyLocation(ctx context.Context, stores *store.Set, img *image.Image, url string) *VerifyResult {
	_, d, err := stores.ForURI(url)
	if err != nil {
		return &VerifyResult{Outcome: VerifyMissing, Detail: "no configured store serves this location"}
	}
	rc, _, err := d.Get(ctx, url, 0, -1)
	if errors.Is(err, store.ErrNotFound) {
		return &VerifyResult{Outcome: VerifyMissing}
	}
	if err != nil {
		return &VerifyResult{Outcome: VerifyError, Detail: err.Error()}
	}
	defer rc.Close()
	algo := ""
	if img.OSHashAlgo != nil {
		algo = *img.OSHashAlgo
	}
	h, err := hashing.New(algo)
	if err != nil {
		return &VerifyResult{Outcome: VerifyError, Detail: err.Error()}
	}
	defer h.Close()
	if _, err := io.Copy(h, rc); err != nil {
		return &VerifyResult{Outcome: VerifyError, Detail: err.Error()}
	}
	n, md5hex, _, hashhex := h.Sum()
	var diffs []string
	if img.Size != nil && *img.Size != n {
		diffs = append(diffs, fmt.Sprintf("size %d, recorded %d", n, *img.Size))
	}
	if img.Checksum != nil && *img.Checksum != md5hex {
		diffs = append(diffs, fmt.Sprintf("checksum %s, recorded %s", md5hex, *img.Checksum))
	}
	if img.OSHashValue != nil && *img.OSHashValue != hashhex {
		diffs = append(diffs, fmt.Sprintf("os_hash_value %s, recorded %s", hashhex, *img.OSHashValue))
	}
	if len(diffs) > 0 {
		return &VerifyResult{Outcome: VerifyMismatch, Detail: strings.Join(diffs, "; ")}
	}
	return nil
}
