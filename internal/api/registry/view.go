package registry

import (
	"maps"
	"slices"
	"time"

	"glimpse/internal/api/wirejson"
	"glimpse/internal/image"
)

// timestamp renders times as the registry's JSON serializer did: UTC,
// microseconds, no zone.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

func timestampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timestamp(*t)
	return &s
}

// briefJSON is an image as GET /images lists it.
func briefJSON(img *image.Image) []byte {
	return wirejson.NewObject().
		String("id", img.ID).
		StringPtr("name", img.Name).
		IntPtr("size", img.Size).
		StringPtr("disk_format", img.DiskFormat).
		StringPtr("container_format", img.ContainerFormat).
		StringPtr("checksum", img.Checksum).
		Bytes()
}

// imageJSON is the registry's full image document: the image columns in
// v1 form (is_public for the visibility), the properties as an object,
// and the locations as location_data plus the first active one as
// location. Locations are shown only when showLocations.
func imageJSON(img *image.Image, showLocations bool) []byte {
	props := wirejson.NewObject()
	for _, k := range slices.Sorted(maps.Keys(img.Properties)) {
		props.StringPtr(k, img.Properties[k])
	}
	var locs [][]byte
	var active *string
	if showLocations {
		for _, l := range img.Locations {
			if l.Status == "deleted" || l.Status == "pending_delete" {
				continue
			}
			md := l.Metadata
			if md == nil {
				md = map[string]any{}
			}
			locs = append(locs, wirejson.NewObject().
				Int("id", l.ID).
				String("url", l.URL).
				Value("metadata", md).
				String("status", l.Status).
				Bytes())
			if active == nil && l.Status == "active" {
				u := l.URL
				active = &u
			}
		}
	}
	return wirejson.NewObject().
		String("id", img.ID).
		StringPtr("name", img.Name).
		String("status", string(img.Status)).
		IntPtr("size", img.Size).
		IntPtr("virtual_size", img.VirtualSize).
		StringPtr("disk_format", img.DiskFormat).
		StringPtr("container_format", img.ContainerFormat).
		StringPtr("checksum", img.Checksum).
		Int("min_disk", int64(img.MinDisk)).
		Int("min_ram", int64(img.MinRAM)).
		Bool("is_public", img.Visibility == image.Public).
		Bool("protected", img.Protected).
		StringPtr("owner", img.Owner).
		String("created_at", timestamp(img.CreatedAt)).
		String("updated_at", timestamp(img.UpdatedAt)).
		StringPtr("deleted_at", timestampPtr(img.DeletedAt)).
		Bool("deleted", img.Deleted).
		RawBytes("properties", props.Bytes()).
		RawBytes("location_data", wirejson.Array(locs)).
		StringPtr("location", active).
		Bytes()
}

// wrapImage is {"image": …}.
func wrapImage(img *image.Image, showLocations bool) []byte {
	return wirejson.NewObject().RawBytes("image", imageJSON(img, showLocations)).Bytes()
}
