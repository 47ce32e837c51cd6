package file

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"glimpse/internal/store"
)

// Datadir is one entry of filesystem_store_datadirs: a directory and its
// priority (higher is preferred; 0 when the entry gives none).
type Datadir struct {
	Path     string
	Priority int
}

// ParseDatadirs reads filesystem_store_datadirs. glance_store takes the
// option once per line (a multi-valued option); the configuration file
// gives it here as one string, so entries are separated by commas and by
// newlines (continuation lines). Each entry is DIR or DIR:PRIORITY, split
// at its last colon, with an integer priority; blank entries are skipped.
// A directory whose path has a comma therefore cannot be listed.
//
// As in glance_store, a directory listed twice with different priorities
// is an error, and one listed again with the same priority is only a
// warning (returned) and used once. Paths are compared once made absolute
// and clean.
func ParseDatadirs(v string) (dirs []Datadir, warnings []string, err error) {
	seen := map[string]int{} // absolute path -> priority
	for line := range strings.SplitSeq(v, "\n") {
		for entry := range strings.SplitSeq(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			path, prio := entry, 0
			if i := strings.LastIndexByte(entry, ':'); i >= 0 {
				path = strings.TrimSpace(entry[:i])
				if p := strings.TrimSpace(entry[i+1:]); p != "" {
					n, err := strconv.Atoi(p)
					if err != nil {
						return nil, nil, fmt.Errorf("file store: filesystem_store_datadirs: invalid priority %q in %q", p, entry)
					}
					prio = n
				}
			}
			if path == "" {
				return nil, nil, fmt.Errorf("file store: filesystem_store_datadirs: invalid directory in %q", entry)
			}
			abs, err := filepath.Abs(path)
			if err != nil {
				return nil, nil, fmt.Errorf("file store: filesystem_store_datadirs: %w", err)
			}
			if old, dup := seen[abs]; dup {
				if old != prio {
					return nil, nil, fmt.Errorf("file store: filesystem_store_datadirs: directory %s listed more than once, with priorities %d and %d", abs, old, prio)
				}
				warnings = append(warnings, fmt.Sprintf("file store: filesystem_store_datadirs lists directory %s more than once with priority %d; it is used once", abs, prio))
				continue
			}
			seen[abs] = prio
			dirs = append(dirs, Datadir{Path: abs, Priority: prio})
		}
	}
	if len(dirs) == 0 {
		return nil, nil, errors.New("file store: filesystem_store_datadirs lists no directory")
	}
	return dirs, warnings, nil
}

// Multi is a filesystem store spread over several directories
// (filesystem_store_datadirs). Each directory is a *Driver with the same
// options; Multi only chooses the directory a new image goes to and routes
// every location to the directory it names.
//
// Put chooses as glance_store does: the directories of the highest
// priority first, and among those the one with the most free space that is
// at least the image's size (more than zero bytes when the size is
// unknown); when no directory of a priority has room, the next priority is
// tried; when none has, Put fails with store.ErrNoSpace.
//
// An image ID names at most one file across the directories: Put refuses
// an ID present in any of them (store.ErrExists), and Puts of one ID in
// this process run one after the other. Two processes uploading the same
// ID at once to different directories cannot both succeed: a Put that
// finds, once its file is in place, the ID in another directory removes
// its file and fails with store.ErrExists.
type Multi struct {
	drivers []*Driver // in the order Put considers them
	prio    []int     // priority of drivers[i]

	// FreeSpace returns the bytes available to this process in dir; Put
	// compares it with the image size. It is statvfs's f_bavail*f_bsize
	// unless replaced (tests do), which must happen before Multi is used.
	FreeSpace func(dir string) (int64, error)

	mu      sync.Mutex
	putting map[string]chan struct{} // image IDs being Put; closed when done

	warnings []string
}

