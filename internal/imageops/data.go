package imageops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/format"
	"glimpse/internal/hashing"
	"glimpse/internal/image"
	"glimpse/internal/store"
)

// DataConfig is what the data path needs from the configuration.
type DataConfig struct {
	Stores *store.Set
	// SizeCap is image_size_cap: the largest image accepted, in bytes.
	SizeCap int64
	// UserStorageQuota is user_storage_quota: the bytes one project's
	// images may occupy; 0 means no limit.
	UserStorageQuota int64
	// HashAlgo is hashing_algorithm (os_hash_algo).
	HashAlgo string
	Log      *slog.Logger
	// DelayedDelete is delayed_delete: a deleted image waits as
	// pending_delete, its data kept, until the scrubber removes it.
	DelayedDelete bool
	// Formats configures the inspection of uploaded disk images.
	Formats format.Options
	// MultiStore is set when stores are configured by name
	// ([DEFAULT] enabled_backends): locations then record their store.
	MultiStore bool
	// RequireFormatMatch is [image_format] require_image_format_match:
	// data whose format is not the declared disk_format is refused.
	RequireFormatMatch bool
}

// Option configures a Service.
type Option func(*Service)

// WithData enables the image data path.
func WithData(d DataConfig) Option {
	return func(s *Service) {
		s.data = d
		if s.data.Log == nil {
			s.data.Log = slog.New(slog.DiscardHandler)
		}
	}
}

// errTooLarge is returned by capReader once the stream passes the cap.
var errTooLarge = errors.New("image exceeds the size cap")

// quotaError is returned by capReader once the stream passes what is left
// of the owner's storage quota.
type quotaError struct{ size, remaining int64 }

func (e *quotaError) Error() string { return "image exceeds the storage quota" }

// capReader fails the stream as soon as it exceeds max bytes (the size cap)
// or quota bytes (what is left of the owner's quota, when quota >= 0), so an
// oversized upload is refused while it streams, not after.
type capReader struct {
	r     io.Reader
	n     int64
	max   int64
	quota int64
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, errTooLarge
	}
	if c.quota >= 0 && c.n > c.quota {
		return n, &quotaError{size: c.n, remaining: c.quota}
	}
	return n, err
}

// storageUsage is the optional catalog capability user_storage_quota needs.
type storageUsage interface {
	StorageUsage(ctx context.Context, owner, except string) (int64, error)
}

// quotaLeft returns the bytes the image's owner may still store, -1 when
// no quota applies.
func (s *Service) quotaLeft(ctx context.Context, img *image.Image) (int64, error) {
	if s.data.UserStorageQuota <= 0 || img.OwnerID() == "" {
		return -1, nil
	}
	u, ok := s.cat.(storageUsage)
	if !ok {
		return -1, nil
	}
	used, err := u.StorageUsage(ctx, img.OwnerID(), img.ID)
	if err != nil {
		return 0, err
	}
	return max(s.data.UserStorageQuota-used, 0), nil
}

func quotaExceeded(op string, size, remaining int64) error {
	return image.E(op, image.TooLarge, "Denying attempt to upload image because it exceeds the quota: The size of the data %d will exceed the limit. %d bytes remaining.", size, remaining)
}

// missingFormats is Glance's refusal to store data for an image whose
// disk or container format is unset.
func missingFormats(op string, img *image.Image) error {
	var missing []string
	if img.DiskFormat == nil || *img.DiskFormat == "" {
		missing = append(missing, "disk_format")
	}
	if img.ContainerFormat == nil || *img.ContainerFormat == "" {
		missing = append(missing, "container_format")
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return image.E(op, image.Invalid, "Property %s must be set prior to saving data.", missing[0])
	}
	return image.E(op, image.Invalid, "Properties %s must be set prior to saving data.", strings.Join(missing, ", "))
}

func badTransition(op string, from image.Status) error {
	return image.E(op, image.Conflict, "Image status transition from %s to saving is not allowed", from)
}

// Upload streams body into the default store and activates the image:
// queued → saving (compare-and-set), data written and hashed in one pass,
// then saving → active with size, hashes and location in one transaction.
// Any failure removes what was written and puts the image back to queued.
// size is the declared length, -1 when unknown.
func (s *Service) Upload(ctx context.Context, c *auth.Context, id string, body io.Reader, size int64) error {
	return s.UploadTo(ctx, c, id, "", body, size)
}

