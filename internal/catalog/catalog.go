// Package catalog is the contract between glimpse's use cases and the SQL
// catalog that stores image metadata on Glance's schema. Implementations live
// below it (sqlcat); catalogtest is the suite every implementation passes.
package catalog

import (
	"context"
	"errors"
	"time"

	"glimpse/internal/image"
)

// Sentinel errors every implementation returns (wrapped or bare); imageops
// turns them into domain kinds.
var (
	// ErrNotFound: no live row with that key.
	ErrNotFound = errors.New("catalog: not found")
	// ErrDuplicate: a row with that key exists (or existed: deleted image
	// IDs are never re-issued).
	ErrDuplicate = errors.New("catalog: duplicate")
	// ErrConflict: a compare-and-set lost, the row changed meanwhile.
	ErrConflict = errors.New("catalog: conflict")
	// ErrMarkerNotFound: the list marker names no image.
	ErrMarkerNotFound = errors.New("catalog: marker not found")
	// ErrMarkerForbidden: the list marker names an image the caller may
	// not see.
	ErrMarkerForbidden = errors.New("catalog: marker not visible")
	// ErrUnavailable: the database cannot be reached or is overloaded.
	ErrUnavailable = errors.New("catalog: unavailable")
	// ErrInvalid: the database refused a value it cannot store (too
	// long for the column, characters its charset lacks).
	ErrInvalid = errors.New("catalog: value cannot be stored")
)

// Catalog stores images, their properties, tags and members.
type Catalog interface {
	// CreateImage inserts img with its properties and tags in one
	// transaction. ErrDuplicate when the ID was ever used.
	CreateImage(ctx context.Context, img *image.Image) error
	// GetImage returns a live (not deleted) image.
	GetImage(ctx context.Context, id string) (*image.Image, error)
	// ListImages returns one page of images, properties and tags included.
	ListImages(ctx context.Context, q *ListQuery) ([]*image.Image, error)
	// UpdateImage writes the difference between old (as loaded) and img:
	// base columns, properties and tags, in one transaction guarded by
	// old's status (ErrConflict when the status changed meanwhile).
	UpdateImage(ctx context.Context, old, img *image.Image) error
	// SetStatus moves an image from one status to another in one
	// compare-and-set statement; ErrConflict when it was not in from.
	SetStatus(ctx context.Context, id string, from, to image.Status) error
	// DeleteImage soft-deletes a live image and its children, guarded by
	// its current status; ErrConflict when the status changed meanwhile.
	DeleteImage(ctx context.Context, id string, from image.Status) error
	// ActivateImage records an image's uploaded data: status from → active
	// (compare-and-set), size, hashes and the location, in one transaction.
	ActivateImage(ctx context.Context, id string, from image.Status, d *DataInfo) error

	// AddMember inserts a membership; ErrDuplicate when a live one exists.
	AddMember(ctx context.Context, m *image.Member) error
	GetMember(ctx context.Context, imageID, memberID string) (*image.Member, error)
	ListMembers(ctx context.Context, imageID string) ([]*image.Member, error)
	// UpdateMemberStatus changes a live membership's status.
	UpdateMemberStatus(ctx context.Context, imageID, memberID, status string) (*image.Member, error)
	DeleteMember(ctx context.Context, imageID, memberID string) error
	// CountMembers counts the live memberships of an image.
	CountMembers(ctx context.Context, imageID string) (int, error)

	// DeleteImageDelayed is DeleteImage under [DEFAULT] delayed_delete:
	// the image is soft-deleted with status pending_delete and its
	// locations get status pending_delete; the data stays for the
	// scrubber. ErrConflict when the status changed meanwhile.
	DeleteImageDelayed(ctx context.Context, id string, from image.Status) error
	// PendingDeletes returns the pending_delete images deleted at or
	// before olderThan, oldest first, with their pending_delete locations.
	PendingDeletes(ctx context.Context, olderThan time.Time) ([]*image.Image, error)
	// FinishDelete ends a delayed delete once the data is gone: the image
	// and its pending_delete locations become deleted. ErrNotFound when the
	// image is not pending deletion.
	FinishDelete(ctx context.Context, id string) error
}

// DataInfo describes data stored for an image.
type DataInfo struct {
	Size        int64
	VirtualSize *int64
	Checksum    string // MD5, hex
	HashAlgo    string // os_hash_algo; "" when not computed
	HashValue   string
	Location    image.Location
	// DiskFormat and ContainerFormat, when not empty, replace the image's
	// (an import plugin converted the data); FinishImport only.
	DiskFormat, ContainerFormat string
}

// Scope is who is asking: it decides which images a list shows.
type Scope struct {
	Admin   bool
	Project string // "" when the caller has no project
}

// SortKey is one ORDER BY term.
type SortKey struct {
	Key  string // one of SortKeys
	Desc bool
}

// SortKeys are the image columns a list may be sorted by.
var SortKeys = []string{"name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"}

// RangeColumns are the integer columns a list may bound with _min/_max.
var RangeColumns = map[string]bool{"size": true, "virtual_size": true, "min_ram": true, "min_disk": true}

// TimeFilter compares created_at or updated_at with a point in time.
type TimeFilter struct {
	Column string // created_at or updated_at
	Op     string // gt, gte, eq, neq, lt, lte
	Value  time.Time
}

// ListQuery is a typed list request: the API layer parses and validates the
// query string into it, the catalog turns it into one SQL query.
type ListQuery struct {
	Scope Scope
	// Visibility is "" (the default scope), "all", or one visibility.
	Visibility string
	// MemberStatus filters shared images by the caller's membership:
	// accepted (default), pending, rejected or all.
	MemberStatus string
	// In restricts a column (name, status, id, owner, container_format,
	// disk_format) to a set of values.
	In map[string][]string
	// Equal matches other image columns exactly (checksum, min_ram, …).
	Equal     map[string]string
	Tags      []string // every tag must be present
	OSHidden  *bool
	Protected *bool
	// Ranges bound integer columns: key is <column>_min or <column>_max.
	Ranges     map[string]int64
	Times      []TimeFilter
	Properties map[string]string // extra property name = value
	// Sort must end with keys that make the order total (the API layer
	// appends created_at and id as Glance does).
	Sort   []SortKey
	Marker string
	// Limit caps the page. 0 gives an empty page, as Glance answers
	// limit=0; a negative Limit means no cap.
	Limit int
	// WithLocations loads each listed image's locations too (so that a
	// list can show the stores holding each image).
	WithLocations bool
	// Deleted widens the list beyond live images, as Glance's registry
	// and v1 API could: "" lists live images but killed ones,
	// DeletedInclude every image, deleted and killed ones included, and
	// DeletedOnly the deleted ones.
	Deleted string
}

// ListQuery.Deleted values.
const (
	DeletedInclude = "include"
	DeletedOnly    = "only"
)