// NewMulti opens a store over dirs, creating the directories that are
// missing, with opts applied to each. The directories must be distinct
// (ParseDatadirs ensures it); priorities may repeat.
func NewMulti(dirs []Datadir, opts ...Option) (*Multi, error) {
	if len(dirs) == 0 {
		return nil, errors.New("file store: no directory")
	}
	order := slices.Clone(dirs)
	// Stable: directories of one priority keep their listed order, which
	// decides between equal free space.
	slices.SortStableFunc(order, func(a, b Datadir) int { return cmp.Compare(b.Priority, a.Priority) })
	m := &Multi{FreeSpace: freeSpace, putting: map[string]chan struct{}{}}
	seen := map[string]bool{}
	for _, dd := range order {
		d, err := New(dd.Path, opts...)
		if err != nil {
			return nil, err
		}
		if seen[d.dir] {
			return nil, fmt.Errorf("file store: directory %s listed more than once", d.dir)
		}
		seen[d.dir] = true
		m.drivers = append(m.drivers, d)
		m.prio = append(m.prio, dd.Priority)
	}
	return m, nil
}

// freeSpace is statvfs's space available to unprivileged users, as
// glance_store measures it.
func freeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	bsize := uint64(st.Bsize)
	if bsize != 0 && st.Bavail > math.MaxInt64/bsize {
		return math.MaxInt64, nil
	}
	return int64(st.Bavail * bsize), nil
}

// Drivers returns the driver of each directory, in the order Put
// considers them (priority, highest first, then as listed).
func (m *Multi) Drivers() []*Driver { return slices.Clone(m.drivers) }

// Dirs returns the directories, in the order of Drivers.
func (m *Multi) Dirs() []string {
	dirs := make([]string, len(m.drivers))
	for i, d := range m.drivers {
		dirs[i] = d.dir
	}
	return dirs
}

// Warnings returns what Open found questionable but accepted in the
// configuration (a directory listed twice with the same priority).
func (m *Multi) Warnings() []string { return slices.Clone(m.warnings) }

// Capabilities implements store.Driver.
func (m *Multi) Capabilities() store.Capabilities { return m.drivers[0].Capabilities() }

// choose returns the driver Put writes an image of size bytes (-1:
// unknown) to.
func (m *Multi) choose(imageID string, size int64) (*Driver, error) {
	need := max(size, 0)
	var errs []error
	for i := 0; i < len(m.drivers); {
		var best *Driver
		var bestFree int64
		j := i
		for ; j < len(m.drivers) && m.prio[j] == m.prio[i]; j++ {
			free, err := m.FreeSpace(m.drivers[j].dir)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			// Strictly more than the best so far (which starts at
			// zero): a full directory never takes even an empty image,
			// and equal free space goes to the directory listed first.
			if free >= need && free > bestFree {
				best, bestFree = m.drivers[j], free
			}
		}
		if best != nil {
			return best, nil
		}
		i = j
	}
	if len(errs) > 0 {
		return nil, &store.Error{Op: "put", Location: imageID, Kind: store.ErrUnavailable, Err: errors.Join(errs...)}
	}
	msg := "no store directory has free space"
	if size > 0 {
		msg = fmt.Sprintf("no store directory has %d bytes free", size)
	}
	return nil, &store.Error{Op: "put", Location: imageID, Kind: store.ErrNoSpace, Err: errors.New(msg)}
}