// UploadTo is Upload into the store named storeID ("" for the default
// one); with several stores configured, an unknown name is refused before
// anything else, as Glance does.
func (s *Service) UploadTo(ctx context.Context, c *auth.Context, id, storeID string, body io.Reader, size int64) error {
	return s.upload(ctx, c, id, storeID, body, size, Declared{})
}

// Declared is what a client said of the data beside sending it (the v1
// API's x-image-meta-size and x-image-meta-checksum): data that does not
// match is refused, as Glance's v1 API did. Zero values declare nothing.
type Declared struct {
	Size     int64
	Checksum string // MD5, hex
}

// UploadDeclared is Upload, refusing data whose size or MD5 differs from
// what the client declared; the data is hashed once, by the upload.
func (s *Service) UploadDeclared(ctx context.Context, c *auth.Context, id string, body io.Reader, size int64, want Declared) error {
	return s.upload(ctx, c, id, "", body, size, want)
}

func (s *Service) upload(ctx context.Context, c *auth.Context, id, storeID string, body io.Reader, size int64, want Declared) error {
	const op = "imageops.Upload"
	if s.data.Stores == nil {
		return image.E(op, image.Unavailable, "Image data is not stored at this site.")
	}
	driver := s.data.Stores.Default()
	if storeID == "" {
		storeID = s.data.Stores.DefaultID()
	} else if d, ok := s.data.Stores.Lookup(storeID); ok {
		driver = d
	} else {
		return image.E(op, image.Invalid, "Unknown scheme '%s' found in URI", storeID)
	}
	img, err := s.load(ctx, c, op, id)
	if err != nil {
		return err
	}
	if err := s.enforce(op, c, "upload_image", img); err != nil {
		return err
	}
	if err := s.checkUploadable(op, c, img); err != nil {
		return err
	}
	if size > s.data.SizeCap {
		// Glance reads up to the cap before it refuses; the answer is the
		// same without reading.
		return tooLarge(op)
	}
	left, err := s.quotaLeft(ctx, img)
	if err != nil {
		return catalogErr(op, id, err)
	}
	if left >= 0 && size > left {
		return quotaExceeded(op, size, left)
	}
	h, err := hashing.New(s.data.HashAlgo)
	if err != nil {
		return &image.Error{Op: op, Kind: image.Internal, Err: err}
	}
	defer h.Close()
	if err := s.cat.SetStatus(ctx, id, image.Queued, image.Saving); err != nil {
		if errors.Is(err, catalog.ErrConflict) {
			cur, gerr := s.cat.GetImage(ctx, id)
			if gerr == nil {
				return badTransition(op, cur.Status)
			}
		}
		return catalogErr(op, id, err)
	}
	// From here on the image is ours to finish or to put back.
	bg := context.WithoutCancel(ctx)
	revert := func() {
		if err := s.cat.SetStatus(bg, id, image.Saving, image.Queued); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			s.data.Log.Error("cannot return image to queued after a failed upload", "image", id, "error", err)
		}
	}
	var data io.Reader = &capReader{r: body, max: s.data.SizeCap, quota: left}
	// As Glance, only bare images are inspected: the disk inside an OVA
	// or a docker tarball is not at the start of the stream. The
	// inspector sees the bytes as they go by, in the same pass.
	var insp *format.Inspector
	if *img.ContainerFormat == "bare" {
		insp = format.NewInspector(s.data.Formats)
		data = io.TeeReader(data, insp)
	}
	uri, written, err := driver.Put(ctx, id, h.Reader(data), size)
	if err != nil {
		revert()
		var qe *quotaError
		if errors.As(err, &qe) {
			return quotaExceeded(op, qe.size, qe.remaining)
		}
		return uploadErr(op, err, driver)
	}
	discard := func() {
		if derr := driver.Delete(bg, uri); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			s.data.Log.Error("cannot remove data of an upload that could not be recorded", "image", id, "location", uri, "error", derr)
		}
	}
	n, md5hex, algo, hashhex := h.Sum()
	if n != written {
		discard()
		revert()
		return &image.Error{Op: op, Kind: image.Internal, Err: fmt.Errorf("hashed %d bytes but stored %d", n, written)}
	}
	if mismatch := want.mismatch(op, n, md5hex); mismatch != nil {
		discard()
		revert()
		return mismatch
	}
	info := &catalog.DataInfo{Size: written, Checksum: md5hex, HashAlgo: algo, HashValue: hashhex,
		Location: image.Location{URL: uri, Metadata: map[string]any{}}}
	if insp != nil {
		vsize, err := s.checkFormat(op, *img.DiskFormat, insp.Result())
		if err != nil {
			discard()
			revert()
			return err
		}
		if vsize > 0 {
			info.VirtualSize = &vsize
		}
	}
	if s.data.MultiStore {
		// Glance records which store holds the data once there can be
		// several ([DEFAULT] enabled_backends).
		info.Location.Metadata["store"] = storeID
	}
	err = s.cat.ActivateImage(bg, id, image.Saving, info)
	if err != nil {
		discard()
		if errors.Is(err, catalog.ErrNotFound) {
			return image.E(op, image.Gone, "Image %s could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded.", id)
		}
		revert()
		return catalogErr(op, id, err)
	}
	return nil
}

