// Package store is the contract between glimpse and the back ends that hold
// image data (Glance calls them stores). A driver implements Driver for one
// configured store; drivers register a factory under their store type
// (Register) and the server opens one driver per configured store (Open) and
// groups them in a Set.
//
// Every driver reports failures with the sentinel errors below, wrapped in an
// *Error so that both errors.Is(err, ErrNotFound) and errors.Is(err, cause)
// work. The API layer maps them to status codes; drivers never choose HTTP
// statuses themselves. The conformance suite in storetest checks all of this
// for a driver.
package store

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
)

// Sentinel errors. Drivers return them wrapped (see Error); callers test
// with errors.Is.
var (
	// ErrNotFound: no object at that location (or for that image ID).
	ErrNotFound = errors.New("store: object not found")
	// ErrExists: Put found an object for the image ID already; the existing
	// object is left untouched.
	ErrExists = errors.New("store: object already exists")
	// ErrNoSpace: the back end is full (ENOSPC, EDQUOT, EFBIG on a file
	// system). The API answers 413.
	ErrNoSpace = errors.New("store: no space left")
	// ErrReadOnly: the store refuses writes (a read-only driver, a
	// read-only file system, permission denied).
	ErrReadOnly = errors.New("store: store is read-only")
	// ErrUnavailable: the back end cannot be reached or failed (I/O error,
	// network error). The operation may succeed later.
	ErrUnavailable = errors.New("store: back end unavailable")
	// ErrBadLocation: the location URI is malformed, belongs to another
	// driver, or points outside this store (a ".." or symlink escape from a
	// file store's directory). Put also returns it for an image ID that
	// cannot name an object.
	ErrBadLocation = errors.New("store: bad location")
	// ErrSizeMismatch: Put was given a size and the reader delivered a
	// different number of bytes. Short data also wraps io.ErrUnexpectedEOF.
	ErrSizeMismatch = errors.New("store: data size differs from declared size")
	// ErrInvalidRange: Get was asked for a range that does not lie within
	// the object (negative offset, offset or offset+length past the end).
	ErrInvalidRange = errors.New("store: range not satisfiable")
)

// Error is the error every driver method returns. Kind is one of the
// sentinels above (nil when the failure is not the store's: a cancelled
// context or an error of the reader handed to Put); Err is the underlying
// cause (nil when Kind says it all). errors.Is and errors.As see both.
type Error struct {
	Op       string // "put", "get", "delete", "stat", "open"
	Location string // the location URI, or the image ID for put
	Kind     error
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("store: ")
	b.WriteString(e.Op)
	if e.Location != "" {
		b.WriteString(" ")
		b.WriteString(e.Location)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "store: "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Kind and Err (whichever are set).
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Driver stores image data for one configured store. Implementations are
// safe for concurrent use.
type Driver interface {
	// Put streams r into a new object for imageID and returns its location
	// URI (in glance_store's form, e.g. file:///var/lib/glance/images/<id>)
	// and the number of bytes written.
	//
	// size is the expected size, or -1 when unknown (a chunked upload).
	// With size >= 0, fewer bytes fail with ErrSizeMismatch and
	// io.ErrUnexpectedEOF, more bytes with ErrSizeMismatch.
	//
	// The object becomes visible only when Put returns nil (the file store
	// writes under a temporary name, syncs and renames). On any error,
	// including ctx cancellation (the error wraps ctx.Err()) and an error
	// of r (wrapped as is), nothing is left behind. Put never replaces an
	// existing object for imageID: it fails with ErrExists and the existing
	// data stays intact, also when two Puts for one ID race. A full back end
	// gives ErrNoSpace.
	Put(ctx context.Context, imageID string, r io.Reader, size int64) (uri string, written int64, err error)

	// Get opens the object at uri for reading length bytes from offset
	// (length < 0: to the end) and returns the object's total size.
	// ErrNotFound when there is no object, ErrBadLocation for a URI the
	// driver does not own, ErrInvalidRange when the range does not lie
	// within the object (a zero-length range at the end is fine).
	//
	// The file store returns the *os.File itself for a whole-object read
	// and a *FileSection otherwise, so that net/http can use sendfile (see
	// FileSection and Copy). Callers must Close the result.
	Get(ctx context.Context, uri string, offset, length int64) (io.ReadCloser, int64, error)

	// Delete removes the object at uri; ErrNotFound when it is not there,
	// ErrBadLocation for a URI the driver does not own.
	Delete(ctx context.Context, uri string) error

	// Capabilities tell what the driver can do.
	Capabilities() Capabilities
}

// Capabilities describe a driver.
type Capabilities struct {
	// ReadOnly: Put and Delete fail with ErrReadOnly.
	ReadOnly bool
	// RandomRead: Get with an offset does not read the skipped bytes.
	RandomRead bool
	// LocalFile: Get returns *os.File or *FileSection (sendfile-capable).
	LocalFile bool
}

// Statter is implemented by drivers that can tell an object's size without
// opening it for reading.
type Statter interface {
	// Stat returns the size of the object at uri; ErrNotFound when there
	// is none, ErrBadLocation for a URI the driver does not own.
	Stat(ctx context.Context, uri string) (size int64, err error)
}

// Owner is implemented by drivers that can tell whether a location URI is
// theirs (a file store owns only the files directly in its directory).
// Set.ForURI uses it; drivers without it own every URI of their scheme.
type Owner interface {
	Owns(uri string) bool
}

// FileSection is what a local-file driver's Get returns for a partial read:
// LimitedReader reads the requested bytes from File, which is already
// positioned at the offset. Read through the embedded reader; Close closes
// File.
//
// To let net/http send the section with sendfile, copy from the
// *io.LimitedReader itself (not from the FileSection, which the network code
// does not recognise): io.Copy(w, fs.LimitedReader). Copy does this.
type FileSection struct {
	*io.LimitedReader
	File *os.File
}

// Close closes the file.
func (s *FileSection) Close() error { return s.File.Close() }

// Copy copies everything a Get result yields to dst, in the way that lets
// the kernel do the work (sendfile) when dst is a network connection or an
// http.ResponseWriter: a FileSection's *io.LimitedReader is handed to
// io.Copy unwrapped, as is an *os.File. It does not close src.
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	if s, ok := src.(*FileSection); ok {
		return io.Copy(dst, s.LimitedReader)
	}
	return io.Copy(dst, src)
}

// Scheme returns the lower-cased scheme of a location URI ("file" for
// file:///x), or "" when uri has none.
func Scheme(uri string) string {
	i := strings.Index(uri, "://")
	if i <= 0 {
		return ""
	}
	s := uri[:i]
	for j := 0; j < len(s); j++ {
		c := s[j]
		isAlpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !isAlpha && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return ""
		}
	}
	return strings.ToLower(s)
}