// lockID waits until no other Put of imageID runs in this process and
// returns the function that lets the next one go.
func (m *Multi) lockID(ctx context.Context, imageID string) (func(), error) {
	for {
		m.mu.Lock()
		ch, busy := m.putting[imageID]
		if !busy {
			ch = make(chan struct{})
			m.putting[imageID] = ch
			m.mu.Unlock()
			return func() {
				m.mu.Lock()
				delete(m.putting, imageID)
				m.mu.Unlock()
				close(ch)
			}, nil
		}
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// absentElsewhere checks that no directory but except's holds imageID.
func (m *Multi) absentElsewhere(imageID string, except *Driver) error {
	for _, d := range m.drivers {
		if d == except {
			continue
		}
		if err := d.absent(imageID); err != nil {
			return err
		}
	}
	return nil
}

// Put implements store.Driver: it writes to the directory choose picks.
func (m *Multi) Put(ctx context.Context, imageID string, r io.Reader, size int64) (string, int64, error) {
	if !validID(imageID) {
		return "", 0, &store.Error{Op: "put", Location: imageID, Kind: store.ErrBadLocation, Err: errors.New("invalid image ID")}
	}
	unlock, err := m.lockID(ctx, imageID)
	if err != nil {
		return "", 0, &store.Error{Op: "put", Location: imageID, Err: err}
	}
	defer unlock()
	if err := m.absentElsewhere(imageID, nil); err != nil {
		return "", 0, err
	}
	d, err := m.choose(imageID, size)
	if err != nil {
		return "", 0, err
	}
	uri, n, err := d.Put(ctx, imageID, r, size)
	if err != nil {
		return "", 0, err
	}
	// Another process may have stored the ID in another directory
	// meanwhile. Whoever finds the other's file once its own is in place
	// gives up, so at most one of two racing Puts succeeds.
	if err := m.absentElsewhere(imageID, d); err != nil {
		d.Delete(context.WithoutCancel(ctx), uri)
		return "", 0, err
	}
	return uri, n, nil
}

// driverFor returns the driver of the directory uri names; the error is
// ErrBadLocation's cause otherwise.
func (m *Multi) driverFor(uri string) (*Driver, error) {
	p, err := cleanPath(uri)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	for _, d := range m.drivers {
		if d.dir == dir {
			return d, nil
		}
	}
	return nil, fmt.Errorf("outside the store directories %s", strings.Join(m.Dirs(), ", "))
}

// Get implements store.Driver.
func (m *Multi) Get(ctx context.Context, uri string, offset, length int64) (io.ReadCloser, int64, error) {
	d, err := m.driverFor(uri)
	if err != nil {
		return nil, 0, &store.Error{Op: "get", Location: uri, Kind: store.ErrBadLocation, Err: err}
	}
	return d.Get(ctx, uri, offset, length)
}

// Stat implements store.Statter.
func (m *Multi) Stat(ctx context.Context, uri string) (int64, error) {
	d, err := m.driverFor(uri)
	if err != nil {
		return 0, &store.Error{Op: "stat", Location: uri, Kind: store.ErrBadLocation, Err: err}
	}
	return d.Stat(ctx, uri)
}

// Delete implements store.Driver.
func (m *Multi) Delete(ctx context.Context, uri string) error {
	d, err := m.driverFor(uri)
	if err != nil {
		return &store.Error{Op: "delete", Location: uri, Kind: store.ErrBadLocation, Err: err}
	}
	return d.Delete(ctx, uri)
}

// Owns implements store.Owner: uri names an image file directly in one of
// the directories.
func (m *Multi) Owns(uri string) bool {
	d, err := m.driverFor(uri)
	return err == nil && d.Owns(uri)
}

// Location returns the location of an image's file: in the directory that
// holds it, or, when none does, in the first directory Put considers.
func (m *Multi) Location(imageID string) string {
	if validID(imageID) {
		for _, d := range m.drivers {
			if errors.Is(d.absent(imageID), store.ErrExists) {
				return d.Location(imageID)
			}
		}
	}
	return m.drivers[0].Location(imageID)
}

// CleanTemp removes interrupted uploads' temporary files from every
// directory (see Driver.CleanTemp) and returns how many it removed.
func (m *Multi) CleanTemp() (int, error) {
	total := 0
	var errs []error
	for _, d := range m.drivers {
		n, err := d.CleanTemp()
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// UploadInProgress reports whether a live writer is writing data for
// imageID in any of the directories (see Driver.UploadInProgress).
func (m *Multi) UploadInProgress(imageID string) bool {
	for _, d := range m.drivers {
		if d.UploadInProgress(imageID) {
			return true
		}
	}
	return false
}

var (
	_ store.Driver  = (*Multi)(nil)
	_ store.Statter = (*Multi)(nil)
	_ store.Owner   = (*Multi)(nil)
)