// checkFormat decides on inspected data declared as disk format declared:
// the virtual size to record (0 for none), or Glance's refusal, a 415
// whose detail says why. Unsafe data is refused even when the format
// need not match, which Glance lets through.
func (s *Service) checkFormat(op, declared string, r format.Result) (int64, error) {
	msg := format.Refusal(declared, r)
	if !s.data.RequireFormatMatch && r.Format != "" && !format.Matches(declared, r) {
		// A mismatch the operator allows: keep safe data, skip the size.
		if r.Safe {
			return 0, nil
		}
		msg = "Image failed safety checks"
	}
	if msg != "" {
		s.data.Log.Warn("refused image data", "disk_format", declared, "detected", r.Format, "formats", r.Formats, "reason", r.Reason)
		return 0, image.E(op, image.Unsupported, "%s", msg)
	}
	return format.VirtualSizeFor(declared, r), nil
}

// mismatch is Glance v1's refusal of data unlike what was declared.
func (d Declared) mismatch(op string, size int64, md5hex string) error {
	switch {
	case d.Size > 0 && d.Size != size:
		return image.E(op, image.Invalid, "Supplied size (%d) and size generated from uploaded image (%d) did not match.", d.Size, size)
	case d.Checksum != "" && d.Checksum != md5hex:
		return image.E(op, image.Invalid, "Supplied checksum (%s) and checksum generated from uploaded image (%s) did not match.", d.Checksum, md5hex)
	}
	return nil
}

// tooLarge is Glance's answer to data larger than image_size_cap.
func tooLarge(op string) error {
	return image.E(op, image.TooLarge, "The incoming image is too large: The provided image is too large.")
}

// uploadErr maps a failed Put to the answer Glance gives.
func uploadErr(op string, err error, d store.Driver) error {
	switch {
	case errors.Is(err, errTooLarge):
		return tooLarge(op)
	case errors.Is(err, store.ErrNoSpace):
		return &image.Error{Op: op, Kind: image.TooLarge, Msg: "Image storage media is full: There is not enough disk space on the image storage media.", Err: err}
	case errors.Is(err, store.ErrSizeMismatch):
		return &image.Error{Op: op, Kind: image.Invalid, Msg: "The uploaded data does not match the declared size.", Err: err}
	case errors.Is(err, store.ErrReadOnly) && d.Capabilities().ReadOnly:
		return &image.Error{Op: op, Kind: image.Gone, Msg: "Error in store configuration. Adding images to store is disabled.", Err: err}
	case errors.Is(err, store.ErrReadOnly):
		return &image.Error{Op: op, Kind: image.Unavailable, Msg: "Insufficient permissions on image storage media: Permission to write image storage media denied.", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF):
		return &image.Error{Op: op, Kind: image.Invalid, Msg: "The request body ended before the image data did.", Err: err}
	case errors.Is(err, store.ErrUnavailable):
		return &image.Error{Op: op, Kind: image.Unavailable, Err: err}
	}
	// A store error of no kind is the reader's: the request body broke
	// (a malformed chunked encoding, a read timeout).
	var se *store.Error
	if errors.As(err, &se) && se.Kind == nil {
		return &image.Error{Op: op, Kind: image.Invalid, Msg: "Reading the request body failed.", Err: err}
	}
	return &image.Error{Op: op, Kind: image.Internal, Err: err}
}

