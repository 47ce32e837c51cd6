// Package image holds glimpse's domain types: images, members, their status
// machine and validation rules, and the typed errors every layer returns.
// It does no I/O.
package image

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Status is an image's lifecycle state, as stored in images.status.
type Status string

// Image statuses, with Glance's spelling.
const (
	Queued        Status = "queued"
	Saving        Status = "saving"
	Active        Status = "active"
	Killed        Status = "killed"
	Deleted       Status = "deleted"
	Uploading     Status = "uploading"
	Importing     Status = "importing"
	PendingDelete Status = "pending_delete"
	Deactivated   Status = "deactivated"
)

// Statuses lists every status in the order Glance's schema enumerates them.
var Statuses = []Status{Queued, Saving, Active, Killed, Deleted, Uploading, Importing, PendingDelete, Deactivated}

// transitions is the status machine: the statuses each status may move to.
var transitions = map[Status][]Status{
	Queued:        {Saving, Uploading, Importing, Active, Deleted},
	Saving:        {Active, Killed, Deleted, Queued},
	Uploading:     {Importing, Queued, Deleted},
	Importing:     {Active, Deleted, Queued},
	Active:        {PendingDelete, Deleted, Deactivated},
	Killed:        {Deleted},
	PendingDelete: {Deleted, Active},
	Deactivated:   {Active, Deleted},
}

// CanTransition reports whether an image may move from one status to another.
func CanTransition(from, to Status) bool {
	return slices.Contains(transitions[from], to)
}

// Visibility says who may see an image.
type Visibility string

// Visibilities, with Glance's spelling.
const (
	Public    Visibility = "public"
	Private   Visibility = "private"
	Shared    Visibility = "shared"
	Community Visibility = "community"
)

// Visibilities lists the values the images.visibility column allows.
var Visibilities = []Visibility{Community, Public, Private, Shared}

// Image is one row of images with its properties, tags and locations.
// Nullable columns are pointers.
type Image struct {
	ID              string
	Name            *string
	Status          Status
	Visibility      Visibility
	Protected       bool
	OSHidden        bool
	Checksum        *string
	OSHashAlgo      *string
	OSHashValue     *string
	Owner           *string
	Size            *int64
	VirtualSize     *int64
	DiskFormat      *string
	ContainerFormat *string
	MinDisk         int
	MinRAM          int
	CreatedAt       time.Time
	UpdatedAt       time.Time
	DeletedAt       *time.Time
	Deleted         bool

	// Properties are the extra (non-base) properties, name to value; a
	// nil value is a stored NULL (Glance's schema lets kernel_id and
	// ramdisk_id be null).
	Properties map[string]*string
	// Tags are unique and kept in the order they were added.
	Tags      []string
	Locations []Location
}

// Clone returns a deep copy, so a use case can edit an image and still
// compare it with what was loaded.
func (img *Image) Clone() *Image {
	c := *img
	c.Properties = make(map[string]*string, len(img.Properties))
	for k, v := range img.Properties {
		if v != nil {
			s := *v
			v = &s
		}
		c.Properties[k] = v
	}
	c.Tags = slices.Clone(img.Tags)
	c.Locations = slices.Clone(img.Locations)
	return &c
}

// OwnerID is the owner project, empty when the image has none.
func (img *Image) OwnerID() string {
	if img.Owner == nil {
		return ""
	}
	return *img.Owner
}

// Str returns a pointer to a copy of s, for nullable fields.
func Str(s string) *string { return &s }

// SameValue reports whether two nullable values are equal.
func SameValue(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Location is where an image's data is stored (glance_store URI form).
type Location struct {
	ID       int64
	URL      string
	Metadata map[string]any
	Status   string
}

// Member status values.
const (
	MemberPending  = "pending"
	MemberAccepted = "accepted"
	MemberRejected = "rejected"
)

// Member is a project an image is shared with.
type Member struct {
	ImageID   string
	MemberID  string
	CanShare  bool
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

var uuidPattern = regexp.MustCompile(`^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$`)

// ValidID reports whether id has the UUID form Glance's schema requires.
func ValidID(id string) bool { return uuidPattern.MatchString(id) }

// IsReservedProperty reports whether a property name belongs to the service:
// users may never set os_glance* keys.
func IsReservedProperty(name string) bool {
	return strings.HasPrefix(name, "os_glance")
}

// MaxFieldLength is the longest name, tag, owner or property key Glance stores.
const MaxFieldLength = 255