// DataImage returns the image whose data the caller asks for: one the
// caller may see, and, when deactivated, only to admins; without the
// properties the caller may not read.
func (s *Service) DataImage(ctx context.Context, c *auth.Context, id string) (*image.Image, error) {
	const op = "imageops.Download"
	img, err := s.load(ctx, c, op, id)
	if err != nil {
		return nil, err
	}
	// Glance refuses a deactivated image before it asks download_image.
	if img.Status == image.Deactivated && !c.IsAdmin {
		return nil, image.E(op, image.Forbidden, "The requested image has been deactivated. Image data download is forbidden.")
	}
	if err := s.enforce(op, c, "download_image", img); err != nil {
		return nil, err
	}
	// Callers show the image's metadata beside its data (v1 headers).
	return s.readable(c, img), nil
}

// OpenData opens img's data from offset for length bytes (length < 0: to
// the end), trying its active locations in order, and returns the reader
// and the stored object's size. The reader is nil when the image has no
// data that can be found (the API answers 204, as Glance does when its
// store reports the data missing).
func (s *Service) OpenData(ctx context.Context, img *image.Image, offset, length int64) (io.ReadCloser, int64, error) {
	const op = "imageops.Download"
	if s.data.Stores == nil {
		return nil, 0, nil
	}
	for _, loc := range img.Locations {
		if loc.Status != "active" {
			continue
		}
		_, d, err := s.data.Stores.ForURI(loc.URL)
		if err != nil {
			s.data.Log.Warn("image location not served by any configured store", "image", img.ID, "location", loc.URL)
			continue
		}
		rc, size, err := d.Get(ctx, loc.URL, offset, length)
		switch {
		case err == nil:
			return rc, size, nil
		case errors.Is(err, store.ErrNotFound):
			s.data.Log.Warn("image data missing from its store", "image", img.ID, "location", loc.URL)
			continue
		case errors.Is(err, store.ErrInvalidRange):
			return nil, 0, image.E(op, image.RangeNotSatisfiable, "")
		}
		return nil, 0, &image.Error{Op: op, Kind: image.Unavailable, Err: err}
	}
	return nil, 0, nil
}

// Download is DataImage then OpenData: it returns a nil reader when the
// image has no data, and the image for its size and checksum.
func (s *Service) Download(ctx context.Context, c *auth.Context, id string, offset, length int64) (io.ReadCloser, *image.Image, error) {
	img, err := s.DataImage(ctx, c, id)
	if err != nil {
		return nil, nil, err
	}
	rc, _, err := s.OpenData(ctx, img, offset, length)
	if err != nil {
		return nil, nil, err
	}
	return rc, img, nil
}

// locator is implemented by drivers that can name the location an image's
// data gets (the file store).
type locator interface{ Location(imageID string) string }

// deleteData removes an image's stored data after its record is gone;
// failures are logged, the image is already deleted for its users. For an
// image deleted while saving, the data an interrupted upload may have left
// at its default location goes too (an upload still running cleans up
// after itself when it finds the image gone).
func (s *Service) deleteData(ctx context.Context, img *image.Image) {
	if s.data.Stores == nil {
		return
	}
	urls := make([]string, 0, len(img.Locations)+1)
	for _, loc := range img.Locations {
		urls = append(urls, loc.URL)
	}
	if img.Status == image.Saving && len(img.Locations) == 0 {
		if l, ok := s.data.Stores.Default().(locator); ok {
			urls = append(urls, l.Location(img.ID))
		}
	}
	for _, u := range urls {
		_, d, err := s.data.Stores.ForURI(u)
		if err == nil && d.Capabilities().ReadOnly {
			// Data the service never wrote (an http location) is not
			// its to remove.
			continue
		}
		if err == nil {
			err = d.Delete(ctx, u)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.data.Log.Error("cannot delete image data", "image", img.ID, "location", u, "error", err)
		}
	}
}

// checkUploadable is whether the caller may give img its data now: theirs
// to change, queued, and with both formats set (Glance checks the status
// transition before the formats).
func (s *Service) checkUploadable(op string, c *auth.Context, img *image.Image) error {
	if !s.mutable(c, img) {
		return image.E(op, image.Forbidden, "Not allowed to upload image data for image %s", img.ID)
	}
	if img.Status != image.Queued {
		return badTransition(op, img.Status)
	}
	return missingFormats(op, img)
}
